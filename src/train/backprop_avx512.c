/*
 * backprop_avx512.c — AVX-512 twins of the non-GEMM training ops of backprop.c (which holds the
 * derivations, the portable versions, and picks these at run time when hg_cpu_features()->level is
 * HG_CPU_AVX512 and the shapes fit).
 *
 * Workload (demo config, one thread): N = 1024 positions, h = 128, 4 heads × d = 32, T = 32, I = 384.
 * These ops do ~1 % of a step's flops but took ~30 % of its time as scalar loops (perf): attention
 * spent it in d-long dot products ending in a horizontal reduction, SwiGLU in scalar libm expf. The
 * forward ops run n + k times per step and the backward ones k times, so the forwards matter most.
 *
 *  - attention: per (row, head) the keys (values, in the backward) are transposed once into a
 *    [d, Tp] block on the stack, so the T scores of a query are d broadcast-FMAs on 16-key vectors;
 *    o_i = Σ_j p_ij v_j and the backward's dq/dk/dv are FMAs along d. The backward computes
 *    dp_ij = do_i·v_j once per (i, j) into a stack row (the portable version computes it twice).
 *  - RMSNorm forward: eight rows per vector, one per double lane, each summed in inference's order,
 *    so the bits stay those of hg_rmsnorm (the serial double chain was the op's cost).
 *  - exp: kernels/exp_avx512.h (in double, rounded once: libm expf's bits almost everywhere); the
 *    SwiGLU forward is inference's own AVX-512 gate (hg_silu_mul_avx512).
 *
 * Each output is written by one thread, and every reduction runs in a fixed order, so results do not
 * depend on the thread count (they do differ from the portable twin in the last bits).
 */
#include "train/train.h"

#if defined(__x86_64__)

#include "kernels/dispatch.h"
#include "kernels/exp_avx512.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define HG_INLINE static inline __attribute__((always_inline))

/* the largest [d, Tp] transposed block kept on a thread's stack (64 KiB) */
#define KT_MAX 16384

HG_INLINE __mmask16 lanes(int64_t n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* ---- RMSNorm -------------------------------------------------------------------------------------- */

/* Eight rows at a time, one row per double lane (a gather per column): each lane sums x_i² for
 * i = 0..h−1 in that order from 0, as hg_rmsnorm does, and (double)x·(double)x is exact, so the FMA
 * rounds exactly like its separate add: the same bits as inference. Then y = (x·r)·w as there.
 * Needs 8h < 2^31 for the gather's 32-bit indices (backprop.c checks). */
void hg_trmsnorm_avx512(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t h, float eps) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)h));
#pragma omp parallel for schedule(static)
    for (int64_t n0 = 0; n0 < N; n0 += 8) {
        const int64_t nb = hg_min_i64(8, N - n0);
        const __mmask8 m = (__mmask8)((1u << nb) - 1);
        const float *xb = x + n0 * h;
        __m512d ss = _mm512_setzero_pd();
        for (int64_t i = 0; i < h; i++) {
            const __m512d v = _mm512_cvtps_pd(_mm256_mmask_i32gather_ps(_mm256_setzero_ps(), m, idx, xb + i, 4));
            ss = _mm512_fmadd_pd(v, v, ss);
        }
        double sr[8];
        _mm512_storeu_pd(sr, ss);
        for (int64_t k = 0; k < nb; k++) {
            const float r = (float)(1.0 / sqrt(sr[k] / (double)h + (double)eps));
            const float *xr = xb + k * h;
            float *yr = y + (n0 + k) * h;
            rstd[n0 + k] = r;
            const __m512 rv = _mm512_set1_ps(r);
            for (int64_t i = 0; i < h; i += 16) {
                const __mmask16 mi = lanes(h - i);
                const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mi, xr + i), rv);
                _mm512_mask_storeu_ps(yr + i, mi, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mi, w + i)));
            }
        }
    }
}

/* ---- causal attention ------------------------------------------------------------------------------ */

static int64_t round16(int64_t n) { return (n + 15) & ~(int64_t)15; }

bool hg_tattn_avx512_fits(int64_t T, int64_t d) { return d % 16 == 0 && d > 0 && d * round16(T) <= KT_MAX; }

/* dst[t, j] = src[j·stride + t] for j < T, 0 for T ≤ j < Tp: one head's keys or values, transposed */
static void transpose_head(float *dst, const float *src, int64_t stride, int64_t T, int64_t Tp, int64_t d) {
    for (int64_t j = 0; j < Tp; j++) {
        const float *s = src + j * stride;
        if (j < T)
            for (int64_t t = 0; t < d; t++) dst[t * Tp + j] = s[t];
        else
            for (int64_t t = 0; t < d; t++) dst[t * Tp + j] = 0;
    }
}

/* s[j] = a·Xt[:, j] for the 16 columns at jt: d broadcast-FMAs in four chains */
HG_INLINE __m512 dot16(const float *a, const float *Xt, int64_t Tp, int64_t jt, int64_t d) {
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    for (int64_t t = 0; t < d; t += 4) {
        const float *x = Xt + t * Tp + jt;
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[t]), _mm512_load_ps(x), c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[t + 1]), _mm512_load_ps(x + Tp), c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[t + 2]), _mm512_load_ps(x + 2 * Tp), c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[t + 3]), _mm512_load_ps(x + 3 * Tp), c3);
    }
    return _mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3));
}

void hg_tattn_avx512(float *out, float *prob, const float *qkv, int64_t B, int64_t T, int64_t H, int64_t Hkv,
                     int64_t d) {
    const int64_t h = H * d, Tp = round16(T), stride = (H + 2 * Hkv) * d, grp = H / Hkv;
    const float scale = (float)(1.0 / sqrt((double)d));
#pragma omp parallel for schedule(static) collapse(2)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t hh = 0; hh < H; hh++) {
            _Alignas(64) float kt[KT_MAX]; /* [d, Tp] keys of this head's KV head, transposed */
            const float *base = qkv + b * T * stride + hh * d;
            const float *vbase = qkv + b * T * stride + h + Hkv * d + (hh / grp) * d;
            transpose_head(kt, qkv + b * T * stride + h + (hh / grp) * d, stride, T, Tp, d);
            for (int64_t i = 0; i < T; i++) {
                const float *q = base + i * stride;
                float *p = prob + ((b * H + hh) * T + i) * T;
                const int64_t n = i + 1; /* keys 0..i */
                /* scores, and their max over the valid lanes */
                __m512 vmx = _mm512_set1_ps(-INFINITY);
                for (int64_t jt = 0; jt < n; jt += 16) {
                    const __mmask16 m = lanes(n - jt);
                    const __m512 s = _mm512_mul_ps(dot16(q, kt, Tp, jt, d), _mm512_set1_ps(scale));
                    _mm512_mask_storeu_ps(p + jt, m, s);
                    vmx = _mm512_mask_max_ps(vmx, m, vmx, s);
                }
                const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmx));
                /* exp and its sum in double (lanes in a fixed order, then one fixed reduction) */
                __m512d s0 = _mm512_setzero_pd(), s1 = s0;
                for (int64_t jt = 0; jt < n; jt += 16) {
                    const __mmask16 m = lanes(n - jt);
                    const __m512 e = _mm512_maskz_mov_ps(m, hg_exp_ps_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + jt), mx)));
                    _mm512_mask_storeu_ps(p + jt, m, e);
                    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
                    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
                }
                const __m512 inv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1))));
                /* normalise; the masked (future) positions get 0 */
                for (int64_t jt = 0; jt < T; jt += 16)
                    _mm512_mask_storeu_ps(p + jt, lanes(T - jt),
                                          _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes(n - jt), p + jt), inv));
                /* o_i = Σ_j p_ij v_j, even and odd j in two chains */
                float *o = out + (b * T + i) * h + hh * d;
                for (int64_t t = 0; t < d; t += 16) {
                    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
                    int64_t j = 0;
                    for (; j + 1 < n; j += 2) {
                        const float *v = vbase + j * stride + t;
                        a0 = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_loadu_ps(v), a0);
                        a1 = _mm512_fmadd_ps(_mm512_set1_ps(p[j + 1]), _mm512_loadu_ps(v + stride), a1);
                    }
                    if (j < n) a0 = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_loadu_ps(vbase + j * stride + t), a0);
                    _mm512_storeu_ps(o + t, _mm512_add_ps(a0, a1));
                }
            }
        }
    }
}

/* Threads take (row, KV head) pairs and run the group's query heads in order, as the scalar
 * hg_tattn_backward does: the heads of a group add into the same dk, dv. */
void hg_tattn_backward_avx512(float *dqkv, const float *dout, const float *prob, const float *qkv, int64_t B,
                              int64_t T, int64_t H, int64_t Hkv, int64_t d) {
    const int64_t h = H * d, Tp = round16(T), stride = (H + 2 * Hkv) * d, grp = H / Hkv;
    const float scale = (float)(1.0 / sqrt((double)d));
#pragma omp parallel for schedule(static) collapse(2)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t g = 0; g < Hkv; g++) {
            _Alignas(64) float vt[KT_MAX]; /* [d, Tp] values of this KV head, transposed */
            _Alignas(64) float ds[KT_MAX / 16]; /* [Tp] ds_ij of the current query i */
            const float *kbase = qkv + b * T * stride + h + g * d;
            float *dkbase = dqkv + b * T * stride + h + g * d;
            transpose_head(vt, kbase + Hkv * d, stride, T, Tp, d);
            for (int64_t i = 0; i < T; i++) {
                memset(dkbase + i * stride, 0, (size_t)d * sizeof(float));
                memset(dkbase + i * stride + Hkv * d, 0, (size_t)d * sizeof(float));
            }
            for (int64_t hh = g * grp; hh < (g + 1) * grp; hh++) {
                const float *base = qkv + b * T * stride + hh * d;
                float *dbase = dqkv + b * T * stride + hh * d;
                for (int64_t i = 0; i < T; i++) memset(dbase + i * stride, 0, (size_t)d * sizeof(float));
                for (int64_t i = 0; i < T; i++) {
                    const float *p = prob + ((b * H + hh) * T + i) * T;
                    const float *gr = dout + (b * T + i) * h + hh * d;
                    const float *q = base + i * stride;
                    float *dq = dbase + i * stride;
                    const int64_t n = i + 1;
                    /* dp_ij = do_i·v_j into ds, and Σ_j p_ij dp_ij in double */
                    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
                    for (int64_t jt = 0; jt < n; jt += 16) {
                        const __mmask16 m = lanes(n - jt);
                        const __m512 dp = dot16(gr, vt, Tp, jt, d);
                        const __m512 pp = _mm512_maskz_loadu_ps(m, p + jt);
                        _mm512_store_ps(ds + jt, dp);
                        s0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(pp)),
                                             _mm512_cvtps_pd(_mm512_castps512_ps256(dp)), s0);
                        s1 = _mm512_fmadd_pd(
                            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(pp), 1))),
                            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(dp), 1))), s1);
                    }
                    const __m512 sdot = _mm512_set1_ps((float)_mm512_reduce_add_pd(_mm512_add_pd(s0, s1)));
                    /* ds_ij = p_ij (dp_ij − Σ) / √d */
                    for (int64_t jt = 0; jt < n; jt += 16) {
                        const __m512 pp = _mm512_maskz_loadu_ps(lanes(n - jt), p + jt);
                        const __m512 v = _mm512_mul_ps(_mm512_mul_ps(pp, _mm512_sub_ps(_mm512_load_ps(ds + jt), sdot)),
                                                       _mm512_set1_ps(scale));
                        _mm512_store_ps(ds + jt, v);
                    }
                    /* dq_i = Σ_j ds_ij k_j (two chains);  dk_j += ds_ij q_i;  dv_j += p_ij do_i */
                    for (int64_t t = 0; t < d; t += 16) {
                        const __m512 qv = _mm512_loadu_ps(q + t), gv = _mm512_loadu_ps(gr + t);
                        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
                        for (int64_t j = 0; j < n; j++) {
                            const float *k = kbase + j * stride + t;
                            float *dk = dkbase + j * stride + t, *dv = dk + Hkv * d;
                            const __m512 dsj = _mm512_set1_ps(ds[j]);
                            if (j & 1)
                                a1 = _mm512_fmadd_ps(dsj, _mm512_loadu_ps(k), a1);
                            else
                                a0 = _mm512_fmadd_ps(dsj, _mm512_loadu_ps(k), a0);
                            _mm512_storeu_ps(dk, _mm512_fmadd_ps(dsj, qv, _mm512_loadu_ps(dk)));
                            _mm512_storeu_ps(dv, _mm512_fmadd_ps(_mm512_set1_ps(p[j]), gv, _mm512_loadu_ps(dv)));
                        }
                        _mm512_storeu_ps(dq + t, _mm512_add_ps(a0, a1));
                    }
                }
            }
        }
    }
}

/* ---- gated MLP activation ------------------------------------------------------------------------- */

/* act = (g / (1 + e^−g))·u per row: inference's AVX-512 SiLU gate (ops_avx512.c), so the trainer's
 * activations are inference's bits on this level */
void hg_tswiglu_avx512(float *act, const float *fc, int64_t N, int64_t I) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *g = fc + n * 2 * I;
        hg_silu_mul_avx512(act + n * I, g, g + I, I);
    }
}

/* du = da·g·σ,  dg = da·u·σ·(1 + g·(1 − σ)), the order of operations of the portable version */
void hg_tswiglu_backward_avx512(float *dfc, const float *dact, const float *fc, int64_t N, int64_t I) {
    const __m512 one = _mm512_set1_ps(1.0f);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *g = fc + n * 2 * I, *u = g + I, *da = dact + n * I;
        float *dg = dfc + n * 2 * I, *du = dg + I;
        for (int64_t i = 0; i < I; i += 16) {
            const __mmask16 m = lanes(I - i);
            const __m512 gv = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
            const __m512 av = _mm512_maskz_loadu_ps(m, da + i);
            const __m512 sg = _mm512_div_ps(one, _mm512_add_ps(one, hg_exp_ps_avx512(_mm512_sub_ps(_mm512_setzero_ps(), gv))));
            _mm512_mask_storeu_ps(du + i, m, _mm512_mul_ps(_mm512_mul_ps(av, gv), sg));
            const __m512 t = _mm512_add_ps(one, _mm512_mul_ps(gv, _mm512_sub_ps(one, sg)));
            _mm512_mask_storeu_ps(dg + i, m, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(av, uv), sg), t));
        }
    }
}

#endif /* __x86_64__ */
