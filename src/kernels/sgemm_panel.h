/*
 * sgemm_panel.h — the row walk every ISA's hg_sgemm panel shares (sgemm.c has the plan): full tiles
 * of MR rows, then the tail (< MR rows) in tiles of 8, 4, 2 and 1 rows, each height a constant so
 * the ISA's inline `TILE(C, ldc, A, sam, sak, Bp, K, mr, nc, acc)` keeps its accumulators in
 * registers. Each C element is still one FMA chain, whatever tile computes it. Included by the ISA
 * files only (compiled with their flags).
 */
#ifndef HG_KERNELS_SGEMM_PANEL_H
#define HG_KERNELS_SGEMM_PANEL_H

#include "kernels/dispatch.h"

/* Defines NAME, an hg_sgemm_panel_fn, for an ISA whose TILE handles 1..MR (MR <= 12) rows. */
#define HG_SGEMM_PANEL(NAME, TILE, MR)                                                                        \
    void NAME(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp, int64_t K,     \
              int64_t m, int nc, bool acc) {                                                                   \
        _Static_assert((MR) >= 2 && (MR) <= 12, "tail tiles of 8, 4, 2, 1 rows cover MR - 1 <= 11");          \
        int64_t m0 = 0;                                                                                        \
        for (; m0 + (MR) <= m; m0 += (MR)) TILE(C + m0 * ldc, ldc, A + m0 * sam, sam, sak, Bp, K, (MR), nc, acc); \
        if ((MR) > 8 && m - m0 >= 8)                                                                           \
            TILE(C + m0 * ldc, ldc, A + m0 * sam, sam, sak, Bp, K, (MR) > 8 ? 8 : 1, nc, acc), m0 += 8;        \
        if ((MR) > 4 && m - m0 >= 4)                                                                           \
            TILE(C + m0 * ldc, ldc, A + m0 * sam, sam, sak, Bp, K, (MR) > 4 ? 4 : 1, nc, acc), m0 += 4;        \
        if (m - m0 >= 2) TILE(C + m0 * ldc, ldc, A + m0 * sam, sam, sak, Bp, K, 2, nc, acc), m0 += 2;          \
        if (m - m0 >= 1) TILE(C + m0 * ldc, ldc, A + m0 * sam, sam, sak, Bp, K, 1, nc, acc);                   \
    }

#endif
