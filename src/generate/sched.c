/*
 * sched.c — generation for many requests at once, each with its own parameters (include/huginn.h
 * "Scheduler"): requests join free slots between steps (hg_sched_add: prefilled alone on the slot's
 * context; hg_sched_add_many: the plain requests' prompts prefilled together and their first tokens
 * chosen by one step), every step decodes one token for every running request with one read of the
 * weights per layer
 * application, each request runs its own depth and leaves the core loop at its own adaptive exit, and
 * a finished request frees its slot at once. hg_generate, hg_generate_adaptive and hg_generate_batch
 * are this scheduler over one request or a fixed set, so a request's tokens equal the same request
 * generated alone by construction (bit for bit while the step's rows stay within the matrix-vector
 * kernels' exact range, huginn.h "Batch").
 *
 * A request follows one of the reference's two loops (docs/test-time.md "Batching and the scheduler"):
 *   - plain (generate_minimal): prompt[0..n-2] then the last prompt position on a second seed stream;
 *     each token draws a fresh initial state from hg_gen_token_seed(seed, tokens so far), or with
 *     `continuous` starts from ln_f of the previous token's final state; every token runs n_steps.
 *   - adaptive (generate_with_adaptive_compute): the whole prompt is one group that exits as a whole;
 *     initial states come from one advancing stream; each token iterates up to n_steps and leaves when
 *     its exit criterion fires (checked after iteration t when t >= min_steps and (t - min_steps) %
 *     check_every == 0); logit criteria run the coda at each check and a token takes the logits of its
 *     last check (a reference quirk kept on purpose); warm start carries the raw final state (default)
 *     or ln_f of it.
 *
 * One step: prelude of every running row; initial states; then iteration t = 0, 1, ... over the rows
 * still iterating, packed; rows whose check needs logits get a coda together; rows that exit or reach
 * their n_steps leave the packed set (their state is kept) and cost no further core work; finally one
 * coda for the rows that still need logits, and each row samples. Allocation happens in init and add,
 * never per token.
 */
#include "generate/generate.h"
#include "model/batch.h"

#include <math.h>

typedef struct gen_row {
    bool running;          /* holds a request that has not finished */
    hg_request req;        /* the request (prompt pointer not kept past add) */
    hg_sampler *smp;
    hg_exit_eval ev;
    bool ev_on;            /* ev initialised */
    int32_t *hist;         /* [n_prompt + max_new_tokens] */
    int64_t n_hist, n_gen;
    uint64_t seed;         /* adaptive: the advancing stream of initial states */
    float *logits;         /* [V] logits of the newest position */
    float *lat;            /* [h] ln_f of the newest position's final state */
    float *fin;            /* [h] final state of this step's token */
    float *warm;           /* [h] adaptive warm start for the next token */
    bool have_logits;      /* this step's logits came from a check */
    int64_t steps;         /* iterations of this step's token */
    double value;          /* this step's last exit value (NaN: no check) */
    bool first;            /* plain, admitted by add_many: the prompt's last position is still to run */
    uint64_t first_seed;   /* ... on this seed stream (prefill_plain's choice) */
} gen_row;

struct hg_sched {
    const hg_model *model;
    hg_batch *batch;
    bool owns_batch;
    int64_t n;             /* slots */
    gen_row *rows;         /* [n] */
    /* per-step scratch, packed by row */
    int64_t *seqs, *idx;   /* [n] slot of each packed row; scratch for subsets */
    int32_t *ids;          /* [n] */
    float *e, *s;          /* [n, h] */
    float *cs, *clat, *clog; /* [n, h], [n, h], [n, V] coda inputs and outputs of a subset */
    void *scratch;
};

/* ---- requests ------------------------------------------------------------------------------------ */

hg_request hg_request_default(void) {
    hg_request r = {0};
    r.gen = hg_generate_default_params();
    r.exit = hg_adaptive_default_params();
    return r;
}

static void row_release(gen_row *w) {
    hg_sampler_free(w->smp);
    if (w->ev_on) hg_exit_eval_free(&w->ev);
    hg_free(w->hist);
    hg_free(w->logits);
    memset(w, 0, sizeof *w);
}

static hg_status check_request(const hg_sched *s, const hg_request *r, hg_error *err) {
    const hg_generate_params *p = &r->gen;
    const hg_adaptive_params *a = &r->exit;
    const char *fn = r->adaptive ? "generate_adaptive" : "generate";
    if (!r->prompt || !r->out_ids) return hg_err(err, HG_STATUS_BAD_ARG, "%s: NULL argument", fn);
    if (r->n_prompt <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "%s: the prompt is empty", fn);
    if (p->max_new_tokens < 0 || p->n_steps < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "%s: max_new_tokens and n_steps must be >= 0", fn);
    if (!(p->init_scale >= 0) || !isfinite(p->init_scale))
        return hg_err(err, HG_STATUS_BAD_ARG, "%s: init_scale must be a finite number >= 0", fn);
    if (r->adaptive) {
        if (a->min_steps < 0 || a->check_every < 1)
            return hg_err(err, HG_STATUS_BAD_ARG, "adaptive exit: min_steps must be >= 0 and check_every >= 1");
        if (a->warm_state < HG_WARM_STATE_DEFAULT || a->warm_state > HG_WARM_STATE_NORMALIZED)
            return hg_err(err, HG_STATUS_BAD_ARG, "adaptive exit: unknown warm_state %d", (int)a->warm_state);
    }
    hg_ctx *ctx = hg_batch_ctx(s->batch, 0);
    const hg_config *c = hg_model_config(s->model);
    /* a depth the slots' caches cannot hold would fail the shared step for every request: refuse it here */
    if (p->n_steps > 0 && hg_kv_phys(&ctx->kv, c->n_layers_prelude + p->n_steps * c->n_layers_core - 1) < 0)
        return hg_err(err, HG_STATUS_LIMIT, "%s: %lld iterations, but the KV cache holds %lld (raise max_steps)", fn,
                      (long long)p->n_steps, (long long)ctx->kv.max_steps);
    const int64_t V = c->vocab_size;
    for (int64_t t = 0; t < r->n_prompt; t++) /* before any prefill: one bad id must not fail its batch-mates */
        if (r->prompt[t] < 0 || r->prompt[t] >= V)
            return hg_err(err, HG_STATUS_BAD_INPUT, "token id %d at position %lld is outside the vocabulary (0..%lld)",
                          r->prompt[t], (long long)t, (long long)(V - 1));
    if (r->n_prompt + p->max_new_tokens > hg_ctx_n_ctx(ctx))
        return hg_err(err, HG_STATUS_LIMIT, "%s: prompt (%lld) + new tokens (%lld) exceed the context (%lld)", fn,
                      (long long)r->n_prompt, (long long)p->max_new_tokens, (long long)hg_ctx_n_ctx(ctx));
    return HG_OK;
}

static hg_status row_alloc(hg_sched *s, gen_row *w, const hg_request *r, hg_error *err) {
    const hg_config *c = hg_model_config(s->model);
    const int64_t h = c->n_embd, V = c->vocab_size;
    hg_status st;
    w->req = *r;
    w->value = (double)NAN;
    if ((st = hg_sampler_init(&r->gen.sampler, V, &w->smp, err))) return st;
    if (r->adaptive) {
        if ((st = hg_exit_eval_init(&w->ev, r->exit.criterion, r->exit.threshold, V, h, r->n_prompt, err))) return st;
        w->ev_on = true;
    }
    w->hist = hg_malloc((size_t)(r->n_prompt + r->gen.max_new_tokens) * sizeof *w->hist);
    w->logits = hg_malloc((size_t)(V + 4 * h) * sizeof(float)); /* logits, lat, fin, warm */
    if (!w->hist || !w->logits) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    w->lat = w->logits + V;
    w->fin = w->lat + h;
    w->warm = w->fin + h;
    memcpy(w->hist, r->prompt, (size_t)r->n_prompt * sizeof *w->hist);
    w->n_hist = r->n_prompt;
    w->seed = r->gen.seed;
    if (r->rep) r->rep->n_trace = r->rep->n_tokens = 0;
    return HG_OK;
}

/* Whether an adaptive row checks its exit after iteration t. */
static bool check_due(const hg_adaptive_params *a, int64_t t, bool prefill) {
    return t >= a->min_steps && (t - a->min_steps) % a->check_every == 0 && !(a->no_exit_in_prefill && prefill);
}

static void record_check(hg_ttc_report *rep, double value) {
    if (!rep) return;
    if (rep->trace && rep->n_trace < rep->trace_cap) rep->trace[rep->n_trace] = (float)value;
    rep->n_trace++;
}

/* Sample the token of the row's current logits, record it, and decide whether the request goes on. */
static void finish_token(const hg_model *m, gen_row *w) {
    const hg_request *r = &w->req;
    const int32_t id = hg_sampler_sample(w->smp, w->logits, w->hist, w->n_hist);
    w->hist[w->n_hist++] = id;
    r->out_ids[w->n_gen] = id;
    hg_gen_report_token(r->rep, w->n_gen, w->steps, (float)w->value);
    w->n_gen++;
    if (r->n_out) *r->n_out = w->n_gen;
    const bool go_on = r->cb ? r->cb(r->user, id, w->steps, w->logits) : true;
    if (!go_on || hg_gen_is_stop(m, &r->gen, id) || w->n_gen >= r->gen.max_new_tokens) w->running = false;
}

/* ---- prefill, alone on the slot's context -------------------------------------------------------- */

/* generate_minimal's prompt: all but the last position without logits, then the last one on its own
 * seed stream; with reuse_prefix the positions already held with the same ids stay (plain_keep: the
 * context truncated to them). */
static hg_status plain_keep(hg_ctx *ctx, const hg_request *r, int64_t *keep, hg_error *err) {
    const int64_t n = r->n_prompt;
    *keep = 0;
    if (r->gen.reuse_prefix && !r->gen.init_state) {
        const int64_t lim = hg_min_i64(ctx->n_past, n - 1);
        while (*keep < lim && ctx->ids[*keep] == r->prompt[*keep]) (*keep)++;
    }
    return hg_ctx_truncate(ctx, *keep, err);
}

static hg_status prefill_plain(hg_ctx *ctx, gen_row *w, hg_error *err) {
    const hg_request *r = &w->req;
    const hg_generate_params *p = &r->gen;
    const int64_t n = r->n_prompt, h = hg_model_config(ctx->model)->n_embd;
    int64_t keep;
    hg_status st = plain_keep(ctx, r, &keep, err);
    if (st) return st;
    hg_forward_params fp = {.n_steps = p->n_steps, .init_scale = p->init_scale, .seed = p->seed, .init_state = NULL};
    if (n - 1 > keep) {
        fp.init_state = p->init_state;
        if ((st = hg_ctx_forward(ctx, r->prompt + keep, n - 1 - keep, keep, &fp, NULL, NULL, err))) return st;
        fp.seed = hg_gen_last_prompt_seed(p->seed);
    }
    fp.init_state = p->init_state ? p->init_state + (n - 1) * h : NULL;
    w->steps = p->n_steps;
    return hg_ctx_forward(ctx, r->prompt + n - 1, 1, n - 1, &fp, w->lat, w->logits, err);
}

/* The coda of positions [pos0, pos0+T): K/V for all, logits and latents for the last one. */
static hg_status coda_last(hg_ctx *ctx, const float *s, int64_t T, int64_t pos0, gen_row *w, hg_error *err) {
    const int64_t h = hg_model_config(ctx->model)->n_embd;
    hg_status st;
    if (T > 1 && (st = hg_ctx_coda(ctx, s, T - 1, pos0, NULL, NULL, err))) return st;
    if (w->req.rep) w->req.rep->coda_calls++;
    return hg_ctx_coda(ctx, s + (T - 1) * h, 1, pos0 + T - 1, w->lat, w->logits, err);
}

/* generate_with_adaptive_compute's first call: the prompt as one group that exits as a whole. */
static hg_status prefill_adaptive(hg_ctx *ctx, gen_row *w, hg_error *err) {
    const hg_request *r = &w->req;
    const hg_generate_params *p = &r->gen;
    const int64_t T = r->n_prompt, h = hg_model_config(ctx->model)->n_embd;
    hg_status st = hg_ctx_truncate(ctx, 0, err);
    if (st) return st;
    float *e = hg_malloc((size_t)T * (size_t)h * 2 * sizeof(float));
    if (!e) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    float *s = e + T * h;
    if ((st = hg_ctx_prelude(ctx, r->prompt, T, 0, e, err))) goto out;
    if (p->init_state)
        memcpy(s, p->init_state, (size_t)(T * h) * sizeof(float));
    else
        hg_init_state(ctx->model, s, T, p->init_scale, &w->seed);
    hg_exit_eval_reset(&w->ev, s, T);
    const bool need_logits = hg_exit_eval_needs_logits(&w->ev);
    w->have_logits = false;
    w->steps = p->n_steps;
    for (int64_t t = 0; t < p->n_steps; t++) {
        if ((st = hg_ctx_core_step(ctx, s, e, T, 0, t, err))) goto out;
        if (r->rep) r->rep->core_passes++, r->rep->core_iterations += T;
        if (!check_due(&r->exit, t, true)) continue;
        if (need_logits) {
            if ((st = coda_last(ctx, s, T, 0, w, err))) goto out;
            w->have_logits = true;
        }
        const bool stop = hg_exit_eval_check(&w->ev, s, T, w->logits, &w->value);
        record_check(r->rep, w->value);
        if (stop) {
            w->steps = t + 1;
            break;
        }
    }
    /* latent criteria and "no check made" run the coda now; a logit criterion reuses its last check */
    if (!w->have_logits && (st = coda_last(ctx, s, T, 0, w, err))) goto out;
    const bool raw = r->exit.warm_state != HG_WARM_STATE_NORMALIZED;
    if (p->continuous) memcpy(w->warm, raw ? s + (T - 1) * h : w->lat, (size_t)h * sizeof(float));
out:
    hg_free(e);
    return st;
}

/* ---- the scheduler ------------------------------------------------------------------------------- */

void hg_sched_free(hg_sched *s) {
    if (!s) return;
    for (int64_t i = 0; s->rows && i < s->n; i++) row_release(&s->rows[i]);
    hg_free(s->rows);
    hg_free(s->scratch);
    if (s->owns_batch) hg_batch_free(s->batch);
    hg_free(s);
}

static hg_status sched_over(hg_batch *b, bool owns, hg_sched **out, hg_error *err) {
    const hg_model *m = hg_batch_ctx(b, 0)->model;
    const hg_config *c = hg_model_config(m);
    const int64_t n = hg_batch_n_seq(b), h = c->n_embd, V = c->vocab_size;
    hg_sched *s = hg_calloc(1, sizeof *s);
    if (!s) {
        if (owns) hg_batch_free(b);
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    }
    s->model = m;
    s->batch = b;
    s->owns_batch = owns;
    s->n = n;
    s->rows = hg_calloc((size_t)n, sizeof *s->rows);
    /* n <= 64 slots of per-position sizes: the products are safe */
    const size_t floats = (size_t)n * (size_t)(4 * h + h + V);
    s->scratch = hg_malloc((size_t)n * (2 * sizeof(int64_t) + sizeof(int32_t)) + 16 + floats * sizeof(float));
    if (!s->rows || !s->scratch) {
        hg_sched_free(s);
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    }
    s->seqs = s->scratch;
    s->idx = s->seqs + n;
    s->ids = (int32_t *)(s->idx + n);
    float *f = (float *)(void *)((uintptr_t)(s->ids + n + 3) & ~(uintptr_t)15);
    s->e = f, f += n * h;
    s->s = f, f += n * h;
    s->cs = f, f += n * h;
    s->clat = f, f += n * h;
    s->clog = f;
    *out = s;
    return HG_OK;
}

hg_status hg_sched_init(const hg_model *model, const hg_batch_params *params, hg_sched **out, hg_error *err) {
    if (!out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_sched_init: out is required");
    hg_batch *b = NULL;
    hg_status st = hg_batch_init(model, params, &b, err);
    if (st) return st;
    return sched_over(b, true, out, err);
}

int64_t hg_sched_n_slots(const hg_sched *s) { return s->n; }

int64_t hg_sched_n_running(const hg_sched *s) {
    int64_t k = 0;
    for (int64_t i = 0; i < s->n; i++) k += s->rows[i].running;
    return k;
}

bool hg_sched_running(const hg_sched *s, int64_t slot) { return slot >= 0 && slot < s->n && s->rows[slot].running; }

hg_ctx *hg_sched_ctx(hg_sched *s, int64_t slot) { return hg_batch_ctx(s->batch, slot); }

void hg_sched_cancel(hg_sched *s, int64_t slot) {
    if (slot >= 0 && slot < s->n) row_release(&s->rows[slot]);
}

/* Put request r in slot i (free), prefill it and choose its first token. */
static hg_status add_at(hg_sched *s, int64_t i, const hg_request *r, hg_error *err) {
    hg_status st = check_request(s, r, err);
    if (st) return st;
    gen_row *w = &s->rows[i];
    row_release(w);
    if (r->n_out) *r->n_out = 0;
    if ((st = row_alloc(s, w, r, err))) goto fail;
    if (r->gen.max_new_tokens == 0 && r->adaptive) return HG_OK; /* the adaptive loop does nothing then */
    hg_ctx *ctx = hg_batch_ctx(s->batch, i);
    if ((st = r->adaptive ? prefill_adaptive(ctx, w, err) : prefill_plain(ctx, w, err))) goto fail;
    if (r->gen.max_new_tokens == 0) return HG_OK;
    w->running = true;
    finish_token(s->model, w);
    w->req.prompt = NULL; /* the caller's prompt is not needed past the prefill */
    if (!w->running) row_release(w);
    return HG_OK;
fail:
    row_release(w);
    return st;
}

hg_status hg_sched_add(hg_sched *s, const hg_request *r, int64_t *slot, hg_error *err) {
    if (!s || !r) return hg_err(err, HG_STATUS_BAD_ARG, "hg_sched_add: NULL argument");
    int64_t i = 0;
    while (i < s->n && s->rows[i].running) i++;
    if (i == s->n) return hg_err(err, HG_STATUS_LIMIT, "scheduler: all %lld slots are busy", (long long)s->n);
    hg_status st = add_at(s, i, r, err);
    if (!st && slot) *slot = i;
    return st;
}

static hg_status step_rows(hg_sched *s, bool first, hg_error *err);

/* Admit each request reqs[i] with at[i] >= 0 into that slot (free, distinct): adaptive requests as
 * hg_sched_add does; the plain ones' prompts up to their last positions prefilled together
 * (hg_batch_prefill, when every product is packed so that each equals its prefill alone; else one after
 * another), then their last positions in one step, which chooses their first tokens (the decode step's
 * rows, so exact as that step is). errs[i] is request i's outcome. */
static void add_many_at(hg_sched *s, const hg_request *reqs, int64_t n, const int64_t *at, hg_error *errs) {
    hg_prefill_seq q[HG_MAX_SEGS];
    int64_t nq = 0, plain[HG_MAX_SEGS], np = 0;
    for (int64_t i = 0; i < n; i++) {
        const hg_request *r = &reqs[i];
        if (at[i] < 0) continue;
        errs[i] = (hg_error){0};
        if (r->adaptive) {
            (void)add_at(s, at[i], r, &errs[i]);
            continue;
        }
        gen_row *w = &s->rows[at[i]];
        row_release(w);
        int64_t keep = 0;
        hg_status st = check_request(s, r, &errs[i]);
        if (!st) {
            if (r->n_out) *r->n_out = 0;
            st = row_alloc(s, w, r, &errs[i]);
        }
        if (!st) st = plain_keep(hg_batch_ctx(s->batch, at[i]), r, &keep, &errs[i]);
        if (st) {
            row_release(w);
            continue;
        }
        const hg_generate_params *p = &r->gen;
        const int64_t T = r->n_prompt - 1 - keep;
        w->first_seed = T > 0 ? hg_gen_last_prompt_seed(p->seed) : p->seed;
        if (T > 0) {
            const hg_forward_params fp = {.n_steps = p->n_steps, .init_scale = p->init_scale, .seed = p->seed,
                                          .init_state = p->init_state};
            q[nq++] = (hg_prefill_seq){at[i], r->prompt + keep, T, fp};
        }
        plain[np++] = i;
    }
    if (np == 0) return;
    hg_error e = {0};
    hg_status st = HG_OK;
    if (nq > 0 && s->model->all_packed) {
        st = hg_batch_prefill(s->batch, q, nq, &e);
    } else {
        for (int64_t k = 0; k < nq && !st; k++) {
            hg_ctx *ctx = hg_batch_ctx(s->batch, q[k].seq);
            st = hg_ctx_forward(ctx, q[k].ids, q[k].T, ctx->n_past, &q[k].fp, NULL, NULL, &e);
        }
    }
    for (int64_t k = 0; k < np && !st; k++) {
        gen_row *w = &s->rows[at[plain[k]]];
        w->running = w->first = w->req.gen.max_new_tokens > 0; /* else, as add_at: prefilled only */
    }
    if (!st) st = step_rows(s, true, &e);
    for (int64_t k = 0; k < np; k++) {
        if (st) {
            row_release(&s->rows[at[plain[k]]]);
            errs[plain[k]] = e;
        } else {
            s->rows[at[plain[k]]].req.prompt = NULL; /* the caller's prompt is not needed past the prefill */
        }
    }
}

hg_status hg_sched_add_many(hg_sched *s, const hg_request *reqs, int64_t n, int64_t *slots, hg_error *errs) {
    if (!s || !reqs || !slots || !errs || n < 0) return HG_STATUS_BAD_ARG;
    for (int64_t i = 0, next = 0; i < n; i++) {
        while (next < s->n && s->rows[next].running) next++;
        slots[i] = next < s->n ? next++ : -1;
        if (slots[i] < 0) hg_err(&errs[i], HG_STATUS_LIMIT, "scheduler: all %lld slots are busy", (long long)s->n);
    }
    add_many_at(s, reqs, n, slots, errs);
    for (int64_t i = 0; i < n; i++)
        if (errs[i].status) slots[i] = -1;
    for (int64_t i = 0; i < n; i++)
        if (errs[i].status) return errs[i].status;
    return HG_OK;
}

/* Initial state of a running row's new token into s_row. */
static void init_state(const hg_sched *s, gen_row *w, float *s_row) {
    const hg_generate_params *p = &w->req.gen;
    const int64_t h = hg_model_config(s->model)->n_embd;
    if (w->first) { /* the prompt's last position, as prefill_plain runs it */
        if (p->init_state) {
            memcpy(s_row, p->init_state + (w->req.n_prompt - 1) * h, (size_t)h * sizeof(float));
        } else {
            uint64_t seed = w->first_seed;
            hg_init_state(s->model, s_row, 1, p->init_scale, &seed);
        }
    } else if (w->req.adaptive) {
        if (p->continuous)
            memcpy(s_row, w->warm, (size_t)h * sizeof(float));
        else
            hg_init_state(s->model, s_row, 1, p->init_scale, &w->seed);
        hg_exit_eval_reset(&w->ev, s_row, 1);
    } else if (p->continuous) {
        memcpy(s_row, w->lat, (size_t)h * sizeof(float)); /* generate_minimal's warm start: ln_f of the state */
    } else {
        uint64_t seed = hg_gen_token_seed(p->seed, w->n_gen);
        hg_init_state(s->model, s_row, 1, p->init_scale, &seed);
    }
}

/* Coda for the packed rows sel[k] (indices into s->seqs) whose states the caller put in s->cs (row j
 * for sel[j]); logits and latents go to each row. */
static hg_status coda_subset(hg_sched *s, const int64_t *sel, int64_t k, hg_error *err) {
    const hg_config *c = hg_model_config(s->model);
    const int64_t h = c->n_embd, V = c->vocab_size;
    for (int64_t j = 0; j < k; j++) s->idx[j] = s->seqs[sel[j]];
    hg_status st = hg_batch_coda(s->batch, s->idx, k, s->cs, s->clat, s->clog, err);
    if (st) return st;
    for (int64_t j = 0; j < k; j++) {
        gen_row *w = &s->rows[s->idx[j]];
        memcpy(w->logits, s->clog + j * V, (size_t)V * sizeof(float));
        memcpy(w->lat, s->clat + j * h, (size_t)h * sizeof(float));
        if (w->req.rep && !w->first) w->req.rep->coda_calls++;
    }
    return HG_OK;
}

/* Iterate the packed rows [0, n) until each has exited or run its n_steps; leaves every row's final
 * state in its `fin` and its logits where a check produced them. */
static hg_status iterate(hg_sched *s, int64_t n, hg_error *err) {
    const int64_t h = hg_model_config(s->model)->n_embd;
    int64_t checking[HG_MAX_SEGS];
    /* rows with no iteration at all keep their initial state */
    int64_t live = 0;
    for (int64_t r = 0; r < n; r++) {
        gen_row *w = &s->rows[s->seqs[r]];
        w->have_logits = false;
        w->steps = w->req.gen.n_steps;
        w->value = (double)NAN;
        if (w->req.gen.n_steps == 0) {
            memcpy(w->fin, s->s + r * h, (size_t)h * sizeof(float));
            continue;
        }
        if (live != r) {
            s->seqs[live] = s->seqs[r];
            memcpy(s->s + live * h, s->s + r * h, (size_t)h * sizeof(float));
            memcpy(s->e + live * h, s->e + r * h, (size_t)h * sizeof(float));
        }
        live++;
    }
    hg_status st;
    for (int64_t t = 0; live > 0; t++) {
        if ((st = hg_batch_core_step(s->batch, s->seqs, live, s->s, s->e, t, err))) return st;
        /* checks: the rows whose criterion needs logits get one coda together */
        int64_t n_check = 0;
        for (int64_t r = 0; r < live; r++) {
            gen_row *w = &s->rows[s->seqs[r]];
            if (w->req.rep && !w->first) w->req.rep->core_passes++, w->req.rep->core_iterations++;
            if (w->req.adaptive && check_due(&w->req.exit, t, false) && hg_exit_eval_needs_logits(&w->ev)) {
                memcpy(s->cs + n_check * h, s->s + r * h, (size_t)h * sizeof(float));
                checking[n_check++] = r;
            }
        }
        if (n_check > 0) {
            if ((st = coda_subset(s, checking, n_check, err))) return st;
            for (int64_t j = 0; j < n_check; j++) s->rows[s->seqs[checking[j]]].have_logits = true;
        }
        /* exits, and rows at their last iteration, leave the packed set */
        int64_t keep = 0;
        for (int64_t r = 0; r < live; r++) {
            gen_row *w = &s->rows[s->seqs[r]];
            bool leave = t + 1 >= w->req.gen.n_steps;
            if (w->req.adaptive && check_due(&w->req.exit, t, false)) {
                const bool stop = hg_exit_eval_check(&w->ev, s->s + r * h, 1, w->logits, &w->value);
                record_check(w->req.rep, w->value);
                if (stop) w->steps = t + 1, leave = true;
            }
            if (leave) {
                memcpy(w->fin, s->s + r * h, (size_t)h * sizeof(float));
                continue;
            }
            if (keep != r) {
                s->seqs[keep] = s->seqs[r];
                memcpy(s->s + keep * h, s->s + r * h, (size_t)h * sizeof(float));
                memcpy(s->e + keep * h, s->e + r * h, (size_t)h * sizeof(float));
            }
            keep++;
        }
        live = keep;
    }
    return HG_OK;
}

/* One token for every running row whose `first` is `first`: the decode step, or the first tokens of
 * rows add_many prefilled (the prompt's last position, whose prefill is not counted in reports). */
static hg_status step_rows(hg_sched *s, bool first, hg_error *err) {
    const int64_t h = hg_model_config(s->model)->n_embd;
    int64_t n = 0;
    for (int64_t i = 0; i < s->n; i++)
        if (s->rows[i].running && s->rows[i].first == first) {
            s->seqs[n] = i;
            s->ids[n++] = s->rows[i].hist[s->rows[i].n_hist - 1];
        }
    if (n == 0) return HG_OK;
    int64_t order[HG_MAX_SEGS]; /* the running slots, kept: iterate() reorders s->seqs */
    memcpy(order, s->seqs, (size_t)n * sizeof *order);
    hg_status st = hg_batch_prelude(s->batch, s->seqs, n, s->ids, s->e, err);
    if (st) return st;
    for (int64_t r = 0; r < n; r++) init_state(s, &s->rows[s->seqs[r]], s->s + r * h);
    if ((st = iterate(s, n, err))) return st;
    /* one coda for the rows without logits from a check (latent criteria, no criterion, no check) */
    int64_t need[HG_MAX_SEGS], k = 0;
    for (int64_t r = 0; r < n; r++) {
        s->seqs[r] = order[r];
        gen_row *w = &s->rows[order[r]];
        if (!w->have_logits) {
            memcpy(s->cs + k * h, w->fin, (size_t)h * sizeof(float));
            need[k++] = r;
        }
    }
    if (k > 0 && (st = coda_subset(s, need, k, err))) return st;
    for (int64_t r = 0; r < n; r++) {
        gen_row *w = &s->rows[order[r]];
        const bool raw = w->req.exit.warm_state != HG_WARM_STATE_NORMALIZED;
        if (w->req.adaptive && w->req.gen.continuous)
            memcpy(w->warm, raw ? w->fin : w->lat, (size_t)h * sizeof(float));
        w->first = false;
        finish_token(s->model, w);
        if (!w->running) row_release(w);
    }
    return HG_OK;
}

hg_status hg_sched_step(hg_sched *s, hg_error *err) { return step_rows(s, false, err); }

/* ---- the single-request and fixed-set loops ------------------------------------------------------ */

/* Run requests reqs[n] on the contexts of batch b (slot i = request i) to completion. */
static hg_status run_all(hg_batch *b, const hg_request *reqs, int64_t n, hg_error *err) {
    hg_sched *s = NULL;
    hg_status st = sched_over(b, false, &s, err);
    if (st) return st;
    for (int64_t i = 0; i < n && !st; i++) st = add_at(s, i, &reqs[i], err);
    while (!st && hg_sched_n_running(s) > 0) st = hg_sched_step(s, err);
    hg_sched_free(s);
    return st;
}

hg_status hg_gen_run_one(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                         bool adaptive, const hg_adaptive_params *ap, hg_token_callback cb, void *user,
                         int32_t *out_ids, int64_t *n_out, hg_ttc_report *rep, hg_error *err) {
    if (!ctx || !n_out) return hg_err(err, HG_STATUS_BAD_ARG, "generate: NULL argument");
    hg_request r = hg_request_default();
    r.prompt = prompt;
    r.n_prompt = n_prompt;
    if (gp) r.gen = *gp;
    r.adaptive = adaptive;
    if (ap) r.exit = *ap;
    r.cb = cb;
    r.user = user;
    r.out_ids = out_ids;
    r.rep = rep;
    int64_t n = 0;
    r.n_out = &n;
    hg_batch *b = NULL;
    hg_status st = hg_batch_wrap(&ctx, 1, &b, err);
    if (st) return st;
    st = run_all(b, &r, 1, err);
    hg_batch_free(b);
    if (!st) *n_out = n;
    return st;
}

hg_status hg_generate_batch(hg_batch *b, const int32_t *const *prompts, const int64_t *n_prompt,
                            const hg_generate_params *gp, int32_t *out_ids, int64_t *n_out, hg_error *err) {
    if (!b || !prompts || !n_prompt || !out_ids || !n_out)
        return hg_err(err, HG_STATUS_BAD_ARG, "generate_batch: NULL argument");
    const hg_generate_params p = gp ? *gp : hg_generate_default_params();
    const int64_t N = hg_batch_n_seq(b);
    if (p.init_state) return hg_err(err, HG_STATUS_UNSUPPORTED, "generate_batch: init_state is not supported");
    hg_request reqs[HG_MAX_SEGS];
    for (int64_t i = 0; i < N; i++) {
        reqs[i] = hg_request_default();
        reqs[i].prompt = prompts[i];
        reqs[i].n_prompt = n_prompt[i];
        reqs[i].gen = p;
        reqs[i].out_ids = out_ids + i * p.max_new_tokens;
        reqs[i].n_out = &n_out[i];
        n_out[i] = 0;
    }
    return run_all(b, reqs, N, err);
}
