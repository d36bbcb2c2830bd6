/*
 * stages.c — the sandwich block and the three stage functions of docs/architecture.md: prelude, one core
 * iteration, coda (docs/forward-pass.md "One sandwich block" and "Stages"). The loops over positions and heads
 * stay here; the heavy lifting is hg_matmul (kernels/), so a faster kernel speeds every stage.
 *
 * Every stage works on T consecutive positions [pos0, pos0+T) in chunks of ctx->chunk; each layer
 * application writes its K/V into the physical slot its logical slot maps to, then attends over the
 * sources the cache's lookup rule gives for earlier positions plus the chunk's own, causally.
 * hg_block_forward takes its rows as segments of sequences (ctx.h) so that batch.c can run the same
 * block on one row from each of N contexts: matmuls over all rows, attention per segment.
 */
#include "model/ctx.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>

/* ---- attention over the cache --------------------------------------------------------------- */

/* The segment holding row r (segments are few: 1 for a context, one per sequence for a batch). */
static inline const hg_seg *seg_of(const hg_seg *segs, int64_t n_segs, int64_t r) {
    int64_t i = 0;
    while (i + 1 < n_segs && r >= segs[i + 1].row0) i++;
    return &segs[i];
}

/* att[rows, h] = softmax(q·Kᵀ/√d)·V per head, each row over its own sequence's cache at `logical`'s
 * slot. qkv is [rows, 3h]; every segment's K/V rows are already stored. */
static void attention(const hg_seg *segs, int64_t n_segs, int64_t rows, const int64_t *slots, const float *qkv,
                      float *att) {
    const hg_config *c = &segs[0].ctx->model->cfg;
    const int64_t h = c->n_embd, H = c->n_head, d = c->head_dim;
    const float scale = (float)(1.0 / sqrt((double)d));
    double work = 0;
    for (int64_t g = 0; g < n_segs; g++) {
        hg_ctx *ctx = segs[g].ctx;
        const int64_t n = segs[g].pos0 + segs[g].T; /* positions visible to the segment's last query */
        hg_kv_sources(&ctx->kv, slots[g], n, ctx->src, &ctx->rng);
        work += (double)segs[g].T * (double)n * (double)h;
    }
    const hg_vec_ops *vec = hg_vec(); /* SIMD dot/axpy over head_dim (kernels/) */
    const bool par = work >= HG_PAR_MIN_MACS;
#pragma omp parallel for schedule(static) collapse(2) if (par)
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t hh = 0; hh < H; hh++) {
            const hg_seg *sg = seg_of(segs, n_segs, r);
            const hg_ctx *ctx = sg->ctx;
            const hg_kv *kv = &ctx->kv;
            const int64_t *src = ctx->src;
            /* entries are read in the cache's type, widened in registers (kv_cache.h) */
            float (*const dot)(const float *, const void *, int64_t) = vec->dot_kv[kv->type];
            void (*const axpy)(float *, float, const void *, int64_t) = vec->axpy_kv[kv->type];
            const size_t off = (size_t)(hh * d) * kv->esize;
            float *sc = ctx->scores + (size_t)omp_get_thread_num() * (size_t)ctx->n_ctx;
            const float *q = qkv + r * 3 * h + hh * d;
            float *out = att + r * h + hh * d;
            const int64_t p = sg->pos0 + (r - sg->row0);
            int64_t m = 0;
            float mx = -INFINITY;
            for (int64_t kp = 0; kp <= p; kp++) {
                if (src[kp] < 0) continue;
                sc[kp] = dot(q, (const uint8_t *)hg_kv_k(kv, src[kp], kp) + off, d) * scale;
                if (sc[kp] > mx) mx = sc[kp];
                m++;
            }
            for (int64_t t = 0; t < d; t++) out[t] = 0;
            if (m == 0) continue; /* cannot happen: the query's own entry is always present */
            double sum = 0;
            for (int64_t kp = 0; kp <= p; kp++) {
                if (src[kp] < 0) continue;
                sc[kp] = expf(sc[kp] - mx);
                sum += (double)sc[kp];
            }
            const float inv = (float)(1.0 / sum);
            for (int64_t kp = 0; kp <= p; kp++) {
                if (src[kp] < 0) continue;
                axpy(out, sc[kp] * inv, (const uint8_t *)hg_kv_v(kv, src[kp], kp) + off, d);
            }
        }
    }
}

/* ---- one sandwich block on x[rows, h] in place ------------------------------------------------ */

hg_status hg_block_forward(const hg_work *w, const hg_layer *L, int64_t logical, float *x, int64_t rows,
                           const hg_seg *segs, int64_t n_segs, hg_error *err) {
    const hg_config *c = &segs[0].ctx->model->cfg;
    const int64_t h = c->n_embd, H = c->n_head, d = c->head_dim, I = c->intermediate_size;
    const float eps = c->norm_eps;
    int64_t slots[HG_MAX_SEGS];
    HG_ASSERT(n_segs >= 1 && n_segs <= HG_MAX_SEGS);
    for (int64_t g = 0; g < n_segs; g++) {
        slots[g] = hg_kv_phys(&segs[g].ctx->kv, logical);
        if (slots[g] < 0)
            return hg_err(err, HG_STATUS_LIMIT,
                          "the KV cache has no slot for layer-step %lld: the context was made for %lld iterations "
                          "(raise max_steps / --steps)",
                          (long long)logical, (long long)segs[g].ctx->kv.max_steps);
    }
    float *a = w->a, *qkv = w->qkv;
    /* the weight matrices meet all rows at once (one read of W for every sequence of a batch) */
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(a + i * h, x + i * h, L->norm[0], h, eps);
    hg_matmul(qkv, a, &L->wqkv, rows);
    for (int64_t g = 0; g < n_segs; g++) {
        hg_ctx *ctx = segs[g].ctx;
        for (int64_t i = 0; i < segs[g].T; i++) {
            const int64_t pos = segs[g].pos0 + i;
            float *q = qkv + (segs[g].row0 + i) * 3 * h, *k = q + h, *v = q + 2 * h;
            if (L->qk_bias)
                for (int64_t j = 0; j < h; j++) {
                    q[j] += L->qk_bias[j];
                    k[j] += L->qk_bias[h + j];
                }
            hg_rope(q, H, d, pos, ctx->inv_freq);
            hg_rope(k, H, d, pos, ctx->inv_freq);
            hg_kv_store(&ctx->kv, slots[g], pos, k, v);
        }
    }
    attention(segs, n_segs, rows, slots, qkv, w->att);
    hg_matmul(w->o, w->att, &L->attn_proj, rows);
    for (int64_t i = 0; i < rows * h; i++) x[i] += w->o[i];
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(x + i * h, x + i * h, L->norm[1], h, eps);
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(a + i * h, x + i * h, L->norm[2], h, eps);
    hg_matmul(w->fc, a, &L->fc, rows);
    for (int64_t i = 0; i < rows; i++) hg_silu_mul(w->act + i * I, w->fc + i * 2 * I, w->fc + i * 2 * I + I, I);
    hg_matmul(w->o, w->act, &L->mlp_proj, rows);
    for (int64_t i = 0; i < rows * h; i++) x[i] += w->o[i];
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(x + i * h, x + i * h, L->norm[3], h, eps);
    return HG_OK;
}

/* One context's chunk of Tc positions from pos0: a single segment on the context's own scratch. */
static hg_status block_forward(hg_ctx *ctx, const hg_layer *L, int64_t logical, float *x, int64_t Tc, int64_t pos0,
                               hg_error *err) {
    const hg_work w = {ctx->a, ctx->qkv, ctx->att, ctx->o, ctx->fc, ctx->act};
    const hg_seg seg = {ctx, 0, Tc, pos0};
    return hg_block_forward(&w, L, logical, x, Tc, &seg, 1, err);
}

/* ---- argument checks shared by the stages ----------------------------------------------------- */

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

/* ---- the three stages ------------------------------------------------------------------------- */

hg_status hg_ctx_prelude(hg_ctx *ctx, const int32_t *ids, int64_t T, int64_t pos0, float *e, hg_error *err) {
    const hg_model *m = ctx->model;
    const hg_config *c = &m->cfg;
    const int64_t h = c->n_embd;
    hg_status st = check_range(ctx, T, pos0, false, "prelude", err);
    if (st) return st;
    for (int64_t i = 0; i < T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return hg_err(err, HG_STATUS_BAD_INPUT, "token id %d at index %lld is outside the vocabulary (0..%lld)",
                          ids[i], (long long)i, (long long)(c->vocab_size - 1));
    /* the reference multiplies the f32 embedding by the f32-rounded sqrt(h) (emb_scale) */
    const float emb_scale = (float)sqrt((double)h);
    for (int64_t c0 = 0; c0 < T; c0 += ctx->chunk) {
        const int64_t Tc = hg_min_i64(ctx->chunk, T - c0), p0 = pos0 + c0;
        float *x = e + c0 * h;
        for (int64_t i = 0; i < Tc; i++) {
            hg_tensor_row_f32(&m->wte, ids[c0 + i], x + i * h);
            for (int64_t j = 0; j < h; j++) x[i * h + j] *= emb_scale;
        }
        if (p0 + Tc > ctx->n_past) ctx->n_past = p0 + Tc;
        memcpy(ctx->ids + p0, ids + c0, (size_t)Tc * sizeof *ids);
        for (int64_t l = 0; l < c->n_layers_prelude; l++)
            if ((st = block_forward(ctx, hg_model_prelude(m, l), l, x, Tc, p0, err))) return st;
    }
    return HG_OK;
}

hg_status hg_ctx_core_step(hg_ctx *ctx, float *s, const float *e, int64_t T, int64_t pos0, int64_t step,
                           hg_error *err) {
    const hg_model *m = ctx->model;
    const hg_config *c = &m->cfg;
    const int64_t h = c->n_embd;
    if (step < 0) return hg_err(err, HG_STATUS_BAD_ARG, "core_step: step must be >= 0");
    hg_status st = check_range(ctx, T, pos0, true, "core_step", err);
    if (st) return st;
    for (int64_t c0 = 0; c0 < T; c0 += ctx->chunk) {
        const int64_t Tc = hg_min_i64(ctx->chunk, T - c0), p0 = pos0 + c0;
        float *x = s + c0 * h;
        for (int64_t i = 0; i < Tc; i++) { /* adapter input: concat(state, embedding), state first */
            memcpy(ctx->cat + i * 2 * h, x + i * h, (size_t)h * sizeof(float));
            memcpy(ctx->cat + i * 2 * h + h, e + (c0 + i) * h, (size_t)h * sizeof(float));
        }
        hg_matmul(x, ctx->cat, &m->adapter, Tc);
        for (int64_t j = 0; j < c->n_layers_core; j++) {
            int64_t logical = c->n_layers_prelude + step * c->n_layers_core + j;
            if ((st = block_forward(ctx, hg_model_core(m, j), logical, x, Tc, p0, err))) return st;
        }
    }
    return HG_OK;
}

hg_status hg_ctx_coda(hg_ctx *ctx, const float *s, int64_t T, int64_t pos0, float *latents, float *logits,
                      hg_error *err) {
    const hg_model *m = ctx->model;
    const hg_config *c = &m->cfg;
    const int64_t h = c->n_embd, V = c->vocab_size;
    hg_status st = check_range(ctx, T, pos0, true, "coda", err);
    if (st) return st;
    for (int64_t c0 = 0; c0 < T; c0 += ctx->chunk) {
        const int64_t Tc = hg_min_i64(ctx->chunk, T - c0), p0 = pos0 + c0;
        float *x = ctx->x;
        for (int64_t i = 0; i < Tc; i++) hg_rmsnorm(x + i * h, s + (c0 + i) * h, m->ln_f, h, c->norm_eps);
        if (latents) memcpy(latents + c0 * h, x, (size_t)(Tc * h) * sizeof(float));
        for (int64_t l = 0; l < c->n_layers_coda; l++)
            if ((st = block_forward(ctx, hg_model_coda(m, l), -(l + 1), x, Tc, p0, err))) return st;
        if (!logits) continue;
        /* ln_f is applied again after the coda, as in raven_modeling_minimal.py (docs/forward-pass.md "Coda") */
        for (int64_t i = 0; i < Tc; i++) hg_rmsnorm(x + i * h, x + i * h, m->ln_f, h, c->norm_eps);
        hg_matmul(logits + c0 * V, x, &m->lm_head, Tc);
    }
    return HG_OK;
}
