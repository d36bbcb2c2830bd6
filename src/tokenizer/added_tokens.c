/*
 * added_tokens.c — finding added tokens (`<|begin_text|>`, `<think>`, ...) in text before the model
 * sees it, as Hugging Face's AddedVocabulary::find_matches does.
 *
 * Semantics reproduced: patterns are matched leftmost-longest and non-overlapping (aho-corasick
 * MatchKind::LeftmostLongest); a single_word token only counts when the characters around it are not
 * word characters; lstrip widens the match leftwards over whitespace (never into the previous match)
 * and rstrip rightwards. Everything between matches is plain text. Tokens with normalized=false are
 * matched on the raw text, the others on normalized text (two matchers, built in tok_load.c).
 * Approach: a byte trie (first-child/next-sibling lists), walked from every candidate start; a start
 * is a candidate only when some pattern begins with that byte, found with memchr when all patterns
 * share their first byte (the usual `<`). Rejected: a full Aho-Corasick automaton — the golden sets
 * hold at most 818 patterns and real text rarely contains their first byte followed by a match,
 * so the trie walk stops after one or two bytes.
 */
#include "tokenizer/tokenizer.h"

#include <string.h>

/* ---- the trie ---------------------------------------------------------------------------------- */

bool hg_matcher_init(hg_matcher *m) {
    memset(m, 0, sizeof *m);
    m->first_byte = -1;
    m->cap = 64;
    m->nodes = hg_malloc(m->cap * sizeof *m->nodes);
    if (!m->nodes) return false;
    m->nodes[0] = (hg_trie_node){.child = -1, .sibling = -1, .token = -1, .byte = 0};
    m->n_nodes = 1;
    return true;
}

void hg_matcher_free(hg_matcher *m) {
    if (!m) return;
    hg_free(m->nodes);
    memset(m, 0, sizeof *m);
}

static int32_t find_child(const hg_matcher *m, int32_t node, uint8_t b) {
    for (int32_t c = m->nodes[node].child; c >= 0; c = m->nodes[c].sibling)
        if (m->nodes[c].byte == b) return c;
    return -1;
}

bool hg_matcher_add(hg_matcher *m, const char *s, size_t n, int32_t token) {
    if (n == 0) return true; /* an empty pattern never matches (nothing to split on) */
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        int32_t c = find_child(m, node, b);
        if (c < 0) {
            if (m->n_nodes >= INT32_MAX) return false;
            if (m->n_nodes == m->cap) {
                size_t bytes;
                if (!hg_mul_ok(m->cap * 2, sizeof *m->nodes, &bytes)) return false;
                hg_trie_node *p = hg_realloc(m->nodes, bytes);
                if (!p) return false;
                m->nodes = p;
                m->cap *= 2;
            }
            c = (int32_t)m->n_nodes++;
            m->nodes[c] = (hg_trie_node){.child = -1, .sibling = m->nodes[node].child, .token = -1, .byte = b};
            m->nodes[node].child = c;
        }
        node = c;
    }
    if (m->nodes[node].token < 0) m->nodes[node].token = token;
    uint8_t b0 = (uint8_t)s[0];
    if (!m->any_first[b0]) {
        bool first = true;
        for (int i = 0; i < 256; i++) first = first && !m->any_first[i];
        m->first_byte = first ? b0 : -1;
        m->any_first[b0] = true;
    }
    return true;
}

/* Longest pattern starting at s[0..n): its length, and the token in *token; 0 when none. */
static size_t longest_at(const hg_matcher *m, const uint8_t *s, size_t n, int32_t *token) {
    int32_t node = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        node = find_child(m, node, s[i]);
        if (node < 0) break;
        if (m->nodes[node].token >= 0) {
            best = i + 1;
            *token = m->nodes[node].token;
        }
    }
    return best;
}

/* Next leftmost-longest match at or after `pos`; false when none. */
static bool next_match(const hg_matcher *m, const uint8_t *s, size_t n, size_t pos, size_t *ms, size_t *me,
                       int32_t *token) {
    if (m->n_nodes <= 1) return false;
    while (pos < n) {
        if (m->first_byte >= 0) {
            const uint8_t *q = memchr(s + pos, m->first_byte, n - pos);
            if (!q) return false;
            pos = (size_t)(q - s);
        } else if (!m->any_first[s[pos]]) {
            pos++;
            continue;
        }
        size_t len = longest_at(m, s + pos, n - pos, token);
        if (len) {
            *ms = pos;
            *me = pos + len;
            return true;
        }
        pos++;
    }
    return false;
}

/* ---- Rust helpers of find_matches ---------------------------------------------------------------- */

static uint32_t last_char(const uint8_t *s, size_t n, size_t *start) {
    size_t i = n;
    while (i > 0 && (s[i - 1] & 0xc0) == 0x80) i--;
    if (i > 0) i--;
    uint32_t cp = 0;
    if (!hg_utf8_next(s + i, n - i, &cp)) cp = 0xfffd;
    *start = i;
    return cp;
}

static bool ends_with_word(const uint8_t *s, size_t n) {
    if (n == 0) return false;
    size_t st;
    uint32_t c = last_char(s, n, &st);
    return hg_cp_is_word(c);
}

static bool starts_with_word(const uint8_t *s, size_t n) {
    uint32_t c;
    if (!n || !hg_utf8_next(s, n, &c)) return false;
    return hg_cp_is_word(c);
}

/* Byte index after the last non-whitespace char of s[0..n) (0 if all whitespace). */
static size_t space_leftmost_at_end(const uint8_t *s, size_t n) {
    while (n > 0) {
        size_t st;
        uint32_t c = last_char(s, n, &st);
        if (!hg_cp_is_whitespace(c)) return n;
        n = st;
    }
    return 0;
}

/* Bytes of leading whitespace of s[0..n). */
static size_t space_rightmost_at_start(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t c;
        size_t w = hg_utf8_next(s + i, n - i, &c);
        if (!w || !hg_cp_is_whitespace(c)) return i;
        i += w;
    }
    return n;
}

/* ---- the split ---------------------------------------------------------------------------------- */

bool hg_added_split(const hg_tokenizer *tok, const hg_matcher *m, const char *text, size_t n,
                    hg_spanvec *segs, hg_i32vec *seg_tok) {
    const uint8_t *s = (const uint8_t *)text;
    segs->n = 0;
    seg_tok->n = 0;
    size_t start_offset = 0, pos = 0, ms, me;
    int32_t ti = -1;
    while (next_match(m, s, n, pos, &ms, &me, &ti)) {
        pos = me;
        const hg_added_token *at = &tok->added[ti];
        size_t start = ms, stop = me;
        if (at->single_word) {
            bool start_space = start == 0 || !ends_with_word(s, start);
            bool stop_space = stop == n || !starts_with_word(s + stop, n - stop);
            if (!start_space || !stop_space) continue;
        }
        if (at->lstrip) {
            size_t ns = space_leftmost_at_end(s, start);
            start = ns > start_offset ? ns : start_offset;
        }
        if (at->rstrip) stop += space_rightmost_at_start(s + stop, n - stop);
        if (start > start_offset) {
            if (!hg_spanvec_push(segs, start_offset, start - start_offset) || !hg_i32vec_push(seg_tok, -1))
                return false;
        }
        if (!hg_spanvec_push(segs, start, stop - start) || !hg_i32vec_push(seg_tok, at->id)) return false;
        start_offset = stop;
    }
    if (start_offset < n) {
        if (!hg_spanvec_push(segs, start_offset, n - start_offset) || !hg_i32vec_push(seg_tok, -1)) return false;
    }
    return true;
}
