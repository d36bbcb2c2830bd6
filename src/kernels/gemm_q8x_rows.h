/*
 * gemm_q8x_rows.h — the loop nest that the blocked Q8_0/Q4_0 products on Q8X activations share
 * (gemm_q8_vnni_avx512.c, gemm_q8_avxvnni.c): x rounded to Q8X per position and re-laid block-major,
 * xl[b][t] (the threads share it: a register tile's broadcasts then sit at constant offsets from one
 * pointer); then each thread takes a fixed share of the row groups (static, so no result depends on
 * the thread count) and, per pass of positions (the pass's Q8X of a K block stays in L2) and per K
 * block, packs each group's W and runs the ISA's register tiles over the pass. The ISA file supplies
 * the sizes, its quantizer, its pack and its tile walk; included by those ISA files only.
 */
#ifndef HG_KERNELS_GEMM_Q8X_ROWS_H
#define HG_KERNELS_GEMM_Q8X_ROWS_H

#include "kernels/dispatch.h"

#include <omp.h>

/* per-thread packed W of one group and K block: at most 16 KiB of quads and their d_w */
#define HG_Q8X_WQ_MAX 4096
#define HG_Q8X_DW_MAX 512

typedef struct hg_q8x_nest {
    int64_t R;  /* W rows per group */
    int64_t TG; /* positions per register tile (the smallest pass) */
    int64_t KB; /* blocks of 32 per K block */
    int64_t XB; /* bytes of Q8X per K block and pass */
    void (*quant)(const float *x, hg_block_q8x *dst, int64_t n);
    /* blocks [b0, b0+nb) of rows o0 .. o0+R-1 into wq (quads) and dw (d_w as f32) */
    void (*pack)(bool q4, const hg_tensor *w, int64_t o0, int64_t R, int64_t b0, int64_t nb, uint32_t *wq, float *dw);
    /* the group's rows against Tb positions of xl (row stride ldb): into y, or added to it unless first */
    void (*group)(bool q4, float *y, int64_t ldy, const hg_block_q8x *xl, int64_t ldb, const uint32_t *wq,
                  const float *dw, int64_t nb, int64_t R, int64_t Tb, bool first);
    const hg_kern_table *fallback; /* out of memory: these widening kernels need no buffer */
} hg_q8x_nest;

static inline void hg_gemm_q8x_rows(const hg_q8x_nest *p, float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], K = w->ne[1], nkb = K / HG_QK;
    const bool q4 = w->dtype == HG_DTYPE_Q4_0;
    HG_ASSERT((w->dtype == HG_DTYPE_Q8_0 || q4) && K % HG_QK == 0);
    HG_ASSERT(p->KB * 8 * p->R <= HG_Q8X_WQ_MAX && p->KB * p->R <= HG_Q8X_DW_MAX);
    if (T <= 0 || n_out <= 0) return;
    if (nkb == 0) {
        memset(y, 0, (size_t)(T * n_out) * sizeof(float));
        return;
    }
    /* xl[b][t], then one row of Q8X per thread for quantizing */
    const int nth = omp_get_max_threads();
    hg_block_q8x *xl = hg_malloc((size_t)(T + nth) * (size_t)nkb * sizeof(hg_block_q8x));
    if (!xl) {
        hg_matmul_with(p->fallback, y, x, w, T);
        return;
    }
    const int64_t n_grp = (n_out + p->R - 1) / p->R;
    const int64_t tb_max = hg_max_i64(p->TG, p->XB / (p->KB * (int64_t)sizeof(hg_block_q8x)));
    const int64_t n_pass = (T + tb_max - 1) / tb_max;
#pragma omp parallel if ((double)n_out * (double)K * (double)T >= HG_PAR_MIN_MACS)
    {
        hg_block_q8x *row = xl + (size_t)(T + omp_get_thread_num()) * (size_t)nkb;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            p->quant(x + t * K, row, K);
            for (int64_t b = 0; b < nkb; b++) xl[b * T + t] = row[b];
        }
        uint32_t wq[HG_Q8X_WQ_MAX] __attribute__((aligned(64)));
        float dw[HG_Q8X_DW_MAX] __attribute__((aligned(64)));
        const int64_t nt = omp_get_num_threads(), it = omp_get_thread_num();
        const int64_t g0 = n_grp * it / nt, g1 = n_grp * (it + 1) / nt;
        for (int64_t ps = 0; ps < n_pass; ps++) {
            const int64_t t0 = T * ps / n_pass, Tb = T * (ps + 1) / n_pass - t0;
            for (int64_t b0 = 0; b0 < nkb; b0 += p->KB) {
                const int64_t nb = hg_min_i64(p->KB, nkb - b0);
                for (int64_t g = g0; g < g1; g++) {
                    const int64_t o0 = g * p->R, R = hg_min_i64(p->R, n_out - o0);
                    p->pack(q4, w, o0, R, b0, nb, wq, dw);
                    p->group(q4, y + t0 * n_out + o0, n_out, xl + b0 * T + t0, T, wq, dw, nb, R, Tb, b0 == 0);
                }
            }
        }
    }
    hg_free(xl);
}

#endif
