/*
 * sgemm_avx2.c — the AVX2 + FMA tile of hg_sgemm (sgemm.c has the plan and the portable twin):
 * 6 rows × 16 columns of C in 12 ymm accumulators; per k, two loads of the packed B panel and 6
 * broadcasts of op(A), 12 FMAs. Every C element is one FMA chain over k = 0..K-1.
 */
#include "kernels/dispatch.h"
#include "kernels/sgemm_panel.h"

#include <immintrin.h>

#define HG_INLINE static inline __attribute__((always_inline))

HG_INLINE void tile(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp, int64_t K,
                    const int mr, int nc, bool acc) {
    __m256 c0[6], c1[6];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) c0[i] = _mm256_setzero_ps(), c1[i] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        const __m256 b0 = _mm256_loadu_ps(Bp + k * 16), b1 = _mm256_loadu_ps(Bp + k * 16 + 8);
        const float *a = A + k * sak;
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i * sam);
            c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        if (nc == 16) {
            __m256 v0 = c0[i], v1 = c1[i];
            if (acc) v0 = _mm256_add_ps(_mm256_loadu_ps(c), v0), v1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), v1);
            _mm256_storeu_ps(c, v0);
            _mm256_storeu_ps(c + 8, v1);
        } else { /* the last panel: through a buffer, only the valid columns */
            float t[16];
            _mm256_storeu_ps(t, c0[i]);
            _mm256_storeu_ps(t + 8, c1[i]);
            for (int j = 0; j < nc; j++) c[j] = acc ? c[j] + t[j] : t[j];
        }
    }
}

HG_SGEMM_PANEL(hg_sgemm_panel_avx2, tile, 6) /* full tiles, then the tail: sgemm_panel.h */
