/*
 * exp_avx512.h — e^x for AVX-512 vectors, shared by inference (SwiGLU, ops_avx512.c) and training
 * (backprop_avx512.c). exp_ps evaluates e^x in double (exp_coef.h's degree-10 polynomial after
 * n = round(x/ln2), scaled by 2^n with vscalefpd) and rounds once to f32, so it is correctly rounded but in rare ties
 * and matches libm expf (the portable path) bit for bit almost everywhere. A plain f32 polynomial
 * (Cephes, <= 1 ulp) is cheaper but not used: its extra round-off in SwiGLU pushes the
 * trainer-vs-inference logits of test_train_golden (small-sharded, r = 5) past their 1e-5.
 * Include only from files built with AVX-512 flags.
 */
#ifndef HG_EXP_AVX512_H
#define HG_EXP_AVX512_H

#include "kernels/exp_coef.h"

#include <immintrin.h>

/* e^x for 8 doubles with x in [-104, 88.8] (exp_coef.h), 2^n applied by vscalefpd. */
static inline __attribute__((always_inline)) __m512d hg_exp_pd_avx512(__m512d x) {
    const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(HG_EXP_LOG2E)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(HG_EXP_LN2_HI), x);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(HG_EXP_LN2_LO), r);
    __m512d p = _mm512_set1_pd(hg_exp_taylor[0]);
    for (int i = 1; i < 11; i++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(hg_exp_taylor[i]));
    return _mm512_scalef_pd(p, n);
}

/* expf for 16 floats, evaluated in double and rounded once: the correctly rounded e^x except when
 * e^x lies within ~1e-12 (relative) of a rounding boundary, so it agrees with glibc's expf (also
 * correctly rounded in nearly all cases) in all but rare last-bit cases. NaN stays NaN. */
static inline __attribute__((always_inline)) __m512 hg_exp_ps_avx512(__m512 x) {
    /* clamp (exp(-104) is 0 in f32, exp(88.8) is +inf); the constant first: min/max return their
     * second operand when one is NaN, so NaN stays NaN */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(88.8f), x));
    const __m256 lo = _mm512_cvtpd_ps(hg_exp_pd_avx512(_mm512_cvtps_pd(_mm512_castps512_ps256(x))));
    const __m256 hi = _mm512_cvtpd_ps(
        hg_exp_pd_avx512(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

#endif
