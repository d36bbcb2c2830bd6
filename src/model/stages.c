/*
 * stages.c — the three public stage functions on one context (include/huginn.h "the three stage
 * functions"): argument checks, then the block pipeline (pipeline.c) over chunks of ctx->chunk
 * positions as a single segment.
 */
#include "model/ctx.h"

#include <omp.h>

static hg_status check_range(hg_ctx *ctx, int64_t T, int64_t pos0, bool needs_prelude, const char *fn,
                             hg_error *err) {
    if (T <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "%s: T must be positive", fn);
    if (pos0 < 0 || pos0 > ctx->n_past)
        return hg_err(err, HG_STATUS_BAD_ARG, "%s: pos0 %lld must be in 0..%lld (positions held)", fn,
                      (long long)pos0, (long long)ctx->n_past);
    if (pos0 + T > ctx->n_ctx)
        return hg_err(err, HG_STATUS_LIMIT, "%s: positions up to %lld exceed the context of %lld", fn,
                      (long long)(pos0 + T), (long long)ctx->n_ctx);
    if (needs_prelude && pos0 + T > ctx->n_past)
        return hg_err(err, HG_STATUS_BAD_ARG, "%s: positions %lld..%lld have not been through the prelude", fn,
                      (long long)ctx->n_past, (long long)(pos0 + T - 1));
    omp_set_num_threads(ctx->n_threads);
    return HG_OK;
}

/* The pipeline call for Tc positions of the context from p0: one segment on the context's scratch. */
#define ONE_SEGMENT(ctx, Tc, p0)                                                                                      \
    const hg_seg seg_ = {(ctx), 0, (Tc), (p0), false};                                                              \
    const hg_rows rows_ = {(ctx)->model, &(ctx)->w, &seg_, 1, (Tc)}

hg_status hg_ctx_prelude(hg_ctx *ctx, const int32_t *ids, int64_t T, int64_t pos0, float *e, hg_error *err) {
    const hg_config *c = &ctx->model->cfg;
    hg_status st = check_range(ctx, T, pos0, false, "prelude", err);
    if (st) return st;
    for (int64_t i = 0; i < T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            /* the position, not the index in this call: loops feed a prompt in pieces */
            return hg_err(err, HG_STATUS_BAD_INPUT, "token id %d at position %lld is outside the vocabulary (0..%lld)",
                          ids[i], (long long)(pos0 + i), (long long)(c->vocab_size - 1));
    for (int64_t c0 = 0; c0 < T; c0 += ctx->chunk) {
        const int64_t Tc = hg_min_i64(ctx->chunk, T - c0);
        ONE_SEGMENT(ctx, Tc, pos0 + c0);
        if ((st = hg_prelude_rows(&rows_, ids + c0, e + c0 * c->n_embd, err))) return st;
    }
    return HG_OK;
}

hg_status hg_ctx_core_step(hg_ctx *ctx, float *s, const float *e, int64_t T, int64_t pos0, int64_t step,
                           hg_error *err) {
    const int64_t h = ctx->model->cfg.n_embd;
    if (step < 0) return hg_err(err, HG_STATUS_BAD_ARG, "core_step: step must be >= 0");
    hg_status st = check_range(ctx, T, pos0, true, "core_step", err);
    if (st) return st;
    for (int64_t c0 = 0; c0 < T; c0 += ctx->chunk) {
        const int64_t Tc = hg_min_i64(ctx->chunk, T - c0);
        ONE_SEGMENT(ctx, Tc, pos0 + c0);
        if ((st = hg_core_rows(&rows_, s + c0 * h, e + c0 * h, step, err))) return st;
    }
    return HG_OK;
}

hg_status hg_ctx_coda(hg_ctx *ctx, const float *s, int64_t T, int64_t pos0, float *latents, float *logits,
                      hg_error *err) {
    const int64_t h = ctx->model->cfg.n_embd, V = ctx->model->cfg.vocab_size;
    hg_status st = check_range(ctx, T, pos0, true, "coda", err);
    if (st) return st;
    for (int64_t c0 = 0; c0 < T; c0 += ctx->chunk) {
        const int64_t Tc = hg_min_i64(ctx->chunk, T - c0);
        ONE_SEGMENT(ctx, Tc, pos0 + c0);
        if ((st = hg_coda_rows(&rows_, s + c0 * h, latents ? latents + c0 * h : NULL, logits ? logits + c0 * V : NULL,
                               err)))
            return st;
    }
    return HG_OK;
}

hg_status hg_ctx_coda_lens(hg_ctx *ctx, const float *s, int64_t n, int64_t pos, float *latents, float *logits,
                           hg_error *err) {
    const int64_t h = ctx->model->cfg.n_embd, V = ctx->model->cfg.vocab_size;
    if (n <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "coda_lens: n must be positive");
    hg_status st = check_range(ctx, 1, pos, true, "coda_lens", err);
    if (st) return st;
    if (ctx->kv.type != HG_DTYPE_F32)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "coda_lens: the KV cache holds %s; the lens needs f32 entries",
                      hg_dtype_name(ctx->kv.type));
    for (int64_t c0 = 0; c0 < n; c0 += ctx->chunk) {
        const int64_t Tc = hg_min_i64(ctx->chunk, n - c0);
        const hg_seg seg = {ctx, 0, Tc, pos, true};
        const hg_rows rows = {ctx->model, &ctx->w, &seg, 1, Tc};
        if ((st = hg_coda_rows(&rows, s + c0 * h, latents ? latents + c0 * h : NULL, logits ? logits + c0 * V : NULL,
                               err)))
            return st;
    }
    return HG_OK;
}

hg_ctx_counters hg_ctx_get_counters(const hg_ctx *ctx) { return ctx->count; }
