/*
 * block_ouro.c — the Ouro architecture on the block pipeline (ctx.h; docs/family.md "Ouro"): its
 * transformer block, its core iteration and its coda, and the early-exit gate's logits.
 *
 * Block (four norms, each on a sublayer's input or output):
 *     x = x + input_layernorm_2( Attn( input_layernorm(x) ) )
 *     x = x + post_attention_layernorm_2( MLP( post_attention_layernorm(x) ) )
 * with separate q/k/v/o and gate/up/down projections (no biases), grouped-query attention and
 * Hugging Face's rotate-half RoPE (dimension i paired with i + d/2, angle pos·inv_freq_i formed in f32),
 * unlike Huginn's adjacent pairs. q, k and v are projected into scratch and laid out as the fused
 * [rows, (H + 2·Hkv)·d] rows the shared attention (block.c) reads.
 * Iteration t: the state entering t = 0 is the embedding (no adapter, no random state); all R layers;
 * then the final norm, whose output is both the loop's h_t (gate and lm_head read it) and the next
 * loop's input. The coda is lm_head alone.
 */
#include "model/ctx.h"
#include "kernels/kernels.h"

#include <math.h>

hg_status hg_ouro_block(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err) {
    const hg_config *c = &r->model->cfg;
    const hg_work *w = r->w;
    const int64_t rows = r->rows, h = c->n_embd, I = c->intermediate_size;
    const int64_t H = c->n_head, Hkv = c->n_kv_head ? c->n_kv_head : H, d = c->head_dim;
    const int64_t qd = hg_cfg_q_dim(c), kvd = hg_cfg_kv_dim(c), stride = hg_cfg_qkv_dim(c);
    const float eps = c->norm_eps;
    int64_t slots[HG_MAX_SEGS];
    hg_status st = hg_block_slots(r, logical, slots, err);
    if (st) return st;
    float *a = w->a;
    /* attention: q into att (rows x max(h, q) floats), k and v into fc (rows x 2I; config_ouro.c
     * checks Hkv·d <= I), then interleaved as the fused rows the shared attention reads */
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(a + i * h, x + i * h, L->norm[0], h, eps);
    float *kb = w->fc, *vb = w->fc + rows * kvd;
    hg_matmul(w->att, a, &L->wq, rows);
    hg_matmul(kb, a, &L->wk, rows);
    hg_matmul(vb, a, &L->wv, rows);
    for (int64_t i = 0; i < rows; i++) {
        float *q = w->qkv + i * stride;
        memcpy(q, w->att + i * qd, (size_t)qd * sizeof(float));
        memcpy(q + qd, kb + i * kvd, (size_t)kvd * sizeof(float));
        memcpy(q + qd + kvd, vb + i * kvd, (size_t)kvd * sizeof(float));
    }
    for (int64_t g = 0; g < r->n_segs; g++) {
        hg_ctx *ctx = r->segs[g].ctx;
        hg_ctx_rope_fill(ctx, r->segs[g].pos0 + (r->segs[g].lens ? 1 : r->segs[g].T));
        for (int64_t i = 0; i < r->segs[g].T; i++) {
            const int64_t pos = r->segs[g].pos0 + (r->segs[g].lens ? 0 : i); /* lens rows: one position */
            float *q = w->qkv + (r->segs[g].row0 + i) * stride, *k = q + qd, *v = k + kvd;
            hg_rope_half_cs(q, H, d, hg_ctx_rope(ctx, pos)); /* Hugging Face's rotate-half layout */
            hg_rope_half_cs(k, Hkv, d, hg_ctx_rope(ctx, pos));
            if (!r->segs[g].lens) hg_kv_store(&ctx->kv, slots[g], pos, k, v); /* lens rows write nothing */
        }
    }
    hg_block_attention(r, slots, w->qkv, w->att);
    hg_matmul(w->o, w->att, &L->attn_proj, rows);
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(a + i * h, w->o + i * h, L->norm[1], h, eps);
    for (int64_t i = 0; i < rows * h; i++) x[i] += a[i];
    /* MLP: down(silu(gate·a) ⊙ up·a), gate rows then up rows in fc */
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(a + i * h, x + i * h, L->norm[2], h, eps);
    float *gb = w->fc, *ub = w->fc + rows * I;
    hg_matmul(gb, a, &L->w_gate, rows);
    hg_matmul(ub, a, &L->w_up, rows);
    for (int64_t i = 0; i < rows; i++) hg_silu_mul(w->act + i * I, gb + i * I, ub + i * I, I);
    hg_matmul(w->o, w->act, &L->mlp_proj, rows);
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(a + i * h, w->o + i * h, L->norm[3], h, eps);
    for (int64_t i = 0; i < rows * h; i++) x[i] += a[i];
    return HG_OK;
}

hg_status hg_ouro_core_rows(const hg_rows *r, float *s, const float *e, int64_t step, hg_error *err) {
    const hg_model *m = r->model;
    const hg_config *c = &m->cfg;
    const int64_t h = c->n_embd;
    /* the embedding enters at loop 0 only: whatever initial state a caller drew is replaced */
    if (step == 0) memcpy(s, e, (size_t)(r->rows * h) * sizeof(float));
    hg_status st;
    for (int64_t j = 0; j < c->n_layers_core; j++)
        if ((st = hg_block_forward(r, hg_model_core(m, j), step * c->n_layers_core + j, s, err))) return st;
    for (int64_t i = 0; i < r->rows; i++) hg_rmsnorm(s + i * h, s + i * h, m->ln_f, h, c->norm_eps);
    return HG_OK;
}

hg_status hg_ouro_coda_rows(const hg_rows *r, const float *s, float *latents, float *logits, hg_error *err) {
    (void)err;
    const hg_model *m = r->model;
    const int64_t h = m->cfg.n_embd, rows = r->rows;
    if (latents) memcpy(latents, s, (size_t)(rows * h) * sizeof(float));
    if (logits) hg_matmul(logits, s, &m->lm_head, rows);
    return HG_OK;
}

hg_status hg_ctx_exit_gate(hg_ctx *ctx, const float *s, int64_t T, float *g, hg_error *err) {
    const hg_model *m = ctx ? ctx->model : NULL;
    if (!m || !s || !g || T < 0) return hg_err(err, HG_STATUS_BAD_ARG, "exit_gate: NULL argument or T < 0");
    if (!m->exit_gate || !m->exit_gate_b)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "exit_gate: a %s model has no early-exit gate",
                      hg_arch_name(m->cfg.arch));
    const int64_t h = m->cfg.n_embd;
    for (int64_t i = 0; i < T; i++) { /* nn.Linear(h, 1): the dot product, then the bias */
        double acc = 0;
        for (int64_t j = 0; j < h; j++) acc += (double)m->exit_gate[j] * (double)s[i * h + j];
        g[i] = (float)acc + m->exit_gate_b[0];
    }
    return HG_OK;
}
