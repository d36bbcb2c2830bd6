/*
 * block.c — one transformer block of a model's architecture on the rows of a pipeline call
 * (ctx.h), and the attention over the slot-keyed KV cache it uses. The Huginn "sandwich" block is
 * the first architecture (docs/forward-pass.md "One sandwich block"); another looped architecture
 * adds its block function to k_blocks. The loops over positions and heads stay here; the heavy
 * lifting is hg_matmul (kernels/), so a faster kernel speeds every stage.
 *
 * Rows are segments of sequences: norms and matmuls run over all rows at once (one read of W for
 * every sequence of a batch), K/V are written and attention is done per segment, each over its own
 * context's cache. Attention supports grouped-query attention: query head hh reads K/V head
 * hh / (H / Hkv).
 */
#include "model/ctx.h"
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>

/* ---- attention over the cache --------------------------------------------------------------- */

/* The segment holding row r (segments are few: 1 for a context, one per sequence for a batch). */
static inline const hg_seg *seg_of(const hg_seg *segs, int64_t n_segs, int64_t r) {
    int64_t i = 0;
    while (i + 1 < n_segs && r >= segs[i + 1].row0) i++;
    return &segs[i];
}

/* The key (or value) a query at position p reads at position kp: a lens row's own entry at p (own,
 * f32; NULL for other rows), else the cache entry src[kp] points to, offset to the head; NULL: none. */
static inline const void *kv_entry(const hg_kv *kv, const int64_t *src, int64_t kp, int64_t p, size_t off,
                                   const float *own, bool key) {
    if (own && kp == p) return own;
    if (src[kp] < 0) return NULL;
    return (const uint8_t *)(key ? hg_kv_k(kv, src[kp], kp) : hg_kv_v(kv, src[kp], kp)) + off;
}

/* att[rows, H·d] = softmax(q·Kᵀ/√d)·V per head, each row over its own sequence's cache at its
 * segment's physical slot. qkv is [rows, (H + 2·Hkv)·d]; every segment's K/V rows are already stored. */
static void attention(const hg_rows *r, const int64_t *slots, const float *qkv, float *att) {
    const hg_seg *segs = r->segs;
    const int64_t n_segs = r->n_segs, rows = r->rows;
    const hg_config *c = &r->model->cfg;
    const int64_t H = c->n_head, d = c->head_dim, qd = hg_cfg_q_dim(c), stride = hg_cfg_qkv_dim(c);
    const int64_t group = H / (c->n_kv_head ? c->n_kv_head : H);
    const float scale = (float)(1.0 / sqrt((double)d));
    double work = 0;
    for (int64_t g = 0; g < n_segs; g++) {
        hg_ctx *ctx = segs[g].ctx;
        /* positions in the cache visible to the segment's last query (a lens segment's own K/V is in qkv) */
        const int64_t n = segs[g].pos0 + (segs[g].lens ? 0 : segs[g].T);
        hg_kv_sources(&ctx->kv, slots[g], n, ctx->src, &ctx->rng);
        work += 2.0 * (double)segs[g].T * (double)n * (double)qd; /* the scores' dots and the values' axpys */
    }
    const hg_vec_ops *vec = hg_vec(); /* SIMD dot/axpy over head_dim (kernels/) */
    const bool par = work >= HG_PAR_MIN_MACS;
#pragma omp parallel for schedule(static, 1) collapse(2) if (par)
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t hh = 0; hh < H; hh++) {
            const hg_seg *sg = seg_of(segs, n_segs, row);
            const hg_ctx *ctx = sg->ctx;
            const hg_kv *kv = &ctx->kv;
            const int64_t *src = ctx->src;
            /* entries are read in the cache's type, widened in registers (kv_cache.h) */
            float (*const dot)(const float *, const void *, int64_t) = vec->dot_kv[kv->type];
            void (*const axpy)(float *, float, const void *, int64_t) = vec->axpy_kv[kv->type];
            const size_t off = (size_t)((hh / group) * d) * kv->esize;
            float *sc = ctx->scores + (size_t)omp_get_thread_num() * (size_t)ctx->n_ctx;
            const float *q = qkv + row * stride + hh * d;
            float *out = att + row * qd + hh * d;
            const int64_t p = sg->pos0 + (sg->lens ? 0 : row - sg->row0);
            if (!sg->lens && vec->attend_kv[kv->type]) { /* the loop below in one call (kernels.h) */
                const size_t rb = (size_t)kv->width * kv->esize; /* hg_kv_k's layout */
                vec->attend_kv[kv->type](out, q, (const uint8_t *)kv->k + off, (const uint8_t *)kv->v + off, src, rb,
                                         (size_t)kv->n_slots * rb, p + 1, d, scale, sc);
                continue;
            }
            /* a lens row's own key and value (position p) come from its qkv row, as f32: the cache type
             * (hg_ctx_coda_lens accepts f32 caches only, so this equals storing and reading back) */
            const float *own_k = sg->lens ? qkv + row * stride + qd + (hh / group) * d : NULL;
            const float *own_v = sg->lens ? own_k + hg_cfg_kv_dim(c) : NULL;
            int64_t m = 0;
            float mx = -INFINITY;
            for (int64_t kp = 0; kp <= p; kp++) {
                const void *k = kv_entry(kv, src, kp, p, off, own_k, true);
                if (!k) continue;
                sc[kp] = dot(q, k, d) * scale;
                if (sc[kp] > mx) mx = sc[kp];
                m++;
            }
            for (int64_t t = 0; t < d; t++) out[t] = 0;
            if (m == 0) continue; /* cannot happen: the query's own entry is always present */
            double sum = 0;
            for (int64_t kp = 0; kp <= p; kp++) {
                if (!kv_entry(kv, src, kp, p, off, own_k, true)) continue;
                sc[kp] = expf(sc[kp] - mx);
                sum += (double)sc[kp];
            }
            const float inv = (float)(1.0 / sum);
            for (int64_t kp = 0; kp <= p; kp++) {
                const void *v = kv_entry(kv, src, kp, p, off, own_v, false);
                if (v) axpy(out, sc[kp] * inv, v, d);
            }
        }
    }
}

/* q/k bias, RoPE and the K/V write of every row, each at its segment's position; a batch's rows spread
 * over the threads (each row writes only its own q, k and cache entry). */
static void qkv_store(const hg_rows *r, const hg_layer *L, const int64_t *slots, float *qkv) {
    const hg_config *c = &r->model->cfg;
    const int64_t H = c->n_head, Hkv = c->n_kv_head ? c->n_kv_head : H, d = c->head_dim;
    const int64_t qd = hg_cfg_q_dim(c), kvd = hg_cfg_kv_dim(c), stride = hg_cfg_qkv_dim(c);
    const bool spread = r->rows > 1 && (double)r->rows * (double)stride >= HG_PAR_MIN_ROWS;
    for (int64_t g = 0; g < r->n_segs; g++) /* before the threads read the tables */
        hg_ctx_rope_fill(r->segs[g].ctx, r->segs[g].pos0 + (r->segs[g].lens ? 1 : r->segs[g].T));
#pragma omp parallel for schedule(static) if (spread)
    for (int64_t row = 0; row < r->rows; row++) {
        const hg_seg *sg = seg_of(r->segs, r->n_segs, row);
        hg_ctx *ctx = sg->ctx;
        const int64_t pos = sg->pos0 + (sg->lens ? 0 : row - sg->row0);
        float *q = qkv + row * stride, *k = q + qd, *v = k + kvd;
        if (L->qk_bias) /* [2, H·d]: row 0 added to q, row 1 to k (Huginn has Hkv = H) */
            for (int64_t j = 0; j < qd; j++) {
                q[j] += L->qk_bias[j];
                if (j < kvd) k[j] += L->qk_bias[qd + j];
            }
        hg_rope_cs(q, H, d, hg_ctx_rope(ctx, pos));
        hg_rope_cs(k, Hkv, d, hg_ctx_rope(ctx, pos));
        if (!sg->lens) hg_kv_store(&ctx->kv, slots[sg - r->segs], pos, k, v);
    }
}

/* Physical slots of `logical` for every segment; HG_STATUS_LIMIT when a context has none. */
static hg_status find_slots(const hg_rows *r, int64_t logical, int64_t *slots, hg_error *err) {
    HG_ASSERT(r->n_segs >= 1 && r->n_segs <= HG_MAX_SEGS);
    for (int64_t g = 0; g < r->n_segs; g++) {
        slots[g] = hg_kv_phys(&r->segs[g].ctx->kv, logical);
        if (slots[g] < 0)
            return hg_err(err, HG_STATUS_LIMIT,
                          "the KV cache has no slot for layer-step %lld: the context was made for %lld iterations "
                          "(raise max_steps / --steps)",
                          (long long)logical, (long long)r->segs[g].ctx->kv.max_steps);
    }
    return HG_OK;
}

/* ---- the Huginn sandwich block on x[rows, h] in place ----------------------------------------- */

/* Per row: x += o, then x = RMSNorm(x; n1), and with n2 also a = RMSNorm(x; n2); rows spread over the
 * threads when `spread` (a row's arithmetic is the same on any thread). */
static void residual_norms(int64_t rows, int64_t h, float eps, bool spread, float *x, const float *o, const float *n1,
                           float *a, const float *n2) {
#pragma omp parallel for schedule(static) if (spread)
    for (int64_t i = 0; i < rows; i++) {
        float *xi = x + i * h;
        for (int64_t j = 0; j < h; j++) xi[j] += o[i * h + j];
        hg_rmsnorm(xi, xi, n1, h, eps);
        if (n2) hg_rmsnorm(a + i * h, xi, n2, h, eps);
    }
}

static hg_status huginn_block(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err) {
    const hg_config *c = &r->model->cfg;
    const hg_work *w = r->w;
    const int64_t rows = r->rows, h = c->n_embd, I = c->intermediate_size;
    const float eps = c->norm_eps;
    int64_t slots[HG_MAX_SEGS];
    hg_status st = find_slots(r, logical, slots, err);
    if (st) return st;
    float *a = w->a, *o = w->o;
    /* the weight matrices meet all rows at once (one read of W for every sequence of a batch); the
     * per-row work between them is spread over the threads once there are enough rows for it to pay
     * (a batch's rows; a row's arithmetic is the same on any thread) */
    const bool spread = rows > 1 && (double)rows * (double)I >= HG_PAR_MIN_ROWS;
#pragma omp parallel for schedule(static) if (spread)
    for (int64_t i = 0; i < rows; i++) hg_rmsnorm(a + i * h, x + i * h, L->norm[0], h, eps);
    hg_matmul(w->qkv, a, &L->wqkv, rows);
    qkv_store(r, L, slots, w->qkv);
    attention(r, slots, w->qkv, w->att);
    hg_matmul(o, w->att, &L->attn_proj, rows);
    residual_norms(rows, h, eps, spread, x, o, L->norm[1], a, L->norm[2]);
    hg_matmul(w->fc, a, &L->fc, rows);
#pragma omp parallel for schedule(static) if (spread)
    for (int64_t i = 0; i < rows; i++) hg_silu_mul(w->act + i * I, w->fc + i * 2 * I, w->fc + i * 2 * I + I, I);
    hg_matmul(o, w->act, &L->mlp_proj, rows);
    residual_norms(rows, h, eps, spread, x, o, L->norm[3], NULL, NULL);
    return HG_OK;
}

/* ---- the pieces other architectures' blocks share (ctx.h: Ouro, retrofitted recurrence) ---------- */

hg_status hg_block_slots(const hg_rows *r, int64_t logical, int64_t *slots, hg_error *err) {
    return find_slots(r, logical, slots, err);
}

void hg_block_attention(const hg_rows *r, const int64_t *slots, const float *qkv, float *att) {
    attention(r, slots, qkv, att);
}

/* ---- dispatch by architecture ------------------------------------------------------------------ */

typedef hg_status (*block_fn)(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err);
static const block_fn k_blocks[HG_ARCH_COUNT] = {[HG_ARCH_HUGINN] = huginn_block, [HG_ARCH_OURO] = hg_ouro_block,
                                                 [HG_ARCH_RETROFIT_LLAMA] = hg_block_retrofit_llama,
                                                 [HG_ARCH_RETROFIT_OLMO] = hg_block_retrofit_olmo};

hg_status hg_block_forward(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err) {
    const hg_status st = k_blocks[r->model->cfg.arch](r, L, logical, x, err);
    if (st) return st;
    /* work accounting by stage: prelude slots are 0..P-1, core slots P.., coda slots negative */
    for (int64_t g = 0; g < r->n_segs; g++) {
        hg_ctx_counters *n = &r->segs[g].ctx->count;
        int64_t *stage = logical < 0 ? &n->coda : logical < r->model->cfg.n_layers_prelude ? &n->prelude : &n->core;
        *stage += r->segs[g].T;
    }
    return HG_OK;
}
