/*
 * trace.c — generation that shows every core iteration (include/huginn.h "tracing the recurrence",
 * docs/trace.md): the same loops as hg_generate and hg_generate_adaptive, written once more over the
 * public stage functions one iteration at a time, with the coda run on every iteration's state (the
 * logit lens) and the caller's observer called with the state, ln_f of it and the lens logits. The
 * prompt's lens runs after each iteration; a generated token's is deferred to one hg_ctx_coda_lens call
 * over all its iterations (the coda's weights read once, not once per iteration: decode is bound by
 * reading weights), where the cache type and exit criterion allow (run_token_deferred).
 *
 * Why a second copy of the loop instead of a hook in sched.c: the scheduler packs rows of many
 * requests and runs the coda only where a decision needs it; an observer there would either change
 * its work (a coda per iteration for every row) or see only part of it. Tracing is a diagnostic for
 * one sequence, so it gets its own plain loop; test_trace checks that its tokens, steps and logits equal
 * the generation loops' and the goldens'.
 *
 * The rules it reproduces (docs/test-time.md): the prompt is one group (plain: its first n-1 positions'
 * initial states from `seed`, the last from hg_gen_last_prompt_seed; adaptive: one advancing stream for
 * the prompt and every token); each token is a group of one; plain tokens draw from
 * hg_gen_token_seed(seed, n) or start from ln_f of the previous final state (warm start); adaptive
 * tokens check their exit after iteration t when t >= min_steps and (t - min_steps) % check_every == 0,
 * and a logit criterion samples from its last check's logits. The lens coda of a group overwrites the
 * coda K/V of its positions at every iteration and the last one written is the final iteration's, so
 * later positions attend to exactly what untraced generation leaves. Where the adaptive loop keeps an
 * earlier iteration's coda (a logit criterion whose last check precedes the final iteration, with
 * check_every > 1), that check's state is kept and its coda K/V written again at the group's end.
 *
 * Memory: the group's e, s and checked state [T, h], one lens chunk ([chunk, h] latents, [chunk, V] logits) and the
 * sampling logits [V]; allocated once per call, nothing per token.
 */
#include "generate/generate.h"

#include <math.h>

hg_trace_params hg_trace_default_params(void) {
    hg_trace_params p;
    memset(&p, 0, sizeof p);
    p.exit = hg_adaptive_default_params();
    p.lens_chunk = 64;
    return p;
}

typedef struct tr_run {
    hg_ctx *ctx;
    const hg_generate_params *gp;
    const hg_trace_params *tp;
    hg_ttc_report *rep;
    int64_t h, V, chunk;
    hg_exit_eval ev;
    bool ev_on;
    uint64_t stream;     /* adaptive: the advancing stream of initial states */
    float *e, *s;        /* [T_max, h] the group's embeddings and state */
    float *lat, *logits; /* [chunk, h], [chunk, V] one lens chunk */
    float *pick;         /* [V] logits that choose the next token */
    float *last_lat;     /* [h] ln_f of the last position's final state (plain warm start) */
    float *last_s;       /* [h] the last position's final raw state (raw warm start) */
    bool picked;         /* this group's `pick` came from a logit check: later iterations keep it */
    float *s_chk;        /* [T_max, h] the state at the last logit check */
    int64_t chk_t;       /* the iteration of that check */
    /* a token's lens, deferred: its states after every iteration, their check values, one lens chunk */
    bool defer;          /* tokens take the deferred lens (f32 KV cache, no logit criterion) */
    float *ds;           /* [R+1, h] states after iterations 0..R */
    double *dv;          /* [R+1] exit value checked after each (NaN: none) */
    int64_t dchunk;      /* rows per hg_ctx_coda_lens call */
    float *dlat, *dlog;  /* [dchunk, h], [dchunk, V] */
} tr_run;

/* Whether the adaptive loop checks its exit after (0-based) iteration t. */
static bool check_due(const hg_adaptive_params *a, int64_t t, bool prompt) {
    return t >= a->min_steps && (t - a->min_steps) % a->check_every == 0 && !(a->no_exit_in_prefill && prompt);
}

/* The exit value of a check, into the report's trace. */
static void record_value(tr_run *r, double value) {
    if (!r->rep) return;
    if (r->rep->trace && r->rep->n_trace < r->rep->trace_cap) r->rep->trace[r->rep->n_trace] = (float)value;
    r->rep->n_trace++;
}

/* The lens at iteration t of the group [pos0, pos0+T): coda chunk by chunk (each chunk attends to the
 * coda K/V the previous chunks just wrote, so chunking is exact), the observer per chunk. `check`:
 * the exit check is due after this iteration; it runs on the last chunk, whose last row is the group's
 * last position, and its value goes to that chunk's observer call. *exit_now says whether to stop. */
static hg_status lens(tr_run *r, int64_t pos0, int64_t T, int64_t t, bool check, bool *exit_now, double *value,
                      hg_error *err) {
    const int64_t h = r->h, V = r->V;
    hg_status st;
    *exit_now = false;
    for (int64_t c0 = 0; c0 < T; c0 += r->chunk) {
        const int64_t Tc = hg_min_i64(r->chunk, T - c0);
        const bool last = c0 + Tc == T;
        if ((st = hg_ctx_coda(r->ctx, r->s + c0 * h, Tc, pos0 + c0, r->lat, r->logits, err))) return st;
        if (r->rep) r->rep->coda_calls++;
        hg_trace_step ts = {.group_pos0 = pos0, .group_T = T, .pos0 = pos0 + c0, .T = Tc, .t = t,
                            .s = r->s + c0 * h, .latents = r->lat, .logits = r->logits, .exit_value = (double)NAN};
        if (last) {
            const float *lrow = r->logits + (Tc - 1) * V;
            if (check) {
                *exit_now = hg_exit_eval_check(&r->ev, r->s, T, lrow, value);
                ts.exit_value = *value;
                record_value(r, *value);
            }
            /* a logit criterion's token takes its last check's logits (the reference's quirk); otherwise
             * (latent criteria, no check made, the plain loop) the final iteration's */
            const bool logit_check = check && hg_exit_eval_needs_logits(&r->ev);
            if (logit_check || !r->picked) {
                memcpy(r->pick, lrow, (size_t)V * sizeof(float));
                memcpy(r->last_lat, r->lat + (Tc - 1) * h, (size_t)h * sizeof(float)); /* the normalised warm state */
            }
            if (logit_check) {
                memcpy(r->s_chk, r->s, (size_t)(T * h) * sizeof(float));
                r->chk_t = t;
            }
            r->picked |= logit_check;
            memcpy(r->last_s, r->s + (T - 1) * h, (size_t)h * sizeof(float));
        }
        if (r->tp->on_step && (st = r->tp->on_step(r->tp->user, &ts, err))) return st;
    }
    return HG_OK;
}

/* One token (a group of one position at pos) with its lens deferred: iterate, keeping every state and
 * deciding a latent exit as generation does; then the lens of iterations 0..steps-1 in chunks through
 * hg_ctx_coda_lens (the coda's weights read once per chunk instead of once per iteration; nothing is
 * written to the cache), and the final iteration through hg_ctx_coda, which writes the position's
 * coda K/V exactly as untraced generation does. The observer sees the same steps in the same order as
 * with the lens after every iteration, and the same numbers (hg_ctx_coda_lens rows equal hg_ctx_coda). */
static hg_status run_token_deferred(tr_run *r, int64_t pos, int64_t *steps, double *value, hg_error *err) {
    const int64_t h = r->h, V = r->V, R = r->gp->n_steps;
    hg_status st;
    *value = (double)NAN;
    *steps = R;
    if (r->ev_on) hg_exit_eval_reset(&r->ev, r->s, 1);
    memcpy(r->ds, r->s, (size_t)h * sizeof(float));
    r->dv[0] = (double)NAN;
    for (int64_t t = 0; t < R; t++) {
        if ((st = hg_ctx_core_step(r->ctx, r->s, r->e, 1, pos, t, err))) return st;
        if (r->rep) r->rep->core_passes++, r->rep->core_iterations++;
        memcpy(r->ds + (t + 1) * h, r->s, (size_t)h * sizeof(float));
        r->dv[t + 1] = (double)NAN;
        if (!(r->ev_on && check_due(&r->tp->exit, t, false))) continue;
        const bool stop = hg_exit_eval_check(&r->ev, r->s, 1, NULL, value); /* a latent criterion: no logits */
        r->dv[t + 1] = *value;
        record_value(r, *value);
        if (stop) {
            *steps = t + 1;
            break;
        }
    }
    for (int64_t c0 = 0; c0 <= *steps; c0 += r->dchunk) {
        const bool final = c0 + r->dchunk > *steps; /* this chunk ends with the final iteration */
        const int64_t n = hg_min_i64(r->dchunk, *steps + 1 - c0), n_lens = final ? n - 1 : n;
        if (n_lens > 0 && (st = hg_ctx_coda_lens(r->ctx, r->ds + c0 * h, n_lens, pos, r->dlat, r->dlog, err))) return st;
        if (final && (st = hg_ctx_coda(r->ctx, r->ds + *steps * h, 1, pos, r->dlat + n_lens * h, r->dlog + n_lens * V,
                                       err)))
            return st;
        if (r->rep) r->rep->coda_calls += (n_lens > 0) + final;
        for (int64_t i = 0; i < n && r->tp->on_step; i++) {
            const hg_trace_step ts = {.group_pos0 = pos, .group_T = 1, .pos0 = pos, .T = 1, .t = c0 + i,
                                      .s = r->ds + (c0 + i) * h, .latents = r->dlat + i * h, .logits = r->dlog + i * V,
                                      .exit_value = r->dv[c0 + i]};
            if ((st = r->tp->on_step(r->tp->user, &ts, err))) return st;
        }
        if (final) {
            memcpy(r->pick, r->dlog + (n - 1) * V, (size_t)V * sizeof(float));
            memcpy(r->last_lat, r->dlat + (n - 1) * h, (size_t)h * sizeof(float));
            memcpy(r->last_s, r->ds + *steps * h, (size_t)h * sizeof(float));
        }
    }
    return r->tp->on_group ? r->tp->on_group(r->tp->user, pos, 1, *steps, err) : HG_OK;
}

/* One group: prelude, the initial state (already in r->s), lens at t = 0, then iterations until the
 * exit or n_steps, each followed by the lens. *steps receives the iterations run, *value the last
 * check's value (NaN when none). A generated token takes the deferred lens where it can. */
static hg_status run_group(tr_run *r, const int32_t *ids, int64_t T, int64_t pos0, bool prompt, int64_t *steps,
                           double *value, hg_error *err) {
    if (T == 1 && !prompt && r->defer) return run_token_deferred(r, pos0, steps, value, err);
    const int64_t R = r->gp->n_steps;
    hg_status st;
    bool stop = false;
    *value = (double)NAN;
    *steps = R;
    r->picked = false;
    if (r->ev_on) hg_exit_eval_reset(&r->ev, r->s, T);
    if ((st = lens(r, pos0, T, 0, false, &stop, value, err))) return st;
    for (int64_t t = 0; t < R; t++) {
        if ((st = hg_ctx_core_step(r->ctx, r->s, r->e, T, pos0, t, err))) return st;
        if (r->rep) r->rep->core_passes++, r->rep->core_iterations += T;
        const bool check = r->ev_on && check_due(&r->tp->exit, t, prompt);
        if ((st = lens(r, pos0, T, t + 1, check, &stop, value, err))) return st;
        if (stop) {
            *steps = t + 1;
            break;
        }
    }
    /* The adaptive loop leaves the coda K/V of a logit criterion's last check (its token's logits come
     * from there); when that check preceded the final iteration, the lens has overwritten them since:
     * write them again from the checked state (K/V only), so later positions see what generation does. */
    for (int64_t c0 = 0; r->picked && r->chk_t != *steps && c0 < T; c0 += r->chunk) {
        const int64_t Tc = hg_min_i64(r->chunk, T - c0);
        if ((st = hg_ctx_coda(r->ctx, r->s_chk + c0 * r->h, Tc, pos0 + c0, NULL, NULL, err))) return st;
    }
    return r->tp->on_group ? r->tp->on_group(r->tp->user, pos0, T, *steps, err) : HG_OK;
}

hg_status hg_generate_traced(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                             const hg_trace_params *tp, hg_token_callback cb, void *user, int32_t *out_ids,
                             int64_t *n_out, hg_ttc_report *rep, hg_error *err) {
    if (!ctx || !prompt || !gp || !tp || !out_ids || !n_out)
        return hg_err(err, HG_STATUS_BAD_ARG, "generate_traced: NULL argument");
    if (n_prompt <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "generate_traced: the prompt is empty");
    if (gp->max_new_tokens < 0 || gp->n_steps < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "generate_traced: max_new_tokens and n_steps must be >= 0");
    if (!(gp->init_scale >= 0) || !isfinite(gp->init_scale))
        return hg_err(err, HG_STATUS_BAD_ARG, "generate_traced: init_scale must be a finite number >= 0");
    if (tp->adaptive && (tp->exit.min_steps < 0 || tp->exit.check_every < 1))
        return hg_err(err, HG_STATUS_BAD_ARG, "adaptive exit: min_steps must be >= 0 and check_every >= 1");
    if (n_prompt + gp->max_new_tokens > hg_ctx_n_ctx(ctx))
        return hg_err(err, HG_STATUS_LIMIT, "generate_traced: prompt (%lld) + new tokens (%lld) exceed the context (%lld)",
                      (long long)n_prompt, (long long)gp->max_new_tokens, (long long)hg_ctx_n_ctx(ctx));
    const hg_config *c = hg_model_config(hg_gen_model(ctx));
    tr_run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx, r.gp = gp, r.tp = tp, r.rep = rep;
    r.h = c->n_embd, r.V = c->vocab_size;
    r.chunk = tp->lens_chunk > 0 ? hg_min_i64(tp->lens_chunk, n_prompt) : hg_min_i64(64, n_prompt);
    r.stream = gp->seed;
    hg_status st;
    hg_sampler *smp = NULL;
    int32_t *hist = NULL;
    size_t floats = 0;
    if (!hg_mul_ok((size_t)n_prompt, (size_t)(3 * r.h), &floats))
        return hg_err(err, HG_STATUS_LIMIT, "generate_traced: prompt too long");
    floats += (size_t)(r.chunk * (r.h + r.V) + r.V + 2 * r.h);
    if ((st = hg_sampler_init(&gp->sampler, r.V, &smp, err))) return st;
    r.e = hg_malloc(floats * sizeof(float));
    hist = hg_malloc((size_t)(n_prompt + gp->max_new_tokens) * sizeof *hist);
    if (!r.e || !hist) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto out;
    }
    r.s = r.e + n_prompt * r.h;
    r.s_chk = r.s + n_prompt * r.h;
    r.lat = r.s_chk + n_prompt * r.h;
    r.logits = r.lat + r.chunk * r.h;
    r.pick = r.logits + r.chunk * r.V;
    r.last_lat = r.pick + r.V;
    r.last_s = r.last_lat + r.h;
    if (tp->adaptive) {
        if ((st = hg_exit_eval_init(&r.ev, tp->exit.criterion, tp->exit.threshold, r.V, r.h, n_prompt, err))) goto out;
        r.ev_on = true;
    }
    /* generated tokens take the deferred lens unless a logit criterion needs the lens inside the loop
     * or the cache stores K/V in a narrower type than the lens rows keep their own in */
    r.defer = gp->max_new_tokens > 0 && ctx->kv.type == HG_DTYPE_F32 && !(r.ev_on && hg_exit_eval_needs_logits(&r.ev));
    if (r.defer) {
        r.dchunk = hg_min_i64(gp->n_steps + 1, 64);
        r.ds = hg_malloc((size_t)((gp->n_steps + 1) * r.h + r.dchunk * (r.h + r.V)) * sizeof(float));
        r.dv = hg_malloc((size_t)(gp->n_steps + 1) * sizeof *r.dv);
        if (!r.ds || !r.dv) {
            st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
            goto out;
        }
        r.dlat = r.ds + (gp->n_steps + 1) * r.h;
        r.dlog = r.dlat + r.dchunk * r.h;
    }
    if (rep) rep->n_tokens = rep->n_trace = 0;
    if ((st = hg_ctx_truncate(ctx, 0, err))) goto out;
    memcpy(hist, prompt, (size_t)n_prompt * sizeof *hist);
    int64_t n_hist = n_prompt, n_gen = 0;

    /* the prompt group */
    if ((st = hg_ctx_prelude(ctx, prompt, n_prompt, 0, r.e, err))) goto out;
    if (gp->init_state) {
        memcpy(r.s, gp->init_state, (size_t)(n_prompt * r.h) * sizeof(float));
    } else if (tp->adaptive) {
        hg_init_state(hg_gen_model(ctx), r.s, n_prompt, gp->init_scale, &r.stream);
    } else { /* hg_generate prefills n-1 positions from `seed`, then the last from its own stream */
        uint64_t a = gp->seed, b = n_prompt > 1 ? hg_gen_last_prompt_seed(gp->seed) : gp->seed;
        if (n_prompt > 1) hg_init_state(hg_gen_model(ctx), r.s, n_prompt - 1, gp->init_scale, &a);
        hg_init_state(hg_gen_model(ctx), r.s + (n_prompt - 1) * r.h, 1, gp->init_scale, &b);
    }
    int64_t steps;
    double value;
    if ((st = run_group(&r, prompt, n_prompt, 0, true, &steps, &value, err))) goto out;
    const bool raw = tp->adaptive && tp->exit.warm_state != HG_WARM_STATE_NORMALIZED;

    /* one token per group; the last generated token is run too (traced, not sampled from) */
    while (n_gen < gp->max_new_tokens) {
        const int32_t id = hg_sampler_sample(smp, r.pick, hist, n_hist);
        hist[n_hist++] = id;
        out_ids[n_gen] = id;
        hg_gen_report_token(rep, n_gen, steps, (float)value);
        n_gen++;
        *n_out = n_gen;
        const bool go_on = cb ? cb(user, id, steps, r.pick) : true;
        const bool done = !go_on || hg_gen_is_stop(ctx->model, gp, id) || n_gen >= gp->max_new_tokens;
        const int64_t pos = n_hist - 1;
        if ((st = hg_ctx_prelude(ctx, &id, 1, pos, r.e, err))) goto out;
        if (gp->continuous) {
            memcpy(r.s, raw ? r.last_s : r.last_lat, (size_t)r.h * sizeof(float));
        } else if (tp->adaptive) {
            hg_init_state(hg_gen_model(ctx), r.s, 1, gp->init_scale, &r.stream);
        } else {
            uint64_t sd = hg_gen_token_seed(gp->seed, n_gen);
            hg_init_state(hg_gen_model(ctx), r.s, 1, gp->init_scale, &sd);
        }
        if ((st = run_group(&r, &id, 1, pos, false, &steps, &value, err))) goto out;
        if (done) break;
    }
    *n_out = n_gen;
out:
    if (r.ev_on) hg_exit_eval_free(&r.ev);
    hg_sampler_free(smp);
    hg_free(hist);
    hg_free(r.e);
    hg_free(r.ds);
    hg_free(r.dv);
    return st;
}
