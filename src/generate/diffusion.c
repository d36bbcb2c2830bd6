/*
 * diffusion.c — the diffusion-forcing parallel sampler of arXiv 2510.14961 (docs/test-time.md "Parallel sampler"),
 * the reference's generate_diffusion_style for one sequence, on the public stage functions.
 *
 * Instead of finishing all r iterations of a token before starting the next, a window ("wavefront") of
 * not-yet-final positions [ci, ci+W) is iterated together: each outer step re-embeds them (prelude,
 * EMA-smoothed with the previous step's embeddings), mixes noise into their states, runs r' core
 * iterations on all of them (causal, writing their KV), decodes a guess for every position (coda),
 * appends `headway` fresh positions, and freezes a prefix whose states converged. KV bookkeeping: the
 * cache holds the frozen positions [0, ci) plus whatever this step wrote; after the freeze decision it
 * is truncated to the new first active position, so the next step rewrites every active position.
 *
 * Kept from the reference: the prefill counts num_steps for the first generated position too; EMA
 * gives positions new this step (1-η)·E only; placeholder ids for headway > 1 are random (here in
 * [0, V) instead of [0, 65510) so they fit any vocabulary); stop tokens are only honoured after
 * num_steps outer steps. Deliberate differences (docs/test-time.md):
 *   - latent rules compare states of the SAME absolute position; the reference indexes the previous
 *     states as if they started at the previous cache index, which after a freeze they do not;
 *   - token-stability only freezes at positions >= ci (the reference would re-freeze the prefix and
 *     index states with a negative offset), fixed keeps the KV of exactly the frozen positions;
 *   - commit_mature_front (default on): a full wavefront that froze nothing commits its oldest position
 *     and its prediction once that position had n_steps iterations (the reference spins; with
 *     max_wavefront 1 and r' = n_steps this is exactly ordinary generation).
 * Buffers ([W, h] states x 5, [W, V] logits, per-position counters) are allocated once per call.
 */
#include "generate/generate.h"

#include <math.h>

static const char *const k_freeze[HG_FREEZE_COUNT] = {"latent-diff", "latent-acceleration-1", "latent-acceleration-2",
                                                      "token-stability", "fixed"};

hg_status hg_freeze_rule_parse(const char *name, hg_freeze_rule *out, hg_error *err) {
    for (int i = 0; name && i < HG_FREEZE_COUNT; i++)
        if (!strcmp(name, k_freeze[i])) {
            *out = (hg_freeze_rule)i;
            return HG_OK;
        }
    return hg_err(err, HG_STATUS_BAD_ARG,
                  "unknown freeze rule `%s` (expected latent-diff, latent-acceleration-1, latent-acceleration-2, "
                  "token-stability or fixed)",
                  name ? name : "(null)");
}

const char *hg_freeze_rule_name(hg_freeze_rule r) { return r >= 0 && r < HG_FREEZE_COUNT ? k_freeze[r] : "?"; }

hg_parallel_params hg_parallel_default_params(void) {
    hg_parallel_params p = {.inner_steps = 4, .max_wavefront = 128, .headway = 1, .exit_t = 0.03f,
                            .freeze = HG_FREEZE_LATENT_DIFF, .state_noise = 0.5f, .dampened_mixer = true,
                            .sqrt_mixer = false, .ema_embeds = 0.1f, .full_prefill = true, .max_outer_steps = 4096,
                            .commit_mature_front = true, .on_step = NULL, .on_step_user = NULL};
    return p;
}

/* A block of states that covers absolute positions [pos, pos + n). */
typedef struct span {
    float *x; /* [cap, h] */
    int64_t pos, n;
} span;

typedef struct par_state {
    int64_t h, V, cap;        /* cap = most active positions */
    span S, prev, prev2, dprev; /* states, previous step's, the one before, previous delta */
    span E, Eold;             /* prelude outputs of this and the previous step */
    float *noise;             /* [cap, h] */
    float *logits;            /* [cap, V] */
    int32_t *newtok;          /* [cap] sampled tokens of the step */
    int32_t *seq;             /* [n_seq_cap] frozen tokens, then guesses */
    int64_t *counter;         /* [n_seq_cap] the reference's recurrence counter (prefill counts the first) */
    int64_t *own;             /* [n_seq_cap] iterations actually applied to each position */
    int64_t *stable;          /* [n_seq_cap] token-stability counts */
} par_state;

static void span_copy(span *dst, const span *src, int64_t h) {
    memmove(dst->x, src->x, (size_t)(src->n * h) * sizeof(float));
    dst->pos = src->pos, dst->n = src->n;
}

/* drop the first d rows of a span */
static void span_drop(span *s, int64_t d, int64_t h) {
    if (d <= 0) return;
    if (d > s->n) d = s->n;
    memmove(s->x, s->x + d * h, (size_t)((s->n - d) * h) * sizeof(float));
    s->pos += d, s->n -= d;
}

static double norm(const float *a, int64_t h) {
    double s = 0;
    for (int64_t j = 0; j < h; j++) s += (double)a[j] * (double)a[j];
    return sqrt(s);
}

/* Latent freeze rules: the rightmost absolute position whose criterion is < exit_t, or -1.
 * Updates the previous-delta span for latent-acceleration-1. */
static int64_t latent_rightmost(par_state *ps, hg_freeze_rule rule, double exit_t) {
    const int64_t h = ps->h;
    const span *S = &ps->S, *P = &ps->prev;
    int64_t lo = S->pos > P->pos ? S->pos : P->pos, hi = hg_min_i64(S->pos + S->n, P->pos + P->n), best = -1;
    if (rule == HG_FREEZE_LATENT_ACCEL_2) {
        const span *Q = &ps->prev2;
        lo = lo > Q->pos ? lo : Q->pos;
        hi = hg_min_i64(hi, Q->pos + Q->n);
    }
    for (int64_t p = lo; p < hi; p++) {
        const float *s = S->x + (p - S->pos) * h, *q = P->x + (p - P->pos) * h;
        double c, acc = 0;
        if (rule == HG_FREEZE_LATENT_DIFF) {
            for (int64_t j = 0; j < h; j++) acc += ((double)s[j] - (double)q[j]) * ((double)s[j] - (double)q[j]);
            c = sqrt(acc) / norm(s, h);
        } else if (rule == HG_FREEZE_LATENT_ACCEL_1) {
            const span *D = &ps->dprev;
            if (p < D->pos || p >= D->pos + D->n) continue; /* the reference aligns min(len) rows */
            const float *d = D->x + (p - D->pos) * h;
            for (int64_t j = 0; j < h; j++) {
                const double a = ((double)s[j] - (double)q[j]) - (double)d[j];
                acc += a * a;
            }
            c = sqrt(acc) / norm(s, h);
        } else {
            const float *q2 = ps->prev2.x + (p - ps->prev2.pos) * h;
            for (int64_t j = 0; j < h; j++) {
                const double a = ((double)s[j] - (double)q[j]) - ((double)q[j] - (double)q2[j]);
                acc += a * a;
            }
            c = sqrt(acc) / (norm(s, h) + 1e-6);
        }
        if (c < exit_t) best = p;
    }
    if (rule == HG_FREEZE_LATENT_ACCEL_1) { /* previous_delta <- this step's delta over the matched rows */
        lo = S->pos > P->pos ? S->pos : P->pos;
        hi = hg_min_i64(S->pos + S->n, P->pos + P->n);
        ps->dprev.pos = lo, ps->dprev.n = hi > lo ? hi - lo : 0;
        for (int64_t p = lo; p < hi; p++)
            for (int64_t j = 0; j < h; j++)
                ps->dprev.x[(p - lo) * h + j] = S->x[(p - S->pos) * h + j] - P->x[(p - P->pos) * h + j];
    }
    return best;
}

/* One hg_generate_parallel call: its parameters, sampler, buffers and progress. */
typedef struct par_run {
    hg_ctx *ctx;
    const hg_model *m;
    hg_generate_params p;
    hg_parallel_params pp;
    par_state ps;
    hg_sampler *smp;
    float *block;             /* every float buffer of ps */
    hg_rng rng;               /* placeholder ids */
    uint64_t seed;            /* initial states and noise */
    int64_t n_ctx, n_prompt;
    int64_t n_seq;            /* tokens in ps.seq: frozen ones, then guesses */
    int64_t nf;               /* frozen tokens (the prompt included) */
    int64_t n_gen;            /* tokens emitted */
    int64_t lag;              /* num_steps // inner_recurrence */
    hg_token_callback cb;
    void *user;
    int32_t *out_ids;
    hg_ttc_report *rep;
    hg_error *err;
} par_run;

/* Refuses parameters the sampler cannot run with. */
static hg_status par_check(const hg_generate_params *p, const hg_parallel_params *pp, int64_t n_prompt, int64_t n_ctx,
                           hg_error *err) {
    if (n_prompt <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "generate_parallel: the prompt is empty");
    if (p->max_new_tokens < 0 || p->n_steps < 0 || pp->inner_steps < 1 || pp->headway < 1 || pp->max_wavefront < 0 ||
        pp->max_outer_steps < 0)
        return hg_err(err, HG_STATUS_BAD_ARG,
                      "parallel sampler: inner_steps and headway must be >= 1; max_new_tokens, n_steps, max_wavefront "
                      "and max_outer_steps >= 0");
    if (pp->freeze < 0 || pp->freeze >= HG_FREEZE_COUNT) return hg_err(err, HG_STATUS_BAD_ARG, "unknown freeze rule");
    if (!(pp->exit_t >= 0) || !(pp->state_noise >= 0 && pp->state_noise <= 1) ||
        !(pp->ema_embeds >= 0 && pp->ema_embeds < 1))
        return hg_err(err, HG_STATUS_BAD_ARG,
                      "parallel sampler: exit_t must be >= 0, state_noise in [0, 1], ema_embeds in [0, 1)");
    if (p->init_state && !pp->full_prefill)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "parallel sampler: an initial state needs full_prefill");
    if (!pp->full_prefill && pp->max_wavefront > 0 && n_prompt > pp->max_wavefront)
        return hg_err(err, HG_STATUS_BAD_ARG,
                      "parallel sampler: the prompt (%lld) does not fit the wavefront (%lld) without full_prefill; "
                      "prefill it or raise max_wavefront",
                      (long long)n_prompt, (long long)pp->max_wavefront);
    if (n_prompt + 1 >= n_ctx)
        return hg_err(err, HG_STATUS_LIMIT, "parallel sampler: the prompt (%lld) fills the context (%lld)",
                      (long long)n_prompt, (long long)n_ctx);
    return HG_OK;
}

/* Sizes the window and allocates the sampler and every buffer (par_free releases them, also after a failure). */
static hg_status par_alloc(par_run *r) {
    par_state *ps = &r->ps;
    const int64_t h = ps->h, H = r->pp.headway, n_prompt = r->n_prompt;
    const int64_t wave = r->pp.max_wavefront > 0 ? r->pp.max_wavefront : r->n_ctx;
    ps->cap = hg_min_i64(r->n_ctx, (r->pp.full_prefill ? wave : (wave > n_prompt ? wave : n_prompt)) + H);
    const int64_t n_seq_cap = r->n_ctx + H + 1;
    size_t rows;
    if (!hg_mul_ok((size_t)ps->cap, (size_t)(7 * h + ps->V), &rows))
        return hg_err(r->err, HG_STATUS_LIMIT, "parallel sampler: wavefront too large");
    const hg_status st = hg_sampler_init(&r->p.sampler, ps->V, &r->smp, r->err);
    if (st) return st;
    r->block = hg_malloc(rows * sizeof(float));
    ps->newtok = hg_malloc((size_t)ps->cap * sizeof(int32_t));
    ps->seq = hg_malloc((size_t)n_seq_cap * sizeof(int32_t));
    ps->counter = hg_calloc((size_t)n_seq_cap, sizeof(int64_t));
    ps->own = hg_calloc((size_t)n_seq_cap, sizeof(int64_t));
    ps->stable = hg_calloc((size_t)n_seq_cap, sizeof(int64_t));
    if (!r->block || !ps->newtok || !ps->seq || !ps->counter || !ps->own || !ps->stable)
        return hg_err(r->err, HG_STATUS_NOMEM, "out of memory for the parallel sampler");
    float *f = r->block;
    span *spans[] = {&ps->S, &ps->prev, &ps->prev2, &ps->dprev, &ps->E, &ps->Eold};
    for (int i = 0; i < 6; i++) spans[i]->x = f, f += ps->cap * h;
    ps->noise = f, f += ps->cap * h;
    ps->logits = f;
    return HG_OK;
}

/* Releases what par_alloc allocated. */
static void par_free(par_run *r) {
    par_state *ps = &r->ps;
    hg_free(r->block);
    hg_free(ps->newtok), hg_free(ps->seq), hg_free(ps->counter), hg_free(ps->own), hg_free(ps->stable);
    hg_sampler_free(r->smp);
}

/* Full prefill: the prompt at n_steps, the first token y0 sampled from its last position, and a window
 * of one fresh state at y0's position; *finished when y0 already ends generation. */
static hg_status par_prefill(par_run *r, const int32_t *prompt, bool *finished) {
    par_state *ps = &r->ps;
    const hg_generate_params *p = &r->p;
    const int64_t h = ps->h, n_prompt = r->n_prompt;
    hg_status st;
    hg_forward_params fp = {.n_steps = p->n_steps, .init_scale = p->init_scale, .seed = r->seed, .init_state = NULL};
    if (n_prompt > 1) {
        fp.init_state = p->init_state;
        if ((st = hg_ctx_forward(r->ctx, prompt, n_prompt - 1, 0, &fp, NULL, NULL, r->err))) return st;
    }
    fp.init_state = p->init_state ? p->init_state + (n_prompt - 1) * h : NULL;
    fp.seed = hg_gen_last_prompt_seed(r->seed);
    if ((st = hg_ctx_forward(r->ctx, prompt + n_prompt - 1, 1, n_prompt - 1, &fp, NULL, ps->logits, r->err))) return st;
    if (r->rep)
        r->rep->core_passes += p->n_steps, r->rep->core_iterations += p->n_steps * n_prompt, r->rep->coda_calls++;
    const int32_t y0 = hg_sampler_sample(r->smp, ps->logits, ps->seq, r->n_seq);
    ps->seq[r->n_seq++] = y0;
    r->nf = r->n_seq;
    for (int64_t i = 0; i < r->nf; i++) ps->counter[i] += p->n_steps; /* the reference counts y0's position too */
    for (int64_t i = 0; i < n_prompt; i++) ps->own[i] = p->n_steps;
    r->out_ids[r->n_gen] = y0;
    hg_gen_report_token(r->rep, r->n_gen++, p->n_steps, NAN);
    if ((r->cb && !r->cb(r->user, y0, p->n_steps, ps->logits)) || r->n_gen >= p->max_new_tokens) {
        *finished = true;
        return HG_OK;
    }
    ps->S.pos = n_prompt, ps->S.n = 1;
    hg_init_state(r->m, ps->S.x, 1, p->init_scale, &r->seed);
    /* old embeddings: the reference re-embeds the whole sequence without a cache; only y0's row is
     * used, which is the prelude of y0 over the prompt's prelude KV (then dropped again) */
    if (r->pp.ema_embeds > 0) {
        if ((st = hg_ctx_prelude(r->ctx, &y0, 1, n_prompt, ps->Eold.x, r->err))) return st;
        if ((st = hg_ctx_truncate(r->ctx, n_prompt, r->err))) return st;
        ps->Eold.pos = n_prompt, ps->Eold.n = 1;
    }
    return HG_OK;
}

/* Without prefill: the prompt's positions are the first window, from fresh states. */
static hg_status par_prompt_window(par_run *r, const int32_t *prompt) {
    par_state *ps = &r->ps;
    const int64_t n_prompt = r->n_prompt;
    hg_status st;
    r->nf = n_prompt;
    ps->S.pos = 0, ps->S.n = n_prompt;
    hg_init_state(r->m, ps->S.x, n_prompt, r->p.init_scale, &r->seed);
    if (r->pp.ema_embeds > 0) {
        if ((st = hg_ctx_prelude(r->ctx, prompt, n_prompt, 0, ps->Eold.x, r->err))) return st;
        if ((st = hg_ctx_truncate(r->ctx, 0, r->err))) return st;
        ps->Eold.pos = 0, ps->Eold.n = n_prompt;
    }
    return HG_OK;
}

/* Empties the cache, seeds the random streams and opens the first window (after a prefill or on the
 * prompt itself); the latent rules' previous states start as the window's. */
static hg_status par_begin(par_run *r, const int32_t *prompt, bool *finished) {
    par_state *ps = &r->ps;
    hg_status st = hg_ctx_truncate(r->ctx, 0, r->err);
    if (st) return st;
    r->seed = r->p.seed;
    hg_rng_seed(&r->rng, r->p.seed ^ 0xd1ff5eedull); /* placeholder ids */
    memcpy(ps->seq, prompt, (size_t)r->n_prompt * sizeof(int32_t));
    r->n_seq = r->n_prompt, r->n_gen = 0;
    st = r->pp.full_prefill ? par_prefill(r, prompt, finished) : par_prompt_window(r, prompt);
    if (st || *finished) return st;
    span_copy(&ps->prev, &ps->S, ps->h);
    ps->prev2.pos = 0, ps->prev2.n = 0;
    ps->dprev.pos = ps->S.pos, ps->dprev.n = ps->S.n; /* previous_delta starts as zeros like the states */
    memset(ps->dprev.x, 0, (size_t)(ps->S.n * ps->h) * sizeof(float));
    r->lag = r->p.n_steps / r->pp.inner_steps;
    return HG_OK;
}

/* Embeds the window's tokens (prelude) and blends in last step's embeddings of the same positions (EMA). */
static hg_status par_embed(par_run *r, int64_t ci, int64_t W) {
    par_state *ps = &r->ps;
    const int64_t h = ps->h;
    const hg_status st = hg_ctx_prelude(r->ctx, ps->seq + ci, W, ci, ps->E.x, r->err);
    if (st) return st;
    ps->E.pos = ci, ps->E.n = W;
    if (r->pp.ema_embeds > 0) {
        const float eta = r->pp.ema_embeds;
        const int64_t off = ci - ps->Eold.pos, mt = hg_min_i64(W, ps->Eold.n - off);
        for (int64_t i = 0; i < W * h; i++) ps->E.x[i] *= 1.0f - eta;
        for (int64_t i = 0; i < mt; i++)
            for (int64_t j = 0; j < h; j++) ps->E.x[i * h + j] += eta * ps->Eold.x[(off + i) * h + j];
        span_copy(&ps->Eold, &ps->E, h);
    }
    return HG_OK;
}

/* Mixes fresh noise into the window's states, less of it (dampened mixer) the more a position was iterated. */
static void par_mix_noise(par_run *r, int64_t ci, int64_t W) {
    par_state *ps = &r->ps;
    const hg_parallel_params *pp = &r->pp;
    const int64_t h = ps->h;
    if (!(pp->state_noise > 0)) return;
    hg_init_state(r->m, ps->noise, W, r->p.init_scale, &r->seed);
    for (int64_t i = 0; i < W; i++) {
        const float b = pp->dampened_mixer ? pp->state_noise / (float)(1 + ps->counter[ci + i]) : pp->state_noise;
        const float ks = pp->sqrt_mixer ? sqrtf(fmaxf(1.0f - b, 0.0f)) : 1.0f - b;
        const float kn = pp->sqrt_mixer ? sqrtf(b) : b;
        for (int64_t j = 0; j < h; j++) ps->S.x[i * h + j] = ps->S.x[i * h + j] * ks + kn * ps->noise[i * h + j];
    }
}

/* Runs r' core iterations on every window position, then the coda's logits for each. */
static hg_status par_iterate(par_run *r, int64_t ci, int64_t W) {
    par_state *ps = &r->ps;
    const int64_t rp = r->pp.inner_steps;
    hg_status st;
    for (int64_t t = 0; t < rp; t++) {
        if ((st = hg_ctx_core_step(r->ctx, ps->S.x, ps->E.x, W, ci, t, r->err))) return st;
        for (int64_t i = 0; i < W; i++) ps->counter[ci + i]++, ps->own[ci + i]++;
    }
    if (r->rep)
        r->rep->core_passes += rp, r->rep->core_iterations += rp * W, r->rep->tokens_processed += rp * W,
            r->rep->coda_calls++;
    return hg_ctx_coda(r->ctx, ps->S.x, W, ci, NULL, ps->logits, r->err);
}

/* Samples a guess for every window position past the frozen tokens, counts token stability against the
 * old sequence, and writes the guesses (then headway - 1 random placeholders) after the frozen tokens.
 * Returns the guess for position ci, or -1 when ci is already frozen. */
static int32_t par_guess(par_run *r, int64_t ci, int64_t W) {
    par_state *ps = &r->ps;
    const int64_t nf = r->nf, V = ps->V;
    const int64_t start = nf - 1 - ci > 0 ? nf - 1 - ci : 0, n_new = W - start;
    for (int64_t i = 0; i < n_new; i++)
        ps->newtok[i] = hg_sampler_sample(r->smp, ps->logits + (start + i) * V, ps->seq, nf);
    /* stability: the old sequence against frozen + the new guesses (shifted by one) */
    for (int64_t q = 0; q < r->n_seq && q < nf + n_new - 1; q++)
        ps->stable[q] += ps->seq[q] == (q < nf ? ps->seq[q] : ps->newtok[q - nf]);
    const int32_t front_pred = start == 0 ? ps->newtok[0] : -1;
    r->n_seq = nf;
    for (int64_t i = 0; i < n_new; i++) ps->seq[r->n_seq++] = ps->newtok[i];
    for (int64_t i = 0; i < r->pp.headway - 1; i++) ps->seq[r->n_seq++] = (int32_t)(hg_rng_u64(&r->rng) % (uint64_t)V);
    return front_pred;
}

/* Appends headway fresh positions to the window and caps it at max_wavefront (*standing: it was capped).
 * Returns how many positions were appended. */
static int64_t par_extend(par_run *r, int64_t ci, int64_t W, bool *standing) {
    par_state *ps = &r->ps;
    const int64_t h = ps->h, H = r->pp.headway, max_w = r->pp.max_wavefront;
    if (r->p.continuous && W >= H)
        memcpy(ps->S.x + W * h, ps->S.x + (W - H) * h, (size_t)(H * h) * sizeof(float));
    else
        hg_init_state(r->m, ps->S.x + W * h, H, r->p.init_scale, &r->seed);
    ps->S.n = W + H;
    *standing = false;
    if (max_w <= 0 || ps->S.n <= max_w) return H;
    ps->S.n = max_w;
    r->n_seq = hg_min_i64(r->n_seq, ci + max_w);
    *standing = true;
    if (r->rep) r->rep->standing_waves++;
    return max_w - W;
}

/* The freeze rule's decision q: tokens < q + 1 freeze, the KV of positions < q stays, states from q
 * on remain active; -1 when nothing converged (and for the fixed rule, decided in par_commit). */
static int64_t par_freeze_point(par_run *r, int64_t ci) {
    const hg_freeze_rule rule = r->pp.freeze;
    int64_t q = -1;
    if (rule == HG_FREEZE_LATENT_DIFF || rule == HG_FREEZE_LATENT_ACCEL_1 || rule == HG_FREEZE_LATENT_ACCEL_2) {
        q = latent_rightmost(&r->ps, rule, (double)r->pp.exit_t);
    } else if (rule == HG_FREEZE_TOKEN_STABILITY) {
        for (int64_t x = r->n_seq - 1; x >= ci && q < 0; x--)
            if (r->ps.stable[x] > r->lag) q = x;
    }
    return q;
}

/* Freezes what the step decided (q, else the fixed rule's hs positions, else a mature front), truncates
 * the KV cache to the new first active position and drops frozen rows from the window, counting the
 * cleared entries. *froze: the frozen prefix grew. */
static hg_status par_commit(par_run *r, int64_t step, int64_t ci, int64_t q, int64_t hs, bool standing,
                            int32_t front_pred, bool *froze) {
    par_state *ps = &r->ps;
    hg_ttc_report *rep = r->rep;
    const int64_t h = ps->h, nf_old = r->nf;
    const bool fixed_now = r->pp.freeze == HG_FREEZE_FIXED && step > r->lag && hs > 0;
    const bool commit = q < 0 && !fixed_now && standing && r->pp.commit_mature_front && ps->own[ci] >= r->p.n_steps &&
                        front_pred >= 0 && r->nf == ci + 1;
    hg_status st;
    *froze = false;
    if (q >= 0) {
        if (rep) rep->cache_clears += r->n_seq - hs - (q + 1) + 1;
        if ((st = hg_ctx_truncate(r->ctx, q, r->err))) return st;
        span_drop(&ps->S, q - ci, h);
        r->nf = q + 1 > r->nf ? q + 1 : r->nf;
        *froze = r->nf > nf_old;
    } else if (fixed_now) {
        if (rep) rep->cache_clears += ps->S.n - r->pp.headway - hs;
        if ((st = hg_ctx_truncate(r->ctx, ci + hs, r->err))) return st;
        span_drop(&ps->S, hs, h);
        r->nf += hs;
        *froze = true;
    } else if (!commit) {
        if (rep) rep->cache_clears += ps->S.n - hs;
        if ((st = hg_ctx_truncate(r->ctx, ci, r->err))) return st;
    } else {
        /* mature front: commit position ci and its prediction, keep its KV, start the window at ci + 1 */
        if (rep) rep->cache_clears += ps->S.n - hs - 1;
        if ((st = hg_ctx_truncate(r->ctx, ci + 1, r->err))) return st;
        ps->seq[ci + 1] = front_pred;
        if (r->n_seq < ci + 2) r->n_seq = ci + 2;
        r->nf = ci + 2;
        if (ps->S.n == 1) { /* a one-position window: the next position starts fresh (or warm: as is) */
            if (!r->p.continuous) hg_init_state(r->m, ps->S.x, 1, r->p.init_scale, &r->seed);
            ps->S.pos = ci + 1;
        } else {
            span_drop(&ps->S, 1, h);
        }
        *froze = true;
    }
    return HG_OK;
}

/* Emits the newly frozen tokens [nf_old, nf) to out_ids, the report and the callback (*stop_tok: one
 * is a stop token). Returns false when the callback asked to stop. */
static bool par_emit(par_run *r, int64_t nf_old, bool *stop_tok) {
    bool cb_stop = false;
    *stop_tok = false;
    for (int64_t x = nf_old; x < r->nf && !cb_stop; x++) {
        const int32_t id = r->ps.seq[x];
        const int64_t it = r->ps.own[x - 1];
        r->out_ids[r->n_gen] = id;
        hg_gen_report_token(r->rep, r->n_gen++, it, NAN);
        *stop_tok |= hg_gen_is_stop(r->m, &r->p, id);
        if (r->cb && !r->cb(r->user, id, it, NULL)) cb_stop = true;
    }
    return !cb_stop;
}

/* One outer step on the window [ci, ci + W): embed, add noise, iterate, guess, extend, freeze, emit,
 * report; *finished when generation ends here (context full, a stop, or the step limit). */
static hg_status par_outer_step(par_run *r, int64_t step, bool *finished) {
    par_state *ps = &r->ps;
    const int64_t ci = hg_ctx_n_past(r->ctx), W = ps->S.n;
    if (ci != ps->S.pos || ci + W > r->n_seq || ci + W + r->pp.headway > r->n_ctx) { /* context full */
        *finished = true;
        return HG_OK;
    }
    hg_status st;
    if ((st = par_embed(r, ci, W))) return st;
    par_mix_noise(r, ci, W);
    if ((st = par_iterate(r, ci, W))) return st;
    const int32_t front_pred = par_guess(r, ci, W);
    bool standing, froze, stop_tok;
    const int64_t hs = par_extend(r, ci, W, &standing), nf_old = r->nf;
    const int64_t q = par_freeze_point(r, ci);
    if ((st = par_commit(r, step, ci, q, hs, standing, front_pred, &froze))) return st;
    const bool cb_stop = !par_emit(r, nf_old, &stop_tok);
    if (r->rep) r->rep->outer_steps = step + 1;
    if (r->pp.on_step) {
        hg_parallel_step s = {.step = step, .cache_index = ci, .n_active = W, .n_frozen = r->nf,
                              .n_past = hg_ctx_n_past(r->ctx), .n_active_next = ps->S.n, .froze = froze,
                              .standing = standing};
        r->pp.on_step(r->pp.on_step_user, &s);
    }
    if (cb_stop || (step > r->p.n_steps && stop_tok) || step >= r->pp.max_outer_steps) {
        *finished = true;
        return HG_OK;
    }
    /* remember states for the latent rules */
    if (r->pp.freeze == HG_FREEZE_LATENT_ACCEL_2) span_copy(&ps->prev2, &ps->prev, ps->h);
    span_copy(&ps->prev, &ps->S, ps->h);
    return HG_OK;
}

hg_status hg_generate_parallel(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                               const hg_parallel_params *ppp, hg_token_callback cb, void *user, int32_t *out_ids,
                               int64_t *n_out, hg_ttc_report *rep, hg_error *err) {
    if (!ctx || !prompt || !out_ids || !n_out) return hg_err(err, HG_STATUS_BAD_ARG, "generate_parallel: NULL argument");
    par_run r = {.ctx = ctx, .m = hg_gen_model(ctx), .n_ctx = hg_ctx_n_ctx(ctx), .n_prompt = n_prompt, .cb = cb,
                 .user = user, .out_ids = out_ids, .rep = rep, .err = err};
    const hg_config *c = hg_model_config(r.m);
    r.p = gp ? *gp : hg_generate_default_params();
    r.pp = ppp ? *ppp : hg_parallel_default_params();
    hg_status st = par_check(&r.p, &r.pp, n_prompt, r.n_ctx, err);
    if (st) return st;
    *n_out = 0;
    if (rep) rep->n_tokens = rep->n_trace = 0;
    if (r.p.max_new_tokens == 0) return hg_ctx_truncate(ctx, 0, err);
    r.ps.h = c->n_embd, r.ps.V = c->vocab_size;
    bool finished = false;
    if (!(st = par_alloc(&r)) && !(st = par_begin(&r, prompt, &finished)))
        for (int64_t step = 0; !finished && r.nf - n_prompt < r.p.max_new_tokens; step++)
            if ((st = par_outer_step(&r, step, &finished))) break;
    if (!st) *n_out = r.n_gen;
    par_free(&r);
    return st;
}
