/*
 * ctx.h — internal state of a context: the KV cache, the RoPE table and the scratch buffers the
 * stage functions use. Everything is allocated once in hg_ctx_init (docs/conventions.md rule 10); calls longer
 * than `chunk` positions are processed chunk by chunk, which is exact because attention at every
 * slot only needs the cache entries of earlier positions.
 */
#ifndef HG_CTX_H
#define HG_CTX_H

#include "model/kv_cache.h"

struct hg_ctx {
    const hg_model *model;
    hg_kv kv;
    int64_t n_ctx;
    int64_t n_past;   /* positions held (next prelude write position) */
    int64_t chunk;    /* positions per internal pass */
    int n_threads;
    hg_rng rng;       /* randomized cache lookup */
    /* scratch, all [chunk, ...] unless noted; one owned block */
    float *inv_freq;  /* [d/2] */
    float *x;         /* [chunk, h]  block input / residual stream */
    float *a;         /* [chunk, h]  normed input */
    float *qkv;       /* [chunk, 3h] */
    float *att;       /* [chunk, h]  attention output (heads concatenated) */
    float *o;         /* [chunk, h]  projection output */
    float *fc;        /* [chunk, 2I] gate | up */
    float *act;       /* [chunk, I]  */
    float *cat;       /* [chunk, 2h] adapter input: state | embedding */
    float *e;         /* [chunk, h]  prelude output (for hg_ctx_forward) */
    float *s;         /* [chunk, h]  latent state (for hg_ctx_forward) */
    float *scores;    /* [n_threads, n_ctx] attention scores per thread */
    int64_t *src;     /* [n_ctx] cache lookup sources for the current slot */
    int32_t *ids;     /* [n_ctx] the token at each position held (for prefix reuse) */
    void *scratch;    /* the owned block */
};

/* Rows [row0, row0+T) of a multi-row block call are positions [pos0, pos0+T) of `ctx` (its KV cache,
 * RoPE table, lookup buffers). A context's own stage calls use one segment; a batch one per sequence. */
typedef struct hg_seg {
    hg_ctx *ctx;
    int64_t row0, T, pos0;
} hg_seg;
#define HG_MAX_SEGS 64 /* segments per block call (the most sequences of a batch) */

/* Activation scratch of a block call over `rows` rows: a, att, o [rows, h], qkv [rows, 3h],
 * fc [rows, 2I], act [rows, I]. */
typedef struct hg_work {
    float *a, *qkv, *att, *o, *fc, *act;
} hg_work;

/* One sandwich block (docs/forward-pass.md) on x[rows, h] in place at logical KV slot `logical`: norms and
 * matmuls over all rows together, K/V written and attention done per segment (segments ordered by
 * row0, distinct contexts, same model, sum of T = rows). HG_STATUS_LIMIT when a context has no
 * slot for `logical`, before anything is written. */
hg_status hg_block_forward(const hg_work *w, const hg_layer *L, int64_t logical, float *x, int64_t rows,
                           const hg_seg *segs, int64_t n_segs, hg_error *err);

#endif
