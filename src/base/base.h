/*
 * base.h — internal foundations shared by every module: error reporting, the one allocator,
 * overflow-checked sizes, internal asserts, half-precision conversions and the seeded RNG.
 * Not installed; only include/huginn.h is public.
 */
#ifndef HG_BASE_H
#define HG_BASE_H

#include "huginn.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- errors ---------------------------------------------------------------------------------- */

/* Fill err (if not NULL) with status and a printf-style message; returns status so callers can
 * `return hg_err(err, HG_STATUS_BAD_FILE, "...")`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
hg_status hg_err(hg_error *err, hg_status status, const char *fmt, ...);
/* Prepend "prefix: " to an existing message (adds context while an error travels up). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void hg_err_prefix(hg_error *err, const char *fmt, ...);

/* Internal invariants only, never input (docs/conventions.md rule 8). Stays in release builds. */
void hg_abort(const char *file, int line, const char *cond);
#define HG_ASSERT(c) ((c) ? (void)0 : hg_abort(__FILE__, __LINE__, #c))

/* ---- allocation -------------------------------------------------------------------------------- */

/* The only allocators. Sizes are overflow-checked; NULL on failure (never aborts). With HG_TESTING,
 * hg_alloc_fail_after(n) makes the (n+1)-th following allocation fail (n < 0 disables). */
void *hg_malloc(size_t n);
void *hg_calloc(size_t count, size_t size);
void *hg_realloc(void *p, size_t n);
void hg_free(void *p);
char *hg_strdup(const char *s);
void hg_alloc_fail_after(int64_t n);
/* n bytes on 2 MiB boundaries, advised to Linux as transparent huge pages (weights streamed every
 * token: one TLB entry per 2 MiB); freed with hg_free. */
#define HG_HUGE_PAGE ((size_t)2 << 20)
void *hg_malloc_huge(size_t n);

/* a*b into *out; false (and *out untouched) if it overflows. */
static inline bool hg_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}

/* ---- half precision ---------------------------------------------------------------------------- */

static inline float hg_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* Round to nearest even; NaN stays NaN (quiet). */
static inline uint16_t hg_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
float hg_f16_to_f32(uint16_t h);
uint16_t hg_f32_to_f16(float f);

/* ---- random numbers ---------------------------------------------------------------------------
 * xoshiro256** seeded through splitmix64 (rng.c documents the exact streams). State is 4 words. */
typedef struct hg_rng {
    uint64_t s[4];
} hg_rng;

void hg_rng_seed(hg_rng *r, uint64_t seed);
uint64_t hg_rng_u64(hg_rng *r);
double hg_rng_uniform(hg_rng *r);          /* [0, 1), 53 bits */
double hg_rng_normal(hg_rng *r);           /* N(0,1), Box-Muller (one value per call) */
double hg_rng_trunc_normal(hg_rng *r, double std, double a, double b); /* N(0,std²) rejected to [a,b] */

/* ---- small helpers ---------------------------------------------------------------------------- */

static inline int64_t hg_min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t hg_max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Monotonic wall clock in seconds. */
double hg_time_s(void);


/* ---- CPU features (src/base/cpu.c) ---------------------------------------------------------------
 * The one allowed global (docs/conventions.md rule 11): probed once (cpuid + xgetbv on x86-64, the kernel's
 * HWCAP bits on aarch64), read-only afterwards. HG_CPU=scalar|avx2|avx512|neon in the environment
 * forces a lower level (tests, fallback checks); a level this CPU cannot run is ignored.
 * Levels form one ladder per architecture, ordered by value within it: x86-64 SCALAR < AVX2 < AVX512,
 * aarch64 SCALAR < NEON. A level of the other architecture never runs (hg_cpu_level_runs). */
typedef enum hg_cpu_level {
    HG_CPU_SCALAR = 0, /* portable C */
    HG_CPU_AVX2 = 1,   /* AVX2 + FMA + F16C */
    HG_CPU_AVX512 = 2, /* AVX-512 F/BW/VL/DQ + VNNI (BF16 reported separately) */
    HG_CPU_NEON = 3,   /* aarch64 Advanced SIMD (the int8 dot product, SDOT, reported separately) */
    HG_CPU_LEVEL_COUNT
} hg_cpu_level;

typedef struct hg_cpu_info {
    bool avx2, fma, f16c;                                  /* with OS support for ymm state */
    bool avxvnni;       /* AVX-VNNI: VEX vpdpbusd on ymm (CPUID.(7,1):EAX[4]; Alder Lake+, Zen 4/5), ymm state */
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni; /* with OS support for zmm state */
    bool avx512bf16, amx_tile, amx_int8, amx_bf16;
    bool amx;           /* AMX tiles with BF16 and INT8 usable (the OS granted the tile state), not HG_AMX=0 */
    bool gemm_vnni;     /* AVX-512 without AMX: Q8_0/Q4_0 blocked products on VNNI dots (not HG_BF16DOT=0) */
    bool gemm_avxvnni;  /* the AVX2 level's Q8_0/Q4_0 blocked products on AVX-VNNI dots (avxvnni, not HG_BF16DOT=0) */
    bool gemm_bf16dot;  /* ... and bf16 ones on AVX512-BF16 dots (HG_BF16DOT=1 and avx512bf16) */
    bool gemm_bf16fast; /* ... with x rounded to bf16, one dot per pair (HG_BF16DOT=fast) */
    bool neon, dotprod; /* aarch64: Advanced SIMD; its int8 dot product (HWCAP_ASIMDDP) */
    hg_cpu_level best;  /* the highest level this CPU (and OS) supports */
    hg_cpu_level level; /* the level kernels use: best, or lower if HG_CPU says so */
} hg_cpu_info;

/* The probed table (thread-safe: the first call probes under pthread_once). Never NULL. */
const hg_cpu_info *hg_cpu_features(void);
/* "scalar", "avx2", "avx512", "neon". */
const char *hg_cpu_level_name(hg_cpu_level l);
/* Whether the kernels of level l can run here: l is on this architecture's ladder and <= best.
 * Tests iterate every level below HG_CPU_LEVEL_COUNT and skip those for which this is false. */
bool hg_cpu_level_runs(hg_cpu_level l);

#endif /* HG_BASE_H */
