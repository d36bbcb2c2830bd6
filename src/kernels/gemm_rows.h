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

/* The packed bf16 layout of a row-lane tile R rows wide (hg_matmul_prepack; gemm_avx512.c R = 32,
 * matmul_avx2.c R = 16): groups of R rows (the last padded with zero rows), each one stream over k of
 * R bf16 per k. Word p = 8j + i holds row 4j + i and word 8j + 4 + i row R/2 + 4j + i (128-bit lane j,
 * i < 4), so interleaving a k's words with zeros (vpunpcklwd / vpunpckhwd: a bf16 is the high half of
 * its f32) gives rows 0..R/2-1 and R/2..R-1 as f32. */
typedef struct hg_bf16_packed {
    hg_packed head;
    uint16_t *buf; /* 64-byte aligned, inside this allocation */
} hg_bf16_packed;

static inline int64_t hg_bf16_pack_row(int64_t R, int p) {
    return (p & 4) ? R / 2 + 4 * (p >> 3) + (p & 3) : 4 * (p >> 3) + (p & 3);
}

/* W laid out so for `gemm` (an hg_packed block; hg_free), or NULL for another dtype or out of memory. */
static inline void *hg_bf16_prepack(const hg_tensor *w, int64_t R, hg_gemm_fn gemm) {
    const int64_t n_out = w->ne[0], K = w->ne[1];
    if (w->dtype != HG_DTYPE_BF16 || n_out <= 0 || K <= 0) return NULL;
    const int64_t n_grp = (n_out + R - 1) / R;
    hg_bf16_packed *pk = hg_malloc_huge(sizeof *pk + 64 + (size_t)n_grp * (size_t)K * (size_t)R * sizeof(uint16_t));
    if (!pk) return NULL;
    pk->head = (hg_packed){gemm, w->data, n_out, K, w->dtype};
    pk->buf = (uint16_t *)(((uintptr_t)(pk + 1) + 63) & ~(uintptr_t)63);
    const uint16_t *src = w->data;
#pragma omp parallel for schedule(dynamic, 4) if ((double)n_out * (double)K >= HG_PAR_MIN_MACS)
    for (int64_t g = 0; g < n_grp; g++) {
        uint16_t *dst = pk->buf + (size_t)g * (size_t)K * (size_t)R;
        for (int p = 0; p < R; p++) {
            const int64_t r = g * R + hg_bf16_pack_row(R, p);
            const uint16_t *row = r < n_out ? src + (size_t)r * (size_t)K : NULL; /* NULL: a padding row */
            for (int64_t k = 0; k < K; k++) dst[k * R + p] = row ? row[k] : 0;
        }
    }
    return pk;
}

/* Group g of a weight packed by hg_bf16_prepack with groups of R rows. */
static inline const uint16_t *hg_bf16_packed_group(const hg_tensor *w, int64_t R, int64_t g) {
    return ((const hg_bf16_packed *)w->packed)->buf + (size_t)g * (size_t)w->ne[1] * (size_t)R;
}

/* The walks over packed bf16 (AVX-512, AVX2) take several adjacent groups in one loop at one and two
 * positions, where a group alone has too few independent FMA chains to keep up with memory: four at one
 * position, two at two, never past the end of the thread's grab or into the partial last group.
 * hg_bf16_walk_grab_min: the fewest groups a grab holds at T positions (so the four fit); and how many
 * to walk together from group gi of a grab ending before ge (o0 = gi·R, n_out rows in all). */
static inline int64_t hg_bf16_walk_grab_min(int64_t T) { return T == 1 ? 4 : T == 2 ? 2 : 1; }
static inline int64_t hg_bf16_walk_together(int64_t T, int64_t R, int64_t gi, int64_t ge, int64_t o0, int64_t n_out) {
    if (T > 2) return 1;
    if (T == 1 && gi + 4 <= ge && o0 + 4 * R <= n_out) return 4;
    return gi + 2 <= ge && o0 + 2 * R <= n_out ? 2 : 1;
}

#endif
