/*
 * test_train_optim.c — the optimizer, schedule and clipping against a hand-written double reference
 * of docs/training.md "Optimizer" (written here from the recipe's pseudo-code, independently of optim.c).
 *
 * Three updates on a tiny layout (every group: embedding, norms/bias, matrices) cover running init
 * (t = 0), bias correction, decay excluded for the norm group, and update clipping with ρ > 1 (the
 * third gradient is 30× the earlier ones, so g²/v ≫ 1). Tolerance: 2e-6 relative + 1e-7 absolute
 * on parameters and moments — the implementation works in f32 (as the reference), one rounding per
 * operation, a few operations per element. Also: the schedule at its corners, global clipping
 * (coefficient max/(norm + 1e-6)), and the non-finite guard (a NaN gradient changes nothing).
 */
#include "harness.h"
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double ref_step(const hg_optim_params *p, const hg_tlayout *L, double *th, double *g, double *m, double *v,
                     int64_t *t, double lr) {
    double ss = 0;
    for (int64_t i = 0; i < L->n_params; i++) ss += g[i] * g[i];
    const double norm = sqrt(ss);
    if (p->grad_clip / (norm + 1e-6) < 1)
        for (int64_t i = 0; i < L->n_params; i++) g[i] *= p->grad_clip / (norm + 1e-6);
    double max_rho = 0;
    for (int64_t k = 0; k < L->n_tensors; k++) {
        const int64_t o = L->t[k].offset, n = L->t[k].n;
        if (t[k] == 0)
            for (int64_t i = o; i < o + n; i++) m[i] = g[i], v[i] = g[i] * g[i];
        double acc = 0;
        for (int64_t i = o; i < o + n; i++) {
            m[i] = p->beta1 * m[i] + (1 - p->beta1) * g[i];
            v[i] = p->beta2 * v[i] + (1 - p->beta2) * g[i] * g[i];
            v[i] = fmax(v[i], p->eps * p->eps);
            acc += g[i] * g[i] / v[i];
        }
        max_rho = fmax(max_rho, sqrt(acc / (double)n));
        double step = lr / fmax(1.0, sqrt(acc / (double)n));
        t[k]++;
        const double b1 = 1 - pow(p->beta1, (double)t[k]), b2 = 1 - pow(p->beta2, (double)t[k]);
        step /= b1;
        const bool decay = !(strstr(L->t[k].name, "norm") || strstr(L->t[k].name, "ln_f") || strstr(L->t[k].name, "qk_bias"));
        for (int64_t i = o; i < o + n; i++) {
            if (decay) th[i] *= 1 - p->weight_decay * lr / p->lr_peak;
            th[i] -= step * atan2(m[i], sqrt(v[i]) / sqrt(b2));
        }
    }
    return max_rho;
}

static void close_rel(const char *what, const float *a, const double *b, int64_t n) {
    double worst = 0;
    int64_t where = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]) / (1e-7 + 2e-6 * fabs(b[i]));
        if (!(d <= worst)) worst = d, where = i;
    }
    CHECK_MSG(worst <= 1, "%s: [%lld] %.9g vs %.9g", what, (long long)where, (double)a[where], b[where]);
    fprintf(stderr, "  %s: worst error / tolerance %.3g\n", what, worst);
}

int main(void) {
    hg_config c = {0};
    c.n_embd = 8, c.n_head = 2, c.head_dim = 4, c.intermediate_size = 12, c.vocab_size = 11;
    c.n_layers_prelude = 1, c.n_layers_core = 1, c.n_layers_coda = 1, c.mean_recurrence = 4;
    c.block_size = 16, c.rope_base = 50000, c.norm_eps = 1e-6f, c.qk_bias = true, c.tie_embeddings = true;
    hg_tlayout L;
    hg_error err = {0};
    CHECK(hg_tlayout_init(&L, &c, &err) == HG_OK);
    const int64_t n = L.n_params;
    float *th = malloc((size_t)n * 4), *g = malloc((size_t)n * 4), *m = calloc((size_t)n, 4), *v = calloc((size_t)n, 4);
    double *rth = malloc((size_t)n * 8), *rg = malloc((size_t)n * 8), *rm = calloc((size_t)n, 8), *rv = calloc((size_t)n, 8);
    int64_t *t = calloc((size_t)L.n_tensors, 8), *rt = calloc((size_t)L.n_tensors, 8);
    hg_rng r;
    hg_rng_seed(&r, 5);
    for (int64_t i = 0; i < n; i++) th[i] = (float)hg_rng_normal(&r), rth[i] = (double)th[i];
    hg_optim_params p = hg_optim_default_params();
    p.lr_peak = 1e-2, p.weight_decay = 0.05, p.warmup = 2, p.cooldown = 0, p.max_steps = 100, p.grad_clip = 1.0;
    for (int step = 1; step <= 3; step++) {
        const double scale = step == 3 ? 30.0 : 0.01; /* steps 1–2 below the clip, step 3 far above */
        for (int64_t i = 0; i < n; i++) {
            g[i] = (float)(scale * hg_rng_normal(&r) / sqrt((double)n));
            rg[i] = (double)g[i];
        }
        if (step == 2) /* one tensor with an all-zero gradient: v floors at eps², atan2(0, ·) = 0 */
            for (int64_t i = 0; i < L.t[1].n; i++) g[L.t[1].offset + i] = 0, rg[L.t[1].offset + i] = 0;
        const double lr = hg_lr_at(&p, step);
        double norm;
        CHECK(hg_optim_step(&p, &L, th, g, m, v, t, lr, &norm));
        const double rho = ref_step(&p, &L, rth, rg, rm, rv, rt, lr);
        if (step == 3) CHECK_MSG(rho > 1, "update clipping inactive at step 3 (max rho %g)", rho);
        char what[64];
        snprintf(what, sizeof what, "step %d params", step);
        close_rel(what, th, rth, n);
        snprintf(what, sizeof what, "step %d exp_avg", step);
        close_rel(what, m, rm, n);
        snprintf(what, sizeof what, "step %d exp_avg_sq", step);
        close_rel(what, v, rv, n);
        if (step == 3) CHECK(norm > 10); /* the clip was active */
    }
    for (int64_t k = 0; k < L.n_tensors; k++) CHECK(t[k] == 3);
    /* the norm group is not decayed: with a zero gradient a norm weight does not move at all */
    {
        const int64_t ni = hg_tlayout_find(&L, "transformer.ln_f.weight"), wi = hg_tlayout_find(&L, "transformer.wte.weight");
        float before_n = th[L.t[ni].offset], before_w = th[L.t[wi].offset];
        memset(g, 0, (size_t)n * 4);
        hg_optim_params q = p;
        q.update_clipping = false;
        float *m2 = malloc((size_t)n * 4), *v2 = malloc((size_t)n * 4);
        int64_t *t2 = malloc((size_t)L.n_tensors * 8);
        memset(m2, 0, (size_t)n * 4), memset(v2, 0, (size_t)n * 4);
        for (int64_t k = 0; k < L.n_tensors; k++) t2[k] = 5;
        CHECK(hg_optim_step(&q, &L, th, g, m2, v2, t2, p.lr_peak, NULL));
        CHECK(th[L.t[ni].offset] == before_n);
        CHECK(fabsf(th[L.t[wi].offset] - before_w * (1.0f - 0.05f)) <= 1e-6f * fabsf(before_w));
        free(m2), free(v2), free(t2);
    }
    /* non-finite guard: nothing changes */
    {
        float *th0 = malloc((size_t)n * 4), *m0 = malloc((size_t)n * 4);
        memcpy(th0, th, (size_t)n * 4), memcpy(m0, m, (size_t)n * 4);
        for (int64_t i = 0; i < n; i++) g[i] = 0.1f;
        g[7] = NAN;
        double norm;
        CHECK(!hg_optim_step(&p, &L, th, g, m, v, t, 1e-3, &norm));
        CHECK(isnan(norm));
        CHECK(memcmp(th0, th, (size_t)n * 4) == 0 && memcmp(m0, m, (size_t)n * 4) == 0);
        g[7] = INFINITY;
        CHECK(!hg_optim_step(&p, &L, th, g, m, v, t, 1e-3, &norm));
        free(th0), free(m0);
    }
    /* global clip: norm 10 with max 1 becomes 1/(1 + 1e-7)·… i.e. ≈ 1 */
    {
        for (int64_t i = 0; i < n; i++) g[i] = 0;
        g[0] = 6, g[1] = 8;
        hg_optim_params q = p;
        q.lr_peak = 0; /* no movement, just the clip */
        double norm;
        CHECK(hg_optim_step(&q, &L, th, g, m, v, t, 0, &norm));
        CHECK(fabs(norm - 10) < 1e-9);
        CHECK(fabs(hg_grad_norm(g, n) - 10.0 / (10 + 1e-6)) < 1e-6);
    }
    /* schedule corners: W = 10, D = 20, S = 100 */
    {
        hg_optim_params q = p;
        q.lr_peak = 1, q.warmup = 10, q.cooldown = 20, q.max_steps = 100;
        CHECK(fabs(hg_lr_at(&q, 1) - 0.1) < 1e-12);
        CHECK(fabs(hg_lr_at(&q, 9) - 0.9) < 1e-12);
        CHECK(hg_lr_at(&q, 10) == 1 && hg_lr_at(&q, 50) == 1 && hg_lr_at(&q, 80) == 1);
        CHECK(fabs(hg_lr_at(&q, 90) - 0.5) < 1e-12);
        CHECK(hg_lr_at(&q, 100) == 0 && hg_lr_at(&q, 130) == 0);
    }
    free(th), free(g), free(m), free(v), free(rth), free(rg), free(rm), free(rv), free(t), free(rt);
    hg_tlayout_free(&L);
    return hg_test_finish("test_train_optim");
}
