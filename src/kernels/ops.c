/*
 * ops.c — elementwise and row kernels: RMSNorm, RoPE, SiLU-gate. They are a small share of the
 * time next to the matmuls (O(h) per position vs O(h²)), so one portable version serves, except the
 * SiLU gate's exp, which has SIMD twins (ops_avx2.c, ops_avx512.c) picked through hg_vec(); the
 * accumulation choices mirror the reference where it matters (RoPE angle in f32).
 */
#include "kernels/kernels.h"
#include "kernels/dispatch.h"

#include <math.h>

void hg_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * (double)x[i];
    /* reference: x * rsqrt(mean(x²) + eps) in f32, then * weight */
    float r = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * r) * w[i];
}

void hg_rope_inv_freq(float *inv_freq, int64_t d, double base) {
    for (int64_t i = 0; i < d / 2; i++) {
        const float ex = (float)(2 * i) / (float)d;
        inv_freq[i] = (float)(1.0 / pow(base, (double)ex));
    }
}

/* The angle of pair i at position pos: the reference forms it as the f32 product t * inv_freq
 * (precompute_freqs_cis), Hugging Face as inv_freq * position: the same product. */
static inline float rope_angle(int64_t pos, const float *inv_freq, int64_t i) { return (float)pos * inv_freq[i]; }

/* Pair i of every head rotated by (c, s): adjacent dimensions (2i, 2i+1), Huginn's layout. */
static inline void rope_pair(float *x, int64_t n_head, int64_t d, int64_t i, float c, float s) {
    for (int64_t hh = 0; hh < n_head; hh++) {
        float *p = x + hh * d + 2 * i;
        const float a = p[0], b = p[1];
        p[0] = a * c - b * s;
        p[1] = b * c + a * s;
    }
}

/* Pair i of every head rotated by (c, s) in the rotate-half layout: dimensions (i, i + d/2). */
static inline void rope_half_pair(float *x, int64_t n_head, int64_t d, int64_t i, float c, float s) {
    const int64_t half = d / 2;
    for (int64_t hh = 0; hh < n_head; hh++) {
        float *p = x + hh * d;
        const float a = p[i], b = p[i + half];
        p[i] = a * c - b * s;        /* q·cos + rotate_half(q)·sin, first half: rotate_half = -x2 */
        p[i + half] = b * c + a * s; /* second half: rotate_half = x1 */
    }
}

void hg_rope_angles(float *cs, int64_t d, int64_t pos, const float *inv_freq) {
    for (int64_t i = 0; i < d / 2; i++) {
        const float ang = rope_angle(pos, inv_freq, i);
        cs[i] = cosf(ang);
        cs[d / 2 + i] = sinf(ang);
    }
}

void hg_rope_cs(float *x, int64_t n_head, int64_t d, const float *cs) {
    for (int64_t i = 0; i < d / 2; i++) rope_pair(x, n_head, d, i, cs[i], cs[d / 2 + i]);
}

void hg_rope_half_cs(float *x, int64_t n_head, int64_t d, const float *cs) {
    for (int64_t i = 0; i < d / 2; i++) rope_half_pair(x, n_head, d, i, cs[i], cs[d / 2 + i]);
}

void hg_rope(float *x, int64_t n_head, int64_t d, int64_t pos, const float *inv_freq) {
    for (int64_t i = 0; i < d / 2; i++) {
        const float ang = rope_angle(pos, inv_freq, i);
        rope_pair(x, n_head, d, i, cosf(ang), sinf(ang));
    }
}

void hg_rope_half(float *x, int64_t n_head, int64_t d, int64_t pos, const float *inv_freq) {
    for (int64_t i = 0; i < d / 2; i++) {
        const float ang = rope_angle(pos, inv_freq, i);
        rope_half_pair(x, n_head, d, i, cosf(ang), sinf(ang));
    }
}

void hg_silu_mul_scalar(float *out, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = g[i];
        out[i] = (v / (1.0f + expf(-v))) * u[i];
    }
}

void hg_silu_mul(float *out, const float *g, const float *u, int64_t n) { hg_vec()->silu_mul(out, g, u, n); }
