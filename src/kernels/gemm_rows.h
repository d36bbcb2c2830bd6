/*
 * gemm_rows.h — the loop nest shared by the two row-lane blocked kernels (gemm_avx2 in
 * matmul_avx2.c, hg_gemm_rows_avx512 in gemm_avx512.c). Each ISA file supplies how it packs a group
 * of W rows for one K block (`pack`: widen/dequantize and transpose into wp[k][rows]) and how its
 * register tile runs a packed group over Tb positions (`tile`); this header holds what they share:
 * threads take contiguous ranges of row groups and never meet (x is only read, each y element
 * belongs to one group, no barrier), and the loops run pass (positions) > K block > row group, so
 * the K slice of x stays in L2 while W is read once per pass. Passes have equal sizes (131 = 66 + 65,
 * not 128 + 3: W is read once per pass). Included by ISA files only, so it compiles with their flags.
 */
#ifndef HG_KERNELS_GEMM_ROWS_H
#define HG_KERNELS_GEMM_ROWS_H

#include "kernels/dispatch.h"

#include <omp.h>

#define HG_ROWS_KC 256      /* inputs per K block (whole quant blocks) */
#define HG_ROWS_MAX_R 32    /* the widest row group (AVX-512) */

typedef void (*hg_rows_pack_fn)(const hg_tensor *w, int64_t o0, int64_t R, int64_t k0, int64_t kc, float *wp);
typedef void (*hg_rows_tile_fn)(float *y, int64_t ldy, const float *x, int64_t ldx, const float *wp, int64_t kc,
                                int64_t R, int64_t Tb, bool first);

/* Defines `static void NAME(w, o0, R, k0, kc, wp)`, an hg_rows_pack_fn that calls the ISA file's
 * inline `PACK(dtype, w, o0, R, k0, kc, wp)` with the dtype as a constant, so each dtype gets its own
 * compiled widening loop. */
#define HG_ROWS_PACK_BY_DTYPE(NAME, PACK)                                                                    \
    static void NAME(const hg_tensor *w, int64_t o0, int64_t R, int64_t k0, int64_t kc, float *wp) {           \
        switch (w->dtype) {                                                                                    \
        case HG_DTYPE_BF16: PACK(HG_DTYPE_BF16, w, o0, R, k0, kc, wp); break;                                  \
        case HG_DTYPE_F16: PACK(HG_DTYPE_F16, w, o0, R, k0, kc, wp); break;                                    \
        case HG_DTYPE_Q8_0: PACK(HG_DTYPE_Q8_0, w, o0, R, k0, kc, wp); break;                                  \
        case HG_DTYPE_Q4_0: PACK(HG_DTYPE_Q4_0, w, o0, R, k0, kc, wp); break;                                  \
        default: PACK(HG_DTYPE_F32, w, o0, R, k0, kc, wp); break;                                              \
        }                                                                                                      \
    }

/* y[T, n_out] = x[T, n_in] · Wᵀ in groups of `rows` W rows and passes of at most tb_max positions. */
static inline void hg_gemm_rows(float *y, const float *x, const hg_tensor *w, int64_t T, int64_t rows, int64_t tb_max,
                                hg_rows_pack_fn pack, hg_rows_tile_fn tile) {
    const int64_t n_out = w->ne[0], n_in = w->ne[1];
    HG_ASSERT(!(w->dtype == HG_DTYPE_Q8_0 || w->dtype == HG_DTYPE_Q4_0) || n_in % HG_QK == 0);
    HG_ASSERT(rows <= HG_ROWS_MAX_R && tb_max > 0);
    _Static_assert(HG_ROWS_KC % HG_QK == 0, "K blocks must hold whole quant blocks");
    const int64_t n_grp = (n_out + rows - 1) / rows, n_pass = (T + tb_max - 1) / tb_max;
#pragma omp parallel if ((double)n_out * (double)n_in * (double)T >= HG_PAR_MIN_MACS)
    {
        float wp[HG_ROWS_KC * HG_ROWS_MAX_R] __attribute__((aligned(64))); /* [KC, rows] this thread's W rows */
        const int64_t nt = omp_get_num_threads(), it = omp_get_thread_num();
        const int64_t g0 = n_grp * it / nt, g1 = n_grp * (it + 1) / nt;
        for (int64_t c = 0; c < n_pass; c++) {
            const int64_t t0 = T * c / n_pass, Tb = T * (c + 1) / n_pass - t0;
            for (int64_t k0 = 0; k0 < n_in; k0 += HG_ROWS_KC) {
                const int64_t kc = hg_min_i64(HG_ROWS_KC, n_in - k0);
                for (int64_t g = g0; g < g1; g++) {
                    const int64_t o0 = g * rows, R = hg_min_i64(rows, n_out - o0);
                    pack(w, o0, R, k0, kc, wp);
                    tile(y + t0 * n_out + o0, n_out, x + t0 * n_in + k0, n_in, wp, kc, R, Tb, k0 == 0);
                }
            }
        }
    }
}

#endif
