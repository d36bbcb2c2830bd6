/*
 * batch.c — several sequences decoded together (huginn.h "Batch"): N contexts of one model, each with
 * its own KV cache and position, advanced by one token each per hg_batch_decode call.
 *
 * Why: decode is bound by reading the weights (Huginn: 3.5 G weights x r/4 core passes per token,
 * against a few KB of activations), so the matrix-vector kernels stream W once for up to HG_MV_T = 8
 * positions at nearly the cost of one (docs/kernels.md). A batch stacks one row per sequence and runs
 * every matmul of prelude, core iterations and coda on all rows at once; only attention, whose K/V
 * differ per sequence, runs per sequence (hg_block_forward's segments, stages.c). The alternative —
 * one context with N "positions" — was rejected: positions of different sequences must not attend to
 * each other, and each sequence needs its own lookup state and prefix.
 *
 * Exactness: a row's matmul result does not depend on which rows share the call (dispatch.h contract)
 * on the matrix-vector path, so for N <= 8 every sequence's logits are bit-identical to decoding it
 * alone with hg_ctx_forward (tests/test_batch.c); so is N up to the table's gemm_min_t - 1 where the
 * matrix-vector path takes small T in groups of 8 (AVX-512 without AMX: 32; AVX2: 16). Beyond, the
 * blocked kernel is used, which rounds differently (f32 accumulation in another order, or on AMX
 * machines its own tile sums; differences of order 1e-6 relative — Q8_0/Q4_0 on AMX round the
 * activations to Q8X exactly as decode does, so there too only the f32 summation order differs).
 *
 * Memory: the contexts (KV caches, per-context scratch) plus one block of [N, ...] activation
 * scratch, allocated in hg_batch_init; decode and generation allocate nothing per token.
 */
#include "model/ctx.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>

struct hg_batch {
    const hg_model *model;
    int64_t n_seq;
    hg_ctx **ctx;     /* [n_seq] owned */
    hg_seg *segs;     /* [n_seq] segments of the current call */
    int64_t *seq;     /* [n_seq] sequence of each active row */
    hg_work work;     /* a, att, o [N, h], qkv [N, 3h], fc [N, 2I], act [N, I] */
    float *e, *s, *x; /* [N, h] prelude output, state, coda activations */
    float *cat;       /* [N, 2h] adapter input */
    float *lg, *lat;  /* [N, V], [N, h] packed outputs when some sequences are idle */
    void *scratch;    /* the owned block behind every buffer above */
};

hg_batch_params hg_batch_default_params(void) {
    hg_batch_params p = {.n_seq = 1, .ctx = hg_ctx_default_params()};
    return p;
}

void hg_batch_free(hg_batch *b) {
    if (!b) return;
    if (b->ctx)
        for (int64_t i = 0; i < b->n_seq; i++) hg_ctx_free(b->ctx[i]);
    hg_free(b->ctx);
    hg_free(b->scratch);
    hg_free(b);
}

hg_status hg_batch_init(const hg_model *model, const hg_batch_params *params, hg_batch **out, hg_error *err) {
    if (!model || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_batch_init: model and out are required");
    hg_batch_params p = params ? *params : hg_batch_default_params();
    if (p.n_seq < 1 || p.n_seq > HG_MAX_SEGS)
        return hg_err(err, HG_STATUS_BAD_ARG, "hg_batch_init: n_seq %lld must be in 1..%d", (long long)p.n_seq,
                      HG_MAX_SEGS);
    const hg_config *c = &model->cfg;
    const int64_t N = p.n_seq, h = c->n_embd, I = c->intermediate_size, V = c->vocab_size;
    hg_status st;
    hg_batch *b = hg_calloc(1, sizeof *b);
    if (!b) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    b->model = model;
    b->n_seq = N;
    b->ctx = hg_calloc((size_t)N, sizeof *b->ctx);
    if (!b->ctx) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < N; i++)
        if ((st = hg_ctx_init(model, &p.ctx, &b->ctx[i], err))) goto fail;
    /* sizes are N (<= 64) times per-position buffers the contexts already hold, so products are safe */
    const size_t floats = (size_t)N * (size_t)(3 * h + 3 * h + 2 * I + I + 3 * h + 2 * h + V + h);
    const size_t bytes = (size_t)N * (sizeof(hg_seg) + sizeof(int64_t)) + floats * sizeof(float);
    if (!(b->scratch = hg_malloc(bytes))) {
        st = hg_err(err, HG_STATUS_NOMEM, "cannot allocate %zu bytes of batch scratch", bytes);
        goto fail;
    }
    b->segs = b->scratch;
    b->seq = (int64_t *)(b->segs + N);
    float *f = (float *)(b->seq + N);
    b->work.a = f, f += N * h;
    b->work.att = f, f += N * h;
    b->work.o = f, f += N * h;
    b->work.qkv = f, f += N * 3 * h;
    b->work.fc = f, f += N * 2 * I;
    b->work.act = f, f += N * I;
    b->e = f, f += N * h;
    b->s = f, f += N * h;
    b->x = f, f += N * h;
    b->cat = f, f += N * 2 * h;
    b->lg = f, f += N * V;
    b->lat = f;
    *out = b;
    return HG_OK;
fail:
    hg_batch_free(b);
    return st;
}

int64_t hg_batch_n_seq(const hg_batch *b) { return b->n_seq; }

hg_ctx *hg_batch_ctx(hg_batch *b, int64_t i) { return i >= 0 && i < b->n_seq ? b->ctx[i] : NULL; }

/* ---- one token for every active sequence ------------------------------------------------------- */

hg_status hg_batch_decode(hg_batch *b, const int32_t *ids, const hg_forward_params *fp, float *latents,
                          float *logits, hg_error *err) {
    const hg_model *m = b->model;
    const hg_config *c = &m->cfg;
    const int64_t h = c->n_embd, V = c->vocab_size, P = c->n_layers_prelude, R = c->n_layers_core;
    const hg_forward_params p = fp ? *fp : hg_forward_default_params();
    if (!ids) return hg_err(err, HG_STATUS_BAD_ARG, "batch_decode: ids are required");
    if (p.n_steps < 0) return hg_err(err, HG_STATUS_BAD_ARG, "batch_decode: n_steps must be >= 0");
    if (!(p.init_scale >= 0) || !isfinite(p.init_scale))
        return hg_err(err, HG_STATUS_BAD_ARG, "batch_decode: init_scale must be a finite number >= 0");
    /* every check before the first write, so a failure leaves every sequence as it was */
    int64_t rows = 0;
    for (int64_t i = 0; i < b->n_seq; i++) {
        if (ids[i] < 0) continue; /* idle this call */
        hg_ctx *ctx = b->ctx[i];
        if (ids[i] >= c->vocab_size)
            return hg_err(err, HG_STATUS_BAD_INPUT, "batch_decode: token id %d of sequence %lld is outside the "
                          "vocabulary (0..%lld)", ids[i], (long long)i, (long long)(c->vocab_size - 1));
        if (ctx->n_past >= ctx->n_ctx)
            return hg_err(err, HG_STATUS_LIMIT, "batch_decode: sequence %lld is full (%lld positions)", (long long)i,
                          (long long)ctx->n_ctx);
        if (p.n_steps > 0 && hg_kv_phys(&ctx->kv, P + p.n_steps * R - 1) < 0)
            return hg_err(err, HG_STATUS_LIMIT, "batch_decode: %lld iterations, but the KV cache holds %lld "
                          "(raise max_steps)", (long long)p.n_steps, (long long)ctx->kv.max_steps);
        b->segs[rows] = (hg_seg){ctx, rows, 1, ctx->n_past};
        b->seq[rows++] = i;
    }
    if (rows == 0) return HG_OK;
    omp_set_num_threads(b->ctx[0]->n_threads); /* every context has the same (hg_batch_init) */
    const hg_seg *segs = b->segs;
    hg_status st;

    /* prelude: the reference multiplies the f32 embedding by the f32-rounded sqrt(h), as stages.c */
    const float emb_scale = (float)sqrt((double)h);
    for (int64_t r = 0; r < rows; r++) {
        hg_ctx *ctx = segs[r].ctx;
        const int32_t id = ids[b->seq[r]];
        float *e = b->e + r * h;
        hg_tensor_row_f32(&m->wte, id, e);
        for (int64_t j = 0; j < h; j++) e[j] *= emb_scale;
        ctx->ids[ctx->n_past] = id;
        ctx->n_past++;
    }
    for (int64_t l = 0; l < P; l++)
        if ((st = hg_block_forward(&b->work, hg_model_prelude(m, l), l, b->e, rows, segs, rows, err))) return st;

    /* initial state of each row, drawn as hg_ctx_forward draws it for one position */
    for (int64_t r = 0; r < rows; r++) {
        if (p.init_state) {
            memcpy(b->s + r * h, p.init_state + b->seq[r] * h, (size_t)h * sizeof(float));
        } else {
            uint64_t seed = p.seed;
            hg_init_state(m, b->s + r * h, 1, p.init_scale, &seed);
        }
    }
    for (int64_t t = 0; t < p.n_steps; t++) {
        for (int64_t r = 0; r < rows; r++) { /* adapter input: concat(state, embedding), state first */
            memcpy(b->cat + r * 2 * h, b->s + r * h, (size_t)h * sizeof(float));
            memcpy(b->cat + r * 2 * h + h, b->e + r * h, (size_t)h * sizeof(float));
        }
        hg_matmul(b->s, b->cat, &m->adapter, rows);
        for (int64_t j = 0; j < R; j++)
            if ((st = hg_block_forward(&b->work, hg_model_core(m, j), P + t * R + j, b->s, rows, segs, rows, err)))
                return st;
    }

    /* coda, as hg_ctx_coda: ln_f, C layers, ln_f again (raven_modeling_minimal.py), lm_head; with idle
     * sequences the rows are packed, so they go through the batch's buffers and are spread after */
    const bool packed = rows < b->n_seq;
    float *x = b->x, *lat = packed ? b->lat : latents, *lg = packed ? b->lg : logits;
    for (int64_t r = 0; r < rows; r++) hg_rmsnorm(x + r * h, b->s + r * h, m->ln_f, h, c->norm_eps);
    if (latents) memcpy(lat, x, (size_t)(rows * h) * sizeof(float));
    for (int64_t l = 0; l < c->n_layers_coda; l++)
        if ((st = hg_block_forward(&b->work, hg_model_coda(m, l), -(l + 1), x, rows, segs, rows, err))) return st;
    if (logits) {
        for (int64_t r = 0; r < rows; r++) hg_rmsnorm(x + r * h, x + r * h, m->ln_f, h, c->norm_eps);
        hg_matmul(lg, x, &m->lm_head, rows);
    }
    for (int64_t r = 0; packed && r < rows; r++) {
        if (logits) memcpy(logits + b->seq[r] * V, lg + r * V, (size_t)V * sizeof(float));
        if (latents) memcpy(latents + b->seq[r] * h, lat + r * h, (size_t)h * sizeof(float));
    }
    return HG_OK;
}

/* ---- batched generation ------------------------------------------------------------------------ */

static const int32_t k_stop_ids[] = {65504, 65505, 65508}; /* as generate.c */

static bool is_stop(const hg_generate_params *p, int32_t id) {
    for (size_t i = 0; i < sizeof k_stop_ids / sizeof k_stop_ids[0]; i++)
        if (id == k_stop_ids[i]) return true;
    for (int64_t i = 0; i < p->n_eos; i++)
        if (id == p->eos_ids[i]) return true;
    return false;
}

hg_status hg_generate_batch(hg_batch *b, const int32_t *const *prompts, const int64_t *n_prompt,
                            const hg_generate_params *gp, int32_t *out_ids, int64_t *n_out, hg_error *err) {
    const hg_config *c = &b->model->cfg;
    const int64_t N = b->n_seq, h = c->n_embd, V = c->vocab_size;
    const hg_generate_params p = gp ? *gp : hg_generate_default_params();
    if (p.max_new_tokens < 0 || p.n_steps < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "generate_batch: max_new_tokens and n_steps must be >= 0");
    if (p.init_state || p.reuse_prefix)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "generate_batch: init_state and reuse_prefix are not supported");
    int64_t max_prompt = 0;
    for (int64_t i = 0; i < N; i++) {
        if (!prompts[i] || n_prompt[i] <= 0)
            return hg_err(err, HG_STATUS_BAD_ARG, "generate_batch: prompt %lld is empty", (long long)i);
        if (n_prompt[i] + p.max_new_tokens > b->ctx[i]->n_ctx)
            return hg_err(err, HG_STATUS_LIMIT, "generate_batch: prompt %lld (%lld) + new tokens (%lld) exceed the "
                          "context (%lld)", (long long)i, (long long)n_prompt[i], (long long)p.max_new_tokens,
                          (long long)b->ctx[i]->n_ctx);
        max_prompt = hg_max_i64(max_prompt, n_prompt[i]);
    }
    /* hg_generate draws the last prompt row from another stream only when the prompt had more rows */
    bool all_long = true, all_short = true;
    for (int64_t i = 0; i < N; i++) all_long &= n_prompt[i] > 1, all_short &= n_prompt[i] == 1;
    if (!(all_long || all_short) && p.init_scale > 0)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "generate_batch: with init_scale > 0 every prompt must have one "
                      "token, or every prompt more than one");
    hg_status st = HG_OK;
    hg_sampler **smp = hg_calloc((size_t)N, sizeof *smp);
    int32_t *hist = hg_malloc((size_t)N * (size_t)(max_prompt + p.max_new_tokens) * sizeof *hist);
    int32_t *next = hg_malloc((size_t)N * sizeof *next);
    int64_t *n_gen = hg_calloc((size_t)N, sizeof *n_gen);
    float *buf = hg_malloc((size_t)N * (size_t)(V + 2 * h) * sizeof *buf);
    if (!smp || !hist || !next || !n_gen || !buf) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < N; i++)
        if ((st = hg_sampler_init(&p.sampler, V, &smp[i], err))) goto out;
    float *logits = buf, *latent = buf + N * V, *state = latent + N * h; /* [N, V], [N, h], [N, h] */
    const int64_t stride = max_prompt + p.max_new_tokens;

    /* prompts: all but the last position per sequence, then the last positions as one batched step
     * (hg_generate's order and seeds, so each sequence matches generating it alone) */
    hg_forward_params fp = {.n_steps = p.n_steps, .init_scale = p.init_scale, .seed = p.seed, .init_state = NULL};
    for (int64_t i = 0; i < N; i++) {
        if ((st = hg_ctx_truncate(b->ctx[i], 0, err))) goto out;
        memcpy(hist + i * stride, prompts[i], (size_t)n_prompt[i] * sizeof *hist);
        if (n_prompt[i] > 1 && (st = hg_ctx_forward(b->ctx[i], prompts[i], n_prompt[i] - 1, 0, &fp, NULL, NULL, err)))
            goto out;
        next[i] = prompts[i][n_prompt[i] - 1];
    }
    fp.seed = all_long ? p.seed ^ 0x9e3779b97f4a7c15ull : p.seed;
    if ((st = hg_batch_decode(b, next, &fp, latent, logits, err))) goto out;

    int64_t step = 0;
    for (;;) {
        bool any = false;
        for (int64_t i = 0; i < N; i++) {
            if (next[i] < 0) continue;
            const int64_t n_hist = n_prompt[i] + n_gen[i];
            const int32_t id = hg_sampler_sample(smp[i], logits + i * V, hist + i * stride, n_hist);
            hist[i * stride + n_hist] = id;
            out_ids[i * p.max_new_tokens + n_gen[i]++] = id;
            next[i] = is_stop(&p, id) || n_gen[i] >= p.max_new_tokens ? -1 : id;
            any |= next[i] >= 0;
        }
        if (!any) break;
        step++;
        /* hg_generate's seed for the token after n_gen tokens; every live sequence has n_gen = step */
        fp.seed = p.seed + 0x632be59bd9b4e019ull * (uint64_t)step;
        if (p.continuous) {
            memcpy(state, latent, (size_t)(N * h) * sizeof(float));
            fp.init_state = state;
        }
        if ((st = hg_batch_decode(b, next, &fp, latent, logits, err))) goto out;
    }
    for (int64_t i = 0; i < N; i++) n_out[i] = n_gen[i];
out:
    if (smp)
        for (int64_t i = 0; i < N; i++) hg_sampler_free(smp[i]);
    hg_free(smp);
    hg_free(hist);
    hg_free(next);
    hg_free(n_gen);
    hg_free(buf);
    return st;
}
