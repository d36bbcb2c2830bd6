/*
 * adaptive.c — generation with per-token adaptive depth (docs/test-time.md "Adaptive exit"), the reference's
 * generate_with_adaptive_compute for one sequence, built on the public stage functions:
 *
 *   e = prelude(new tokens); s = warm ? previous state : s0; evaluator.reset(s)
 *   for t in 0 .. n_steps-1:
 *       s = core_step(s, e, t)                       (writes the core KV of iteration t)
 *       skip the check when t < min_steps, (t - min_steps) % check_every != 0, or prompt + no-exit
 *       [coda when the criterion needs logits]; exit? -> break
 *   logits = the last check's coda output if there was one, else coda(s)
 *
 * The first call is the whole prompt (it exits as a whole); then one token per call. Reference quirks
 * kept on purpose: a logit criterion that never fires reuses the logits of its LAST CHECK (stale when
 * check_every > 1 does not land on the last step) and its coda KV; the steps reported are then
 * n_steps. Warm start (docs/test-time.md "Warm start") carries the raw final state by default (this loop in the reference), or
 * ln_f of it (generate_minimal's choice) with HG_WARM_STATE_NORMALIZED.
 *
 * The coda of a multi-position call is split into [0, T-1) without logits and the last position with
 * them: causal attention makes that exact and keeps the logits buffer at [V]. All buffers are
 * allocated once per call; nothing per token or per iteration.
 */
#include "generate/generate.h"

#include <math.h>

typedef struct adaptive_bufs {
    float *e;      /* [T_max, h] prelude output */
    float *s;      /* [T_max, h] latent state */
    float *logits; /* [V] next-token logits of the call's last position */
    float *lat;    /* [h] ln_f of the last position's state (from the coda call that gave the logits) */
    float *warm;   /* [h] warm-start state for the next token */
    int32_t *hist; /* [n_prompt + max_new_tokens] */
} adaptive_bufs;

/* coda of positions [pos0, pos0+T): K/V for all, logits + latents for the last one */
static hg_status coda_last(hg_ctx *ctx, const float *s, int64_t T, int64_t pos0, int64_t h, float *lat,
                           float *logits, hg_ttc_report *rep, hg_error *err) {
    hg_status st;
    if (T > 1 && (st = hg_ctx_coda(ctx, s, T - 1, pos0, NULL, NULL, err))) return st;
    if (rep) rep->coda_calls++;
    return hg_ctx_coda(ctx, s + (T - 1) * h, 1, pos0 + T - 1, lat, logits, err);
}

hg_status hg_generate_adaptive(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                               const hg_adaptive_params *ap, hg_token_callback cb, void *user, int32_t *out_ids,
                               int64_t *n_out, hg_ttc_report *rep, hg_error *err) {
    if (!ctx || !prompt || !out_ids || !n_out) return hg_err(err, HG_STATUS_BAD_ARG, "generate_adaptive: NULL argument");
    const hg_model *m = hg_gen_model(ctx);
    const hg_config *c = hg_model_config(m);
    const int64_t h = c->n_embd, V = c->vocab_size;
    hg_generate_params p = gp ? *gp : hg_generate_default_params();
    hg_adaptive_params a = ap ? *ap : hg_adaptive_default_params();
    if (n_prompt <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "generate_adaptive: the prompt is empty");
    if (p.max_new_tokens < 0 || p.n_steps < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "generate_adaptive: max_new_tokens and n_steps must be >= 0");
    if (a.min_steps < 0 || a.check_every < 1)
        return hg_err(err, HG_STATUS_BAD_ARG, "adaptive exit: min_steps must be >= 0 and check_every >= 1");
    if (a.warm_state < HG_WARM_STATE_DEFAULT || a.warm_state > HG_WARM_STATE_NORMALIZED)
        return hg_err(err, HG_STATUS_BAD_ARG, "adaptive exit: unknown warm_state %d", (int)a.warm_state);
    if (n_prompt + p.max_new_tokens > hg_ctx_n_ctx(ctx))
        return hg_err(err, HG_STATUS_LIMIT,
                      "generate_adaptive: prompt (%lld) + new tokens (%lld) exceed the context (%lld)",
                      (long long)n_prompt, (long long)p.max_new_tokens, (long long)hg_ctx_n_ctx(ctx));
    const bool raw_warm = a.warm_state != HG_WARM_STATE_NORMALIZED;

    hg_status st;
    hg_sampler *smp = NULL;
    hg_exit_eval ev = {0};
    adaptive_bufs b = {0};
    if ((st = hg_sampler_init(&p.sampler, V, &smp, err))) return st;
    if ((st = hg_exit_eval_init(&ev, a.criterion, a.threshold, V, h, n_prompt, err))) goto out;
    size_t nTh;
    if (!hg_mul_ok((size_t)n_prompt, (size_t)h, &nTh)) {
        st = hg_err(err, HG_STATUS_LIMIT, "generate_adaptive: prompt too long");
        goto out;
    }
    b.e = hg_malloc(nTh * sizeof(float));
    b.s = hg_malloc(nTh * sizeof(float));
    b.logits = hg_malloc((size_t)V * sizeof(float));
    b.lat = hg_malloc((size_t)h * sizeof(float));
    b.warm = hg_malloc((size_t)h * sizeof(float));
    b.hist = hg_malloc((size_t)(n_prompt + p.max_new_tokens) * sizeof(int32_t));
    if (!b.e || !b.s || !b.logits || !b.lat || !b.warm || !b.hist) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto out;
    }
    memcpy(b.hist, prompt, (size_t)n_prompt * sizeof(int32_t));
    if ((st = hg_ctx_truncate(ctx, 0, err))) goto out;
    if (rep) rep->n_trace = rep->n_tokens = 0;

    const bool need_logits = hg_exit_eval_needs_logits(&ev);
    uint64_t seed = p.seed;
    int64_t n_hist = n_prompt, n_gen = 0;
    while (n_gen < p.max_new_tokens) {
        const bool prefill = n_gen == 0;
        const int64_t T = prefill ? n_prompt : 1, pos0 = prefill ? 0 : n_hist - 1;
        const int32_t *ids = prefill ? prompt : b.hist + n_hist - 1;
        if ((st = hg_ctx_prelude(ctx, ids, T, pos0, b.e, err))) goto out;
        if (!prefill && p.continuous)
            memcpy(b.s, b.warm, (size_t)h * sizeof(float));
        else if (prefill && p.init_state)
            memcpy(b.s, p.init_state, nTh * sizeof(float));
        else
            hg_init_state(m, b.s, T, p.init_scale, &seed);
        hg_exit_eval_reset(&ev, b.s, T);

        bool have_logits = false;
        int64_t steps = p.n_steps;
        double value = NAN;
        for (int64_t t = 0; t < p.n_steps; t++) {
            if ((st = hg_ctx_core_step(ctx, b.s, b.e, T, pos0, t, err))) goto out;
            if (rep) rep->core_passes++, rep->core_iterations += T;
            if (t < a.min_steps || (t - a.min_steps) % a.check_every != 0 || (a.no_exit_in_prefill && prefill))
                continue;
            if (need_logits) {
                if ((st = coda_last(ctx, b.s, T, pos0, h, b.lat, b.logits, rep, err))) goto out;
                have_logits = true;
            }
            const bool stop = hg_exit_eval_check(&ev, b.s, T, b.logits, &value);
            if (rep) {
                if (rep->trace && rep->n_trace < rep->trace_cap) rep->trace[rep->n_trace] = (float)value;
                rep->n_trace++;
            }
            if (stop) {
                steps = t + 1;
                break;
            }
        }
        /* latent criteria and "no check made" run the coda now; a logit criterion reuses its last check */
        if (!have_logits && (st = coda_last(ctx, b.s, T, pos0, h, b.lat, b.logits, rep, err))) goto out;
        if (p.continuous) memcpy(b.warm, raw_warm ? b.s + (T - 1) * h : b.lat, (size_t)h * sizeof(float));

        const int32_t id = hg_sampler_sample(smp, b.logits, b.hist, n_hist);
        b.hist[n_hist++] = id;
        out_ids[n_gen] = id;
        hg_gen_report_token(rep, n_gen, steps, (float)value);
        n_gen++;
        const bool go_on = cb ? cb(user, id, steps, b.logits) : true;
        if (!go_on || hg_gen_is_stop(&p, id)) break;
    }
    *n_out = n_gen;
out:
    hg_free(b.e), hg_free(b.s), hg_free(b.logits), hg_free(b.lat), hg_free(b.warm), hg_free(b.hist);
    hg_exit_eval_free(&ev);
    hg_sampler_free(smp);
    return st;
}
