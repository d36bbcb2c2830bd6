/*
 * backprop.c — the ops of the forward pass (docs/forward-pass.md) in the form training needs (whole micro-batch
 * at once, intermediate values kept) and their backward. Each backward is derived in a comment next
 * to it and checked by finite differences in double (tests/test_train_fd.c).
 *
 * Matrix products go through hg_sgemm (kernels.h, sgemm.c: C (+)= op(A)·op(B) with SIMD tiles per
 * ISA), which reads either operand transposed as it lies: y = x·Wᵀ, dX = dY·W and dW = dYᵀ·X are one
 * call each, with no explicit transpose of dY or X (transposing them for the inference kernel
 * hg_matmul cost 12 % of a training step: docs/results/training.md).
 *
 * Reductions over positions (dW of RMSNorm, the q/k bias) run in a fixed serial order in double, so
 * gradients do not depend on the thread count.
 *
 * Attention, SwiGLU and the RMSNorm forward have AVX-512 twins in backprop_avx512.c (picked here when
 * hg_cpu_features()->level is HG_CPU_AVX512): as scalar loops they took ~30 % of a step at h = 128
 * (perf), though they do ~1 % of its flops. The loops below stay as the portable reference.
 */
#include "train/train.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>

#if defined(__x86_64__)
static bool use_avx512(void) { return hg_cpu_features()->level == HG_CPU_AVX512; }
#endif

/* ---- linear ------------------------------------------------------------------------------------- */

/* y = x·Wᵀ, with W [out, in] read transposed in place by hg_sgemm (work: hg_sgemm_work(in, out)). */
void hg_tmm(float *y, const float *x, const float *W, int64_t N, int64_t in, int64_t out, float *work) {
    hg_sgemm(y, x, false, W, true, N, out, in, false, work);
}

/* y = x·Wᵀ  ⇒  dx = dy·W  (dx[n,i] = Σ_o dy[n,o] W[o,i])  and  dW = dyᵀ·x  (dW[o,i] = Σ_n dy[n,o] x[n,i]).
 * Both are hg_sgemm on the operands as they lie: dy read transposed for dW, nothing copied. */
void hg_tmm_backward(float *dx, bool dx_accumulate, float *dW, const float *dy, const float *x, const float *W,
                     int64_t N, int64_t in, int64_t out, float *work) {
    if (dx) hg_sgemm(dx, dy, false, W, false, N, in, out, dx_accumulate, work);
    if (dW) hg_sgemm(dW, dy, true, x, false, out, in, N, true, work);
}

/* ---- RMSNorm ------------------------------------------------------------------------------------ */

/* Rows are taken RB at a time with one sum per row, each accumulated in the same order as hg_rmsnorm:
 * the same bits, but RB independent chains of dependent double adds instead of one (the serial chain
 * was most of the op's time: 5.7 % of a step forward, ~4 % backward, at h = 128). */
#define RB 8

void hg_trmsnorm(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t h, float eps) {
#if defined(__x86_64__)
    if (use_avx512() && h < ((int64_t)1 << 28)) {
        hg_trmsnorm_avx512(y, rstd, x, w, N, h, eps);
        return;
    }
#endif
#pragma omp parallel for schedule(static)
    for (int64_t n0 = 0; n0 < N; n0 += RB) {
        const int64_t nb = hg_min_i64(RB, N - n0);
        const float *xb = x + n0 * h;
        double ss[RB] = {0};
        if (nb == RB) {
            for (int64_t i = 0; i < h; i++)
                for (int k = 0; k < RB; k++) ss[k] += (double)xb[k * h + i] * (double)xb[k * h + i];
        } else {
            for (int64_t k = 0; k < nb; k++)
                for (int64_t i = 0; i < h; i++) ss[k] += (double)xb[k * h + i] * (double)xb[k * h + i];
        }
        for (int64_t k = 0; k < nb; k++) {
            const float *xr = xb + k * h;
            float *yr = y + (n0 + k) * h;
            /* the same arithmetic as hg_rmsnorm (inference), so forward values match it bit for bit */
            const float r = (float)(1.0 / sqrt(ss[k] / (double)h + (double)eps));
            rstd[n0 + k] = r;
            for (int64_t i = 0; i < h; i++) yr[i] = (xr[i] * r) * w[i];
        }
    }
}

/* y_i = x_i·r·w_i with r = (mean(x²)+eps)^(-1/2), ∂r/∂x_j = −r³·x_j/h:
 *   dx_j = r·w_j·dy_j − (r³/h)·x_j·Σ_i dy_i·w_i·x_i        dw_i += Σ_n dy_i·x_i·r
 * The Σ_i runs RB rows at a time like the forward; dw is summed over n in serial order per column,
 * with the columns in chunks of DW_COLS across threads. */
#define DW_COLS 64

void hg_trmsnorm_backward(float *dx, bool dx_accumulate, float *dw, const float *dy, const float *x,
                          const float *rstd, const float *w, int64_t N, int64_t h) {
#pragma omp parallel for schedule(static)
    for (int64_t n0 = 0; n0 < N; n0 += RB) {
        const int64_t nb = hg_min_i64(RB, N - n0);
        const float *xb = x + n0 * h, *gb = dy + n0 * h;
        double dot[RB] = {0};
        if (nb == RB) {
            for (int64_t i = 0; i < h; i++)
                for (int k = 0; k < RB; k++) dot[k] += (double)gb[k * h + i] * (double)w[i] * (double)xb[k * h + i];
        } else {
            for (int64_t k = 0; k < nb; k++)
                for (int64_t i = 0; i < h; i++) dot[k] += (double)gb[k * h + i] * (double)w[i] * (double)xb[k * h + i];
        }
        for (int64_t k = 0; k < nb; k++) {
            const float *xr = xb + k * h, *g = gb + k * h;
            const double r = (double)rstd[n0 + k];
            const double c = r * r * r * dot[k] / (double)h;
            float *o = dx + (n0 + k) * h;
            for (int64_t i = 0; i < h; i++) {
                const float v = (float)(r * (double)w[i] * (double)g[i] - c * (double)xr[i]);
                o[i] = dx_accumulate ? o[i] + v : v;
            }
        }
    }
    if (!dw) return;
#pragma omp parallel for schedule(static)
    for (int64_t i0 = 0; i0 < h; i0 += DW_COLS) {
        const int64_t ni = hg_min_i64(DW_COLS, h - i0);
        double acc[DW_COLS] = {0};
        for (int64_t n = 0; n < N; n++) {
            const float *g = dy + n * h + i0, *xr = x + n * h + i0;
            const double r = (double)rstd[n];
            for (int64_t i = 0; i < ni; i++) acc[i] += (double)g[i] * (double)xr[i] * r;
        }
        for (int64_t i = 0; i < ni; i++) dw[i0 + i] += (float)acc[i];
    }
}

/* ---- RoPE ---------------------------------------------------------------------------------------- */

/* Forward is hg_rope (adjacent pairs 2i, 2i+1) or hg_rope_half (pairs i, i + d/2) row by row:
 * identical numbers to inference. A rotation's inverse is its transpose, so the backward of y = R(θ)x
 * is dx = R(−θ)dy: (dy0·c + dy1·s, −dy0·s + dy1·c) on the same pairs. */
void hg_trope(float *x, int64_t stride, int64_t N, int64_t T, int64_t n_head, int64_t d, const float *inv_freq,
              bool half, bool inverse) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *row = x + n * stride;
        const int64_t pos = n % T;
        if (!inverse) {
            if (half) hg_rope_half(row, n_head, d, pos, inv_freq);
            else hg_rope(row, n_head, d, pos, inv_freq);
            continue;
        }
        const int64_t i1 = half ? d / 2 : 1, step = half ? 1 : 2; /* pair (i·step, i·step + i1) */
        for (int64_t i = 0; i < d / 2; i++) {
            const float ang = (float)pos * inv_freq[i];
            const float c = cosf(ang), s = sinf(ang);
            for (int64_t hh = 0; hh < n_head; hh++) {
                float *p0 = row + hh * d + step * i, *p1 = p0 + i1;
                const float a = *p0, b = *p1;
                *p0 = a * c + b * s;
                *p1 = b * c - a * s;
            }
        }
    }
}

/* ---- causal attention ------------------------------------------------------------------------------ */

/* q·k over a head (d = 32..128 here). Eight partial sums instead of one: the serial chain of dependent
 * adds was the attention's bottleneck (perf: attention forward + backward were ~22 % of a step at
 * h = 128, d = 32); the order differs from a plain loop by f32 rounding only. */
static inline float dot_head(const float *a, const float *b, int64_t d) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t t = 0;
    for (; t + 8 <= d; t += 8)
        for (int u = 0; u < 8; u++) s[u] += a[t + u] * b[t + u];
    float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; t < d; t++) r += a[t] * b[t];
    return r;
}

void hg_tattn(float *out, float *prob, const float *qkv, int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t d) {
#if defined(__x86_64__)
    if (use_avx512() && hg_tattn_avx512_fits(T, d)) {
        hg_tattn_avx512(out, prob, qkv, B, T, H, Hkv, d);
        return;
    }
#endif
    const int64_t h = H * d, stride = (H + 2 * Hkv) * d, grp = H / Hkv;
    const float scale = (float)(1.0 / sqrt((double)d));
#pragma omp parallel for schedule(static) collapse(2)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t hh = 0; hh < H; hh++) {
            const float *kb = qkv + b * T * stride + h + (hh / grp) * d, *vb = kb + Hkv * d; /* its KV head */
            for (int64_t i = 0; i < T; i++) {
                const float *q = qkv + (b * T + i) * stride + hh * d;
                float *p = prob + ((b * H + hh) * T + i) * T;
                float mx = -INFINITY;
                for (int64_t j = 0; j <= i; j++) {
                    p[j] = dot_head(q, kb + j * stride, d) * scale;
                    if (p[j] > mx) mx = p[j];
                }
                double sum = 0;
                for (int64_t j = 0; j <= i; j++) {
                    p[j] = expf(p[j] - mx);
                    sum += (double)p[j];
                }
                const float inv = (float)(1.0 / sum);
                float *o = out + (b * T + i) * h + hh * d;
                for (int64_t t = 0; t < d; t++) o[t] = 0;
                for (int64_t j = 0; j <= i; j++) {
                    p[j] *= inv;
                    const float *v = vb + j * stride;
                    for (int64_t t = 0; t < d; t++) o[t] += p[j] * v[t];
                }
                for (int64_t j = i + 1; j < T; j++) p[j] = 0;
            }
        }
    }
}

/* o_i = Σ_j p_ij v_j, p_i = softmax_j(s_ij), s_ij = q_i·k_j/√d (j ≤ i):
 *   dv_j += p_ij do_i;   dp_ij = do_i·v_j;   ds_ij = p_ij (dp_ij − Σ_l p_il dp_il);
 *   dq_i += ds_ij k_j /√d;   dk_j += ds_ij q_i /√d.
 * With grouped-query attention the query heads of a group add into their KV head's dk, dv: threads
 * take (row, KV head) pairs and run the group's query heads in order, so each owns its slice of dqkv
 * and the sums have a fixed order (with H = Hkv this is the per-head loop). */
void hg_tattn_backward(float *dqkv, const float *dout, const float *prob, const float *qkv, int64_t B, int64_t T,
                       int64_t H, int64_t Hkv, int64_t d) {
#if defined(__x86_64__)
    if (use_avx512() && hg_tattn_avx512_fits(T, d)) {
        hg_tattn_backward_avx512(dqkv, dout, prob, qkv, B, T, H, Hkv, d);
        return;
    }
#endif
    const int64_t h = H * d, stride = (H + 2 * Hkv) * d, grp = H / Hkv;
    const float scale = (float)(1.0 / sqrt((double)d));
#pragma omp parallel for schedule(static) collapse(2)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t g = 0; g < Hkv; g++) {
            const float *kb = qkv + b * T * stride + h + g * d, *vb = kb + Hkv * d;
            float *dkb = dqkv + b * T * stride + h + g * d, *dvb = dkb + Hkv * d;
            for (int64_t i = 0; i < T; i++) {
                memset(dkb + i * stride, 0, (size_t)d * sizeof(float));
                memset(dvb + i * stride, 0, (size_t)d * sizeof(float));
            }
            for (int64_t hh = g * grp; hh < (g + 1) * grp; hh++) {
                for (int64_t i = 0; i < T; i++) memset(dqkv + (b * T + i) * stride + hh * d, 0, (size_t)d * sizeof(float));
                for (int64_t i = 0; i < T; i++) {
                    const float *p = prob + ((b * H + hh) * T + i) * T;
                    const float *gr = dout + (b * T + i) * h + hh * d;
                    const float *q = qkv + (b * T + i) * stride + hh * d;
                    float *dq = dqkv + (b * T + i) * stride + hh * d;
                    double sdot = 0;
                    for (int64_t j = 0; j <= i; j++) sdot += (double)p[j] * (double)dot_head(gr, vb + j * stride, d);
                    for (int64_t j = 0; j <= i; j++) {
                        const float *k = kb + j * stride, *v = vb + j * stride;
                        float *dk = dkb + j * stride, *dv = dvb + j * stride;
                        /* dp again rather than a per-row buffer: the same function, so the same bits */
                        const float ds = p[j] * (dot_head(gr, v, d) - (float)sdot) * scale;
                        for (int64_t t = 0; t < d; t++) {
                            dq[t] += ds * k[t];
                            dk[t] += ds * q[t];
                            dv[t] += p[j] * gr[t];
                        }
                    }
                }
            }
        }
    }
}

/* ---- gated MLP activation ------------------------------------------------------------------------- */

void hg_tswiglu(float *act, const float *fc, int64_t N, int64_t I) {
#if defined(__x86_64__)
    if (use_avx512()) {
        hg_tswiglu_avx512(act, fc, N, I);
        return;
    }
#endif
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) hg_silu_mul(act + n * I, fc + n * 2 * I, fc + n * 2 * I + I, I);
}

/* a = silu(g)·u, silu(g) = g·σ(g), silu'(g) = σ(g)·(1 + g·(1 − σ(g))):  du = da·silu(g), dg = da·u·silu'(g). */
void hg_tswiglu_backward(float *dfc, const float *dact, const float *fc, int64_t N, int64_t I) {
#if defined(__x86_64__)
    if (use_avx512()) {
        hg_tswiglu_backward_avx512(dfc, dact, fc, N, I);
        return;
    }
#endif
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *g = fc + n * 2 * I, *u = g + I, *da = dact + n * I;
        float *dg = dfc + n * 2 * I, *du = dg + I;
        for (int64_t i = 0; i < I; i++) {
            const float sg = 1.0f / (1.0f + expf(-g[i]));
            du[i] = da[i] * g[i] * sg;
            dg[i] = da[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
        }
    }
}

/* ---- cross entropy ---------------------------------------------------------------------------------- */

/* loss_n = logsumexp(z_n) − z_n[y_n];  ∂loss_n/∂z_n = softmax(z_n) − onehot(y_n). Per-row losses are
 * summed serially in double so the total is independent of the thread count. */
double hg_tcross_entropy(const float *logits, const int32_t *labels, int64_t N, int64_t V, float *dlogits,
                         float scale, int64_t *n_labelled) {
    double total = 0;
    int64_t cnt = 0;
    for (int64_t n0 = 0; n0 < N; n0 += 256) {
        const int64_t n1 = hg_min_i64(N, n0 + 256);
        double part[256];
#pragma omp parallel for schedule(static)
        for (int64_t n = n0; n < n1; n++) {
            const float *z = logits + n * V;
            float *dz = dlogits ? dlogits + n * V : NULL;
            part[n - n0] = 0;
            if (labels[n] < 0) {
                if (dz) memset(dz, 0, (size_t)V * sizeof(float));
                continue;
            }
            float mx = z[0];
            for (int64_t i = 1; i < V; i++)
                if (z[i] > mx) mx = z[i];
            double sum = 0;
            for (int64_t i = 0; i < V; i++) sum += exp((double)z[i] - (double)mx);
            const double lse = (double)mx + log(sum);
            part[n - n0] = lse - (double)z[labels[n]];
            if (dz) {
                for (int64_t i = 0; i < V; i++) dz[i] = (float)exp((double)z[i] - lse) * scale;
                dz[labels[n]] -= scale;
            }
        }
        for (int64_t n = n0; n < n1; n++)
            if (labels[n] >= 0) {
                total += part[n - n0];
                cnt++;
            }
    }
    *n_labelled = cnt;
    return total;
}
