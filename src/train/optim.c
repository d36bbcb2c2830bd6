/*
 * optim.c — the optimizer of the recipe (docs/training.md "Optimizer"): "ELLIS-Adam", i.e. Adam with the
 * atan2 update, per-tensor update clipping, running initialisation of the moments and fully
 * decoupled weight decay; the trapezoid learning-rate schedule; the global gradient-norm clip and the
 * non-finite guard. The reference is recpre/optim.py (_single_tensor_modded_adamw with atan_adam,
 * update_clipping, running_init, decouple_wd); the order of operations below follows it line by line.
 *
 * Elementwise math is f32 like the reference's f32 state; the per-tensor ρ and the global norm are
 * summed in double in a fixed order (deterministic for any thread count).
 */
#include "train/train.h"

#include <math.h>

hg_optim_params hg_optim_default_params(void) {
    /* the small-scale recipe (docs/training.md "Small-scale defaults"); Huginn itself used lr 4e-5, wd 4e-5 */
    hg_optim_params p = {.lr_peak = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 1e-4,
                         .update_clipping = true, .grad_clip = 1.0, .warmup = 50, .cooldown = 0, .max_steps = 1000};
    return p;
}

/* Trapezoid (docs/training.md "Schedule"): linear warm-up from 0, plateau, linear cool-down to 0 over the last `cooldown`
 * steps. `step` is the 1-based index of the update being made (the first update uses step 1, so its
 * rate is η_peak/W, not 0). We count optimizer steps, not micro-batches (the recipe's advice). */
double hg_lr_at(const hg_optim_params *p, int64_t step) {
    if (p->warmup > 0 && step < p->warmup) return p->lr_peak * (double)step / (double)p->warmup;
    if (p->cooldown > 0 && step > p->max_steps - p->cooldown) {
        const double v = p->lr_peak * (double)(p->max_steps - step) / (double)p->cooldown;
        return v > 0 ? v : 0;
    }
    return p->lr_peak;
}

double hg_grad_norm(const float *g, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    return sqrt(s);
}

bool hg_optim_step(const hg_optim_params *p, const hg_tlayout *L, float *params, float *grads, float *m, float *v,
                   int64_t *t, double lr, double *norm_out) {
    const double norm = hg_grad_norm(grads, L->n_params);
    if (norm_out) *norm_out = norm;
    if (!isfinite(norm)) return false; /* skip the step; the caller decides whether to stop */
    if (p->grad_clip > 0) {
        /* torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), applied when below 1 */
        const double coef = p->grad_clip / (norm + 1e-6);
        if (coef < 1) {
            const float cf = (float)coef;
            for (int64_t i = 0; i < L->n_params; i++) grads[i] *= cf;
        }
    }
    const float b1 = (float)p->beta1, b2 = (float)p->beta2;
    const float eps2 = (float)(p->eps * p->eps);
    for (int64_t ti = 0; ti < L->n_tensors; ti++) {
        const hg_tinfo *info = &L->t[ti];
        float *th = params + info->offset, *g = grads + info->offset, *mm = m + info->offset, *vv = v + info->offset;
        const int64_t n = info->n;
        if (t[ti] == 0) /* running init: the moments start at the first gradient */
            for (int64_t i = 0; i < n; i++) mm[i] = g[i], vv[i] = g[i] * g[i];
        for (int64_t i = 0; i < n; i++) {
            mm[i] += (1.0f - b1) * (g[i] - mm[i]); /* exp_avg.lerp_(grad, 1 − β1) */
            vv[i] = vv[i] * b2 + (1.0f - b2) * (g[i] * g[i]);
        }
        double step = lr;
        if (p->update_clipping) {
            double acc = 0;
            for (int64_t i = 0; i < n; i++) {
                if (vv[i] < eps2) vv[i] = eps2; /* clamp_ writes the floor back into the state */
                acc += (double)(g[i] * g[i] / vv[i]);
            }
            const double rho = sqrt(acc / (double)n);
            step /= rho > 1 ? rho : 1;
        }
        t[ti]++;
        const double bc1 = 1 - pow(p->beta1, (double)t[ti]), bc2 = 1 - pow(p->beta2, (double)t[ti]);
        step /= bc1;
        const float bc2_sqrt = (float)sqrt(bc2), fstep = (float)step;
        if (info->group != HG_TGROUP_NORM && p->weight_decay > 0) {
            /* fully decoupled: shrink by λ·η/η_peak, applied before the update with the unclipped η */
            const float shrink = (float)(1.0 - p->weight_decay * lr / p->lr_peak);
            for (int64_t i = 0; i < n; i++) th[i] *= shrink;
        }
        for (int64_t i = 0; i < n; i++) th[i] -= fstep * atan2f(mm[i], sqrtf(vv[i]) / bc2_sqrt);
    }
    return true;
}
