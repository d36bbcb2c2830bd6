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
    int64_t DWB; /* bytes of dw per row and block: 4 (f32) or 2 (the stored f16, two to a float slot) */
    bool whole_groups; /* group() walks a packed group's K blocks in one call (kb, slot below) */
    void (*quant)(const float *x, hg_block_q8x *dst, int64_t n);
    /* blocks [b0, b0+nb) of rows o0 .. o0+R-1 into wq (quads) and dw (d_w, DWB bytes each) */
    void (*pack)(bool q4, const hg_tensor *w, int64_t o0, int64_t R, int64_t b0, int64_t nb, uint32_t *wq, float *dw);
    /* the group's rows against Tb positions of xl (row stride ldb): into y, or added to it unless first.
     * kb < nb (whole_groups only): a prepacked group read from memory once, its K blocks of kb blocks in
     * slots `slot` bytes apart from dw on (dw first in each); kb >= nb: one K block (wq, dw) */
    void (*group)(bool q4, float *y, int64_t ldy, const hg_block_q8x *xl, int64_t ldb, const uint32_t *wq,
                  const float *dw, int64_t nb, int64_t R, int64_t Tb, bool first, int64_t kb, size_t slot);
    const hg_kern_table *fallback; /* out of memory: these widening kernels need no buffer */
} hg_q8x_nest;

/* A weight prepacked for one nest (hg_q8x_prepack): each group's K blocks one after another, each as
 * pack() writes it, so a group is one stream of memory. */
typedef struct hg_q8x_packed {
    hg_packed head;
    size_t kb_bytes;    /* bytes of a whole K block */
    size_t group_bytes; /* bytes of a group */
    uint8_t *buf;       /* 64-byte aligned, inside this allocation */
} hg_q8x_packed;

/* pack() writes whole pairs (Q8_0) or quads (Q4_0) of blocks */
static inline int64_t hg_q8x_blocks_written(bool q4, int64_t nb) { return q4 ? (nb + 3) / 4 * 4 : (nb + 1) / 2 * 2; }

static inline size_t hg_q8x_block_bytes(const hg_q8x_nest *p, bool q4, int64_t nb) {
    const int64_t nbr = hg_q8x_blocks_written(q4, nb);
    return (size_t)(nbr * 8 * p->R * 4 + nbr * p->R * p->DWB);
}

/* Where group g's K block from b0 (nb blocks) lies in pk: its dw first, then its wq — the walk reads a
 * block's dw beside its wq, so both come out of one stream that a prefetch running ahead covers. */
static inline float *hg_q8x_packed_dw(const hg_q8x_nest *p, const hg_q8x_packed *pk, int64_t g, int64_t b0) {
    return (float *)(void *)(pk->buf + (size_t)g * pk->group_bytes + (size_t)(b0 / p->KB) * pk->kb_bytes);
}
static inline uint32_t *hg_q8x_packed_wq(const hg_q8x_nest *p, bool q4, float *dw, int64_t nb) {
    return (uint32_t *)(void *)((uint8_t *)dw + hg_q8x_blocks_written(q4, nb) * p->R * p->DWB);
}

/* W laid out once in the nest's packed form for `gemm` (an hg_packed block; hg_free), or NULL when out
 * of memory. The layout is what pack() gives each (group, K block), so every product is unchanged. */
static inline void *hg_q8x_prepack(const hg_q8x_nest *p, hg_gemm_fn gemm, const hg_tensor *w) {
    const int64_t n_out = w->ne[0], K = w->ne[1], nkb = K / HG_QK;
    const bool q4 = w->dtype == HG_DTYPE_Q4_0;
    if (!(w->dtype == HG_DTYPE_Q8_0 || q4) || K % HG_QK || n_out <= 0 || nkb == 0) return NULL;
    const int64_t n_grp = (n_out + p->R - 1) / p->R, nkbk = (nkb + p->KB - 1) / p->KB;
    const size_t kb_bytes = hg_q8x_block_bytes(p, q4, p->KB);
    const size_t group_bytes = (size_t)(nkbk - 1) * kb_bytes + hg_q8x_block_bytes(p, q4, nkb - (nkbk - 1) * p->KB);
    hg_q8x_packed *pk = hg_malloc_huge(sizeof *pk + 64 + (size_t)n_grp * group_bytes);
    if (!pk) return NULL;
    pk->head = (hg_packed){gemm, w->data, n_out, K, w->dtype};
    pk->kb_bytes = kb_bytes;
    pk->group_bytes = group_bytes;
    pk->buf = (uint8_t *)(((uintptr_t)(pk + 1) + 63) & ~(uintptr_t)63);
#pragma omp parallel for schedule(dynamic, 4) if ((double)n_out * (double)K >= HG_PAR_MIN_MACS)
    for (int64_t g = 0; g < n_grp; g++) {
        const int64_t o0 = g * p->R, R = hg_min_i64(p->R, n_out - o0);
        for (int64_t b0 = 0; b0 < nkb; b0 += p->KB) {
            const int64_t nb = hg_min_i64(p->KB, nkb - b0);
            float *dw = hg_q8x_packed_dw(p, pk, g, b0);
            p->pack(q4, w, o0, R, b0, nb, hg_q8x_packed_wq(p, q4, dw, nb), dw);
        }
    }
    return pk;
}

/* pk: W packed for this nest (hg_packed_for), or NULL to pack per call. */
static inline void hg_gemm_q8x_rows(const hg_q8x_nest *p, const hg_q8x_packed *pk, float *y, const float *x,
                                    const hg_tensor *w, int64_t T) {
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
        if (pk && T <= HG_MV_T) {
            /* packed, a decode-sized T: each group's K blocks in order (one stream), groups handed out
             * dynamically as the matrix-vector path does (a shared core's stall is not waited for) */
            const int64_t chunk = hg_max_i64(1, HG_MV_GRAB / (int64_t)pk->group_bytes);
#pragma omp for schedule(dynamic, chunk)
            for (int64_t g = 0; g < n_grp; g++) {
                const int64_t o0 = g * p->R, R = hg_min_i64(p->R, n_out - o0);
                if (p->whole_groups && nkb > p->KB) {
                    float *pd = hg_q8x_packed_dw(p, pk, g, 0);
                    p->group(q4, y + o0, n_out, xl, T, hg_q8x_packed_wq(p, q4, pd, p->KB), pd, nkb, R, T, true, p->KB,
                             pk->kb_bytes);
                    continue;
                }
                for (int64_t b0 = 0; b0 < nkb; b0 += p->KB) {
                    const int64_t nb = hg_min_i64(p->KB, nkb - b0);
                    float *pd = hg_q8x_packed_dw(p, pk, g, b0);
                    p->group(q4, y + o0, n_out, xl + b0 * T, T, hg_q8x_packed_wq(p, q4, pd, nb), pd, nb, R, T, b0 == 0,
                             nb, 0);
                }
            }
        } else {
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
                    const uint32_t *pw = wq;
                    const float *pd = dw;
                    if (pk) {
                        float *at = hg_q8x_packed_dw(p, pk, g, b0);
                        pd = at;
                        pw = hg_q8x_packed_wq(p, q4, at, nb);
                    } else {
                        p->pack(q4, w, o0, R, b0, nb, wq, dw);
                    }
                    p->group(q4, y + t0 * n_out + o0, n_out, xl + b0 * T + t0, T, pw, pd, nb, R, Tb, b0 == 0, nb, 0);
                }
            }
        }
        }
    }
    hg_free(xl);
}

#endif
