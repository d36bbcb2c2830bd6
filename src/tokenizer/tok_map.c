/*
 * tok_map.c — the containers of the tokenizer: growable byte/id/span vectors and two open-addressing
 * hash maps (byte string -> id for the vocabulary, pieces and the word cache; id pair -> merge for BPE).
 *
 * Workload: a 200k-entry vocabulary and 200k merges are inserted once at load; then every pre-token
 * costs one string lookup (the cache) and every BPE step a few pair lookups, so lookups dominate.
 * Linear probing over a power-of-two table kept under 50% full, with the full 64-bit hash stored in
 * the slot so that most misses and all hits compare one word before touching key bytes. Rejected:
 * chained buckets (a pointer chase and an allocation per entry) and a sorted array with binary
 * search (log2(200k) = 18 string compares per lookup).
 */
#include "tokenizer/tokenizer.h"

#include <string.h>

/* ---- vectors ------------------------------------------------------------------------------------ */

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return false;
        nc *= 2;
    }
    size_t bytes;
    if (!hg_mul_ok(nc, elem, &bytes)) return false;
    void *q = hg_realloc(*p, bytes);
    if (!q) return false;
    *p = q;
    *cap = nc;
    return true;
}

bool hg_bytes_reserve(hg_bytes *b, size_t extra) {
    if (extra > SIZE_MAX - b->n - 1) return false;
    return grow((void **)&b->p, &b->cap, b->n + extra + 1, 1);
}

bool hg_bytes_append(hg_bytes *b, const void *s, size_t n) {
    if (!hg_bytes_reserve(b, n)) return false;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0; /* always NUL-terminated for callers that want a C string */
    return true;
}

bool hg_i32vec_push(hg_i32vec *v, int32_t x) {
    if (v->n == v->cap && !grow((void **)&v->p, &v->cap, v->n + 1, sizeof(int32_t))) return false;
    v->p[v->n++] = x;
    return true;
}

bool hg_i32vec_append(hg_i32vec *v, const int32_t *x, size_t n) {
    if (n > SIZE_MAX - v->n) return false;
    if (!grow((void **)&v->p, &v->cap, v->n + n, sizeof(int32_t))) return false;
    if (n) memcpy(v->p + v->n, x, n * sizeof(int32_t));
    v->n += n;
    return true;
}

bool hg_spanvec_push(hg_spanvec *v, size_t off, size_t len) {
    if (v->n == v->cap && !grow((void **)&v->p, &v->cap, v->n + 1, sizeof(hg_span))) return false;
    v->p[v->n].off = off;
    v->p[v->n].len = len;
    v->n++;
    return true;
}

/* ---- hashing -------------------------------------------------------------------------------------
 * 8 bytes at a time, multiply-xorshift mixing (our own; quality is enough for short keys and the
 * table stores the full hash). Never returns 0, which marks an empty slot. */

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

uint64_t hg_hash_bytes(const void *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n) memcpy(&w, p, n);
    h = mix64(h ^ w ^ ((uint64_t)n << 59));
    return h ? h : 1;
}

/* ---- string map -------------------------------------------------------------------------------- */

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n && c <= SIZE_MAX / 4) c *= 2;
    return c;
}

bool hg_strmap_init(hg_strmap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->slots = hg_calloc(m->cap, sizeof *m->slots);
    return m->slots != NULL;
}

void hg_strmap_free(hg_strmap *m) {
    if (!m) return;
    hg_free(m->slots);
    hg_free(m->arena.p);
    memset(m, 0, sizeof *m);
}

void hg_strmap_clear(hg_strmap *m) {
    if (m->slots) memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->n = 0;
    m->arena.n = 0;
}

static bool strmap_rehash(hg_strmap *m) {
    size_t nc = m->cap * 2;
    hg_strmap_slot *ns = hg_calloc(nc, sizeof *ns);
    if (!ns) return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].hash) continue;
        size_t j = (size_t)m->slots[i].hash & (nc - 1);
        while (ns[j].hash) j = (j + 1) & (nc - 1);
        ns[j] = m->slots[i];
    }
    hg_free(m->slots);
    m->slots = ns;
    m->cap = nc;
    return true;
}

static hg_strmap_slot *strmap_find(const hg_strmap *m, const void *key, size_t len, uint64_t h) {
    size_t j = (size_t)h & (m->cap - 1);
    for (;;) {
        hg_strmap_slot *sl = &m->slots[j];
        if (!sl->hash) return sl;
        if (sl->hash == h && sl->len == len && (len == 0 || !memcmp(m->arena.p + sl->off, key, len)))
            return sl;
        j = (j + 1) & (m->cap - 1);
    }
}

static bool strmap_insert(hg_strmap *m, const void *key, size_t len, int32_t val, bool overwrite) {
    if (len > UINT32_MAX) return false;
    if ((m->n + 1) * 2 > m->cap && !strmap_rehash(m)) return false;
    uint64_t h = hg_hash_bytes(key, len);
    hg_strmap_slot *sl = strmap_find(m, key, len, h);
    if (sl->hash) {
        if (overwrite) sl->val = val;
        return true;
    }
    size_t off = m->arena.n;
    if (!hg_bytes_append(&m->arena, key, len)) return false;
    sl->hash = h;
    sl->off = off;
    sl->len = (uint32_t)len;
    sl->val = val;
    m->n++;
    return true;
}

bool hg_strmap_put(hg_strmap *m, const void *key, size_t len, int32_t val) {
    return strmap_insert(m, key, len, val, true);
}

bool hg_strmap_put_new(hg_strmap *m, const void *key, size_t len, int32_t val) {
    return strmap_insert(m, key, len, val, false);
}

int32_t hg_strmap_get_h(const hg_strmap *m, const void *key, size_t len, uint64_t h) {
    if (!m->slots) return -1;
    const hg_strmap_slot *sl = strmap_find(m, key, len, h);
    return sl->hash ? sl->val : -1;
}

int32_t hg_strmap_get(const hg_strmap *m, const void *key, size_t len) {
    return hg_strmap_get_h(m, key, len, hg_hash_bytes(key, len));
}

/* ---- pair map ------------------------------------------------------------------------------------ */

static inline uint64_t pair_key(int32_t a, int32_t b) {
    return (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
}

bool hg_pairmap_init(hg_pairmap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->slots = hg_calloc(m->cap, sizeof *m->slots);
    return m->slots != NULL;
}

void hg_pairmap_free(hg_pairmap *m) {
    if (!m) return;
    hg_free(m->slots);
    memset(m, 0, sizeof *m);
}

static bool pairmap_rehash(hg_pairmap *m) {
    size_t nc = m->cap * 2;
    hg_pairmap_slot *ns = hg_calloc(nc, sizeof *ns);
    if (!ns) return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        size_t j = (size_t)mix64(m->slots[i].key) & (nc - 1);
        while (ns[j].key) j = (j + 1) & (nc - 1);
        ns[j] = m->slots[i];
    }
    hg_free(m->slots);
    m->slots = ns;
    m->cap = nc;
    return true;
}

/* Later entries overwrite earlier ones, as collecting merges into a Rust HashMap does. */
bool hg_pairmap_put(hg_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t new_id) {
    if ((m->n + 1) * 2 > m->cap && !pairmap_rehash(m)) return false;
    uint64_t k = pair_key(a, b);
    size_t j = (size_t)mix64(k) & (m->cap - 1);
    while (m->slots[j].key && m->slots[j].key != k) j = (j + 1) & (m->cap - 1);
    if (!m->slots[j].key) m->n++;
    m->slots[j].key = k;
    m->slots[j].rank = rank;
    m->slots[j].new_id = new_id;
    return true;
}

const hg_pairmap_slot *hg_pairmap_get(const hg_pairmap *m, int32_t a, int32_t b) {
    uint64_t k = pair_key(a, b);
    size_t j = (size_t)mix64(k) & (m->cap - 1);
    for (;;) {
        const hg_pairmap_slot *sl = &m->slots[j];
        if (sl->key == k) return sl;
        if (!sl->key) return NULL;
        j = (j + 1) & (m->cap - 1);
    }
}
