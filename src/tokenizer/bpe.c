/*
 * bpe.c — the BPE model: one pre-token (a "word") -> ids, exactly as tokenizers' BPE::merge_word and
 * Word::merge_all compute them, with a word cache in front.
 *
 * Algorithm (the reference's, reproduced step for step because it decides ties): the word starts as
 * one symbol per byte (byte-level mode) or per character; every adjacent pair that has a merge goes
 * into a min-heap ordered by (rank, position). Pop the best; skip it if its left symbol was merged
 * away, has no right neighbour, or the pair now there no longer produces the same new id; else merge
 * and push the new pairs with the left and right neighbours. This is O(n log n) per word. Rejected:
 * the "scan for the lowest-rank pair, repeat" loop of llama2.c (O(n^2)) — identical results only if
 * no two pairs produce the same token, which merges.txt does not promise.
 * Unknown symbols: byte_fallback tries `<0xHH>` tokens, then unk_token (fused when fuse_unk); with
 * neither, the symbol is dropped (the reference does the same).
 * Cache: words shorter than HG_BPE_CACHE_MAX_WORD bytes map to their ids; the whole cache is cleared
 * when it holds HG_BPE_CACHE_MAX_ENTRIES words. Text repeats words heavily, so most pieces are
 * cache hits; this and raw-byte symbols are where most of the speed comes from.
 */
#include "tokenizer/tokenizer.h"

#include <stdio.h>

/* ---- scratch ---------------------------------------------------------------------------------- */

static bool grow_symbols(hg_tok_scratch *s, size_t n) {
    if (n <= s->sym_cap) return true;
    size_t cap = s->sym_cap ? s->sym_cap : 64, b4, bh;
    while (cap < n) cap *= 2;
    if (!hg_mul_ok(cap, 4, &b4) || !hg_mul_ok(cap * 3 + 3, sizeof(hg_merge_ent), &bh)) return false;
    int32_t *id = hg_realloc(s->sym_id, b4);
    if (id) s->sym_id = id;
    int32_t *pv = hg_realloc(s->sym_prev, b4);
    if (pv) s->sym_prev = pv;
    int32_t *nx = hg_realloc(s->sym_next, b4);
    if (nx) s->sym_next = nx;
    uint32_t *ln = hg_realloc(s->sym_len, b4);
    if (ln) s->sym_len = ln;
    hg_merge_ent *hp = hg_realloc(s->heap, bh);
    if (hp) s->heap = hp;
    if (!id || !pv || !nx || !ln || !hp) return false;
    s->sym_cap = cap;
    s->heap_cap = cap * 3 + 3;
    return true;
}

/* ---- the heap ------------------------------------------------------------------------------------ */

static inline bool ent_less(hg_merge_ent a, hg_merge_ent b) {
    return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
}

static void heap_push(hg_merge_ent *h, size_t *n, hg_merge_ent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(e, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static hg_merge_ent heap_pop(hg_merge_ent *h, size_t *n) {
    hg_merge_ent top = h[0], last = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && ent_less(h[c + 1], h[c])) c++;
        if (!ent_less(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = last;
    return top;
}

/* ---- word -> symbols ------------------------------------------------------------------------------ */

typedef struct word_build {
    hg_tok_scratch *s;
    size_t n;         /* symbols so far */
    int32_t unk_id;   /* pending unk symbol id, -1 if none */
    uint32_t unk_len;
} word_build;

static void add_symbol(word_build *wb, int32_t id, uint32_t len) {
    size_t i = wb->n++;
    wb->s->sym_id[i] = id;
    wb->s->sym_len[i] = len;
}

/* One initial symbol: `key` (lookup form) covering `byte_len` bytes of the word whose raw bytes are
 * raw[0..raw_len). */
static void add_initial(const hg_tokenizer *tok, word_build *wb, int32_t id, const uint8_t *raw, size_t raw_len,
                        uint32_t byte_len) {
    if (id >= 0) {
        if (wb->unk_id >= 0) {
            add_symbol(wb, wb->unk_id, wb->unk_len);
            wb->unk_id = -1;
        }
        add_symbol(wb, id, byte_len);
        return;
    }
    if (tok->byte_fallback) {
        int32_t ids[4];
        bool ok = raw_len <= 4;
        for (size_t i = 0; ok && i < raw_len; i++) {
            char code[8];
            snprintf(code, sizeof code, "<0x%02X>", raw[i]);
            ids[i] = hg_strmap_get(&tok->str_to_id, code, 6);
            ok = ids[i] >= 0;
        }
        if (ok) {
            /* the reference adds them without flushing a pending unk first */
            for (size_t i = 0; i < raw_len; i++) add_symbol(wb, ids[i], 1);
            return;
        }
    }
    if (tok->unk_id >= 0) {
        if (wb->unk_id >= 0 && tok->fuse_unk) {
            wb->unk_len += byte_len;
        } else {
            if (wb->unk_id >= 0) add_symbol(wb, wb->unk_id, wb->unk_len);
            wb->unk_id = tok->unk_id;
            wb->unk_len = byte_len;
        }
    }
}

static size_t build_symbols(const hg_tokenizer *tok, hg_tok_scratch *s, const uint8_t *w, size_t n) {
    word_build wb = {.s = s, .n = 0, .unk_id = -1, .unk_len = 0};
    if (tok->byte_level) {
        for (size_t i = 0; i < n; i++) add_initial(tok, &wb, tok->byte_id[w[i]], w + i, 1, 1);
    } else {
        char key[64 + 4 + 64];
        size_t plen = tok->subword_prefix ? strlen(tok->subword_prefix) : 0;
        size_t slen = tok->word_suffix ? strlen(tok->word_suffix) : 0;
        size_t i = 0;
        while (i < n) {
            uint32_t cp;
            size_t cw = hg_utf8_next(w + i, n - i, &cp);
            if (!cw) cw = 1; /* unreachable: text was validated */
            size_t k = 0;
            if (i > 0 && plen) memcpy(key, tok->subword_prefix, plen), k = plen;
            memcpy(key + k, w + i, cw);
            k += cw;
            if (i + cw == n && slen) memcpy(key + k, tok->word_suffix, slen), k += slen;
            add_initial(tok, &wb, hg_strmap_get(&tok->piece_to_id, key, k), w + i, cw, (uint32_t)cw);
            i += cw;
        }
    }
    if (wb.unk_id >= 0) add_symbol(&wb, wb.unk_id, wb.unk_len);
    return wb.n;
}

/* ---- merging ---------------------------------------------------------------------------------------- */

static void merge_all(const hg_tokenizer *tok, hg_tok_scratch *s, size_t ns) {
    int32_t *id = s->sym_id, *prev = s->sym_prev, *next = s->sym_next;
    uint32_t *len = s->sym_len;
    hg_merge_ent *h = s->heap;
    size_t hn = 0;
    for (size_t i = 0; i < ns; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < ns ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < ns; i++) {
        const hg_pairmap_slot *m = hg_pairmap_get(&tok->merges, id[i], id[i + 1]);
        if (m) heap_push(h, &hn, (hg_merge_ent){(uint32_t)m->rank, (uint32_t)i, m->new_id});
    }
    while (hn) {
        hg_merge_ent top = heap_pop(h, &hn);
        size_t p = top.pos;
        if (len[p] == 0 || next[p] < 0) continue;
        size_t r = (size_t)next[p];
        const hg_pairmap_slot *m = hg_pairmap_get(&tok->merges, id[p], id[r]);
        if (!m || m->new_id != top.new_id) continue; /* stale entry */
        id[p] = top.new_id;
        len[p] += len[r];
        next[p] = next[r];
        len[r] = 0;
        if (next[r] >= 0) prev[next[r]] = (int32_t)p;
        if (prev[p] >= 0) {
            size_t q = (size_t)prev[p];
            m = hg_pairmap_get(&tok->merges, id[q], id[p]);
            if (m) heap_push(h, &hn, (hg_merge_ent){(uint32_t)m->rank, (uint32_t)q, m->new_id});
        }
        if (next[p] >= 0) {
            m = hg_pairmap_get(&tok->merges, id[p], id[next[p]]);
            if (m) heap_push(h, &hn, (hg_merge_ent){(uint32_t)m->rank, (uint32_t)p, m->new_id});
        }
    }
}

/* ---- public within the module -------------------------------------------------------------------- */

hg_status hg_bpe_encode_word(hg_tokenizer *tok, const char *w, size_t n, hg_i32vec *out, hg_error *err) {
    if (n == 0) return HG_OK;
    if (tok->ignore_merges) {
        int32_t id = hg_strmap_get(&tok->piece_to_id, w, n);
        if (id >= 0) return hg_i32vec_push(out, id) ? HG_OK : hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
    }
    if (n == 1 && tok->byte_level && tok->byte_id[(uint8_t)w[0]] >= 0)
        return hg_i32vec_push(out, tok->byte_id[(uint8_t)w[0]]) ? HG_OK
                                                                : hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
    bool cacheable = n < HG_BPE_CACHE_MAX_WORD;
    uint64_t h = 0;
    if (cacheable) {
        h = hg_hash_bytes(w, n);
        int32_t at = hg_strmap_get_h(&tok->cache, w, n, h);
        if (at >= 0) {
            const int32_t *c = tok->cache_ids.p + at;
            return hg_i32vec_append(out, c + 1, (size_t)c[0]) ? HG_OK
                                                              : hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
        }
    }
    hg_tok_scratch *s = &tok->s;
    if (n > UINT32_MAX / 4 || !grow_symbols(s, n)) return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
    size_t ns = build_symbols(tok, s, (const uint8_t *)w, n);
    merge_all(tok, s, ns);
    size_t first = out->n;
    for (size_t i = 0; i < ns; i++)
        if (s->sym_len[i] && !hg_i32vec_push(out, s->sym_id[i])) return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
    if (cacheable) {
        if (tok->cache.n >= HG_BPE_CACHE_MAX_ENTRIES) {
            hg_strmap_clear(&tok->cache);
            tok->cache_ids.n = 0;
        }
        size_t cnt = out->n - first;
        size_t at = tok->cache_ids.n;
        /* a failed cache insert only costs speed */
        /* a word may yield no ids (unknown bytes, no unk token): out->p is then NULL, and NULL + 0 is
         * undefined in C, so the empty append takes no pointer arithmetic */
        if (at < INT32_MAX / 2 && hg_i32vec_push(&tok->cache_ids, (int32_t)cnt) &&
            (cnt == 0 || hg_i32vec_append(&tok->cache_ids, out->p + first, cnt))) {
            if (!hg_strmap_put(&tok->cache, w, n, (int32_t)at)) tok->cache_ids.n = at;
        } else {
            tok->cache_ids.n = at;
        }
    }
    return HG_OK;
}
