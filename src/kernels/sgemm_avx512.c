/*
 * sgemm_avx512.c — the AVX-512 tile of hg_sgemm (sgemm.c has the plan and the portable twin):
 * 12 rows × 32 columns of C in 24 zmm accumulators; per k, two loads of the packed B panel and 12
 * broadcasts of op(A), 24 FMAs. Every C element is one FMA chain over k = 0..K-1.
 */
#include "kernels/dispatch.h"
#include "kernels/sgemm_panel.h"

#include <immintrin.h>

#define HG_INLINE static inline __attribute__((always_inline))

HG_INLINE void tile(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp, int64_t K,
                    const int mr, int nc, bool acc) {
    __m512 c0[12], c1[12];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) c0[i] = _mm512_setzero_ps(), c1[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        const __m512 b0 = _mm512_loadu_ps(Bp + k * 32), b1 = _mm512_loadu_ps(Bp + k * 32 + 16);
        const float *a = A + k * sak;
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            const __m512 ai = _mm512_set1_ps(a[i * sam]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
    }
    const __mmask16 k0 = nc >= 16 ? 0xffff : (__mmask16)((1u << nc) - 1);
    const __mmask16 k1 = nc >= 32 ? 0xffff : nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        __m512 v0 = c0[i], v1 = c1[i];
        if (acc) {
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(k0, c), v0);
            v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(k1, c + 16), v1);
        }
        _mm512_mask_storeu_ps(c, k0, v0);
        _mm512_mask_storeu_ps(c + 16, k1, v1);
    }
}

HG_SGEMM_PANEL(hg_sgemm_panel_avx512, tile, 12) /* full tiles, then the tail: sgemm_panel.h */
