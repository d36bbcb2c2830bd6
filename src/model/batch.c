/*
 * batch.c — several sequences run together (huginn.h "Batch"): N contexts of one model, each with
 * its own KV cache and position, and batch stage functions that take any subset of them as the rows
 * of one pipeline call (pipeline.c): one row per sequence, every matmul on all rows at once, attention
 * per sequence. Rows may therefore join (a sequence prefilled on its own context), leave (a sequence
 * that finished, or that left the core loop early for this token) and differ in depth between calls:
 * the generation layer (src/generate/sched.c) decides, this file only computes. hg_batch_prefill is
 * the exception to one row per sequence: several prompts' positions share its calls.
 *
 * Why: decode is bound by reading the weights (Huginn: 3.5 G weights x r/4 core passes per token,
 * against a few KB of activations), so the matrix-vector kernels stream W once for up to 8 positions
 * at nearly the cost of one (docs/kernels.md). The alternative — one context with N "positions" — was
 * rejected: positions of different sequences must not attend to each other, and each sequence needs
 * its own lookup state and prefix.
 *
 * Exactness: a row's matmul result does not depend on which rows share the call on the
 * matrix-vector path (dispatch.h contract), so up to the level's gemm_min_t - 1 rows (8 on AMX hosts,
 * 32 on AVX-512 without AMX, 16 on AVX2) every sequence's results are bit-identical to running it
 * alone (tests/test_batch.c). Beyond, the blocked kernel rounds differently (f32 sums in another
 * order; differences of order 1e-6 relative).
 *
 * Memory: the contexts plus one block of [N, ...] scratch, allocated in hg_batch_init; the stage
 * calls allocate nothing.
 */
#include "model/batch.h"

#include <math.h>
#include <omp.h>

struct hg_batch {
    const hg_model *model;
    int64_t n_seq;
    hg_ctx **ctx;     /* [n_seq] */
    bool owns_ctx;    /* hg_batch_init made them (freed with the batch); hg_batch_wrap borrowed them */
    hg_seg *segs;     /* [n_seq] segments of the current call */
    int64_t *seq;     /* [n_seq] sequence of each row of hg_batch_decode */
    int32_t *row_ids; /* [n_seq] */
    hg_work work;     /* [N, ...] pipeline scratch */
    float *e, *s;     /* [N, h] hg_batch_decode's prelude output and state */
    float *lg, *lat;  /* [N, V], [N, h] hg_batch_decode's packed outputs */
    void *scratch;    /* the owned block behind every buffer above */
};

hg_batch_params hg_batch_default_params(void) {
    hg_batch_params p = {.n_seq = 1, .ctx = hg_ctx_default_params()};
    return p;
}

void hg_batch_free(hg_batch *b) {
    if (!b) return;
    if (b->ctx && b->owns_ctx)
        for (int64_t i = 0; i < b->n_seq; i++) hg_ctx_free(b->ctx[i]);
    hg_free(b->ctx);
    hg_free(b->scratch);
    hg_free(b);
}

/* The scratch block of a batch of n sequences (the contexts exist already). */
static hg_status alloc_scratch(hg_batch *b, hg_error *err) {
    const hg_config *c = &b->model->cfg;
    const int64_t N = b->n_seq, h = c->n_embd, V = c->vocab_size;
    /* N (<= 64) times per-position sizes the contexts already hold, so the products are safe */
    const size_t floats = hg_work_floats(c, N) + (size_t)N * (size_t)(3 * h + V);
    const size_t bytes =
        (size_t)N * (sizeof(hg_seg) + sizeof(int64_t) + sizeof(int32_t)) + 16 + floats * sizeof(float);
    if (!(b->scratch = hg_malloc(bytes)))
        return hg_err(err, HG_STATUS_NOMEM, "cannot allocate %zu bytes of batch scratch", bytes);
    b->segs = b->scratch;
    b->seq = (int64_t *)(b->segs + N);
    b->row_ids = (int32_t *)(b->seq + N);
    float *f = (float *)(void *)((uintptr_t)(b->row_ids + N + 3) & ~(uintptr_t)15);
    f = hg_work_carve(&b->work, c, N, f);
    b->e = f, f += N * h;
    b->s = f, f += N * h;
    b->lat = f, f += N * h;
    b->lg = f;
    return HG_OK;
}

hg_status hg_batch_init(const hg_model *model, const hg_batch_params *params, hg_batch **out, hg_error *err) {
    if (!model || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_batch_init: model and out are required");
    hg_batch_params p = params ? *params : hg_batch_default_params();
    if (p.n_seq < 1 || p.n_seq > HG_MAX_SEGS)
        return hg_err(err, HG_STATUS_BAD_ARG, "hg_batch_init: n_seq %lld must be in 1..%d", (long long)p.n_seq,
                      HG_MAX_SEGS);
    hg_status st;
    hg_batch *b = hg_calloc(1, sizeof *b);
    if (!b) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    b->model = model;
    b->n_seq = p.n_seq;
    b->owns_ctx = true;
    b->ctx = hg_calloc((size_t)p.n_seq, sizeof *b->ctx);
    if (!b->ctx) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < p.n_seq; i++)
        if ((st = hg_ctx_init(model, &p.ctx, &b->ctx[i], err))) goto fail;
    if ((st = alloc_scratch(b, err))) goto fail;
    *out = b;
    return HG_OK;
fail:
    hg_batch_free(b);
    return st;
}

hg_status hg_batch_wrap(hg_ctx *const *ctxs, int64_t n, hg_batch **out, hg_error *err) {
    if (n < 1 || n > HG_MAX_SEGS) return hg_err(err, HG_STATUS_BAD_ARG, "batch: %lld contexts (1..%d)", (long long)n, HG_MAX_SEGS);
    for (int64_t i = 0; i < n; i++)
        if (!ctxs[i] || ctxs[i]->model != ctxs[0]->model || ctxs[i]->n_threads != ctxs[0]->n_threads)
            return hg_err(err, HG_STATUS_BAD_ARG, "batch: the contexts must exist, run one model and use one thread count");
    hg_batch *b = hg_calloc(1, sizeof *b);
    if (!b) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    b->model = ctxs[0]->model;
    b->n_seq = n;
    b->ctx = hg_calloc((size_t)n, sizeof *b->ctx);
    hg_status st = b->ctx ? HG_OK : hg_err(err, HG_STATUS_NOMEM, "out of memory");
    if (!st) {
        memcpy(b->ctx, ctxs, (size_t)n * sizeof *ctxs);
        st = alloc_scratch(b, err);
    }
    if (st) {
        hg_batch_free(b);
        return st;
    }
    *out = b;
    return HG_OK;
}

int64_t hg_batch_n_seq(const hg_batch *b) { return b->n_seq; }

hg_ctx *hg_batch_ctx(hg_batch *b, int64_t i) { return i >= 0 && i < b->n_seq ? b->ctx[i] : NULL; }

/* ---- batch stage functions: one position of each listed sequence ------------------------------- */

/* Segments of a call over sequences seqs[n] (distinct, in range); `prelude`: at each one's next
 * position (which must be free), else at its newest position. Checks everything before any write. */
static hg_status make_rows(hg_batch *b, const int64_t *seqs, int64_t n, bool prelude, hg_rows *r, const char *fn,
                           hg_error *err) {
    if (n < 1 || n > b->n_seq || !seqs)
        return hg_err(err, HG_STATUS_BAD_ARG, "%s: %lld rows for a batch of %lld", fn, (long long)n, (long long)b->n_seq);
    for (int64_t i = 0; i < n; i++) {
        if (seqs[i] < 0 || seqs[i] >= b->n_seq)
            return hg_err(err, HG_STATUS_BAD_ARG, "%s: sequence %lld is out of range", fn, (long long)seqs[i]);
        for (int64_t j = 0; j < i; j++)
            if (seqs[j] == seqs[i])
                return hg_err(err, HG_STATUS_BAD_ARG, "%s: sequence %lld listed twice", fn, (long long)seqs[i]);
        hg_ctx *ctx = b->ctx[seqs[i]];
        if (prelude && ctx->n_past >= ctx->n_ctx)
            return hg_err(err, HG_STATUS_LIMIT, "%s: sequence %lld is full (%lld positions)", fn, (long long)seqs[i],
                          (long long)ctx->n_ctx);
        if (!prelude && ctx->n_past < 1)
            return hg_err(err, HG_STATUS_BAD_ARG, "%s: sequence %lld holds no position", fn, (long long)seqs[i]);
        b->segs[i] = (hg_seg){ctx, i, 1, prelude ? ctx->n_past : ctx->n_past - 1, false};
    }
    *r = (hg_rows){b->model, &b->work, b->segs, n, n};
    omp_set_num_threads(b->ctx[0]->n_threads); /* one thread count for every context (init, wrap) */
    return HG_OK;
}

hg_status hg_batch_prelude(hg_batch *b, const int64_t *seqs, int64_t n, const int32_t *ids, float *e, hg_error *err) {
    const int64_t V = b->model->cfg.vocab_size;
    hg_rows r;
    hg_status st = make_rows(b, seqs, n, true, &r, "batch prelude", err);
    if (st) return st;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return hg_err(err, HG_STATUS_BAD_INPUT, "batch prelude: token id %d of sequence %lld is outside the "
                          "vocabulary (0..%lld)", ids[i], (long long)seqs[i], (long long)(V - 1));
    return hg_prelude_rows(&r, ids, e, err);
}

/* KV slots for iteration `step` in every listed context, checked before the first write. */
static hg_status check_step(hg_batch *b, const hg_rows *r, int64_t step, const char *fn, hg_error *err) {
    const hg_config *c = &b->model->cfg;
    if (step < 0) return hg_err(err, HG_STATUS_BAD_ARG, "%s: step must be >= 0", fn);
    for (int64_t i = 0; i < r->n_segs; i++)
        if (hg_kv_phys(&r->segs[i].ctx->kv, c->n_layers_prelude + (step + 1) * c->n_layers_core - 1) < 0)
            return hg_err(err, HG_STATUS_LIMIT, "%s: iteration %lld, but the KV cache holds %lld (raise max_steps)", fn,
                          (long long)(step + 1), (long long)r->segs[i].ctx->kv.max_steps);
    return HG_OK;
}

hg_status hg_batch_core_step(hg_batch *b, const int64_t *seqs, int64_t n, float *s, const float *e, int64_t step,
                             hg_error *err) {
    hg_rows r;
    hg_status st = make_rows(b, seqs, n, false, &r, "batch core_step", err);
    if (st || (st = check_step(b, &r, step, "batch core_step", err))) return st;
    return hg_core_rows(&r, s, e, step, err);
}

hg_status hg_batch_coda(hg_batch *b, const int64_t *seqs, int64_t n, const float *s, float *latents, float *logits,
                        hg_error *err) {
    hg_rows r;
    hg_status st = make_rows(b, seqs, n, false, &r, "batch coda", err);
    if (st) return st;
    return hg_coda_rows(&r, s, latents, logits, err);
}

/* ---- fixed-depth decode of one token for every active sequence --------------------------------- */

hg_status hg_batch_decode(hg_batch *b, const int32_t *ids, const hg_forward_params *fp, float *latents,
                          float *logits, hg_error *err) {
    const hg_model *m = b->model;
    const hg_config *c = &m->cfg;
    const int64_t h = c->n_embd, V = c->vocab_size;
    const hg_forward_params p = fp ? *fp : hg_forward_default_params();
    if (!ids) return hg_err(err, HG_STATUS_BAD_ARG, "batch_decode: ids are required");
    if (p.n_steps < 0) return hg_err(err, HG_STATUS_BAD_ARG, "batch_decode: n_steps must be >= 0");
    if (!(p.init_scale >= 0) || !isfinite(p.init_scale))
        return hg_err(err, HG_STATUS_BAD_ARG, "batch_decode: init_scale must be a finite number >= 0");
    int64_t rows = 0;
    for (int64_t i = 0; i < b->n_seq; i++)
        if (ids[i] >= 0) b->seq[rows] = i, b->row_ids[rows++] = ids[i]; /* ids[i] < 0: idle this call */
    if (rows == 0) return HG_OK;
    /* every check before the first write, so a failure leaves every sequence as it was */
    hg_rows r;
    hg_status st = make_rows(b, b->seq, rows, true, &r, "batch_decode", err);
    if (st) return st;
    for (int64_t i = 0; i < rows; i++) {
        if (b->row_ids[i] >= V)
            return hg_err(err, HG_STATUS_BAD_INPUT, "batch_decode: token id %d of sequence %lld is outside the "
                          "vocabulary (0..%lld)", b->row_ids[i], (long long)b->seq[i], (long long)(V - 1));
        if (p.n_steps > 0 && hg_kv_phys(&b->ctx[b->seq[i]]->kv, c->n_layers_prelude + p.n_steps * c->n_layers_core - 1) < 0)
            return hg_err(err, HG_STATUS_LIMIT, "batch_decode: %lld iterations, but the KV cache holds %lld "
                          "(raise max_steps)", (long long)p.n_steps, (long long)b->ctx[b->seq[i]]->kv.max_steps);
    }
    if ((st = hg_prelude_rows(&r, b->row_ids, b->e, err))) return st;
    for (int64_t i = 0; i < rows; i++) { /* each row's state drawn as hg_ctx_forward draws it alone */
        if (p.init_state) {
            memcpy(b->s + i * h, p.init_state + b->seq[i] * h, (size_t)h * sizeof(float));
        } else {
            uint64_t seed = p.seed;
            hg_init_state(m, b->s + i * h, 1, p.init_scale, &seed);
        }
    }
    for (int64_t i = 0; i < rows; i++) b->segs[i].pos0 = b->ctx[b->seq[i]]->n_past - 1;
    for (int64_t t = 0; t < p.n_steps; t++)
        if ((st = hg_core_rows(&r, b->s, b->e, t, err))) return st;
    if ((st = hg_coda_rows(&r, b->s, latents ? b->lat : NULL, logits ? b->lg : NULL, err))) return st;
    for (int64_t i = 0; i < rows; i++) { /* unpack to sequence order; idle rows stay as they were */
        if (logits) memcpy(logits + b->seq[i] * V, b->lg + i * V, (size_t)V * sizeof(float));
        if (latents) memcpy(latents + b->seq[i] * h, b->lat + i * h, (size_t)h * sizeof(float));
    }
    return HG_OK;
}

/* ---- several prompts prefilled together ---------------------------------------------------------- */

static hg_status check_prefill(hg_batch *b, const hg_prefill_seq *q, int64_t n, hg_error *err) {
    const hg_config *c = &b->model->cfg;
    if (!q || n < 1 || n > b->n_seq)
        return hg_err(err, HG_STATUS_BAD_ARG, "batch prefill: %lld sequences for a batch of %lld", (long long)n,
                      (long long)b->n_seq);
    for (int64_t i = 0; i < n; i++) {
        if (q[i].seq < 0 || q[i].seq >= b->n_seq)
            return hg_err(err, HG_STATUS_BAD_ARG, "batch prefill: sequence %lld is out of range", (long long)q[i].seq);
        for (int64_t j = 0; j < i; j++)
            if (q[j].seq == q[i].seq)
                return hg_err(err, HG_STATUS_BAD_ARG, "batch prefill: sequence %lld listed twice", (long long)q[i].seq);
        const hg_ctx *ctx = b->ctx[q[i].seq];
        const hg_forward_params *fp = &q[i].fp;
        if (!q[i].ids || q[i].T <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "batch prefill: an empty prompt");
        if (fp->n_steps < 0 || !(fp->init_scale >= 0) || !isfinite(fp->init_scale))
            return hg_err(err, HG_STATUS_BAD_ARG, "batch prefill: n_steps must be >= 0 and init_scale a finite number >= 0");
        if (ctx->n_past + q[i].T > ctx->n_ctx)
            return hg_err(err, HG_STATUS_LIMIT, "batch prefill: positions up to %lld exceed the context of %lld",
                          (long long)(ctx->n_past + q[i].T), (long long)ctx->n_ctx);
        if (fp->n_steps > 0 && hg_kv_phys(&ctx->kv, c->n_layers_prelude + fp->n_steps * c->n_layers_core - 1) < 0)
            return hg_err(err, HG_STATUS_LIMIT, "batch prefill: %lld iterations, but the KV cache holds %lld (raise max_steps)",
                          (long long)fp->n_steps, (long long)ctx->kv.max_steps);
        for (int64_t t = 0; t < q[i].T; t++)
            if (q[i].ids[t] < 0 || q[i].ids[t] >= c->vocab_size)
                return hg_err(err, HG_STATUS_BAD_INPUT, "token id %d at position %lld is outside the vocabulary (0..%lld)",
                              q[i].ids[t], (long long)(ctx->n_past + t), (long long)(c->vocab_size - 1));
    }
    return HG_OK;
}

hg_status hg_batch_prefill(hg_batch *b, const hg_prefill_seq *q, int64_t n, hg_error *err) {
    hg_status st = check_prefill(b, q, n, err);
    if (st) return st;
    const hg_model *m = b->model;
    const int64_t h = m->cfg.n_embd;
    hg_ctx *c0 = b->ctx[q[0].seq]; /* its scratch ([chunk] rows) carries every call */
    const int64_t chunk = c0->chunk;
    bool same = true;
    for (int64_t i = 0; i < n; i++) same &= b->ctx[q[i].seq]->chunk == chunk;
    if (!same) { /* contexts of different sizes (hg_batch_wrap) chunk differently: each alone */
        for (int64_t i = 0; i < n && !st; i++) {
            hg_ctx *ctx = b->ctx[q[i].seq];
            st = hg_ctx_forward(ctx, q[i].ids, q[i].T, ctx->n_past, &q[i].fp, NULL, NULL, err);
        }
        return st;
    }
    int32_t *ids = hg_malloc((size_t)chunk * sizeof *ids);
    if (!ids) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    /* deepest first, so the rows still iterating at any step are a prefix of the call */
    int64_t order[HG_MAX_SEGS], pos0[HG_MAX_SEGS], Tmax = 0;
    uint64_t seed[HG_MAX_SEGS];
    for (int64_t i = 0; i < n; i++) {
        int64_t k = i;
        while (k > 0 && q[order[k - 1]].fp.n_steps < q[i].fp.n_steps) order[k] = order[k - 1], k--;
        order[k] = i;
        pos0[i] = b->ctx[q[i].seq]->n_past;
        seed[i] = q[i].fp.seed;
        Tmax = hg_max_i64(Tmax, q[i].T);
    }
    omp_set_num_threads(c0->n_threads);
    /* offset `off` of every prompt: the chunk hg_ctx_forward makes there, all through the pass before
     * the next offset (a sequence's later chunk reads its earlier chunks' cache entries) */
    for (int64_t off = 0; off < Tmax && !st; off += chunk) {
        for (int64_t k = 0; k < n && !st;) {
            int64_t ns = 0, rows = 0, member[HG_MAX_SEGS];
            for (; k < n; k++) {
                const int64_t i = order[k];
                if (q[i].T <= off) continue;
                const int64_t Tc = hg_min_i64(chunk, q[i].T - off);
                if (rows + Tc > chunk) break;
                b->segs[ns] = (hg_seg){b->ctx[q[i].seq], rows, Tc, pos0[i] + off, false};
                memcpy(ids + rows, q[i].ids + off, (size_t)Tc * sizeof *ids);
                member[ns++] = i;
                rows += Tc;
            }
            if (ns == 0) break;
            const hg_rows r = {m, &c0->w, b->segs, ns, rows};
            if ((st = hg_prelude_rows(&r, ids, c0->e, err))) break;
            for (int64_t g = 0; g < ns; g++)
                hg_chunk_init_state(m, &q[member[g]].fp, off, b->segs[g].T, c0->s + b->segs[g].row0 * h,
                                    &seed[member[g]]);
            for (int64_t t = 0; !st; t++) {
                int64_t live = 0;
                while (live < ns && q[member[live]].fp.n_steps > t) live++;
                if (live == 0) break;
                const hg_rows rl = {m, &c0->w, b->segs, live, b->segs[live - 1].row0 + b->segs[live - 1].T};
                st = hg_core_rows(&rl, c0->s, c0->e, t, err);
            }
            if (!st) st = hg_coda_rows(&r, c0->s, NULL, NULL, err);
        }
    }
    hg_free(ids);
    return st;
}
