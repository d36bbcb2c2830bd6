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

hg_status hg_generate_parallel(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                               const hg_parallel_params *ppp, hg_token_callback cb, void *user, int32_t *out_ids,
                               int64_t *n_out, hg_ttc_report *rep, hg_error *err) {
    if (!ctx || !prompt || !out_ids || !n_out) return hg_err(err, HG_STATUS_BAD_ARG, "generate_parallel: NULL argument");
    const hg_model *m = hg_gen_model(ctx);
    const hg_config *c = hg_model_config(m);
    const int64_t h = c->n_embd, V = c->vocab_size, n_ctx = hg_ctx_n_ctx(ctx);
    hg_generate_params p = gp ? *gp : hg_generate_default_params();
    hg_parallel_params pp = ppp ? *ppp : hg_parallel_default_params();
    if (n_prompt <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "generate_parallel: the prompt is empty");
    if (p.max_new_tokens < 0 || p.n_steps < 0 || pp.inner_steps < 1 || pp.headway < 1 || pp.max_wavefront < 0 ||
        pp.max_outer_steps < 0)
        return hg_err(err, HG_STATUS_BAD_ARG,
                      "parallel sampler: inner_steps and headway must be >= 1; max_new_tokens, n_steps, max_wavefront "
                      "and max_outer_steps >= 0");
    if (pp.freeze < 0 || pp.freeze >= HG_FREEZE_COUNT) return hg_err(err, HG_STATUS_BAD_ARG, "unknown freeze rule");
    if (!(pp.exit_t >= 0) || !(pp.state_noise >= 0 && pp.state_noise <= 1) || !(pp.ema_embeds >= 0 && pp.ema_embeds < 1))
        return hg_err(err, HG_STATUS_BAD_ARG,
                      "parallel sampler: exit_t must be >= 0, state_noise in [0, 1], ema_embeds in [0, 1)");
    if (p.init_state && !pp.full_prefill)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "parallel sampler: an initial state needs full_prefill");
    if (!pp.full_prefill && pp.max_wavefront > 0 && n_prompt > pp.max_wavefront)
        return hg_err(err, HG_STATUS_BAD_ARG,
                      "parallel sampler: the prompt (%lld) does not fit the wavefront (%lld) without full_prefill; "
                      "prefill it or raise max_wavefront",
                      (long long)n_prompt, (long long)pp.max_wavefront);
    if (n_prompt + 1 >= n_ctx)
        return hg_err(err, HG_STATUS_LIMIT, "parallel sampler: the prompt (%lld) fills the context (%lld)",
                      (long long)n_prompt, (long long)n_ctx);
    *n_out = 0;
    if (rep) rep->n_tokens = rep->n_trace = 0;
    if (p.max_new_tokens == 0) return hg_ctx_truncate(ctx, 0, err);

    const int64_t H = pp.headway, rp = pp.inner_steps;
    const int64_t wave = pp.max_wavefront > 0 ? pp.max_wavefront : n_ctx;
    par_state ps = {.h = h, .V = V};
    ps.cap = hg_min_i64(n_ctx, (pp.full_prefill ? wave : (wave > n_prompt ? wave : n_prompt)) + H);
    const int64_t n_seq_cap = n_ctx + H + 1;
    hg_status st = HG_OK;
    hg_sampler *smp = NULL;
    float *block = NULL;
    size_t rows;
    if (!hg_mul_ok((size_t)ps.cap, (size_t)(7 * h + V), &rows))
        return hg_err(err, HG_STATUS_LIMIT, "parallel sampler: wavefront too large");
    if ((st = hg_sampler_init(&p.sampler, V, &smp, err))) return st;
    block = hg_malloc(rows * sizeof(float));
    ps.newtok = hg_malloc((size_t)ps.cap * sizeof(int32_t));
    ps.seq = hg_malloc((size_t)n_seq_cap * sizeof(int32_t));
    ps.counter = hg_calloc((size_t)n_seq_cap, sizeof(int64_t));
    ps.own = hg_calloc((size_t)n_seq_cap, sizeof(int64_t));
    ps.stable = hg_calloc((size_t)n_seq_cap, sizeof(int64_t));
    if (!block || !ps.newtok || !ps.seq || !ps.counter || !ps.own || !ps.stable) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory for the parallel sampler");
        goto out;
    }
    {
        float *f = block;
        span *spans[] = {&ps.S, &ps.prev, &ps.prev2, &ps.dprev, &ps.E, &ps.Eold};
        for (int i = 0; i < 6; i++) spans[i]->x = f, f += ps.cap * h;
        ps.noise = f, f += ps.cap * h;
        ps.logits = f;
    }
    if ((st = hg_ctx_truncate(ctx, 0, err))) goto out;
    uint64_t seed = p.seed;
    hg_rng rng;
    hg_rng_seed(&rng, p.seed ^ 0xd1ff5eedull); /* placeholder ids */
    memcpy(ps.seq, prompt, (size_t)n_prompt * sizeof(int32_t));
    int64_t n_seq = n_prompt, nf, n_gen = 0;

    /* ---- prefill (or the prompt as noise) ---- */
    if (pp.full_prefill) {
        hg_forward_params fp = {.n_steps = p.n_steps, .init_scale = p.init_scale, .seed = seed, .init_state = NULL};
        if (n_prompt > 1) {
            fp.init_state = p.init_state;
            if ((st = hg_ctx_forward(ctx, prompt, n_prompt - 1, 0, &fp, NULL, NULL, err))) goto out;
        }
        fp.init_state = p.init_state ? p.init_state + (n_prompt - 1) * h : NULL;
        fp.seed = seed ^ 0x9e3779b97f4a7c15ull;
        if ((st = hg_ctx_forward(ctx, prompt + n_prompt - 1, 1, n_prompt - 1, &fp, NULL, ps.logits, err))) goto out;
        if (rep) rep->core_passes += p.n_steps, rep->core_iterations += p.n_steps * n_prompt, rep->coda_calls++;
        const int32_t y0 = hg_sampler_sample(smp, ps.logits, ps.seq, n_seq);
        ps.seq[n_seq++] = y0;
        nf = n_seq;
        for (int64_t i = 0; i < nf; i++) ps.counter[i] += p.n_steps; /* the reference counts y0's position too */
        for (int64_t i = 0; i < n_prompt; i++) ps.own[i] = p.n_steps;
        out_ids[n_gen] = y0;
        hg_gen_report_token(rep, n_gen++, p.n_steps, NAN);
        if ((cb && !cb(user, y0, p.n_steps, ps.logits)) || n_gen >= p.max_new_tokens) goto done;
        ps.S.pos = n_prompt, ps.S.n = 1;
        hg_init_state(m, ps.S.x, 1, p.init_scale, &seed);
        /* old embeddings: the reference re-embeds the whole sequence without a cache; only y0's row is
         * used, which is the prelude of y0 over the prompt's prelude KV (then dropped again) */
        if (pp.ema_embeds > 0) {
            if ((st = hg_ctx_prelude(ctx, &y0, 1, n_prompt, ps.Eold.x, err))) goto out;
            if ((st = hg_ctx_truncate(ctx, n_prompt, err))) goto out;
            ps.Eold.pos = n_prompt, ps.Eold.n = 1;
        }
    } else {
        nf = n_prompt;
        ps.S.pos = 0, ps.S.n = n_prompt;
        hg_init_state(m, ps.S.x, n_prompt, p.init_scale, &seed);
        if (pp.ema_embeds > 0) {
            if ((st = hg_ctx_prelude(ctx, prompt, n_prompt, 0, ps.Eold.x, err))) goto out;
            if ((st = hg_ctx_truncate(ctx, 0, err))) goto out;
            ps.Eold.pos = 0, ps.Eold.n = n_prompt;
        }
    }
    span_copy(&ps.prev, &ps.S, h);
    ps.prev2.pos = 0, ps.prev2.n = 0;
    ps.dprev.pos = ps.S.pos, ps.dprev.n = ps.S.n; /* previous_delta starts as zeros like the states */
    memset(ps.dprev.x, 0, (size_t)(ps.S.n * h) * sizeof(float));

    const int64_t lag = p.n_steps / rp; /* num_steps // inner_recurrence */
    for (int64_t step = 0; nf - n_prompt < p.max_new_tokens; step++) {
        const int64_t ci = hg_ctx_n_past(ctx), W = ps.S.n;
        if (ci != ps.S.pos || ci + W > n_seq || ci + W + H > n_ctx) break; /* context full */
        /* ---- embed the active tokens, EMA with last step's embeddings of the same positions ---- */
        if ((st = hg_ctx_prelude(ctx, ps.seq + ci, W, ci, ps.E.x, err))) goto out;
        ps.E.pos = ci, ps.E.n = W;
        if (pp.ema_embeds > 0) {
            const float eta = pp.ema_embeds;
            const int64_t off = ci - ps.Eold.pos, mt = hg_min_i64(W, ps.Eold.n - off);
            for (int64_t i = 0; i < W * h; i++) ps.E.x[i] *= 1.0f - eta;
            for (int64_t i = 0; i < mt; i++)
                for (int64_t j = 0; j < h; j++) ps.E.x[i * h + j] += eta * ps.Eold.x[(off + i) * h + j];
            span_copy(&ps.Eold, &ps.E, h);
        }
        /* ---- mix fresh noise into the states ---- */
        if (pp.state_noise > 0) {
            hg_init_state(m, ps.noise, W, p.init_scale, &seed);
            for (int64_t i = 0; i < W; i++) {
                const float b = pp.dampened_mixer ? pp.state_noise / (float)(1 + ps.counter[ci + i]) : pp.state_noise;
                const float ks = pp.sqrt_mixer ? sqrtf(fmaxf(1.0f - b, 0.0f)) : 1.0f - b;
                const float kn = pp.sqrt_mixer ? sqrtf(b) : b;
                for (int64_t j = 0; j < h; j++) ps.S.x[i * h + j] = ps.S.x[i * h + j] * ks + kn * ps.noise[i * h + j];
            }
        }
        /* ---- r' iterations on every active position, then a guess for each ---- */
        for (int64_t t = 0; t < rp; t++) {
            if ((st = hg_ctx_core_step(ctx, ps.S.x, ps.E.x, W, ci, t, err))) goto out;
            for (int64_t i = 0; i < W; i++) ps.counter[ci + i]++, ps.own[ci + i]++;
        }
        if (rep) rep->core_passes += rp, rep->core_iterations += rp * W, rep->tokens_processed += rp * W, rep->coda_calls++;
        if ((st = hg_ctx_coda(ctx, ps.S.x, W, ci, NULL, ps.logits, err))) goto out;
        const int64_t start = nf - 1 - ci > 0 ? nf - 1 - ci : 0, n_new = W - start;
        for (int64_t i = 0; i < n_new; i++) ps.newtok[i] = hg_sampler_sample(smp, ps.logits + (start + i) * V, ps.seq, nf);
        /* stability: the old sequence against frozen + the new guesses (shifted by one) */
        for (int64_t q = 0; q < n_seq && q < nf + n_new - 1; q++)
            ps.stable[q] += ps.seq[q] == (q < nf ? ps.seq[q] : ps.newtok[q - nf]);
        const int32_t front_pred = start == 0 ? ps.newtok[0] : -1; /* prediction of position ci */
        n_seq = nf;
        for (int64_t i = 0; i < n_new; i++) ps.seq[n_seq++] = ps.newtok[i];
        for (int64_t i = 0; i < H - 1; i++) ps.seq[n_seq++] = (int32_t)(hg_rng_u64(&rng) % (uint64_t)V);
        /* ---- append headway fresh positions, cap the wave ---- */
        if (p.continuous && W >= H)
            memcpy(ps.S.x + W * h, ps.S.x + (W - H) * h, (size_t)(H * h) * sizeof(float));
        else
            hg_init_state(m, ps.S.x + W * h, H, p.init_scale, &seed);
        ps.S.n = W + H;
        int64_t hs = H;
        bool standing = false;
        if (pp.max_wavefront > 0 && ps.S.n > pp.max_wavefront) {
            hs = pp.max_wavefront - W;
            ps.S.n = pp.max_wavefront;
            n_seq = hg_min_i64(n_seq, ci + pp.max_wavefront);
            standing = true;
            if (rep) rep->standing_waves++;
        }
        /* ---- freeze ---- */
        const int64_t nf_old = nf;
        int64_t q = -1; /* freeze tokens < q+1, keep KV < q, states from q */
        if (pp.freeze == HG_FREEZE_LATENT_DIFF || pp.freeze == HG_FREEZE_LATENT_ACCEL_1 ||
            pp.freeze == HG_FREEZE_LATENT_ACCEL_2) {
            q = latent_rightmost(&ps, pp.freeze, (double)pp.exit_t);
        } else if (pp.freeze == HG_FREEZE_TOKEN_STABILITY) {
            for (int64_t x = n_seq - 1; x >= ci && q < 0; x--)
                if (ps.stable[x] > lag) q = x;
        }
        bool froze = false;
        const bool fixed_now = pp.freeze == HG_FREEZE_FIXED && step > lag && hs > 0;
        const bool commit = q < 0 && !fixed_now && standing && pp.commit_mature_front && ps.own[ci] >= p.n_steps &&
                            front_pred >= 0 && nf == ci + 1;
        if (q >= 0) {
            if (rep) rep->cache_clears += n_seq - hs - (q + 1) + 1;
            if ((st = hg_ctx_truncate(ctx, q, err))) goto out;
            span_drop(&ps.S, q - ci, h);
            nf = q + 1 > nf ? q + 1 : nf;
            froze = nf > nf_old;
        } else if (fixed_now) {
            if (rep) rep->cache_clears += ps.S.n - H - hs;
            if ((st = hg_ctx_truncate(ctx, ci + hs, err))) goto out;
            span_drop(&ps.S, hs, h);
            nf += hs;
            froze = true;
        } else if (!commit) {
            if (rep) rep->cache_clears += ps.S.n - hs;
            if ((st = hg_ctx_truncate(ctx, ci, err))) goto out;
        } else {
            /* mature front: commit position ci and its prediction, keep its KV, start the window at ci + 1 */
            if (rep) rep->cache_clears += ps.S.n - hs - 1;
            if ((st = hg_ctx_truncate(ctx, ci + 1, err))) goto out;
            ps.seq[ci + 1] = front_pred;
            if (n_seq < ci + 2) n_seq = ci + 2;
            nf = ci + 2;
            if (ps.S.n == 1) { /* a one-position window: the next position starts fresh (or warm: as is) */
                if (!p.continuous) hg_init_state(m, ps.S.x, 1, p.init_scale, &seed);
                ps.S.pos = ci + 1;
            } else {
                span_drop(&ps.S, 1, h);
            }
            froze = true;
        }
        /* ---- emit newly frozen tokens ---- */
        bool stop_tok = false, cb_stop = false;
        for (int64_t x = nf_old; x < nf && !cb_stop; x++) {
            const int32_t id = ps.seq[x];
            const int64_t it = ps.own[x - 1];
            out_ids[n_gen] = id;
            hg_gen_report_token(rep, n_gen++, it, NAN);
            stop_tok |= hg_gen_is_stop(&p, id);
            if (cb && !cb(user, id, it, NULL)) cb_stop = true;
        }
        if (rep) rep->outer_steps = step + 1;
        if (pp.on_step) {
            hg_parallel_step s = {.step = step, .cache_index = ci, .n_active = W, .n_frozen = nf,
                                  .n_past = hg_ctx_n_past(ctx), .n_active_next = ps.S.n, .froze = froze,
                                  .standing = standing};
            pp.on_step(pp.on_step_user, &s);
        }
        if (cb_stop || (step > p.n_steps && stop_tok) || step >= pp.max_outer_steps) break;
        /* ---- remember states for the latent rules ---- */
        if (pp.freeze == HG_FREEZE_LATENT_ACCEL_2) span_copy(&ps.prev2, &ps.prev, h);
        span_copy(&ps.prev, &ps.S, h);
    }
done:
    *n_out = n_gen;
out:
    hg_free(block);
    hg_free(ps.newtok), hg_free(ps.seq), hg_free(ps.counter), hg_free(ps.own), hg_free(ps.stable);
    hg_sampler_free(smp);
    return st;
}
