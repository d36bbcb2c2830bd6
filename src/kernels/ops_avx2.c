/*
 * ops_avx2.c — the AVX2 twin of ops.c's SiLU gate (hg_vec_ops.silu_mul): (g / (1 + e^−g))·u in the
 * portable order, with e^x evaluated as exp_avx512.h does it (exp_coef.h's polynomial in double,
 * rounded once to f32: libm expf's bits almost everywhere), four doubles at a time, 2^n built in the
 * exponent field.
 */
#include "kernels/dispatch.h"
#include "kernels/exp_coef.h"

#include <immintrin.h>

/* e^x for 4 doubles with x in [-104, 88.8] (exp_coef.h); n is in [-151, 129], so 2^n is a normal
 * double made from its exponent field and the product is exact. */
static inline __m256d exp_pd(__m256d x) {
    const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(HG_EXP_LOG2E)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(HG_EXP_LN2_HI), x);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(HG_EXP_LN2_LO), r);
    __m256d p = _mm256_set1_pd(hg_exp_taylor[0]);
    for (int i = 1; i < 11; i++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(hg_exp_taylor[i]));
    const __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n)),
                                                            _mm256_set1_epi64x(1023)), 52);
    return _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
}

/* expf for 8 floats: clamped as exp_avx512.h clamps (NaN stays NaN), in double, rounded once */
static inline __m256 exp_ps(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), _mm256_min_ps(_mm256_set1_ps(88.8f), x));
    const __m128 lo = _mm256_cvtpd_ps(exp_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
    const __m128 hi = _mm256_cvtpd_ps(exp_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

void hg_silu_mul_avx2(float *out, const float *g, const float *u, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 gv = _mm256_loadu_ps(g + i);
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), gv));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    if (i < n) { /* the tail through a zero-padded vector: the same arithmetic per element */
        float gt[8] = {0}, ut[8] = {0}, ot[8];
        for (int64_t k = i; k < n; k++) gt[k - i] = g[k], ut[k - i] = u[k];
        const __m256 gv = _mm256_loadu_ps(gt);
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), gv));
        _mm256_storeu_ps(ot, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_loadu_ps(ut)));
        for (int64_t k = i; k < n; k++) out[k] = ot[k - i];
    }
}
