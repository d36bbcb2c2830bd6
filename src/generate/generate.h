/*
 * generate.h — internal pieces shared by the test-time loops of src/generate/ (adaptive.c,
 * speculative.c, diffusion.c): the per-token exit evaluators (exit.c), stop ids and argument checks.
 * The loops themselves only use the public stage functions, hg_ctx_truncate and the sampler.
 */
#ifndef HG_GENERATE_H
#define HG_GENERATE_H

#include "model/ctx.h"

/* ---- exit evaluators (exit.c; docs/test-time.md "Exit criteria") ---------------------------------------
 * One evaluator per generation; hg_exit_eval_reset before every token (the reference re-initialises
 * it), then hg_exit_eval_check after every checked iteration. Checks compare with the previous check. */
typedef struct hg_exit_eval {
    hg_exit_criterion crit;
    double thr;
    int64_t V, h, T_max;
    double prev_entropy;   /* entropy-diff: starts at 100 */
    int32_t prev_argmax;   /* argmax-stability: starts at -1 */
    int64_t stable;        /* argmax-stability: consecutive equal checks */
    double *prev_logp;     /* [V] kl / minp-kl: previous log-probabilities (starts uniform) */
    double *cur_logp;      /* [V] scratch */
    float *prev_s;         /* [T_max, h] latent-diff / cosine: previous state (starts at s0) */
} hg_exit_eval;

/* threshold NAN = the criterion's auto value. Allocates once (V doubles x 2, T_max x h floats). */
hg_status hg_exit_eval_init(hg_exit_eval *ev, hg_exit_criterion crit, double threshold, int64_t V, int64_t h,
                            int64_t T_max, hg_error *err);
void hg_exit_eval_free(hg_exit_eval *ev);
/* Start a new token whose T positions start from s0 [T, h]. */
void hg_exit_eval_reset(hg_exit_eval *ev, const float *s0, int64_t T);
/* Whether check() needs the next-token logits of the call's last position (the coda must run). */
bool hg_exit_eval_needs_logits(const hg_exit_eval *ev);
/* One check on the state s [T, h] after an iteration; logits [V] of the last position when needed.
 * Writes the criterion's value (the reference's exit_values) and returns whether to exit. */
bool hg_exit_eval_check(hg_exit_eval *ev, const float *s, int64_t T, const float *logits, double *value);

/* ---- shared helpers --------------------------------------------------------------------------- */

/* The model a context runs (the loops need its sizes). */
static inline const hg_model *hg_gen_model(const hg_ctx *ctx) { return ctx->model; }

/* 65504 <|begin_text|>, 65505 <|end_text|>, 65508 <|end_turn|> always stop (docs/test-time.md "Stop ids"),
 * plus the configured ids. The one stop rule of every generation loop. Those three are Huginn's
 * vocabulary: other architectures (a retrofitted Llama's 128k vocabulary) stop on the configured ids
 * only, since there they are ordinary tokens. */
static inline bool hg_gen_is_stop(const hg_model *m, const hg_generate_params *p, int32_t id) {
    if (m->cfg.arch == HG_ARCH_HUGINN && (id == 65504 || id == 65505 || id == 65508)) return true;
    for (int64_t i = 0; i < p->n_eos; i++)
        if (id == p->eos_ids[i]) return true;
    return false;
}

/* The seed schedule of initial states (docs/test-time.md "Initial state"), the one place it is written:
 * the state of the token generated after n tokens (and of the n-th call of a loop that counts calls)
 * comes from its own stream, and the last prompt position of a multi-position prompt from another. */
static inline uint64_t hg_gen_token_seed(uint64_t seed, int64_t n) {
    return seed + 0x632be59bd9b4e019ull * (uint64_t)n;
}
static inline uint64_t hg_gen_last_prompt_seed(uint64_t seed) { return seed ^ 0x9e3779b97f4a7c15ull; }

/* Run one request to completion on a caller's context through the scheduler (sched.c): hg_generate
 * (ap NULL: the plain loop) and hg_generate_adaptive (ap given, or the adaptive defaults). *n_out is
 * set on success only. */
hg_status hg_gen_run_one(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                         bool adaptive, const hg_adaptive_params *ap, hg_token_callback cb, void *user,
                         int32_t *out_ids, int64_t *n_out, hg_ttc_report *rep, hg_error *err);

/* First maximum, as torch.argmax. */
static inline int32_t hg_gen_argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

static inline void hg_gen_report_token(hg_ttc_report *rep, int64_t i, int64_t steps, float value) {
    if (!rep) return;
    if (rep->steps) rep->steps[i] = steps;
    if (rep->exit_values) rep->exit_values[i] = value;
    rep->n_tokens = i + 1;
}

#endif
