/*
 * forward.c — fixed-depth forward (prelude, r core iterations, coda) and the initial latent state.
 * The whole pass is done chunk by chunk: a chunk of positions goes through all r iterations and the
 * coda before the next one starts. That equals the all-positions-at-once pass because every position
 * has the same depth, so the cache entries a later chunk reads are all there.
 */
#include "model/ctx.h"

#include <math.h>

hg_forward_params hg_forward_default_params(void) {
    hg_forward_params p = {.n_steps = 32, .init_scale = 0.0f, .seed = 0, .init_state = NULL};
    return p;
}

void hg_init_state(const hg_model *m, float *s, int64_t T, float init_scale, uint64_t *rng_state) {
    const int64_t h = m->cfg.n_embd;
    /* retrofitted models: init_values.std and embed_scale from the config (docs/family.md) */
    const bool retrofit = hg_arch_is_retrofit(m->cfg.arch);
    const double std = (retrofit ? m->cfg.init_std : sqrt(2.0 / (5.0 * (double)h))) * (double)init_scale;
    if (!(std > 0)) {
        memset(s, 0, (size_t)(T * h) * sizeof(float));
        return;
    }
    hg_rng r;
    hg_rng_seed(&r, *rng_state);
    const float emb_scale = retrofit ? m->cfg.embed_scale : (float)sqrt((double)h);
    for (int64_t i = 0; i < T * h; i++)
        s[i] = (float)hg_rng_trunc_normal(&r, std, -3 * std, 3 * std) * emb_scale;
    *rng_state = hg_rng_u64(&r); /* advance the caller's stream: the next draw differs */
}

void hg_chunk_init_state(const hg_model *m, const hg_forward_params *fp, int64_t c0, int64_t Tc, float *s,
                         uint64_t *seed) {
    const int64_t h = m->cfg.n_embd;
    if (fp->init_state)
        memcpy(s, fp->init_state + c0 * h, (size_t)(Tc * h) * sizeof(float));
    else
        hg_init_state(m, s, Tc, fp->init_scale, seed);
}

hg_status hg_ctx_forward(hg_ctx *ctx, const int32_t *ids, int64_t T, int64_t pos0, const hg_forward_params *p,
                         float *latents, float *logits, hg_error *err) {
    const hg_config *c = &ctx->model->cfg;
    const int64_t h = c->n_embd, V = c->vocab_size;
    hg_forward_params fp = p ? *p : hg_forward_default_params();
    if (fp.n_steps < 0) return hg_err(err, HG_STATUS_BAD_ARG, "forward: n_steps must be >= 0");
    if (!(fp.init_scale >= 0) || !isfinite(fp.init_scale))
        return hg_err(err, HG_STATUS_BAD_ARG, "forward: init_scale must be a finite number >= 0");
    /* check everything a chunk could trip over before the first one writes the cache */
    if (T <= 0 || pos0 < 0 || pos0 > ctx->n_past || pos0 + T > ctx->n_ctx)
        return hg_err(err, pos0 + T > ctx->n_ctx ? HG_STATUS_LIMIT : HG_STATUS_BAD_ARG,
                      "forward: positions %lld..%lld do not fit (positions held %lld, context %lld)", (long long)pos0,
                      (long long)(pos0 + T - 1), (long long)ctx->n_past, (long long)ctx->n_ctx);
    if (fp.n_steps > 0 && hg_kv_phys(&ctx->kv, c->n_layers_prelude + fp.n_steps * c->n_layers_core - 1) < 0)
        return hg_err(err, HG_STATUS_LIMIT, "forward: %lld iterations, but the context's KV cache holds %lld (raise max_steps)",
                      (long long)fp.n_steps, (long long)ctx->kv.max_steps);
    uint64_t seed = fp.seed;
    hg_status st;
    for (int64_t c0 = 0; c0 < T; c0 += ctx->chunk) {
        const int64_t Tc = hg_min_i64(ctx->chunk, T - c0), p0 = pos0 + c0;
        if ((st = hg_ctx_prelude(ctx, ids + c0, Tc, p0, ctx->e, err))) return st;
        hg_chunk_init_state(ctx->model, &fp, c0, Tc, ctx->s, &seed);
        for (int64_t t = 0; t < fp.n_steps; t++)
            if ((st = hg_ctx_core_step(ctx, ctx->s, ctx->e, Tc, p0, t, err))) return st;
        if ((st = hg_ctx_coda(ctx, ctx->s, Tc, p0, latents ? latents + c0 * h : NULL, logits ? logits + c0 * V : NULL,
                              err)))
            return st;
    }
    return HG_OK;
}
