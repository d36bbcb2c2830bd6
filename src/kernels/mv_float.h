/*
 * mv_float.h — the part of the float-dtype matrix-vector entries that every ISA file shares: the
 * split of T positions into groups of at most 8 (each group a compile-time TG, so the ISA's tile keeps
 * its accumulators in registers) and the three hg_mv_fn entries binding a dtype. Each ISA file
 * supplies its own inline `ROWS(dt, TG, y, ldy, x, ldx, w, o0, o1, n)`; included by ISA files only.
 */
#ifndef HG_KERNELS_MV_FLOAT_H
#define HG_KERNELS_MV_FLOAT_H

#include "kernels/dispatch.h"

/* Software prefetch of weight rows that cannot stay in cache (>= HG_MV_PF_MIN bytes): HG_MV_PF_L1
 * bytes ahead into L1 and HG_MV_PF_L2 ahead into L2. A tile streams R rows side by side; when a whole
 * row is walked at once, each row's stream runs on past its end into the same row of the next tile
 * (R rows further on), so the next tile starts with its rows in cache instead of R - 1 cold streams:
 * on short rows (2 KiB, the 1024-wide bench model) cold streams at every tile cost ~20 % of the
 * bandwidth (docs/results/kernels.md, "Matrix-vector, float weights"). */
#define HG_MV_PF_MIN ((size_t)1 << 20)
#define HG_MV_PF_L1 512
#define HG_MV_PF_L2 2048

/* Where, from row r of a tile of R rows of rb bytes each, the byte `off` bytes into row r's stream
 * lies (the stream continues in row r of the tiles that follow). It divides only past the row's
 * end: a 64-bit div twice per 32 elements held 3-6 % of perf's samples in a full-shape bf16 batch
 * run (its batch-1 walk); decode rates did not move beyond this host's noise either way. */
static inline size_t hg_mv_pf_wrap(size_t off, size_t rb, int R) {
    return off < rb ? off : off + (off / rb) * (size_t)(R - 1) * rb;
}

/* For a walk at byte `at` of a tile's R whole rows (row0 its first, rb bytes each): prefetch each row
 * stream HG_MV_PF_L1 bytes ahead into L1 and HG_MV_PF_L2 ahead into L2 (prefetcht0 / prefetcht1 on
 * x86-64). Shared by the AVX-512, AVX2 and AMX walks. */
static inline __attribute__((always_inline)) void hg_mv_prefetch_rows(const uint8_t *row0, size_t rb, int R,
                                                                      size_t at) {
    const size_t a1 = hg_mv_pf_wrap(at + HG_MV_PF_L1, rb, R), a2 = hg_mv_pf_wrap(at + HG_MV_PF_L2, rb, R);
    _Pragma("GCC unroll 32")
    for (int r = 0; r < R; r++) {
        __builtin_prefetch(row0 + (size_t)r * rb + a1, 0, 3);
        __builtin_prefetch(row0 + (size_t)r * rb + a2, 0, 2);
    }
}

/* Defines static mv_f32, mv_f16 and mv_bf16 (hg_mv_fn; whole rows only: k0 == 0, no accumulation)
 * on top of ROWS, called for positions t0 .. t0+7 with TG = min(8, T - t0) as a constant. */
#define HG_MV_FLOAT_ENTRIES(ROWS)                                                                             \
    static inline __attribute__((always_inline)) void mv_f(hg_dtype dt, float *y, int64_t ldy, const float *x,   \
                                                           int64_t ldx, const hg_tensor *w, int64_t o0,          \
                                                           int64_t o1, int64_t n, int64_t T) {                   \
        for (int64_t t0 = 0; t0 < T; t0 += 8) {                                                                \
            float *yy = y + t0 * ldy;                                                                          \
            const float *xx = x + t0 * ldx;                                                                    \
            switch (hg_min_i64(8, T - t0)) {                                                                   \
            case 1: ROWS(dt, 1, yy, ldy, xx, ldx, w, o0, o1, n); break;                                        \
            case 2: ROWS(dt, 2, yy, ldy, xx, ldx, w, o0, o1, n); break;                                        \
            case 3: ROWS(dt, 3, yy, ldy, xx, ldx, w, o0, o1, n); break;                                        \
            case 4: ROWS(dt, 4, yy, ldy, xx, ldx, w, o0, o1, n); break;                                        \
            case 5: ROWS(dt, 5, yy, ldy, xx, ldx, w, o0, o1, n); break;                                        \
            case 6: ROWS(dt, 6, yy, ldy, xx, ldx, w, o0, o1, n); break;                                        \
            case 7: ROWS(dt, 7, yy, ldy, xx, ldx, w, o0, o1, n); break;                                        \
            default: ROWS(dt, 8, yy, ldy, xx, ldx, w, o0, o1, n); break;                                       \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
    static void mv_f32(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0,        \
                       int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {                                 \
        HG_ASSERT(k0 == 0 && !acc);                                                                            \
        mv_f(HG_DTYPE_F32, y, ldy, x, ldx, w, o0, o1, n, T);                                                   \
    }                                                                                                          \
    static void mv_f16(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0,        \
                       int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {                                 \
        HG_ASSERT(k0 == 0 && !acc);                                                                            \
        mv_f(HG_DTYPE_F16, y, ldy, x, ldx, w, o0, o1, n, T);                                                   \
    }                                                                                                          \
    static void mv_bf16(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0,       \
                        int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {                                \
        HG_ASSERT(k0 == 0 && !acc);                                                                            \
        mv_f(HG_DTYPE_BF16, y, ldy, x, ldx, w, o0, o1, n, T);                                                  \
    }

#endif
