/*
 * dispatch.h — internal: the per-ISA kernel tables hg_matmul and the vector helpers pick from
 * (docs/conventions.md rule 13). One table per level (scalar, AVX2, AVX-512, NEON), each indexed by weight dtype;
 * hg_kern() returns the table for the level hg_cpu_features() chose, once, at first use.
 *
 * Contract shared by every matmul entry (so the level only changes rounding, never the result's
 * dependence on threads): each output element y[t, o] is computed entirely by one call, with an
 * accumulation order that depends only on (n_in, the ISA, the path chosen from T) — never on o0/o1,
 * on which rows share a call, or on the thread count.
 */
#ifndef HG_DISPATCH_H
#define HG_DISPATCH_H

#include "kernels/kernels.h"
#include "kernels/quant.h"

/* Activations for the integer dots of Q8_0/Q4_0 weights: x quantized like Q8_0 but with an f32 scale
 * and the block's sum of quants (Q4_0 stores w+8, so its dot needs -8·Σq). Internal, never on disk. */
typedef struct hg_block_q8x {
    float d;          /* scale: x ≈ d · qs */
    int32_t s;        /* Σ qs */
    int8_t qs[HG_QK];
} hg_block_q8x;
_Static_assert(sizeof(hg_block_q8x) == 40, "hg_block_q8x is 40 bytes");

/* Matrix-vector path: T <= HG_MV_T positions stream W once. */
#define HG_MV_T 8
/* Quantized activations are made this many elements at a time (HG_MV_T rows, on the heap when large). Large
 * enough for every row of Huginn-0125 (17,920 inputs): a row split into pieces is read piecewise, and
 * the kernels' prefetch ahead along the row then fetches bytes the current piece does not use (full-shape
 * Q8_0 decode: 67 % of the bandwidth with pieces of 8192, 82 % with 32768; docs/results/kernels.md). */
#define HG_QX_PIECE 32768
/* Rows per parallel work item of the matrix-vector path. */
#define HG_MV_ROWS 16
/* Bytes of W a thread takes at a time on the matrix-vector path (whole work items, at least one):
 * items are handed out dynamically (matmul.c). */
#define HG_MV_GRAB (512 * 1024)

/* y[t*ldy + o] (=, or += when acc) for o in [o0, o1), t in [0, T), over inputs [k0, k0+n) of W.
 * Float dtypes: x is f32 [T, ldx], already offset to k0 by the caller (k0 locates W only).
 * Quantized dtypes (vec_dot_type Q8X): x is hg_block_q8x [T, ldx blocks] for this piece; n % 32 == 0. */
typedef void (*hg_mv_fn)(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0,
                         int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc);
/* Blocked matrix-matrix: all of y[T, n_out] = x[T, n_in]·Wᵀ, x f32. Opens its own OpenMP region (it
 * shares a packed block of x between the threads) and splits over output rows like the mv path. */
typedef void (*hg_gemm_fn)(float *y, const float *x, const hg_tensor *w, int64_t T);

/* The head of every packed layout (hg_tensor.packed): made by one table's prepack for its blocked
 * product `gemm` from the tensor with this data pointer, shape and dtype, and used only by that product
 * on that tensor (a row view or a copy pointing elsewhere reads the stored layout instead). */
typedef struct hg_packed {
    hg_gemm_fn gemm;
    const void *data;
    int64_t ne0, ne1;
    hg_dtype dtype;
} hg_packed;

static inline const hg_packed *hg_packed_for(const hg_tensor *w, hg_gemm_fn gemm) {
    const hg_packed *pk = w->packed;
    return pk && pk->gemm == gemm && pk->data == w->data && pk->ne0 == w->ne[0] && pk->ne1 == w->ne[1] &&
                   pk->dtype == w->dtype
               ? pk
               : NULL;
}

typedef struct hg_kern_table {
    hg_cpu_level level;
    hg_mv_fn mv[HG_DTYPE_COUNT];
    bool mv_q8x[HG_DTYPE_COUNT];    /* this mv takes Q8X activations (vec_dot_type) */
    hg_gemm_fn gemm[HG_DTYPE_COUNT]; /* NULL: use mv in groups of HG_MV_T positions */
    /* the blocked kernel from this many positions on (0: HG_MV_T + 1); below, mv in groups of 8 — the
     * blocked kernels' packing does not pay for a few positions (see matmul_avx512.c's table) */
    int gemm_min_t[HG_DTYPE_COUNT];
    /* the bf16, Q8_0 and Q4_0 blocked products (T > HG_MV_T) run on AMX tiles: independent of threads
     * and of the other positions, but their own sums, not the FMA chain (bf16: within the f32
     * dot-product bound; Q8_0/Q4_0: gemm_q8x) */
    bool amx;
    /* the bf16 blocked product sums x split into exact bf16 parts (AMX tiles, vdpbf16ps): within the
     * f32 dot-product bound, not the FMA chain of the widening kernels */
    bool bf16_split;
    /* ... on x rounded to bf16 (the fast mode): within 2^-8·Σ|x·w| plus the f32 bound, not the f32 bound */
    bool bf16_x_rounded;
    /* this blocked product takes Q8X activations too (AMX-INT8, VNNI: the block chain of
     * gemm_q8_amx_avx512.c) */
    bool gemm_q8x[HG_DTYPE_COUNT];
    /* hg_quantize_row_q8x's twin for this level, bit for bit (NULL: the scalar one) */
    void (*quant_q8x)(const float *x, hg_block_q8x *dst, int64_t n);
    float (*dot)(const float *a, const float *b, int64_t n);
    void (*axpy)(float *y, float a, const float *x, int64_t n); /* y += a·x */
    /* W of this dtype laid out once for gemm[dt] (an hg_packed block, hg_free'd by the owner), or NULL
     * where there is no packed form; a packed weight takes gemm[dt] at every T */
    void *(*prepack[HG_DTYPE_COUNT])(const hg_tensor *w);
} hg_kern_table;

/* The smallest T that hg_matmul_with sends to k->gemm[dt] (when there is one). */
static inline int64_t hg_gemm_min_t(const hg_kern_table *k, hg_dtype dt) {
    return k->gemm_min_t[dt] > HG_MV_T ? k->gemm_min_t[dt] : HG_MV_T + 1;
}

/* The table for the chosen level. Never NULL. */
const hg_kern_table *hg_kern(void);
/* The table for a given level, or NULL when this CPU cannot run it (tests compare levels). */
const hg_kern_table *hg_kern_level(hg_cpu_level l);

/* Quantize x[n] (n % 32 == 0) to Q8X blocks; the scalar reference is the only version (cheap). */
void hg_quantize_row_q8x(const float *x, hg_block_q8x *dst, int64_t n);

/* hg_matmul on an explicit table (tests and bench time each level without touching HG_CPU). */
void hg_matmul_with(const hg_kern_table *k, float *y, const float *x, const hg_tensor *w, int64_t T);
/* hg_matmul_prepack for an explicit table */
void *hg_matmul_prepack_with(const hg_kern_table *k, const hg_tensor *w);

extern const hg_kern_table hg_kern_scalar;
/* hg_vec_ops.silu_mul per level (ops.c, ops_avx2.c, ops_avx512.c) */
void hg_silu_mul_scalar(float *out, const float *g, const float *u, int64_t n);
#if defined(__x86_64__)
extern const hg_kern_table hg_kern_avx2;
extern const hg_kern_table hg_kern_avx512;
float hg_vec_dot_avx2(const float *a, const float *b, int64_t n);
void hg_vec_axpy_avx2(float *y, float a, const float *x, int64_t n);
float hg_vec_dot_avx512(const float *a, const float *b, int64_t n);
void hg_vec_axpy_avx512(float *y, float a, const float *x, int64_t n);
void hg_silu_mul_avx2(float *out, const float *g, const float *u, int64_t n);
void hg_silu_mul_avx512(float *out, const float *g, const float *u, int64_t n);
void hg_attend_f32_avx512(float *out, const float *q, const void *k, const void *v, const int64_t *src, size_t rowb,
                          size_t pos_bytes, int64_t np, int64_t d, float scale, float *sc);
void hg_attend_f16_avx512(float *out, const float *q, const void *k, const void *v, const int64_t *src, size_t rowb,
                          size_t pos_bytes, int64_t np, int64_t d, float scale, float *sc);
void hg_attend_bf16_avx512(float *out, const float *q, const void *k, const void *v, const int64_t *src, size_t rowb,
                           size_t pos_bytes, int64_t np, int64_t d, float scale, float *sc);
float hg_vec_dot_f16_avx2(const float *a, const void *b, int64_t n);
float hg_vec_dot_bf16_avx2(const float *a, const void *b, int64_t n);
void hg_vec_axpy_f16_avx2(float *y, float a, const void *x, int64_t n);
void hg_vec_axpy_bf16_avx2(float *y, float a, const void *x, int64_t n);
float hg_vec_dot_f16_avx512(const float *a, const void *b, int64_t n);
float hg_vec_dot_bf16_avx512(const float *a, const void *b, int64_t n);
void hg_vec_axpy_f16_avx512(float *y, float a, const void *x, int64_t n);
void hg_vec_axpy_bf16_avx512(float *y, float a, const void *x, int64_t n);
/* The AVX-512 blocked kernel with lanes along output rows (gemm_avx512.c); an hg_gemm_fn. */
void hg_gemm_rows_avx512(float *y, const float *x, const hg_tensor *w, int64_t T);
/* its packed bf16 (the widening tables' prepack): groups of 32 rows, k-major (gemm_avx512.c) */
void *hg_prepack_bf16_rows(const hg_tensor *w);
/* The AVX-512 table with the bf16 blocked kernel on AMX tiles (gemm_amx_avx512.c), chosen when
 * hg_cpu_features()->amx. */
extern const hg_kern_table hg_kern_avx512_amx;
void hg_gemm_bf16_amx(float *y, const float *x, const hg_tensor *w, int64_t T);
/* The same in K chunks of kcb blocks of 32 (0: the size it picks for T); bit-identical for any kcb. */
void hg_gemm_bf16_amx_kc(float *y, const float *x, const hg_tensor *w, int64_t T, int64_t kcb);
/* Q8_0 / Q4_0 weights on AMX-INT8 tiles, x rounded to Q8X (gemm_q8_amx_avx512.c). */
void hg_gemm_q8_amx(float *y, const float *x, const hg_tensor *w, int64_t T);
/* Without AMX: Q8_0 / Q4_0 by vpdpbusd on Q8X activations, the AMX-INT8 kernel's chain
 * (gemm_q8_vnni_avx512.c), and bf16 weights by vdpbf16ps on x in three exact bf16 parts
 * (gemm_bf16dot_avx512.c, needs AVX512-BF16); the tables with them: VNNI (the default without AMX),
 * VNNI + BF16 (HG_BF16DOT=1; cpu.c: gemm_vnni, gemm_bf16dot). */
void hg_gemm_bf16_dot(float *y, const float *x, const hg_tensor *w, int64_t T);
/* The same with two parts, x = hi + mid (x to 16 bits: error up to 2^-16·Σ|x·w|; bench A/B only) */
void hg_gemm_bf16_dot2(float *y, const float *x, const hg_tensor *w, int64_t T);
/* ... and with one part, x rounded to bf16 as llama.cpp does (error up to 2^-8·Σ|x·w|): the fast mode,
 * HG_BF16DOT=fast (cpu.c: gemm_bf16fast) */
void hg_gemm_bf16_dot1(float *y, const float *x, const hg_tensor *w, int64_t T);
void hg_gemm_q8_vnni(float *y, const float *x, const hg_tensor *w, int64_t T);
void *hg_prepack_q8_vnni(const hg_tensor *w); /* its packed Q8_0 (the table's prepack) */
extern const hg_kern_table hg_kern_avx512_vnni;
extern const hg_kern_table hg_kern_avx512_bf16dot;
extern const hg_kern_table hg_kern_avx512_bf16fast;
/* The AVX2 level with AVX-VNNI (cpu.c: gemm_avxvnni): Q8_0 / Q4_0 blocked products by the 256-bit
 * vpdpbusd on Q8X activations, the same block chain as hg_gemm_q8_vnni (gemm_q8_avxvnni.c); the rest
 * of the table is hg_kern_avx2's. */
void hg_gemm_q8_avxvnni(float *y, const float *x, const hg_tensor *w, int64_t T);
void *hg_prepack_q8_avxvnni(const hg_tensor *w);
extern const hg_kern_table hg_kern_avx2_vnni;
void hg_quantize_row_q8x_avx512(const float *x, hg_block_q8x *dst, int64_t n);
void hg_quantize_row_q8x_avx2(const float *x, hg_block_q8x *dst, int64_t n);
#endif

#if defined(__aarch64__)
/* matmul_neon.c: the NEON table, and its twin whose quantized dots use SDOT (same results, bit for
 * bit; chosen when hg_cpu_features()->dotprod). */
extern const hg_kern_table hg_kern_neon;
extern const hg_kern_table hg_kern_neon_dotprod;
float hg_vec_dot_neon(const float *a, const float *b, int64_t n);
void hg_vec_axpy_neon(float *y, float a, const float *x, int64_t n);
float hg_vec_dot_f16_neon(const float *a, const void *b, int64_t n);
float hg_vec_dot_bf16_neon(const float *a, const void *b, int64_t n);
void hg_vec_axpy_f16_neon(float *y, float a, const void *x, int64_t n);
void hg_vec_axpy_bf16_neon(float *y, float a, const void *x, int64_t n);
#endif

/* One column panel of hg_sgemm (sgemm.c): C[i, j] (+)= Σ_k A[i·sam + k·sak] · Bp[k·NR + j] for rows
 * i < m and columns j < nc of C (ldc apart); Bp is the packed panel [K][NR] of the ISA's NR. */
typedef void (*hg_sgemm_panel_fn)(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp,
                                  int64_t K, int64_t m, int nc, bool acc);
#if defined(__x86_64__)
void hg_sgemm_panel_avx2(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp, int64_t K,
                         int64_t m, int nc, bool acc);
void hg_sgemm_panel_avx512(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp,
                           int64_t K, int64_t m, int nc, bool acc);
#endif
#if defined(__aarch64__)
void hg_sgemm_panel_neon(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp, int64_t K,
                         int64_t m, int nc, bool acc);
#endif

/* The vector helpers of a given level, or NULL when this CPU cannot run it (tests compare levels). */
const hg_vec_ops *hg_vec_level(hg_cpu_level l);

#endif
