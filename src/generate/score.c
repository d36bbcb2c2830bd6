/*
 * score.c — log-likelihoods for evaluation (include/huginn.h "Scoring"; docs/eval.md): per-token
 * log-probabilities of a window, llama-perplexity's rolling windows over a long text, and lm-eval's
 * loglikelihood requests (a context and several continuations) batched across questions.
 *
 * Workload: a multiple-choice question is one context of tens to hundreds of tokens and 2-10 short
 * continuations. Scoring each choice as its own sequence (what a harness without a cache does) runs the
 * context once per choice; here the context runs once per question on a batch slot's context (the
 * shared prefix) and each continuation reuses its KV cache, the slot truncating back to the context
 * between continuations. The context prefill is already a matrix-matrix product; the continuation
 * tokens are few per choice and would each cost a full read of the weights, so they are fed one
 * position per slot per step through the batch stage functions: every slot's row shares that read.
 * Across questions, a slot keeps the part of its cache that the next question's context shares (a
 * few-shot header), and a slot that lacks it copies it from one that holds it (hg_ctx_copy_prefix: a
 * memcpy against a prefill's compute), so a header is computed once per batch. Kept positions are whole
 * chunk calls of run_window, whose rows are the same call whatever came after them, so every score is
 * bit-identical to the question scored alone.
 * Rejected: copying a context's KV cache into one slot per choice (scores all choices of a question in
 * one step, but copies the whole context for every choice, and a cross-question batch gets the same
 * sharing of weight reads without them).
 *
 * Exactness: every row goes through the same stage functions whatever shares its step, so a request's
 * scores do not depend on the batch size (bit for bit while a step's rows stay on the matrix-vector
 * kernels, huginn.h "Batch"). Against one forward over context + continuation the numbers agree within
 * f32 rounding (different call shapes take different kernel paths: blocked prefill vs matrix-vector).
 * Log-softmax is computed in double from the f32 logits (docs/conventions.md rule 15).
 */
#include "generate/generate.h"

#include <math.h>
#include <string.h>

hg_score_params hg_score_default_params(void) {
    return (hg_score_params){.n_steps = 32, .init_scale = 0.0f, .seed = 0, .chunk = 64};
}

/* ---- helpers -------------------------------------------------------------------------------------- */

/* log softmax(z)[t] in double (max subtracted first) and whether t is the argmax (the first maximum,
 * as greedy decoding picks it). */
static double logprob_of(const float *z /* [V] */, int64_t V, int32_t t, bool *is_max) {
    int64_t am = 0;
    for (int64_t j = 1; j < V; j++)
        if (z[j] > z[am]) am = j;
    const double mx = (double)z[am];
    double sum = 0.0;
    for (int64_t j = 0; j < V; j++) sum += exp((double)z[j] - mx);
    if (is_max) *is_max = am == t;
    return (double)z[t] - mx - log(sum);
}

static hg_status check_params(const hg_score_params *p, hg_error *err) {
    if (p->n_steps < 0) return hg_err(err, HG_STATUS_BAD_ARG, "score: n_steps must be >= 0");
    if (!(p->init_scale >= 0) || !isfinite(p->init_scale))
        return hg_err(err, HG_STATUS_BAD_ARG, "score: init_scale must be a finite number >= 0");
    if (p->chunk < 0) return hg_err(err, HG_STATUS_BAD_ARG, "score: chunk must be >= 0");
    return HG_OK;
}

static hg_status check_ids(const int32_t *ids, int64_t n, int64_t V, const char *what, hg_error *err) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return hg_err(err, HG_STATUS_BAD_ARG, "score: %s id %d at %lld is outside the vocabulary (0..%lld)", what,
                          ids[i], (long long)i, (long long)(V - 1));
    return HG_OK;
}

/* Initial states of positions 0..n-1 of one request, drawn in order from p->seed (the header's
 * schedule); s0 [n, h]. Zeros when init_scale is 0. */
static void draw_states(const hg_model *m, const hg_score_params *p, float *s0, int64_t n, int64_t h) {
    if (p->init_scale == 0.0f) {
        memset(s0, 0, (size_t)(n * h) * sizeof *s0);
        return;
    }
    uint64_t rng = p->seed;
    hg_init_state(m, s0, n, p->init_scale, &rng);
}

/* Runs ids [n] from position pos0 on ctx at depth p->n_steps in chunks of `chunk` positions, starting
 * from s0 [n, h] (NULL: zero state); logits are computed only for positions >= want_from, and
 * fn(user, position, logits row) is called for each of them. logits is scratch [chunk, V]. */
typedef void (*row_fn)(void *user, int64_t pos, const float *logits);
static hg_status run_window(hg_ctx *ctx, const int32_t *ids, int64_t n, int64_t pos0, int64_t want_from,
                            const hg_score_params *p, const float *s0, int64_t chunk, float *logits, row_fn fn,
                            void *user, hg_error *err) {
    const hg_config *c = hg_model_config(hg_gen_model(ctx));
    const int64_t h = c->n_embd, V = c->vocab_size;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = p->n_steps, fp.init_scale = 0.0f;
    for (int64_t c0 = 0; c0 < n;) {
        /* a chunk never straddles want_from, so rows before it cost no lm_head product */
        int64_t Tc = hg_min_i64(chunk, n - c0);
        if (pos0 + c0 < want_from) Tc = hg_min_i64(Tc, want_from - pos0 - c0);
        const bool need = pos0 + c0 >= want_from;
        fp.init_state = s0 ? s0 + c0 * h : NULL;
        hg_status st = hg_ctx_forward(ctx, ids + c0, Tc, pos0 + c0, &fp, NULL, need ? logits : NULL, err);
        if (st) return st;
        for (int64_t i = 0; need && i < Tc; i++) fn(user, pos0 + c0 + i, logits + i * V);
        c0 += Tc;
    }
    return HG_OK;
}

/* ---- one window ----------------------------------------------------------------------------------- */

typedef struct tokens_sink {
    const int32_t *ids;
    int64_t n, n_skip, V;
    double *logprob;
    bool *greedy;
} tokens_sink;

/* logits row of position pos predicts ids[pos + 1] */
static void tokens_row(void *user, int64_t pos, const float *z) {
    tokens_sink *t = user;
    const int64_t i = pos + 1;
    if (i >= t->n || i < t->n_skip) return;
    bool g = false;
    t->logprob[i] = logprob_of(z, t->V, t->ids[i], &g);
    if (t->greedy) t->greedy[i] = g;
}

hg_status hg_score_tokens(hg_ctx *ctx, const int32_t *ids, int64_t n, int64_t n_skip, const hg_score_params *p,
                          double *logprob, bool *greedy, hg_error *err) {
    const hg_model *m = hg_gen_model(ctx);
    const hg_config *c = hg_model_config(m);
    const int64_t h = c->n_embd, V = c->vocab_size;
    const hg_score_params sp = p ? *p : hg_score_default_params();
    const int64_t chunk = sp.chunk ? sp.chunk : 64;
    hg_status st;
    if ((st = check_params(&sp, err))) return st;
    if (n < 1 || n > hg_ctx_n_ctx(ctx))
        return hg_err(err, HG_STATUS_LIMIT, "score: %lld tokens do not fit the context (%lld positions)",
                      (long long)n, (long long)hg_ctx_n_ctx(ctx));
    if ((st = check_ids(ids, n, V, "token", err))) return st;
    if (n_skip < 1) n_skip = 1;
    float *logits = hg_malloc((size_t)(chunk * V) * sizeof *logits);
    float *s0 = sp.init_scale > 0 ? hg_malloc((size_t)(n * h) * sizeof *s0) : NULL;
    if (!logits || (sp.init_scale > 0 && !s0)) {
        st = hg_err(err, HG_STATUS_NOMEM, "score: out of memory for %lld x %lld logits", (long long)chunk,
                    (long long)V);
        goto free_buffers;
    }
    if (s0) draw_states(m, &sp, s0, n, h);
    for (int64_t i = 0; i < n; i++) {
        logprob[i] = (double)NAN;
        if (greedy) greedy[i] = false;
    }
    tokens_sink t = {.ids = ids, .n = n, .n_skip = n_skip, .V = V, .logprob = logprob, .greedy = greedy};
    if ((st = hg_ctx_truncate(ctx, 0, err))) goto free_buffers;
    st = run_window(ctx, ids, n, 0, n_skip - 1, &sp, s0, chunk, logits, tokens_row, &t, err);
free_buffers:
    hg_free(s0);
    hg_free(logits);
    return st;
}

hg_status hg_score_rolling(hg_ctx *ctx, const int32_t *ids, int64_t n, int64_t window, int64_t stride,
                           const hg_score_params *p, double *logprob, hg_score_progress progress, void *user,
                           hg_error *err) {
    if (window < 2 || stride < 1 || stride > window)
        return hg_err(err, HG_STATUS_BAD_ARG, "score: need window >= 2 and 0 < stride <= window (got %lld, %lld)",
                      (long long)window, (long long)stride);
    if (n < 1) return hg_err(err, HG_STATUS_BAD_ARG, "score: nothing to score");
    double *tmp = hg_malloc((size_t)window * sizeof *tmp);
    if (!tmp) return hg_err(err, HG_STATUS_NOMEM, "score: out of memory");
    hg_status st = HG_OK;
    for (int64_t i = 0; i < n; i++) logprob[i] = (double)NAN;
    /* scored_end: tokens [1, scored_end) are scored; each window scores [scored_end, end) */
    for (int64_t start = 0, scored_end = 1; scored_end < n; start += stride) {
        const int64_t end = hg_min_i64(start + window, n), skip = scored_end - start;
        if ((st = hg_score_tokens(ctx, ids + start, end - start, skip, p, tmp, NULL, err))) break;
        memcpy(logprob + scored_end, tmp + skip, (size_t)(end - scored_end) * sizeof *tmp);
        scored_end = end;
        if (progress) progress(user, scored_end - 1, n - 1);
    }
    hg_free(tmp);
    return st;
}

/* ---- many questions on a batch ------------------------------------------------------------------- */

/* What a batch slot is doing: request `req` (-1: idle), continuation j, whose token k is predicted
 * next (token k-1 is fed at position n_context + k - 1). */
typedef struct score_slot {
    int64_t req, j, k;
    int64_t clean; /* leading positions of the slot's cache computed as whole chunk calls in this batch */
} score_slot;

typedef struct first_sink {
    float *dst; /* [V] receives the context's last logits row */
    int64_t V, last;
} first_sink;

static void first_row(void *user, int64_t pos, const float *z) {
    first_sink *f = user;
    if (pos == f->last) memcpy(f->dst, z, (size_t)f->V * sizeof *z);
}

/* Moves slot past continuation j's end (and past one-token continuations, which the context's
 * logits already scored); returns whether the request is complete. */
static bool skip_done(score_slot *sl, const hg_score_request *r) {
    while (sl->j < r->n_conts && sl->k >= r->cont_len[sl->j]) sl->j++, sl->k = 1;
    return sl->j == r->n_conts;
}

/* Positions of request r's context that slot sl's cache already holds exactly as a fresh prefill
 * would compute them: the common prefix with the ids it holds, in whole chunks, within the chunks
 * that were computed as whole chunk calls (run_window cuts a context into calls at multiples of
 * `chunk` from 0 and before its last position, so a whole chunk's rows are the same call either way,
 * whatever else the cache held), and short of the last position, whose logits are needed. */
static int64_t reusable(hg_ctx *ctx, const score_slot *sl, const hg_score_request *r, int64_t chunk) {
    const int64_t lim = hg_min_i64(hg_min_i64(ctx->n_past, sl->clean), r->n_context - 1);
    int64_t k = 0;
    while (k < lim && ctx->ids[k] == r->context[k]) k++;
    return k / chunk * chunk;
}

/* Starts request q on slot i: the context prefill (the shared prefix; positions a previous request on
 * the slot left that are the same are kept) and every continuation's first token from the context's
 * last logits. */
static hg_status start_request(hg_batch *b, int64_t i, score_slot *sl, hg_score_request *r, const hg_score_params *p,
                               const float *s0, int64_t chunk, float *logits, float *last, hg_error *err) {
    const hg_config *c = hg_model_config(hg_gen_model(hg_batch_ctx(b, i)));
    const int64_t V = c->vocab_size, h = c->n_embd;
    hg_ctx *ctx = hg_batch_ctx(b, i);
    const int64_t keep = reusable(ctx, sl, r, chunk);
    hg_status st = hg_ctx_truncate(ctx, keep, err);
    first_sink f = {.dst = last, .V = V, .last = r->n_context - 1};
    if (st || (st = run_window(ctx, r->context + keep, r->n_context - keep, keep, r->n_context - 1, p,
                               s0 ? s0 + keep * h : NULL, chunk, logits, first_row, &f, err)))
        return st;
    sl->clean = (r->n_context - 1) / chunk * chunk;
    for (int64_t j = 0; j < r->n_conts; j++) {
        bool g = false;
        r->logprob[j] = logprob_of(last, V, r->conts[j][0], &g);
        if (r->greedy) r->greedy[j] = g;
    }
    return HG_OK;
}

static hg_status check_requests(const hg_score_request *reqs, int64_t n, int64_t V, int64_t n_ctx, int64_t *max_pos,
                                hg_error *err) {
    hg_status st;
    *max_pos = 1;
    for (int64_t q = 0; q < n; q++) {
        const hg_score_request *r = &reqs[q];
        if (r->n_context < 1 || r->n_conts < 1 || !r->context || !r->conts || !r->cont_len || !r->logprob)
            return hg_err(err, HG_STATUS_BAD_ARG, "score: request %lld needs a context and >= 1 continuation",
                          (long long)q);
        if ((st = check_ids(r->context, r->n_context, V, "context", err))) return st;
        for (int64_t j = 0; j < r->n_conts; j++) {
            if (r->cont_len[j] < 1 || !r->conts[j])
                return hg_err(err, HG_STATUS_BAD_ARG, "score: request %lld: continuation %lld is empty", (long long)q,
                              (long long)j);
            if ((st = check_ids(r->conts[j], r->cont_len[j], V, "continuation", err))) return st;
            /* the last token is predicted, never fed */
            const int64_t pos = r->n_context + r->cont_len[j] - 1;
            if (pos > n_ctx)
                return hg_err(err, HG_STATUS_LIMIT, "score: request %lld: %lld positions do not fit the context (%lld)",
                              (long long)q, (long long)pos, (long long)n_ctx);
            if (pos > *max_pos) *max_pos = pos;
        }
        if (r->n_context > *max_pos) *max_pos = r->n_context;
    }
    return HG_OK;
}

hg_status hg_score_batch(hg_batch *b, hg_score_request *reqs, int64_t n, const hg_score_params *p,
                         hg_score_progress progress, void *user, hg_error *err) {
    const int64_t N = hg_batch_n_seq(b);
    const hg_model *m = hg_gen_model(hg_batch_ctx(b, 0));
    const hg_config *c = hg_model_config(m);
    const int64_t h = c->n_embd, V = c->vocab_size;
    const hg_score_params sp = p ? *p : hg_score_default_params();
    const int64_t chunk = sp.chunk ? sp.chunk : 64;
    int64_t max_pos = 1;
    hg_status st;
    if ((st = check_params(&sp, err)) ||
        (st = check_requests(reqs, n, V, hg_ctx_n_ctx(hg_batch_ctx(b, 0)), &max_pos, err)))
        return st;
    score_slot *slot = hg_calloc((size_t)N, sizeof *slot);
    int64_t *seqs = hg_calloc((size_t)N, sizeof *seqs);
    int32_t *ids = hg_calloc((size_t)N, sizeof *ids);
    float *e = hg_malloc((size_t)(N * h) * sizeof *e), *s = hg_malloc((size_t)(N * h) * sizeof *s);
    float *lg = hg_malloc((size_t)(N * V) * sizeof *lg), *scratch = hg_malloc((size_t)(chunk * V) * sizeof *scratch);
    float *last = hg_malloc((size_t)V * sizeof *last);
    /* per-slot initial states of the request's positions (init_scale > 0 only) */
    float *s0 = sp.init_scale > 0 ? hg_malloc((size_t)(N * max_pos * h) * sizeof *s0) : NULL;
    if (!slot || !seqs || !ids || !e || !s || !lg || !scratch || !last || (sp.init_scale > 0 && !s0)) {
        st = hg_err(err, HG_STATUS_NOMEM, "score: out of memory for a batch of %lld", (long long)N);
        goto free_buffers;
    }
    for (int64_t i = 0; i < N; i++) slot[i].req = -1;
    int64_t next = 0, done = 0;
    while (done < n) {
        /* idle slots take the next questions, each the idle slot holding most of its context, which
         * first copies a longer prefix from any slot that holds one (a few-shot header is computed
         * once per batch); a question of one-token continuations ends at once */
        for (;;) {
            int64_t i = -1, best = -1, from = -1, most = 0;
            for (int64_t k = 0; next < n && k < N; k++) {
                const int64_t keep = reusable(hg_batch_ctx(b, k), &slot[k], &reqs[next], chunk);
                if (slot[k].req < 0 && keep > best) i = k, best = keep;
                if (keep > most) from = k, most = keep;
            }
            if (i < 0) break;
            if (most > best) {
                if ((st = hg_ctx_copy_prefix(hg_batch_ctx(b, i), hg_batch_ctx(b, from), most, err))) goto free_buffers;
                slot[i].clean = most; /* whole chunk calls on `from`, so here too */
            }
            float *si = s0 ? s0 + i * max_pos * h : NULL;
            if (si) draw_states(m, &sp, si, max_pos, h);
            if ((st = start_request(b, i, &slot[i], &reqs[next], &sp, si, chunk, scratch, last, err))) goto free_buffers;
            slot[i].req = next++, slot[i].j = 0, slot[i].k = 1;
            if (skip_done(&slot[i], &reqs[slot[i].req])) {
                slot[i].req = -1;
                if (progress) progress(user, ++done, n);
            }
        }
        int64_t rows = 0;
        for (int64_t i = 0; i < N; i++) {
            if (slot[i].req < 0) continue;
            const hg_score_request *r = &reqs[slot[i].req];
            const int64_t pos = r->n_context + slot[i].k - 1;
            seqs[rows] = i;
            ids[rows] = r->conts[slot[i].j][slot[i].k - 1];
            if (s0) memcpy(s + rows * h, s0 + (i * max_pos + pos) * h, (size_t)h * sizeof *s);
            else memset(s + rows * h, 0, (size_t)h * sizeof *s);
            rows++;
        }
        if (rows == 0) break;
        if ((st = hg_batch_prelude(b, seqs, rows, ids, e, err))) goto free_buffers;
        for (int64_t t = 0; t < sp.n_steps; t++)
            if ((st = hg_batch_core_step(b, seqs, rows, s, e, t, err))) goto free_buffers;
        if ((st = hg_batch_coda(b, seqs, rows, s, NULL, lg, err))) goto free_buffers;
        for (int64_t ri = 0; ri < rows; ri++) {
            score_slot *sl = &slot[seqs[ri]];
            hg_score_request *r = &reqs[sl->req];
            bool g = false;
            r->logprob[sl->j] += logprob_of(lg + ri * V, V, r->conts[sl->j][sl->k], &g);
            if (r->greedy) r->greedy[sl->j] = r->greedy[sl->j] && g;
            if (++sl->k < r->cont_len[sl->j]) continue;
            /* continuation finished: back to the shared prefix for the next one */
            if ((st = hg_ctx_truncate(hg_batch_ctx(b, seqs[ri]), r->n_context, err))) goto free_buffers;
            if (skip_done(sl, r)) {
                sl->req = -1;
                if (progress) progress(user, ++done, n);
            }
        }
    }
free_buffers:
    hg_free(s0), hg_free(last), hg_free(scratch), hg_free(lg), hg_free(s), hg_free(e);
    hg_free(ids), hg_free(seqs), hg_free(slot);
    return st;
}
