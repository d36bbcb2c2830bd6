/*
 * test_train_fd.c — finite-difference checks of every backward of src/train/ (docs/conventions.md rule 17).
 *
 * Per op, on tiny odd shapes: the objective is J = Σ w·y with fixed random w (summed in double),
 * the analytic gradient comes from the op's backward with dy = w, the numeric one from central
 * differences (J(x+ε) − J(x−ε)) / 2ε. The ops compute in f32, so with ε = 1e-2 on O(1) inputs the
 * numeric derivative carries ≈ 1e-5 round-off and O(ε²) truncation: we accept
 * |num − ana| ≤ 2e-3 + 2e-2·|ana| (measured worst cases are 10× below that).
 *
 * Whole model (h 8, 2 heads, I 12, V 11, P/R/C 1/2/1, 2 rows × 5 tokens, some labels -100), once
 * with Huginn's sandwich layers and once with retrofit Llama layers (grouped-query attention,
 * rotate-half RoPE with llama3 scaling, untied head, embed_scale 1.5, ln_f once) and once with retrofit
 * OLMo-2 layers (post-norm, q/k norms): every
 * element of every tensor kind (wte tied or untied with lm_head, prelude, adapter, core, coda, norms, q/k bias, ln_f) against
 * finite differences of the truncated objective: with (n, k) = (2, 2) the state after the 2 no-grad
 * iterations is a constant, so the reference function is loss(n = 0, k = 2, s0 = that state). And
 * the gradient of (2, 2) must equal, bit for bit, that of (0, 2) started from that state: no-grad
 * iterations contribute nothing.
 */
#include "harness.h"
#include "train/train.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static hg_rng g_rng;
static float rnd(void) { return (float)hg_rng_normal(&g_rng); }
static void fill(float *x, int64_t n, float sd) {
    for (int64_t i = 0; i < n; i++) x[i] = sd * rnd();
}
static double dotw(const float *y, const float *w, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)y[i] * (double)w[i];
    return s;
}

static int n_bad;
static void cmp(const char *what, double num, double ana) {
    if (!(fabs(num - ana) <= 2e-3 + 2e-2 * fabs(ana))) {
        if (n_bad++ < 10) fprintf(stderr, "  %s: numeric %.6g analytic %.6g\n", what, num, ana);
    }
}
static void report(const char *op, int before) {
    CHECK_MSG(n_bad == before, "%s: %d mismatches", op, n_bad - before);
    fprintf(stderr, "%s %s\n", n_bad == before ? "  ok" : "FAIL", op);
}

#define EPS 1e-2f

/* ---- per op ------------------------------------------------------------------------------------ */

static void fd_linear(void) {
    const int64_t N = 3, in = 5, out = 7;
    float x[15], W[35], w[21], y[21], dx[15], dW[35] = {0}, scratch[7 * 32]; /* hg_sgemm_work(max(N, out), in) */
    fill(x, N * in, 1), fill(W, out * in, 0.5f), fill(w, N * out, 1);
    hg_tmm_backward(dx, false, dW, w, x, W, N, in, out, scratch);
    int b = n_bad;
    for (int64_t i = 0; i < N * in; i++) {
        float s = x[i];
        x[i] = s + EPS, hg_tmm(y, x, W, N, in, out, scratch);
        double jp = dotw(y, w, N * out);
        x[i] = s - EPS, hg_tmm(y, x, W, N, in, out, scratch);
        x[i] = s;
        cmp("linear dx", (jp - dotw(y, w, N * out)) / (2.0 * (double)EPS), (double)dx[i]);
    }
    for (int64_t i = 0; i < out * in; i++) {
        float s = W[i];
        W[i] = s + EPS, hg_tmm(y, x, W, N, in, out, scratch);
        double jp = dotw(y, w, N * out);
        W[i] = s - EPS, hg_tmm(y, x, W, N, in, out, scratch);
        W[i] = s;
        cmp("linear dW", (jp - dotw(y, w, N * out)) / (2.0 * (double)EPS), (double)dW[i]);
    }
    /* accumulate mode adds */
    float dx2[15];
    memcpy(dx2, dx, sizeof dx);
    hg_tmm_backward(dx2, true, NULL, w, x, W, N, in, out, scratch);
    for (int i = 0; i < 15; i++) cmp("linear accumulate", 2.0 * (double)dx[i], (double)dx2[i]);
    report("linear (x·Wᵀ)", b);
}

static void fd_rmsnorm(void) {
    const int64_t N = 3, h = 7;
    float x[21], wt[7], w[21], y[21], rs[3], dx[21], dw[7] = {0};
    fill(x, N * h, 1), fill(w, N * h, 1);
    for (int i = 0; i < 7; i++) wt[i] = 1 + 0.3f * rnd();
    hg_trmsnorm(y, rs, x, wt, N, h, 1e-6f);
    hg_trmsnorm_backward(dx, false, dw, w, x, rs, wt, N, h);
    int b = n_bad;
    for (int64_t i = 0; i < N * h; i++) {
        float s = x[i];
        x[i] = s + EPS, hg_trmsnorm(y, rs, x, wt, N, h, 1e-6f);
        double jp = dotw(y, w, N * h);
        x[i] = s - EPS, hg_trmsnorm(y, rs, x, wt, N, h, 1e-6f);
        x[i] = s;
        cmp("rmsnorm dx", (jp - dotw(y, w, N * h)) / (2.0 * (double)EPS), (double)dx[i]);
    }
    for (int64_t i = 0; i < h; i++) {
        float s = wt[i];
        wt[i] = s + EPS, hg_trmsnorm(y, rs, x, wt, N, h, 1e-6f);
        double jp = dotw(y, w, N * h);
        wt[i] = s - EPS, hg_trmsnorm(y, rs, x, wt, N, h, 1e-6f);
        wt[i] = s;
        cmp("rmsnorm dw", (jp - dotw(y, w, N * h)) / (2.0 * (double)EPS), (double)dw[i]);
    }
    report("rmsnorm", b);
}

static void fd_rope(bool half) {
    const int64_t N = 6, T = 3, H = 2, d = 4, n = N * H * d;
    float x[48], w[48], y[48], g[48], inv[2] = {1.0f, 0.05f};
    fill(x, n, 1), fill(w, n, 1);
    memcpy(g, w, sizeof g);
    hg_trope(g, H * d, N, T, H, d, inv, half, true);
    int b = n_bad;
    for (int64_t i = 0; i < n; i++) {
        float s = x[i];
        x[i] = s + EPS, memcpy(y, x, sizeof y), hg_trope(y, H * d, N, T, H, d, inv, half, false);
        double jp = dotw(y, w, n);
        x[i] = s - EPS, memcpy(y, x, sizeof y), hg_trope(y, H * d, N, T, H, d, inv, half, false);
        x[i] = s;
        cmp("rope", (jp - dotw(y, w, n)) / (2.0 * (double)EPS), (double)g[i]);
    }
    report(half ? "rope (rotate-half pairs)" : "rope (adjacent pairs)", b);
}

/* H query heads over Hkv KV heads; d = 16 takes the AVX-512 twin where the CPU has it, d = 3 the
 * scalar loops. */
static void fd_attention(int64_t H, int64_t Hkv, int64_t d) {
    const int64_t B = 2, T = 5, h = H * d, N = B * T, w3 = (H + 2 * Hkv) * d;
    float *qkv = malloc((size_t)(N * w3) * sizeof(float)), *dqkv = malloc((size_t)(N * w3) * sizeof(float));
    float *w = malloc((size_t)(N * h) * sizeof(float)), *out = malloc((size_t)(N * h) * sizeof(float));
    float *prob = malloc((size_t)(B * H * T * T) * sizeof(float));
    fill(qkv, N * w3, 1), fill(w, N * h, 1);
    hg_tattn(out, prob, qkv, B, T, H, Hkv, d);
    hg_tattn_backward(dqkv, w, prob, qkv, B, T, H, Hkv, d);
    int b = n_bad;
    for (int64_t i = 0; i < N * w3; i++) {
        float s = qkv[i];
        qkv[i] = s + EPS, hg_tattn(out, prob, qkv, B, T, H, Hkv, d);
        double jp = dotw(out, w, N * h);
        qkv[i] = s - EPS, hg_tattn(out, prob, qkv, B, T, H, Hkv, d);
        qkv[i] = s;
        cmp("attention dqkv", (jp - dotw(out, w, N * h)) / (2.0 * (double)EPS), (double)dqkv[i]);
    }
    char label[96];
    snprintf(label, sizeof label, "causal attention (H %lld, KV heads %lld, d %lld)", (long long)H, (long long)Hkv,
             (long long)d);
    report(label, b);
    free(qkv), free(dqkv), free(w), free(out), free(prob);
}

static void fd_swiglu(void) {
    const int64_t N = 3, I = 5;
    float fc[30], w[15], act[15], dfc[30];
    fill(fc, N * 2 * I, 2), fill(w, N * I, 1);
    hg_tswiglu_backward(dfc, w, fc, N, I);
    int b = n_bad;
    for (int64_t i = 0; i < N * 2 * I; i++) {
        float s = fc[i];
        fc[i] = s + EPS, hg_tswiglu(act, fc, N, I);
        double jp = dotw(act, w, N * I);
        fc[i] = s - EPS, hg_tswiglu(act, fc, N, I);
        fc[i] = s;
        cmp("silu gate", (jp - dotw(act, w, N * I)) / (2.0 * (double)EPS), (double)dfc[i]);
    }
    report("silu(g)*u", b);
}

static void fd_cross_entropy(void) {
    const int64_t N = 4, V = 7;
    float z[28], dz[28];
    int32_t lab[4] = {3, -100, 0, 6};
    int64_t cnt;
    fill(z, N * V, 2);
    hg_tcross_entropy(z, lab, N, V, dz, 0.5f, &cnt);
    CHECK(cnt == 3);
    int b = n_bad;
    for (int64_t i = 0; i < N * V; i++) {
        float s = z[i];
        z[i] = s + EPS;
        double jp = hg_tcross_entropy(z, lab, N, V, NULL, 0, &cnt);
        z[i] = s - EPS;
        double jm = hg_tcross_entropy(z, lab, N, V, NULL, 0, &cnt);
        z[i] = s;
        cmp("cross entropy", 0.5 * (jp - jm) / (2.0 * (double)EPS), (double)dz[i]);
    }
    for (int i = 7; i < 14; i++) CHECK(dz[i] == 0); /* the ignored row */
    report("cross entropy (-100 ignored)", b);
}

/* ---- whole model with truncated backprop -------------------------------------------------------- */

static double loss_of(hg_tstep *ts, const float *params, float *grads, const int32_t *ids, const int32_t *lab,
                      int64_t n, int64_t k, const float *s0, float *state_out, bool bw) {
    hg_tstep_args a = {.ids = ids, .labels = lab, .B = 2, .T = 5, .n_nograd = n, .k_grad = k, .s0 = s0,
                       .grad_scale = 1.0f / 8.0f, .backward = bw, .state_out = state_out};
    double l = 0;
    int64_t cnt = 0;
    hg_error err = {0};
    CHECK_MSG(hg_tstep_run(ts, params, grads, &a, &l, &cnt, &err) == HG_OK, "%s", err.msg);
    CHECK(cnt == 8);
    return l / 8.0;
}

static void fd_model(const hg_config *cfg, const char *label) {
    const hg_config c = *cfg;
    hg_tlayout L;
    hg_error err = {0};
    CHECK(hg_tlayout_init(&L, &c, &err) == HG_OK);
    float *p = malloc((size_t)L.n_params * sizeof(float)), *g = calloc((size_t)L.n_params, sizeof(float));
    float *g2 = calloc((size_t)L.n_params, sizeof(float));
    for (int64_t t = 0; t < L.n_tensors; t++) {
        float *x = p + L.t[t].offset;
        const bool norm = strstr(L.t[t].name, "norm") || strstr(L.t[t].name, "ln_f");
        for (int64_t i = 0; i < L.t[t].n; i++)
            x[i] = norm ? 1 + 0.3f * rnd() : (0.5f / sqrtf((float)L.t[t].shape[1])) * rnd() * 1.5f;
        if (strstr(L.t[t].name, "wte")) fill(x, L.t[t].n, 0.3f);
        if (strstr(L.t[t].name, "qk_bias")) fill(x, L.t[t].n, 0.3f);
    }
    const int32_t ids[10] = {1, 4, 4, 9, 0, 10, 3, 2, 7, 1};
    const int32_t lab[10] = {4, 4, 9, 0, -100, 3, 2, 7, 1, -100};
    hg_tstep *ts = NULL;
    CHECK(hg_tstep_init(&L, 2, 5, 2, &ts, &err) == HG_OK);
    float s0[80], sd[80];
    hg_tstate_init(s0, 10, &c, 7, 0);
    loss_of(ts, p, g, ids, lab, 2, 2, s0, sd, true);
    loss_of(ts, p, g2, ids, lab, 0, 2, sd, NULL, true);
    CHECK_MSG(memcmp(g, g2, (size_t)L.n_params * sizeof(float)) == 0,
              "gradient of (2,2) differs from (0,2) started at the detached state");
    int b = n_bad;
    const float eps = 5e-3f;
    for (int64_t t = 0; t < L.n_tensors; t++) {
        int b1 = n_bad;
        for (int64_t i = 0; i < L.t[t].n; i++) {
            float *x = p + L.t[t].offset + i, s = *x;
            *x = s + eps;
            double jp = loss_of(ts, p, NULL, ids, lab, 0, 2, sd, NULL, false);
            *x = s - eps;
            double jm = loss_of(ts, p, NULL, ids, lab, 0, 2, sd, NULL, false);
            *x = s;
            cmp(L.t[t].name, (jp - jm) / (2.0 * (double)eps), (double)g[L.t[t].offset + i]);
        }
        if (n_bad != b1) fprintf(stderr, "  mismatches in %s\n", L.t[t].name);
    }
    report(label, b);
    /* the gradient does depend on k: dropping an iteration changes the adapter's gradient */
    memset(g2, 0, (size_t)L.n_params * sizeof(float));
    loss_of(ts, p, g2, ids, lab, 3, 1, s0, NULL, true);
    const int64_t ai = hg_tlayout_find(&L, "transformer.adapter.weight");
    CHECK(memcmp(g + L.t[ai].offset, g2 + L.t[ai].offset, (size_t)L.t[ai].n * sizeof(float)) != 0);
    hg_tstep_free(ts);
    free(p), free(g), free(g2);
    hg_tlayout_free(&L);
}

/* ---- sampler --------------------------------------------------------------------------------------- */

static void sampler(void) {
    const int64_t n_draws = 100000;
    double sum = 0;
    int64_t mn = 1 << 30, le8 = 0, hist_mid = 0;
    int64_t *all = malloc((size_t)n_draws * sizeof *all);
    for (int64_t i = 0; i < n_draws; i++) {
        int64_t n, k;
        hg_sample_depth(42, (uint64_t)i, 32, 8, &n, &k);
        const int64_t r = n + k;
        CHECK(k == (r < 8 ? r : 8));
        all[i] = r;
        sum += (double)r;
        if (r < mn) mn = r;
        le8 += r <= 8;
        hist_mid += r <= 29;
    }
    const double mean = sum / (double)n_draws;
    fprintf(stderr, "  sampler r̄=32: mean %.3f, min %lld, P(r<=8) %.4f, P(r<=29) %.3f\n", mean, (long long)mn,
            (double)le8 / (double)n_draws, (double)hist_mid / (double)n_draws);
    CHECK(fabs(mean - 33.0) < 0.33); /* E[r] = r̄ + 1 within 1 % (docs/training.md "What the tests check") */
    CHECK(mn >= 1);
    CHECK(fabs((double)hist_mid / (double)n_draws - 0.5) < 0.03); /* median ≈ 29 */
    CHECK((double)le8 / (double)n_draws > 0.008 && (double)le8 / (double)n_draws < 0.02);
    int64_t n1, k1, n2, k2;
    hg_sample_depth(42, 17, 32, 8, &n1, &k1), hg_sample_depth(42, 17, 32, 8, &n2, &k2);
    CHECK(n1 == n2 && k1 == k2); /* same (seed, counter) ⇒ same draw (ranks agree) */
    free(all);
}

int main(void) {
    hg_rng_seed(&g_rng, 1234);
    fd_linear();
    fd_rmsnorm();
    fd_rope(false);
    fd_attention(2, 2, 3);
    fd_swiglu();
    fd_cross_entropy();
    hg_config c = {0}; /* Huginn: sandwich layers, tied embedding, q/k bias */
    c.n_embd = 8, c.n_head = 2, c.head_dim = 4, c.intermediate_size = 12, c.vocab_size = 11;
    c.n_layers_prelude = 1, c.n_layers_core = 2, c.n_layers_coda = 1, c.mean_recurrence = 4;
    c.mean_backprop_depth = 2, c.block_size = 16, c.rope_base = 50000, c.norm_eps = 1e-6f, c.qk_bias = true;
    c.tie_embeddings = true;
    fd_model(&c, "huginn whole model, truncated (n=2, k=2), every element of every tensor");
    /* the retrofit Llama pieces: rotate-half RoPE, grouped-query attention (the scalar loops at d 3, the
     * AVX-512 twin, where the CPU has it, at d 16) */
    fd_rope(true);
    fd_attention(4, 2, 3);
    fd_attention(4, 1, 16);
    fd_attention(2, 2, 16);
    /* retrofit Llama: pre-norm layers, grouped-query attention (2 heads on 1 KV head), rotate-half RoPE
     * with llama3 scaling, untied head, embed_scale ≠ 1, ln_f only after the coda */
    c.arch = HG_ARCH_RETROFIT_LLAMA, c.n_kv_head = 1, c.qk_bias = false, c.tie_embeddings = false;
    c.embed_scale = 1.5f, c.init_std = 0.3, c.rope_base = 500000;
    c.rope_factor = 32, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4, c.rope_orig_ctx = 8;
    fd_model(&c, "retrofit-llama whole model, truncated (n=2, k=2), every element of every tensor");
    /* retrofit OLMo-2: post-norm layers with q/k norms over the full widths, plain rotate-half RoPE */
    c.arch = HG_ARCH_RETROFIT_OLMO, c.rope_factor = 0, c.embed_scale = 1.0f;
    fd_model(&c, "retrofit-olmo2 whole model, truncated (n=2, k=2), every element of every tensor");
    sampler();
    return hg_test_finish("test_train_fd");
}
