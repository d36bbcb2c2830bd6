/*
 * kv_cache.h — the slot-keyed KV cache of a recurrent-depth model (docs/forward-pass.md "The KV cache",
 * docs/test-time.md "KV-cache strategies").
 *
 * Every application of a layer has a LOGICAL slot: prelude layer i -> i, core layer j of iteration t ->
 * P + t·R + j, coda layer i -> -(i+1). A strategy maps logical slots to PHYSICAL ones (full: one each;
 * compress-sN: core slots share N round-robin; compress-rN: groups of N consecutive core slots share
 * one), and a lookup rule says what a query attends to for a past position that has no entry in the
 * slot (it exited early and never wrote it): skip it (full, skip), or take the same core layer's entry
 * of another iteration (latest, available, always-last, randomized).
 * Each (physical slot, position) entry holds K and V rows of width h and a written flag.
 * Entries are stored in F32, F16 or BF16 (hg_ctx_params.kv_type): rows are rounded to nearest-even
 * when written (hg_kv_store) and widened element by element when attention reads them
 * (hg_vec_ops.dot_kv / axpy_kv), so a 16-bit cache halves the bytes decode attention reads.
 */
#ifndef HG_KV_CACHE_H
#define HG_KV_CACHE_H

#include "model/model.h"

typedef enum hg_kv_map { HG_KV_MAP_FULL, HG_KV_MAP_COMPRESS_S, HG_KV_MAP_COMPRESS_R, HG_KV_MAP_ANCHOR } hg_kv_map;
typedef enum hg_kv_lookup {
    HG_KV_LOOKUP_FULL,        /* missing positions left out */
    HG_KV_LOOKUP_SKIP,        /* same as full (the reference's explicit name) */
    HG_KV_LOOKUP_LATEST,      /* deepest same-layer entry at or below the current slot */
    HG_KV_LOOKUP_AVAILABLE,   /* exact entry if present, else as latest */
    HG_KV_LOOKUP_ALWAYS_LAST, /* deepest same-layer entry anywhere */
    HG_KV_LOOKUP_RANDOMIZED,  /* a random same-layer entry at or below the current slot */
} hg_kv_lookup;

typedef struct hg_kv_strategy {
    hg_kv_map map;
    int64_t n; /* N of compress-sN / compress-rN */
    hg_kv_lookup lookup;
} hg_kv_strategy;

typedef struct hg_kv {
    hg_kv_strategy strat;
    int64_t P, R, C;     /* layer counts of the model */
    int64_t max_steps;   /* iterations with slots (full map / compress-r); unbounded for compress-s */
    int64_t n_core;      /* physical core slots */
    int64_t n_slots;     /* physical slots: P + n_core + C */
    int64_t n_ctx, width;
    hg_dtype type;       /* entry type: F32, F16 or BF16 */
    size_t esize;        /* bytes per element of `type` */
    void *k, *v;         /* [n_ctx, n_slots, width] each, in `type` (owned; hg_kv_at) */
    uint8_t *written;    /* [n_ctx, n_slots] (owned) */
} hg_kv;

/* Parse a strategy string: "full", "skip", "compress-sN", "compress-rN", "compress-anchor",
 * "latest-m4", "available-m4", "always-last-m4", "randomized", and lookup-compress combinations such
 * as "latest-m4-compress-s16". The "m4" suffix is the reference's name; same-layer is derived from R. */
hg_status hg_kv_strategy_parse(const char *s, hg_kv_strategy *out, hg_error *err);
/* Physical slots of a strategy for a model at max_steps iterations. */
int64_t hg_kv_n_slots(const hg_kv_strategy *s, const hg_config *c, int64_t max_steps);

/* Bytes per element of a KV entry type; 0 for a type the cache cannot hold (only F32, F16, BF16). */
size_t hg_kv_type_size(hg_dtype type);

/* Allocate the cache; type must be F32, F16 or BF16 (HG_STATUS_BAD_ARG otherwise). */
hg_status hg_kv_init_type(hg_kv *kv, const hg_kv_strategy *s, const hg_config *c, int64_t n_ctx, int64_t max_steps,
                          hg_dtype type, hg_error *err);
/* The same with f32 entries. */
hg_status hg_kv_init(hg_kv *kv, const hg_kv_strategy *s, const hg_config *c, int64_t n_ctx, int64_t max_steps,
                     hg_error *err);
void hg_kv_free(hg_kv *kv);
/* Physical slot of a logical one; -1 if the strategy has no slot for it (more steps than allocated). */
int64_t hg_kv_phys(const hg_kv *kv, int64_t logical);
/* Index of the entry (slot, pos) in k, v (rows of width) and written. Position-major: a new position's
 * entries, which every layer and iteration of a token writes, lie together, so the cache's memory
 * grows with the context a few pages at a time, and the huge pages a cache of 2 MiB or more is
 * allocated on (hg_malloc_huge) are each touched once, not once per slot. */
static inline size_t hg_kv_at(const hg_kv *kv, int64_t slot, int64_t pos) {
    return (size_t)pos * (size_t)kv->n_slots + (size_t)slot;
}
/* The K / V row [width] of an entry, in kv->type. */
static inline const void *hg_kv_k(const hg_kv *kv, int64_t slot, int64_t pos) {
    return (const uint8_t *)kv->k + hg_kv_at(kv, slot, pos) * (size_t)kv->width * kv->esize;
}
static inline const void *hg_kv_v(const hg_kv *kv, int64_t slot, int64_t pos) {
    return (const uint8_t *)kv->v + hg_kv_at(kv, slot, pos) * (size_t)kv->width * kv->esize;
}
/* Write the entry (slot, pos) from f32 rows k[width], v[width] (converted to kv->type) and mark it. */
void hg_kv_store(hg_kv *kv, int64_t slot, int64_t pos, const float *k, const float *v);
/* For attention at physical slot `slot` over positions [0, n): src[q] = physical slot to read
 * position q from, or -1 to leave it out. rng is used only by the randomized rule. */
void hg_kv_sources(const hg_kv *kv, int64_t slot, int64_t n, int64_t *src /* [n] */, hg_rng *rng);
/* Forget positions >= n_keep in every slot. */
void hg_kv_truncate(hg_kv *kv, int64_t n_keep);
/* Whether src's entries can be copied into dst (same slots, width, type; dst at least as long). */
bool hg_kv_same_layout(const hg_kv *dst, const hg_kv *src);
/* dst holds positions [0, n) of every slot exactly as src does, and nothing beyond (layouts equal,
 * n <= both n_ctx: the caller checks). */
void hg_kv_copy_prefix(hg_kv *dst, const hg_kv *src, int64_t n);

#endif
