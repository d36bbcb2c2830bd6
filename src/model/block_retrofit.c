/*
 * block_retrofit.c — the blocks of "retrofitted recurrence" models (McLeish et al. 2025): pretrained
 * Llama or OLMo-2 layers rearranged into Huginn's prelude / looped core / coda (docs/family.md). The
 * stage functions, the adapter, the KV cache and attention are Huginn's (pipeline.c, block.c); what
 * differs is inside the block and in RoPE, so this file holds the two block functions and the RoPE
 * frequencies, written from raven_modeling_minimal_llama.py / _olmo.py and checked against the
 * authors' outputs (tests/test_retrofit_golden.c).
 *
 *   Llama (pre-norm):   x += proj(attn(norm_1(x)));  x += mlp(norm_2(x))
 *   OLMo-2 (post-norm): x += norm_1(proj(attn(x)));  x += norm_2(mlp(x)),
 *                       with q = q_norm(q), k = k_norm(k) over the full H·d / Hkv·d widths before RoPE.
 *
 * RoPE is Hugging Face's rotate-half layout (hg_rope_half), not Huginn's adjacent pairs; the
 * frequencies follow transformers' f32 arithmetic step by step, including the llama3 rescaling, so the
 * angles are the reference's to the last bit where the libm agrees. As in block.c, norms and matmuls
 * run over all rows of a call at once and K/V writes and attention run per segment.
 */
#include "model/ctx.h"
#include "kernels/kernels.h"

#include <math.h>

/* ---- RoPE frequencies -------------------------------------------------------------------------- */

void hg_retrofit_inv_freq(const hg_config *c, float *inv) {
    const int64_t d = c->head_dim;
    const float base = (float)c->rope_base;
    /* _compute_default_rope_parameters: 1.0 / (base ** (arange(0, d, 2).float() / d)), all f32 */
    for (int64_t i = 0; i < d / 2; i++) inv[i] = 1.0f / powf(base, (float)(2 * i) / (float)d);
    if (!(c->rope_factor > 0)) return;
    /* _compute_llama3_parameters, each tensor op in f32 with its Python scalar rounded to f32; torch
     * evaluates scalar / tensor as reciprocal(tensor) * scalar, so that is what is written here */
    const float factor = (float)c->rope_factor, lo = (float)c->rope_low_freq_factor;
    const float old = (float)c->rope_orig_ctx;
    const float lo_wavelen = (float)((double)c->rope_orig_ctx / c->rope_low_freq_factor);
    const float hi_wavelen = (float)((double)c->rope_orig_ctx / c->rope_high_freq_factor);
    const float span = (float)(c->rope_high_freq_factor - c->rope_low_freq_factor);
    const float two_pi = (float)6.283185307179586;
    for (int64_t i = 0; i < d / 2; i++) {
        const float f = inv[i];
        const float wavelen = (1.0f / f) * two_pi;
        const float llama = wavelen > lo_wavelen ? f / factor : f;
        const float smooth = ((1.0f / wavelen) * old - lo) / span;
        const float smoothed = ((1.0f - smooth) * llama) / factor + smooth * llama;
        const bool medium = !(wavelen < hi_wavelen) && !(wavelen > lo_wavelen);
        inv[i] = medium ? smoothed : llama;
    }
}

/* ---- shared steps ------------------------------------------------------------------------------ */

/* Per row: (OLMo-2) q/k norms over the full widths, rotate-half RoPE at the row's position, and the
 * K/V write into the row's context at its slot. qkv is [rows, (H + 2·Hkv)·d]. */
static void qkv_store(const hg_rows *r, const hg_layer *L, const int64_t *slots, float *qkv) {
    const hg_config *c = &r->model->cfg;
    const int64_t H = c->n_head, Hkv = c->n_kv_head, d = c->head_dim;
    const int64_t qd = hg_cfg_q_dim(c), kvd = hg_cfg_kv_dim(c), stride = hg_cfg_qkv_dim(c);
    for (int64_t g = 0; g < r->n_segs; g++) {
        hg_ctx *ctx = r->segs[g].ctx;
        hg_ctx_rope_fill(ctx, r->segs[g].pos0 + (r->segs[g].lens ? 1 : r->segs[g].T));
        for (int64_t i = 0; i < r->segs[g].T; i++) {
            const int64_t pos = r->segs[g].pos0 + (r->segs[g].lens ? 0 : i); /* lens rows: one position */
            float *q = qkv + (r->segs[g].row0 + i) * stride, *k = q + qd, *v = k + kvd;
            if (L->q_norm) { /* OLMo-2: before the split into heads and before RoPE; v is not normed */
                hg_rmsnorm(q, q, L->q_norm, qd, c->norm_eps);
                hg_rmsnorm(k, k, L->k_norm, kvd, c->norm_eps);
            }
            hg_rope_half_cs(q, H, d, hg_ctx_rope(ctx, pos));
            hg_rope_half_cs(k, Hkv, d, hg_ctx_rope(ctx, pos));
            if (!r->segs[g].lens) hg_kv_store(&ctx->kv, slots[g], pos, k, v); /* lens rows write nothing */
        }
    }
}

/* o[rows, h] = proj(attention(in·Wqkvᵀ)): the attention sublayer without its norms. */
static void attn_sublayer(const hg_rows *r, const hg_layer *L, const int64_t *slots, const float *in) {
    const hg_work *w = r->w;
    hg_matmul(w->qkv, in, &L->wqkv, r->rows);
    qkv_store(r, L, slots, w->qkv);
    hg_block_attention(r, slots, w->qkv, w->att);
    hg_matmul(w->o, w->att, &L->attn_proj, r->rows);
}

/* o[rows, h] = down(silu(gate·in) ⊙ up·in): the MLP sublayer. */
static void mlp_sublayer(const hg_rows *r, const hg_layer *L, const float *in) {
    const hg_work *w = r->w;
    const int64_t I = r->model->cfg.intermediate_size;
    hg_matmul(w->fc, in, &L->fc, r->rows);
    for (int64_t i = 0; i < r->rows; i++) hg_silu_mul(w->act + i * I, w->fc + i * 2 * I, w->fc + i * 2 * I + I, I);
    hg_matmul(w->o, w->act, &L->mlp_proj, r->rows);
}

/* ---- the blocks on x[rows, h] in place ---------------------------------------------------------- */

hg_status hg_block_retrofit_llama(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err) {
    const hg_config *c = &r->model->cfg;
    const hg_work *w = r->w;
    const int64_t rows = r->rows, h = c->n_embd;
    int64_t slots[HG_MAX_SEGS];
    hg_status st = hg_block_slots(r, logical, slots, err);
    if (st) return st;
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(w->a + i * h, x + i * h, L->norm[0], h, c->norm_eps);
    attn_sublayer(r, L, slots, w->a);
    for (int64_t i = 0; i < rows * h; i++) x[i] += w->o[i];
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(w->a + i * h, x + i * h, L->norm[1], h, c->norm_eps);
    mlp_sublayer(r, L, w->a);
    for (int64_t i = 0; i < rows * h; i++) x[i] += w->o[i];
    return HG_OK;
}

hg_status hg_block_retrofit_olmo(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err) {
    const hg_config *c = &r->model->cfg;
    const hg_work *w = r->w;
    const int64_t rows = r->rows, h = c->n_embd;
    int64_t slots[HG_MAX_SEGS];
    hg_status st = hg_block_slots(r, logical, slots, err);
    if (st) return st;
    HG_ASSERT(L->q_norm && L->k_norm); /* the OLMo-2 schema binds them */
    attn_sublayer(r, L, slots, x);
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(w->o + i * h, w->o + i * h, L->norm[0], h, c->norm_eps);
    for (int64_t i = 0; i < rows * h; i++) x[i] += w->o[i];
    mlp_sublayer(r, L, x);
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(w->o + i * h, w->o + i * h, L->norm[1], h, c->norm_eps);
    for (int64_t i = 0; i < rows * h; i++) x[i] += w->o[i];
    return HG_OK;
}
