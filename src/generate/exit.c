/*
 * exit.c — the per-token exit criteria of adaptive-depth generation (docs/test-time.md "Exit criteria"),
 * with the semantics of the reference's evaluators (raven_modeling_minimal.py, *ExitEvaluator):
 *   entropy-diff      |H_t - H_prev|, H = -Σ p log(p + 1e-10), H_prev starts at 100         exit <  thr
 *   latent-diff       ||s_t - s_prev|| / ||s_t|| per position, mean over positions; s_prev = s0  exit <  thr
 *   kl                Σ p_prev (log p_prev - log p_t); p_prev starts uniform over V             exit <  thr
 *   minp-kl           the same after min-p smoothing (p < 0.1·max p -> 1/V, renormalise)       exit <  thr
 *   argmax-stability  consecutive checks whose argmax equals the previous one (prev starts -1)  exit >= thr
 *   cosine            1 - mean over positions of cos(s_t, s_prev); s_prev = s0                  exit <  thr
 * Distribution criteria look at the last position only (the reference's reduce=True). Values are
 * computed in double from f32 logits/states (the reference stays in f32: values agree to ~1e-6
 * relative, far inside the goldens' ≥ 2.5 % margin to the thresholds). Cosine with a zero s0 is
 * 0/0 = NaN at the first check, as in the reference, and NaN never exits.
 * Called once per iteration of every token: no allocation after init.
 */
#include "generate/generate.h"

#include <math.h>

static const struct {
    const char *name;
    double auto_thr;
} k_crit[HG_EXIT_COUNT] = {
    [HG_EXIT_NONE] = {"none", 0.0},
    [HG_EXIT_ENTROPY_DIFF] = {"entropy-diff", 1e-3},
    [HG_EXIT_LATENT_DIFF] = {"latent-diff", 0.03},
    [HG_EXIT_KL] = {"kl", 1e-3},
    [HG_EXIT_MINP_KL] = {"minp-kl", 1e-5},
    [HG_EXIT_ARGMAX_STABILITY] = {"argmax-stability", 5.0},
    [HG_EXIT_COSINE] = {"cosine", 1e-3},
};

hg_status hg_exit_criterion_parse(const char *name, hg_exit_criterion *out, hg_error *err) {
    for (int i = 0; name && i < HG_EXIT_COUNT; i++)
        if (!strcmp(name, k_crit[i].name)) {
            *out = (hg_exit_criterion)i;
            return HG_OK;
        }
    return hg_err(err, HG_STATUS_BAD_ARG,
                  "unknown exit criterion `%s` (expected entropy-diff, latent-diff, kl, minp-kl, argmax-stability, "
                  "cosine or none)",
                  name ? name : "(null)");
}

const char *hg_exit_criterion_name(hg_exit_criterion c) {
    return c >= 0 && c < HG_EXIT_COUNT ? k_crit[c].name : "?";
}

double hg_exit_auto_threshold(hg_exit_criterion c) { return c >= 0 && c < HG_EXIT_COUNT ? k_crit[c].auto_thr : 0.0; }

hg_adaptive_params hg_adaptive_default_params(void) {
    hg_adaptive_params p = {.criterion = HG_EXIT_NONE, .threshold = (double)NAN, .min_steps = 0, .check_every = 1,
                            .no_exit_in_prefill = false, .warm_state = HG_WARM_STATE_DEFAULT};
    return p;
}

/* ---- evaluator state ---------------------------------------------------------------------------- */

void hg_exit_eval_free(hg_exit_eval *ev) {
    if (!ev) return;
    hg_free(ev->prev_logp);
    hg_free(ev->cur_logp);
    hg_free(ev->prev_s);
    ev->prev_logp = ev->cur_logp = NULL;
    ev->prev_s = NULL;
}

hg_status hg_exit_eval_init(hg_exit_eval *ev, hg_exit_criterion crit, double threshold, int64_t V, int64_t h,
                            int64_t T_max, hg_error *err) {
    memset(ev, 0, sizeof *ev);
    if (crit < 0 || crit >= HG_EXIT_COUNT) return hg_err(err, HG_STATUS_BAD_ARG, "exit criterion %d is unknown", (int)crit);
    if (!isnan(threshold) && !isfinite(threshold))
        return hg_err(err, HG_STATUS_BAD_ARG, "exit threshold must be a finite number (or auto)");
    ev->crit = crit;
    /* the reference casts the argmax-stability threshold to int */
    ev->thr = isnan(threshold) ? k_crit[crit].auto_thr : crit == HG_EXIT_ARGMAX_STABILITY ? trunc(threshold) : threshold;
    ev->V = V, ev->h = h, ev->T_max = T_max;
    if (crit == HG_EXIT_KL || crit == HG_EXIT_MINP_KL) {
        ev->prev_logp = hg_malloc((size_t)V * sizeof(double));
        ev->cur_logp = hg_malloc((size_t)V * sizeof(double));
        if (!ev->prev_logp || !ev->cur_logp) goto nomem;
    }
    if (crit == HG_EXIT_LATENT_DIFF || crit == HG_EXIT_COSINE) {
        size_t n;
        if (!hg_mul_ok((size_t)T_max, (size_t)h, &n) || !(ev->prev_s = hg_malloc(n * sizeof(float)))) goto nomem;
    }
    return HG_OK;
nomem:
    hg_exit_eval_free(ev);
    return hg_err(err, HG_STATUS_NOMEM, "out of memory for the exit evaluator");
}

void hg_exit_eval_reset(hg_exit_eval *ev, const float *s0, int64_t T) {
    ev->prev_entropy = 100.0;
    ev->prev_argmax = -1;
    ev->stable = 0;
    if (ev->prev_logp) {
        const double u = log(1.0 / (double)ev->V);
        for (int64_t i = 0; i < ev->V; i++) ev->prev_logp[i] = u;
    }
    if (ev->prev_s) memcpy(ev->prev_s, s0, (size_t)(T * ev->h) * sizeof(float));
}

bool hg_exit_eval_needs_logits(const hg_exit_eval *ev) {
    return ev->crit == HG_EXIT_ENTROPY_DIFF || ev->crit == HG_EXIT_KL || ev->crit == HG_EXIT_MINP_KL ||
           ev->crit == HG_EXIT_ARGMAX_STABILITY;
}

/* ---- the criteria --------------------------------------------------------------------------------- */

/* log-softmax of logits [V] into out [V] (double); returns nothing, max-subtracted */
static void log_softmax(const float *logits, int64_t V, double *out) {
    double mx = (double)logits[0];
    for (int64_t i = 1; i < V; i++) mx = (double)logits[i] > mx ? (double)logits[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
    const double lse = mx + log(sum);
    for (int64_t i = 0; i < V; i++) out[i] = (double)logits[i] - lse;
}

/* min-p smoothing of the reference's MinKLExitEvaluator: probabilities below 0.1 * max are replaced by
 * 1/V (not zeroed), then everything is renormalised; returns log-probabilities in place. */
static void minp_smooth(double *logp, int64_t V) {
    double pmax = 0, sum = 0;
    for (int64_t i = 0; i < V; i++) {
        logp[i] = exp(logp[i]);
        pmax = logp[i] > pmax ? logp[i] : pmax;
    }
    for (int64_t i = 0; i < V; i++) {
        if (logp[i] < 0.1 * pmax) logp[i] = 1.0 / (double)V;
        sum += logp[i];
    }
    for (int64_t i = 0; i < V; i++) logp[i] = log(logp[i] / sum);
}

static double kl_prev_cur(const double *prev, const double *cur, int64_t V) {
    double kl = 0; /* F.kl_div(cur, prev, log_target=True).sum() = Σ exp(prev) (prev - cur) */
    for (int64_t i = 0; i < V; i++) kl += exp(prev[i]) * (prev[i] - cur[i]);
    return kl;
}

/* mean over positions of f(s_p, prev_p), then prev <- s */
static double latent_value(hg_exit_eval *ev, const float *s, int64_t T, bool cosine) {
    const int64_t h = ev->h;
    double acc = 0;
    for (int64_t p = 0; p < T; p++) {
        const float *a = s + p * h, *b = ev->prev_s + p * h;
        double dd = 0, aa = 0, bb = 0, ab = 0;
        for (int64_t j = 0; j < h; j++) {
            const double x = (double)a[j], y = (double)b[j];
            dd += (x - y) * (x - y);
            aa += x * x;
            bb += y * y;
            ab += x * y;
        }
        /* cosine: dot / |a| / |b| (0/0 = NaN for a zero previous state, as the reference) */
        acc += cosine ? ab / sqrt(aa) / sqrt(bb) : sqrt(dd) / sqrt(aa);
    }
    memcpy(ev->prev_s, s, (size_t)(T * h) * sizeof(float));
    const double mean = acc / (double)T;
    return cosine ? 1.0 - mean : mean;
}

bool hg_exit_eval_check(hg_exit_eval *ev, const float *s, int64_t T, const float *logits, double *value) {
    const int64_t V = ev->V;
    double v = 0;
    switch (ev->crit) {
    case HG_EXIT_NONE: *value = 0; return false;
    case HG_EXIT_ENTROPY_DIFF: {
        double mx = (double)logits[0], sum = 0, H = 0;
        for (int64_t i = 1; i < V; i++) mx = (double)logits[i] > mx ? (double)logits[i] : mx;
        for (int64_t i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
        for (int64_t i = 0; i < V; i++) {
            const double p = exp((double)logits[i] - mx) / sum;
            H -= p * log(p + 1e-10);
        }
        v = fabs(H - ev->prev_entropy);
        ev->prev_entropy = H;
        break;
    }
    case HG_EXIT_LATENT_DIFF: v = latent_value(ev, s, T, false); break;
    case HG_EXIT_COSINE: v = latent_value(ev, s, T, true); break;
    case HG_EXIT_KL:
    case HG_EXIT_MINP_KL: {
        log_softmax(logits, V, ev->cur_logp);
        if (ev->crit == HG_EXIT_MINP_KL) minp_smooth(ev->cur_logp, V);
        v = kl_prev_cur(ev->prev_logp, ev->cur_logp, V);
        double *t = ev->prev_logp; /* prev <- cur */
        ev->prev_logp = ev->cur_logp;
        ev->cur_logp = t;
        break;
    }
    case HG_EXIT_ARGMAX_STABILITY: {
        const int32_t am = hg_gen_argmax(logits, V);
        ev->stable = am == ev->prev_argmax ? ev->stable + 1 : 0;
        ev->prev_argmax = am;
        *value = (double)ev->stable;
        return (double)ev->stable >= ev->thr;
    }
    case HG_EXIT_COUNT: break;
    }
    *value = v;
    return v < ev->thr; /* NaN compares false: never exits */
}
