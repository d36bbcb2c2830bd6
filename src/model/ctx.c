/*
 * ctx.c — creating and resetting contexts (ctx.h): the KV cache sized by strategy, context length,
 * iteration budget and entry type (f32 / f16 / bf16), the RoPE tables (frequencies; each position's
 * cos/sin, filled as positions arrive), and one block of scratch carved into named buffers.
 */
#include "model/ctx.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>

hg_ctx_params hg_ctx_default_params(void) {
    hg_ctx_params p = {.n_ctx = 0, .max_steps = 0, .kv_cache = NULL, .n_threads = 0, .kv_type = HG_DTYPE_F32};
    return p;
}

void hg_ctx_free(hg_ctx *ctx) {
    if (!ctx) return;
    hg_kv_free(&ctx->kv);
    hg_free(ctx->scratch);
    hg_free(ctx);
}

hg_status hg_ctx_init(const hg_model *model, const hg_ctx_params *params, hg_ctx **out, hg_error *err) {
    if (!model || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_ctx_init: model and out are required");
    hg_ctx_params p = params ? *params : hg_ctx_default_params();
    const hg_config *c = &model->cfg;
    if (p.n_ctx < 0 || p.max_steps < 0 || p.n_threads < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "hg_ctx_init: n_ctx, max_steps and n_threads must be >= 0");
    if (p.n_ctx == 0) p.n_ctx = c->block_size;
    if (p.max_steps == 0) p.max_steps = c->mean_recurrence > 0 ? c->mean_recurrence : 1;
    if (p.n_ctx > c->block_size)
        return hg_err(err, HG_STATUS_LIMIT, "context of %lld positions exceeds the model's block_size %lld",
                      (long long)p.n_ctx, (long long)c->block_size);
    if (p.max_steps > 1000000) return hg_err(err, HG_STATUS_LIMIT, "max_steps %lld is too large", (long long)p.max_steps);
    hg_kv_strategy strat;
    hg_status st = hg_kv_strategy_parse(p.kv_cache, &strat, err);
    if (st) return st;

    hg_ctx *ctx = hg_calloc(1, sizeof *ctx);
    if (!ctx) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    ctx->model = model;
    ctx->n_ctx = p.n_ctx;
    ctx->n_threads = p.n_threads ? p.n_threads : omp_get_num_procs();
    ctx->chunk = hg_min_i64(p.n_ctx, 128);
    hg_rng_seed(&ctx->rng, 0x5eed);
    if ((st = hg_kv_init_type(&ctx->kv, &strat, c, p.n_ctx, p.max_steps, p.kv_type, err))) goto fail;

    const int64_t h = c->n_embd, d = c->head_dim, T = ctx->chunk;
    /* every buffer size is small next to the cache (already allocated), so plain products are safe */
    size_t floats = (size_t)(d / 2) + (size_t)T * (size_t)(2 * h) + hg_work_floats(c, T) +
                    (size_t)ctx->n_threads * (size_t)p.n_ctx + (size_t)p.n_ctx * (size_t)d;
    size_t bytes = floats * sizeof(float) + (size_t)p.n_ctx * (sizeof(int64_t) + sizeof(int32_t)) + 64;
    ctx->scratch = hg_malloc(bytes);
    if (!ctx->scratch) {
        st = hg_err(err, HG_STATUS_NOMEM, "cannot allocate %zu bytes of scratch", bytes);
        goto fail;
    }
    int64_t *src = ctx->scratch; /* int64 first keeps it aligned */
    ctx->src = src;
    ctx->ids = (int32_t *)(src + p.n_ctx);
    float *f = (float *)(ctx->ids + p.n_ctx);
    ctx->inv_freq = f, f += d / 2;
    ctx->e = f, f += T * h;
    ctx->s = f, f += T * h;
    f = hg_work_carve(&ctx->w, c, T, f);
    ctx->scores = f, f += ctx->n_threads * p.n_ctx;
    ctx->rope_cs = f; /* filled as positions arrive (hg_ctx_rope_fill) */
    if (hg_arch_is_retrofit(c->arch))
        hg_retrofit_inv_freq(c, ctx->inv_freq); /* rotate-half RoPE with llama3 scaling (block_retrofit.c) */
    else
        hg_rope_inv_freq(ctx->inv_freq, d, c->rope_base);
    *out = ctx;
    return HG_OK;
fail:
    hg_ctx_free(ctx);
    return st;
}

void hg_ctx_rope_fill(hg_ctx *ctx, int64_t end) {
    const int64_t d = ctx->model->cfg.head_dim;
    HG_ASSERT(end <= ctx->n_ctx);
    for (; ctx->rope_n < end; ctx->rope_n++) hg_rope_angles(ctx->rope_cs + ctx->rope_n * d, d, ctx->rope_n, ctx->inv_freq);
}

int64_t hg_ctx_kv_bytes_per_token(const hg_ctx *ctx) {
    return ctx->kv.n_slots * ctx->kv.width * 2 * (int64_t)ctx->kv.esize;
}
int64_t hg_ctx_kv_bytes(const hg_ctx *ctx) { return hg_ctx_kv_bytes_per_token(ctx) * ctx->n_ctx; }
int64_t hg_ctx_n_past(const hg_ctx *ctx) { return ctx->n_past; }
int64_t hg_ctx_n_ctx(const hg_ctx *ctx) { return ctx->n_ctx; }

hg_status hg_ctx_truncate(hg_ctx *ctx, int64_t n_keep, hg_error *err) {
    if (n_keep < 0 || n_keep > ctx->n_past)
        return hg_err(err, HG_STATUS_BAD_ARG, "truncate: n_keep %lld must be in 0..%lld", (long long)n_keep,
                      (long long)ctx->n_past);
    hg_kv_truncate(&ctx->kv, n_keep);
    ctx->n_past = n_keep;
    return HG_OK;
}

hg_status hg_ctx_copy_prefix(hg_ctx *dst, const hg_ctx *src, int64_t n, hg_error *err) {
    if (!dst || !src) return hg_err(err, HG_STATUS_BAD_ARG, "copy_prefix: NULL context");
    if (dst->model != src->model || !hg_kv_same_layout(&dst->kv, &src->kv))
        return hg_err(err, HG_STATUS_BAD_ARG, "copy_prefix: the contexts differ in model or KV-cache layout");
    if (n < 0 || n > src->n_past || n > dst->n_ctx)
        return hg_err(err, HG_STATUS_BAD_ARG, "copy_prefix: %lld positions (the source holds %lld, the target fits %lld)",
                      (long long)n, (long long)src->n_past, (long long)dst->n_ctx);
    if (dst == src) return hg_ctx_truncate(dst, n, err);
    hg_kv_copy_prefix(&dst->kv, &src->kv, n);
    memcpy(dst->ids, src->ids, (size_t)n * sizeof *dst->ids);
    dst->n_past = n;
    return HG_OK;
}

hg_status hg_model_kv_bytes_per_token_typed(const hg_model *model, const char *kv_cache, int64_t max_steps,
                                            hg_dtype kv_type, int64_t *bytes, hg_error *err) {
    hg_kv_strategy strat;
    hg_status st = hg_kv_strategy_parse(kv_cache, &strat, err);
    if (st) return st;
    if (max_steps <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "max_steps must be positive");
    const size_t esize = hg_kv_type_size(kv_type);
    if (!esize) return hg_err(err, HG_STATUS_BAD_ARG, "KV-cache type %s is not supported", hg_dtype_name(kv_type));
    *bytes = hg_kv_n_slots(&strat, &model->cfg, max_steps) * hg_cfg_kv_dim(&model->cfg) * 2 * (int64_t)esize;
    return HG_OK;
}

hg_status hg_model_kv_bytes_per_token(const hg_model *model, const char *kv_cache, int64_t max_steps,
                                      int64_t *bytes, hg_error *err) {
    return hg_model_kv_bytes_per_token_typed(model, kv_cache, max_steps, HG_DTYPE_F32, bytes, err);
}

hg_status hg_kv_type_parse(const char *name, hg_dtype *out, hg_error *err) {
    static const struct {
        const char *name;
        hg_dtype t;
    } types[] = {{"f32", HG_DTYPE_F32}, {"f16", HG_DTYPE_F16}, {"bf16", HG_DTYPE_BF16}};
    for (size_t i = 0; name && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(name, types[i].name)) {
            *out = types[i].t;
            return HG_OK;
        }
    return hg_err(err, HG_STATUS_BAD_ARG, "unknown KV-cache type `%s` (expected f32, f16 or bf16)", name ? name : "");
}
