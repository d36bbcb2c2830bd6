/*
 * sgemm.c — C (+)= op(A)·op(B) for f32 row-major matrices: the products training needs, each without
 * materialising a transpose. With W [out, in], x [N, in], dy [N, out]:
 *   forward   y  = x·Wᵀ      A = x,  B = W stored [out, in] (transB)
 *   backward  dx = dy·W      A = dy, B = W
 *             dW = dyᵀ·x     A = dy stored [N, out] (transA), B = x
 *
 * Plan (BLIS-style, sized for training's small matrices: h = 128..768, N = 1-2 k tokens): op(B) is
 * packed once per call into column panels of NR floats, Bp[panel][k][NR] (zero-padded), which makes
 * transB free and every panel a contiguous stream; then an MR × NR register tile walks all of K,
 * reading op(A) by broadcast — a row of A or, transposed, a column — as it lies in memory. The ISA
 * files hold only the tile (sgemm_avx512.c: 12 × 32, sgemm_avx2.c: 6 × 16, sgemm_neon.c: 8 × 8; each
 * NR divides the 32 that hg_sgemm_work pads N to); the portable tile here is plain C the compiler may
 * vectorise. The packing (O(K·N)) is small next to the product (O(M·K·N)).
 *
 * Threads: items are (panel, block of rows); each C element is summed by one tile over k = 0..K-1 in
 * order, so results do not depend on the thread count. The ISA only changes rounding (FMA or not).
 */
#include "kernels/dispatch.h"

#include <omp.h>

/* ---- the portable tile ---------------------------------------------------------------------------- */

#define SCALAR_MR 4
#define SCALAR_NR 16

static void panel_scalar(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp, int64_t K,
                         int64_t m, int nc, bool acc) {
    for (int64_t m0 = 0; m0 < m; m0 += SCALAR_MR) {
        const int mr = m - m0 < SCALAR_MR ? (int)(m - m0) : SCALAR_MR;
        float t[SCALAR_MR][SCALAR_NR] = {{0}};
        for (int64_t k = 0; k < K; k++) {
            const float *b = Bp + k * SCALAR_NR;
            for (int i = 0; i < mr; i++) {
                const float a = A[(m0 + i) * sam + k * sak];
                for (int j = 0; j < SCALAR_NR; j++) t[i][j] += a * b[j];
            }
        }
        for (int i = 0; i < mr; i++) {
            float *c = C + (m0 + i) * ldc;
            for (int j = 0; j < nc; j++) c[j] = acc ? c[j] + t[i][j] : t[i][j];
        }
    }
}

/* ---- the driver ----------------------------------------------------------------------------------- */

typedef struct sgemm_isa {
    hg_sgemm_panel_fn panel;
    int nr; /* panel width; the tile height (MR) is the panel function's own business */
} sgemm_isa;

static sgemm_isa isa_for(hg_cpu_level l) {
#if defined(__x86_64__)
    if (l == HG_CPU_AVX512) return (sgemm_isa){hg_sgemm_panel_avx512, 32};
    if (l == HG_CPU_AVX2) return (sgemm_isa){hg_sgemm_panel_avx2, 16};
#endif
#if defined(__aarch64__)
    if (l == HG_CPU_NEON) return (sgemm_isa){hg_sgemm_panel_neon, 8};
#endif
    (void)l;
    return (sgemm_isa){panel_scalar, SCALAR_NR};
}

size_t hg_sgemm_work(int64_t K, int64_t N) { return (size_t)(K * ((N + 31) / 32 * 32)); }

/* Rows per work item: a multiple of every ISA's MR (12, 8, 6, 4). */
#define SGEMM_MC 96

void hg_sgemm_level(hg_cpu_level l, float *C, const float *A, bool transA, const float *B, bool transB, int64_t M,
                    int64_t N, int64_t K, bool accumulate, float *work) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate) memset(C, 0, (size_t)(M * N) * sizeof(float));
        return;
    }
    const sgemm_isa isa = isa_for(l);
    const int nr = isa.nr;
    const int64_t n_panels = (N + nr - 1) / nr, n_mblk = (M + SGEMM_MC - 1) / SGEMM_MC;
    const int64_t sam = transA ? 1 : K, sak = transA ? M : 1;
    const bool par = (double)M * (double)N * (double)K >= HG_PAR_MIN_MACS;
#pragma omp parallel if (par)
    {
#pragma omp for schedule(static)
        for (int64_t p = 0; p < n_panels; p++) { /* Bp[p][k][j] = op(B)[k][p·nr + j], zero past N */
            float *dst = work + p * K * nr;
            const int64_t n0 = p * nr, nc = N - n0 < nr ? N - n0 : nr;
            if (!transB) {
                for (int64_t k = 0; k < K; k++) {
                    memcpy(dst + k * nr, B + k * N + n0, (size_t)nc * sizeof(float));
                    for (int64_t j = nc; j < nr; j++) dst[k * nr + j] = 0;
                }
            } else {
                for (int64_t j = 0; j < nc; j++) {
                    const float *src = B + (n0 + j) * K;
                    for (int64_t k = 0; k < K; k++) dst[k * nr + j] = src[k];
                }
                for (int64_t k = 0; k < K; k++)
                    for (int64_t j = nc; j < nr; j++) dst[k * nr + j] = 0;
            }
        }
        /* implicit barrier: every panel is packed before any tile reads it */
#pragma omp for schedule(static)
        for (int64_t it = 0; it < n_panels * n_mblk; it++) {
            const int64_t p = it / n_mblk, m0 = (it % n_mblk) * SGEMM_MC;
            const int64_t m = M - m0 < SGEMM_MC ? M - m0 : SGEMM_MC, n0 = p * nr;
            isa.panel(C + m0 * N + n0, N, A + m0 * sam, sam, sak, work + p * K * nr, K, m,
                      (int)(N - n0 < nr ? N - n0 : nr), accumulate);
        }
    }
}

void hg_sgemm(float *C, const float *A, bool transA, const float *B, bool transB, int64_t M, int64_t N, int64_t K,
              bool accumulate, float *work) {
    hg_sgemm_level(hg_cpu_features()->level, C, A, transA, B, transB, M, N, K, accumulate, work);
}
