/*
 * ops_avx512.c — the AVX-512 twin of ops.c's SiLU gate (hg_vec_ops.silu_mul): the same order of
 * operations, (g / (1 + e^−g))·u, with e^x from exp_avx512.h (libm expf's bits almost everywhere), so
 * a gated MLP's activations equal the portable path's but in rare last-bit cases; libm's scalar expf
 * per element cost a visible share of a prefill and of a batched decode step (docs/results/serve.md).
 */
#include "kernels/dispatch.h"
#include "kernels/exp_avx512.h"

#include <immintrin.h>

void hg_silu_mul_avx512(float *out, const float *g, const float *u, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
        const __m512 e = hg_exp_ps_avx512(_mm512_sub_ps(_mm512_setzero_ps(), gv));
        const __m512 s = _mm512_div_ps(gv, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, u + i)));
    }
}
