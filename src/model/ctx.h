/*
 * ctx.h — internal state of a context (the KV cache, the RoPE table, scratch) and the ONE block
 * pipeline every inference path runs: rows of activations, each row a position of some context, go
 * through the prelude, a core iteration or the coda together (every weight matrix read once for all
 * rows), while K/V writes and attention stay per context. The per-context stage functions (stages.c,
 * forward.c) call it with one segment; a batch (batch.c) with one segment per sequence.
 *
 * Everything a context needs is allocated once in hg_ctx_init; calls longer than `chunk` positions
 * are processed chunk by chunk, which is exact because attention at every slot only needs the cache
 * entries of earlier positions.
 */
#ifndef HG_CTX_H
#define HG_CTX_H

#include "model/kv_cache.h"

/* Activation scratch of a pipeline call over `rows` rows (q = H·d, qkv = (H + 2·Hkv)·d, w = max(h, q)):
 * a, o, x [rows, h]; att [rows, w]; qkv [rows, qkv]; fc [rows, 2I]; act [rows, I]; cat [rows, 2h]. */
typedef struct hg_work {
    float *a, *qkv, *att, *o, *fc, *act, *cat, *x;
} hg_work;

/* Floats of an hg_work for `rows` rows of config c. */
size_t hg_work_floats(const hg_config *c, int64_t rows);
/* Carve an hg_work for `rows` rows out of f (hg_work_floats(c, rows) floats); returns the end. */
float *hg_work_carve(hg_work *w, const hg_config *c, int64_t rows, float *f);

struct hg_ctx {
    const hg_model *model;
    hg_kv kv;
    int64_t n_ctx;
    int64_t n_past;   /* positions held (next prelude write position) */
    int64_t chunk;    /* positions per internal pass */
    int n_threads;
    hg_rng rng;       /* randomized cache lookup */
    hg_ctx_counters count; /* layer applications x positions, by stage */
    hg_work w;        /* [chunk, ...] scratch of the context's own stage calls */
    float *inv_freq;  /* [d/2] */
    float *rope_cs;   /* [n_ctx, d]: each position's RoPE cos then sin (hg_rope_angles), rows < rope_n filled */
    int64_t rope_n;
    float *e;         /* [chunk, h]  prelude output (for hg_ctx_forward) */
    float *s;         /* [chunk, h]  latent state (for hg_ctx_forward) */
    float *scores;    /* [n_threads, n_ctx] attention scores per thread */
    int64_t *src;     /* [n_ctx] cache lookup sources for the current slot */
    int32_t *ids;     /* [n_ctx] the token at each position held (for prefix reuse) */
    void *scratch;    /* the owned block */
};

/* The RoPE table's rows of positions [0, end) filled (hg_ctx_rope_fill; before the threads of a call
 * read them) and one position's row: angles are a position's alone, so a token's cos/sin are computed
 * once, not at each of its layer applications. */
void hg_ctx_rope_fill(hg_ctx *ctx, int64_t end);
static inline const float *hg_ctx_rope(const hg_ctx *ctx, int64_t pos) {
    return ctx->rope_cs + pos * ctx->model->cfg.head_dim;
}

/* Rows [row0, row0+T) of a pipeline call are positions [pos0, pos0+T) of `ctx` (its KV cache, RoPE
 * table, lookup buffers). A context's own stage calls use one segment; a batch one per sequence.
 * A `lens` segment is different: its T rows are alternative states of the one position pos0; each
 * attends to the cache's positions below pos0 and to its own K/V, and nothing is written to the cache
 * (hg_ctx_coda_lens: the logit lens of many iterations in one read of the coda's weights). */
typedef struct hg_seg {
    hg_ctx *ctx;
    int64_t row0, T, pos0;
    bool lens;
} hg_seg;
#define HG_MAX_SEGS 64 /* segments per call (the most sequences of a batch) */

/* One call of the pipeline: `rows` rows split into segments (ordered by row0, distinct contexts of
 * one model, sum of T = rows), with scratch for that many rows. */
typedef struct hg_rows {
    const hg_model *model;
    const hg_work *w;
    const hg_seg *segs;
    int64_t n_segs, rows;
} hg_rows;

/* The initial states s[Tc, h] of a fixed-depth pass's chunk at offset c0 of its call: rows c0.. of
 * fp->init_state, else drawn from the call's stream *seed (advanced). hg_ctx_forward and
 * hg_batch_prefill both draw through it, so a prompt prefilled either way starts from the same states. */
void hg_chunk_init_state(const hg_model *m, const hg_forward_params *fp, int64_t c0, int64_t Tc, float *s,
                         uint64_t *seed);

/* e[rows, h] = the prelude of ids[rows]: embedding x sqrt(h), P layers. Records the ids and advances
 * each context's n_past to cover its segment. ids must be < vocab_size (the callers check). */
hg_status hg_prelude_rows(const hg_rows *r, const int32_t *ids, float *e, hg_error *err);
/* s[rows, h] <- core iteration `step` of every row: adapter(concat(s, e)), R layers at the logical
 * slots P + step·R + j. */
hg_status hg_core_rows(const hg_rows *r, float *s, const float *e, int64_t step, hg_error *err);
/* latents[rows, h] = ln_f(s) (may be NULL); the C coda layers (their K/V are written); logits[rows, V]
 * = lm_head(ln_f(coda output)) when logits is not NULL. s is not modified. */
hg_status hg_coda_rows(const hg_rows *r, const float *s, float *latents, float *logits, hg_error *err);

/* One block of the model's architecture on x[rows, h] in place at logical KV slot `logical`: norms
 * and matmuls over all rows together, K/V written and attention done per segment. HG_STATUS_LIMIT
 * when a context has no slot for `logical`, before anything is written. */
hg_status hg_block_forward(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err);

/* Shared pieces of the block functions (block.c): the physical slots of `logical` for every segment
 * (HG_STATUS_LIMIT when a context has none), and causal attention att[rows, H·d] over the cache for
 * qkv [rows, (H + 2·Hkv)·d] whose K/V rows are already stored. */
hg_status hg_block_slots(const hg_rows *r, int64_t logical, int64_t *slots, hg_error *err);
void hg_block_attention(const hg_rows *r, const int64_t *slots, const float *qkv, float *att);

/* Ouro (block_ouro.c, docs/family.md): its block; its core iteration (the embedding is the state
 * entering iteration 0, all R layers, then the final norm, whose output the next iteration reads);
 * its coda (latents = s, logits = lm_head(s): the state is already normed). */
hg_status hg_ouro_block(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err);
hg_status hg_ouro_core_rows(const hg_rows *r, float *s, const float *e, int64_t step, hg_error *err);
hg_status hg_ouro_coda_rows(const hg_rows *r, const float *s, float *latents, float *logits, hg_error *err);

/* The retrofitted-recurrence blocks (block_retrofit.c; docs/family.md): Llama pre-norm, OLMo-2
 * post-norm with q/k norms. Same contract as hg_block_forward, without the work counters. */
hg_status hg_block_retrofit_llama(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err);
hg_status hg_block_retrofit_olmo(const hg_rows *r, const hg_layer *L, int64_t logical, float *x, hg_error *err);
/* inv_freq [d/2] of a retrofitted model: Hugging Face's f32 formula over rope_base (= rope_theta), with
 * rope_scaling "llama3" applied when c->rope_factor > 0. */
void hg_retrofit_inv_freq(const hg_config *c, float *inv_freq);

#endif
