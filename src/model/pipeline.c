/*
 * pipeline.c — the one block pipeline (ctx.h): prelude, core iteration and coda over the rows of a
 * call, whatever contexts the rows belong to. hg_ctx_* (stages.c), hg_ctx_forward (forward.c) and the
 * batch (batch.c) all run the forward pass through these three functions, so "a batch row equals the
 * sequence run alone" cannot drift: there is no second copy of the embedding scale, the adapter or
 * the coda's norms (docs/forward-pass.md "Stages"). Retrofitted models (docs/family.md) differ in two
 * places only, both here: the embedding scale and where ln_f sits around the coda.
 */
#include "model/ctx.h"
#include "kernels/kernels.h"

#include <math.h>

size_t hg_work_floats(const hg_config *c, int64_t rows) {
    const int64_t h = c->n_embd, I = c->intermediate_size, qd = hg_cfg_q_dim(c);
    const int64_t wide = qd > h ? qd : h;
    return (size_t)rows * (size_t)(3 * h + wide + hg_cfg_qkv_dim(c) + 2 * I + I + 2 * h);
}

float *hg_work_carve(hg_work *w, const hg_config *c, int64_t rows, float *f) {
    const int64_t h = c->n_embd, I = c->intermediate_size, qd = hg_cfg_q_dim(c);
    const int64_t wide = qd > h ? qd : h;
    w->a = f, f += rows * h;
    w->o = f, f += rows * h;
    w->x = f, f += rows * h;
    w->att = f, f += rows * wide;
    w->qkv = f, f += rows * hg_cfg_qkv_dim(c);
    w->fc = f, f += rows * 2 * I;
    w->act = f, f += rows * I;
    w->cat = f, f += rows * 2 * h;
    return f;
}

hg_status hg_prelude_rows(const hg_rows *r, const int32_t *ids, float *e, hg_error *err) {
    const hg_model *m = r->model;
    const int64_t h = m->cfg.n_embd;
    /* the reference multiplies the f32 embedding by the f32-rounded sqrt(h) (emb_scale); retrofitted
     * models by init_values.embed_scale, and not at all when it is 1; Ouro not at all (docs/family.md) */
    const bool retrofit = hg_arch_is_retrofit(m->cfg.arch);
    const float emb_scale = retrofit ? m->cfg.embed_scale : m->cfg.arch == HG_ARCH_OURO ? 1.0f : (float)sqrt((double)h);
    for (int64_t i = 0; i < r->rows; i++) {
        hg_tensor_row_f32(&m->wte, ids[i], e + i * h);
        if (retrofit && emb_scale == 1.0f) continue;
        for (int64_t j = 0; j < h; j++) e[i * h + j] *= emb_scale;
    }
    for (int64_t g = 0; g < r->n_segs; g++) {
        const hg_seg *sg = &r->segs[g];
        memcpy(sg->ctx->ids + sg->pos0, ids + sg->row0, (size_t)sg->T * sizeof *ids);
        if (sg->pos0 + sg->T > sg->ctx->n_past) sg->ctx->n_past = sg->pos0 + sg->T;
    }
    hg_status st;
    for (int64_t l = 0; l < m->cfg.n_layers_prelude; l++)
        if ((st = hg_block_forward(r, hg_model_prelude(m, l), l, e, err))) return st;
    return HG_OK;
}

hg_status hg_core_rows(const hg_rows *r, float *s, const float *e, int64_t step, hg_error *err) {
    const hg_model *m = r->model;
    const hg_config *c = &m->cfg;
    if (c->arch == HG_ARCH_OURO) return hg_ouro_core_rows(r, s, e, step, err); /* no adapter (block_ouro.c) */
    const int64_t h = c->n_embd;
    float *cat = r->w->cat;
    for (int64_t i = 0; i < r->rows; i++) { /* adapter input: concat(state, embedding), state first */
        memcpy(cat + i * 2 * h, s + i * h, (size_t)h * sizeof(float));
        memcpy(cat + i * 2 * h + h, e + i * h, (size_t)h * sizeof(float));
    }
    hg_matmul(s, cat, &m->adapter, r->rows);
    hg_status st;
    for (int64_t j = 0; j < c->n_layers_core; j++) {
        const int64_t logical = c->n_layers_prelude + step * c->n_layers_core + j;
        if ((st = hg_block_forward(r, hg_model_core(m, j), logical, s, err))) return st;
    }
    return HG_OK;
}

hg_status hg_coda_rows(const hg_rows *r, const float *s, float *latents, float *logits, hg_error *err) {
    const hg_model *m = r->model;
    const hg_config *c = &m->cfg;
    if (c->arch == HG_ARCH_OURO) return hg_ouro_coda_rows(r, s, latents, logits, err); /* lm_head only */
    const int64_t h = c->n_embd, rows = r->rows;
    float *x = r->w->x;
    /* Huginn's coda reads ln_f of the state (the latent output) and applies ln_f again after it; a
     * retrofitted model's reads the raw state (its latent output) and applies ln_f once, after it
     * (docs/family.md) */
    if (hg_arch_is_retrofit(c->arch))
        memcpy(x, s, (size_t)(rows * h) * sizeof(float));
    else
        for (int64_t i = 0; i < rows; i++) hg_rmsnorm(x + i * h, s + i * h, m->ln_f, h, c->norm_eps);
    if (latents) memcpy(latents, x, (size_t)(rows * h) * sizeof(float));
    hg_status st;
    for (int64_t l = 0; l < c->n_layers_coda; l++)
        if ((st = hg_block_forward(r, hg_model_coda(m, l), -(l + 1), x, err))) return st;
    if (!logits) return HG_OK;
    /* ln_f after the coda (Huginn: again, as the reference does; docs/forward-pass.md "Coda") */
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(x + i * h, x + i * h, m->ln_f, h, c->norm_eps);
    hg_matmul(logits, x, &m->lm_head, rows);
    return HG_OK;
}
