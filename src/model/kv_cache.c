/*
 * kv_cache.c — slot mapping, storage and lookup of the recurrent-depth KV cache (kv_cache.h).
 *
 * Semantics follow the reference's HuginnDynamicCache (raven_modeling_minimal.py), with the block
 * structure derived from the config instead of hard-coded (P = 2, R = 4 there):
 *   compress-sN: core logical slot c -> P + (c - P) mod N
 *   compress-rN: core logical slot c -> P + (c - P) div N
 *   compress-anchor: the first 8 iterations keep their slots, later ones share the 9th iteration's R
 *   "same layer" for lookups = same (physical core index mod R), as the reference's `s % 4` on mapped
 *   indices; a missing prelude or coda entry falls back to slot 0, as the reference does.
 * Storage is allocated once for n_ctx positions: memory follows the strategy (compress-s16 on
 * Huginn holds 20 slots per token, not 132). It lies position-major, on transparent huge pages when it
 * spans one (kv_cache.h hg_kv_at): a token writes one entry per slot, every layer and iteration, and in
 * slot-major order on small pages each of those writes would land on a page of its own, a page fault
 * per entry on the decode path (docs/results/serve.md, "the 1024-wide model's batched step").
 */
#include "model/kv_cache.h"

#include <stdio.h>
#include <stdlib.h>

static bool parse_n(const char *p, int64_t *n) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || *end || v <= 0 || v > 1000000) return false;
    *n = v;
    return true;
}

hg_status hg_kv_strategy_parse(const char *s, hg_kv_strategy *out, hg_error *err) {
    hg_kv_strategy r = {HG_KV_MAP_FULL, 0, HG_KV_LOOKUP_FULL};
    if (!s || !*s) s = "full";
    const char *p = s;
    static const struct {
        const char *name;
        hg_kv_lookup l;
    } lookups[] = {
        {"latest-m4", HG_KV_LOOKUP_LATEST},           {"available-m4", HG_KV_LOOKUP_AVAILABLE},
        {"always-last-m4", HG_KV_LOOKUP_ALWAYS_LAST}, {"randomized", HG_KV_LOOKUP_RANDOMIZED},
        {"skip", HG_KV_LOOKUP_SKIP},                  {"full", HG_KV_LOOKUP_FULL},
    };
    for (size_t i = 0; i < sizeof lookups / sizeof lookups[0]; i++) {
        size_t n = strlen(lookups[i].name);
        if (!strncmp(p, lookups[i].name, n) && (p[n] == 0 || p[n] == '-')) {
            r.lookup = lookups[i].l;
            p += n;
            if (*p == '-') p++;
            break;
        }
    }
    if (*p) {
        if (!strcmp(p, "compress-anchor")) {
            r.map = HG_KV_MAP_ANCHOR;
        } else if (!strncmp(p, "compress-s", 10) && parse_n(p + 10, &r.n)) {
            r.map = HG_KV_MAP_COMPRESS_S;
        } else if (!strncmp(p, "compress-r", 10) && parse_n(p + 10, &r.n)) {
            r.map = HG_KV_MAP_COMPRESS_R;
        } else {
            return hg_err(err, HG_STATUS_BAD_ARG,
                          "unknown KV-cache strategy `%s` (expected full, skip, latest-m4, available-m4, "
                          "always-last-m4, randomized, compress-sN, compress-rN, compress-anchor, or "
                          "LOOKUP-compress-...)",
                          s);
        }
    }
    *out = r;
    return HG_OK;
}

static int64_t core_slots(const hg_kv_strategy *s, int64_t R, int64_t max_steps) {
    switch (s->map) {
    case HG_KV_MAP_FULL: return R * max_steps;
    case HG_KV_MAP_COMPRESS_S: return s->n;
    case HG_KV_MAP_COMPRESS_R: return (R * max_steps + s->n - 1) / s->n;
    case HG_KV_MAP_ANCHOR: return hg_min_i64(R * max_steps, 9 * R);
    }
    return 0;
}

int64_t hg_kv_n_slots(const hg_kv_strategy *s, const hg_config *c, int64_t max_steps) {
    return c->n_layers_prelude + core_slots(s, c->n_layers_core, max_steps) + c->n_layers_coda;
}

size_t hg_kv_type_size(hg_dtype type) {
    switch (type) {
    case HG_DTYPE_F32: return 4;
    case HG_DTYPE_F16:
    case HG_DTYPE_BF16: return 2;
    default: return 0;
    }
}

hg_status hg_kv_init_type(hg_kv *kv, const hg_kv_strategy *s, const hg_config *c, int64_t n_ctx, int64_t max_steps,
                          hg_dtype type, hg_error *err) {
    memset(kv, 0, sizeof *kv);
    const size_t esize = hg_kv_type_size(type);
    if (!esize)
        return hg_err(err, HG_STATUS_BAD_ARG, "KV-cache type %s is not supported (use f32, f16 or bf16)",
                      hg_dtype_name(type));
    kv->type = type;
    kv->esize = esize;
    kv->strat = *s;
    kv->P = c->n_layers_prelude;
    kv->R = c->n_layers_core;
    kv->C = c->n_layers_coda;
    kv->max_steps = max_steps;
    kv->n_core = core_slots(s, kv->R, max_steps);
    kv->n_slots = kv->P + kv->n_core + kv->C;
    kv->n_ctx = n_ctx;
    kv->width = (c->n_kv_head ? c->n_kv_head : c->n_head) * c->head_dim; /* K/V of the KV heads */
    size_t n_entries, n_floats, n_bytes;
    if (!hg_mul_ok((size_t)kv->n_slots, (size_t)n_ctx, &n_entries) ||
        !hg_mul_ok(n_entries, (size_t)kv->width, &n_floats) || !hg_mul_ok(n_floats, esize, &n_bytes))
        return hg_err(err, HG_STATUS_LIMIT, "KV cache of %lld slots x %lld positions overflows", (long long)kv->n_slots,
                      (long long)n_ctx);
    void *(*const alloc)(size_t) = n_bytes >= HG_HUGE_PAGE ? hg_malloc_huge : hg_malloc;
    kv->k = alloc(n_bytes);
    kv->v = alloc(n_bytes);
    kv->written = hg_calloc(n_entries, 1);
    if (!kv->k || !kv->v || !kv->written) {
        hg_kv_free(kv);
        return hg_err(err, HG_STATUS_NOMEM,
                      "cannot allocate the KV cache: %lld slots x %lld positions x %lld %s x 2 = %.2f GB "
                      "(lower the context with -c, use --kv-type bf16 or a compressing --kv-cache strategy)",
                      (long long)kv->n_slots, (long long)n_ctx, (long long)kv->width, hg_dtype_name(type),
                      2.0 * (double)n_bytes / 1e9);
    }
    return HG_OK;
}

hg_status hg_kv_init(hg_kv *kv, const hg_kv_strategy *s, const hg_config *c, int64_t n_ctx, int64_t max_steps,
                     hg_error *err) {
    return hg_kv_init_type(kv, s, c, n_ctx, max_steps, HG_DTYPE_F32, err);
}

void hg_kv_free(hg_kv *kv) {
    if (!kv) return;
    hg_free(kv->k);
    hg_free(kv->v);
    hg_free(kv->written);
    kv->k = kv->v = NULL;
    kv->written = NULL;
}

int64_t hg_kv_phys(const hg_kv *kv, int64_t logical) {
    if (logical < 0) { /* coda: -1, -2, ... */
        int64_t i = -logical - 1;
        return i < kv->C ? kv->P + kv->n_core + i : -1;
    }
    if (logical < kv->P) return logical;
    int64_t c = logical - kv->P; /* core layer-step index */
    switch (kv->strat.map) {
    case HG_KV_MAP_FULL:
        return c < kv->n_core ? kv->P + c : -1;
    case HG_KV_MAP_COMPRESS_S:
        return kv->P + c % kv->strat.n;
    case HG_KV_MAP_COMPRESS_R: {
        int64_t k = c / kv->strat.n;
        return k < kv->n_core ? kv->P + k : -1;
    }
    case HG_KV_MAP_ANCHOR:
        if (c < 8 * kv->R) return kv->P + c;
        return kv->P + 8 * kv->R + (c - 8 * kv->R) % kv->R;
    }
    return -1;
}

void hg_kv_store(hg_kv *kv, int64_t slot, int64_t pos, const float *k, const float *v) {
    const size_t at = hg_kv_at(kv, slot, pos), w = (size_t)kv->width;
    switch (kv->type) {
    case HG_DTYPE_F16: {
        uint16_t *kd = (uint16_t *)kv->k + at * w, *vd = (uint16_t *)kv->v + at * w;
        for (size_t i = 0; i < w; i++) kd[i] = hg_f32_to_f16(k[i]), vd[i] = hg_f32_to_f16(v[i]);
        break;
    }
    case HG_DTYPE_BF16: {
        uint16_t *kd = (uint16_t *)kv->k + at * w, *vd = (uint16_t *)kv->v + at * w;
        for (size_t i = 0; i < w; i++) kd[i] = hg_f32_to_bf16(k[i]), vd[i] = hg_f32_to_bf16(v[i]);
        break;
    }
    default:
        memcpy((float *)kv->k + at * w, k, w * sizeof(float));
        memcpy((float *)kv->v + at * w, v, w * sizeof(float));
        break;
    }
    kv->written[at] = 1;
}

static inline bool has(const hg_kv *kv, int64_t slot, int64_t pos) {
    return kv->written[hg_kv_at(kv, slot, pos)] != 0;
}

void hg_kv_sources(const hg_kv *kv, int64_t slot, int64_t n, int64_t *src, hg_rng *rng) {
    const hg_kv_lookup L = kv->strat.lookup;
    const bool core = slot >= kv->P && slot < kv->P + kv->n_core;
    bool complete = true;
    for (int64_t q = 0; q < n && complete; q++) complete = has(kv, slot, q);
    /* the reference materialises the slot as it is when every position has an entry, or under `full` */
    if (complete || L == HG_KV_LOOKUP_FULL || L == HG_KV_LOOKUP_SKIP) {
        for (int64_t q = 0; q < n; q++) src[q] = has(kv, slot, q) ? slot : -1;
        return;
    }
    const int64_t k = slot - kv->P, layer = core ? k % kv->R : 0;
    for (int64_t q = 0; q < n; q++) {
        src[q] = -1;
        if (!core) { /* prelude/coda: the reference falls back to slot 0 */
            src[q] = has(kv, slot, q) ? slot : (has(kv, 0, q) ? 0 : -1);
            continue;
        }
        if (L == HG_KV_LOOKUP_LATEST || L == HG_KV_LOOKUP_AVAILABLE) {
            for (int64_t kk = k; kk >= 0; kk -= kv->R)
                if (has(kv, kv->P + kk, q)) {
                    src[q] = kv->P + kk;
                    break;
                }
        } else if (L == HG_KV_LOOKUP_ALWAYS_LAST) {
            int64_t top = layer + ((kv->n_core - 1 - layer) / kv->R) * kv->R;
            for (int64_t kk = top; kk >= 0; kk -= kv->R)
                if (has(kv, kv->P + kk, q)) {
                    src[q] = kv->P + kk;
                    break;
                }
        } else { /* randomized: uniform among same-layer entries at or below k */
            int64_t cnt = 0;
            for (int64_t kk = layer; kk <= k; kk += kv->R) cnt += has(kv, kv->P + kk, q);
            if (cnt) {
                int64_t pick = (int64_t)(hg_rng_u64(rng) % (uint64_t)cnt);
                for (int64_t kk = layer; kk <= k; kk += kv->R)
                    if (has(kv, kv->P + kk, q) && pick-- == 0) {
                        src[q] = kv->P + kk;
                        break;
                    }
            }
        }
    }
}

void hg_kv_truncate(hg_kv *kv, int64_t n_keep) {
    if (n_keep >= kv->n_ctx) return;
    memset(kv->written + hg_kv_at(kv, 0, n_keep), 0, (size_t)(kv->n_ctx - n_keep) * (size_t)kv->n_slots);
}

bool hg_kv_same_layout(const hg_kv *dst, const hg_kv *src) {
    return dst->n_slots == src->n_slots && dst->width == src->width && dst->type == src->type &&
           dst->P == src->P && dst->R == src->R && dst->C == src->C && dst->n_core == src->n_core &&
           dst->strat.map == src->strat.map && dst->strat.n == src->strat.n && dst->strat.lookup == src->strat.lookup;
}

void hg_kv_copy_prefix(hg_kv *dst, const hg_kv *src, int64_t n) {
    /* positions [0, n) of every slot are the first n · n_slots entries of both (same slots) */
    const size_t row = (size_t)dst->width * dst->esize, entries = hg_kv_at(dst, 0, n);
    memcpy(dst->k, src->k, entries * row);
    memcpy(dst->v, src->v, entries * row);
    memcpy(dst->written, src->written, entries);
    hg_kv_truncate(dst, n);
}
