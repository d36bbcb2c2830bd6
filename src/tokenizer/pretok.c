/*
 * pretok.c — normalizers (NFC/NFD/NFKC/NFKD) and pre-tokenizers (Split, Digits, WhitespaceSplit,
 * ByteLevel) with the exact splitting semantics of Hugging Face tokenizers.
 *
 * A pre-tokenizer turns each piece into a list of (range, is_match) marks covering the piece, then a
 * "behavior" keeps, drops or merges them (NormalizedString::split in the Rust crate): Removed drops
 * the matches, Isolated keeps everything, MergedWithPrevious/Next glue a match to its neighbour,
 * Contiguous glues runs of matches; `invert` swaps match and non-match first. Empty pieces vanish.
 * Regexes are the tokenizers' own, run by PCRE2 with PCRE2_UTF|PCRE2_UCP (JIT): the golden README
 * shows PCRE2 in that mode agrees with Oniguruma, which the Rust crate uses, on every golden text.
 * The regex iteration reproduces the onig crate's find_iter, including how it steps over an empty
 * match that follows the previous match.
 *
 * The ByteLevel step never rewrites text here: pieces stay raw bytes and the BPE model works on
 * bytes (bpe.c), which is the same as mapping every byte to its alphabet character first.
 * Workload: one regex search per emitted piece (about one per token); the pieces live as spans in a
 * scratch arena so nothing is allocated per piece once the buffers have grown.
 */
#include "tokenizer/tokenizer.h"

#include <utf8proc.h>

/* ---- normalizers --------------------------------------------------------------------------------- */

static bool all_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

static hg_status normalize_one(hg_tokenizer *tok, hg_norm_kind k, const char *s, size_t n, hg_bytes *out,
                               hg_error *err) {
    int opts = UTF8PROC_STABLE;
    switch (k) {
    case HG_NORM_NFC: opts |= UTF8PROC_COMPOSE; break;
    case HG_NORM_NFD: opts |= UTF8PROC_DECOMPOSE; break;
    case HG_NORM_NFKC: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case HG_NORM_NFKD: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    hg_tok_scratch *sc = &tok->s;
    if (n > (size_t)PTRDIFF_MAX / 4) return hg_err(err, HG_STATUS_LIMIT, "tokenizer: text too long to normalize");
    for (;;) {
        utf8proc_ssize_t r = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
                                                (utf8proc_int32_t *)sc->cps, (utf8proc_ssize_t)sc->cps_cap,
                                                (utf8proc_option_t)opts);
        if (r < 0) return hg_err(err, HG_STATUS_BAD_INPUT, "tokenizer: normalization failed: %s", utf8proc_errmsg(r));
        if ((size_t)r <= sc->cps_cap) {
            r = utf8proc_normalize_utf32((utf8proc_int32_t *)sc->cps, r, (utf8proc_option_t)opts);
            if (r < 0) return hg_err(err, HG_STATUS_BAD_INPUT, "tokenizer: normalization failed: %s", utf8proc_errmsg(r));
            out->n = 0;
            if (!hg_bytes_reserve(out, (size_t)r * 4)) return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
            for (utf8proc_ssize_t i = 0; i < r; i++) out->n += hg_utf8_put(sc->cps[i], out->p + out->n);
            out->p[out->n] = 0;
            return HG_OK;
        }
        size_t need = (size_t)r + 16;
        size_t bytes;
        if (!hg_mul_ok(need, sizeof(uint32_t), &bytes)) return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
        uint32_t *p = hg_realloc(sc->cps, bytes);
        if (!p) return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
        sc->cps = p;
        sc->cps_cap = need;
    }
}

hg_status hg_normalize(hg_tokenizer *tok, const char *s, size_t n, hg_bytes *out, hg_error *err) {
    out->n = 0;
    if (!hg_bytes_append(out, s, n)) return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
    if (all_ascii(s, n)) return HG_OK; /* every NF* form of ASCII is itself */
    hg_bytes tmp = {0};
    for (size_t i = 0; i < tok->n_norms; i++) {
        hg_status st = normalize_one(tok, tok->norms[i], out->p, out->n, &tmp, err);
        if (st) {
            hg_free(tmp.p);
            return st;
        }
        hg_bytes t = *out;
        *out = tmp;
        tmp = t;
    }
    hg_free(tmp.p);
    return HG_OK;
}

/* ---- marks: (range, is_match) covering a piece ---------------------------------------------------- */

static bool mark(hg_tok_scratch *sc, size_t off, size_t len, bool is_match) {
    if (sc->marks.n == sc->marks_flag_cap) {
        size_t nc = sc->marks_flag_cap ? sc->marks_flag_cap * 2 : 64;
        uint8_t *f = hg_realloc(sc->marks_is_match, nc);
        if (!f) return false;
        sc->marks_is_match = f;
        sc->marks_flag_cap = nc;
    }
    sc->marks_is_match[sc->marks.n] = is_match;
    return hg_spanvec_push(&sc->marks, off, len);
}

/* Regex marks of arena[off, off+len), following the onig crate's FindMatches and tokenizers'
 * Pattern for SysRegex. */
static hg_status regex_marks(hg_tok_scratch *sc, const pcre2_code *re, size_t off, size_t len, hg_error *err) {
    const PCRE2_SPTR subj = (PCRE2_SPTR)(sc->arena.p + off);
    size_t last_end = 0, prev = 0, last_match_end = 0;
    bool have_last = false;
    while (last_end <= len) {
        int rc = pcre2_match(re, subj, len, last_end, PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return hg_err(err, HG_STATUS_LIMIT, "tokenizer: regex match failed on a %zu-byte piece: %s", len,
                          (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        size_t s = ov[0], e = ov[1];
        if (e == s && have_last && last_match_end == e) {
            /* step over one character: no empty match right after the previous match */
            uint32_t cp;
            size_t w = last_end < len ? hg_utf8_next(subj + last_end, len - last_end, &cp) : 1;
            last_end += w ? w : 1;
            continue;
        }
        last_end = e;
        last_match_end = e;
        have_last = true;
        if (prev != s && !mark(sc, off + prev, s - prev, false)) goto nomem;
        if (!mark(sc, off + s, e - s, true)) goto nomem;
        prev = e;
    }
    if (prev != len && !mark(sc, off + prev, len - prev, false)) goto nomem;
    return HG_OK;
nomem:
    return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
}

/* Marks of a character predicate: each matching char is its own match (tokenizers' Pattern for
 * Fn(char) -> bool). */
static bool char_marks(hg_tok_scratch *sc, bool (*pred)(uint32_t), size_t off, size_t len) {
    const uint8_t *p = (const uint8_t *)sc->arena.p + off;
    size_t last = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        size_t w = hg_utf8_next(p + i, len - i, &cp);
        if (!w) w = 1, cp = 0xfffd; /* unreachable: text was validated */
        if (pred(cp)) {
            if (last < i && !mark(sc, off + last, i - last, false)) return false;
            if (!mark(sc, off + i, w, true)) return false;
            last = i + w;
        }
        i += w;
    }
    if (len > last && !mark(sc, off + last, len - last, false)) return false;
    return true;
}

/* Apply behavior (after invert) to the marks and push the kept non-empty ranges to `out`. */
static bool apply_behavior(hg_tok_scratch *sc, hg_split_behavior b, bool invert, hg_spanvec *out) {
    size_t n = sc->marks.n;
    hg_span *m = sc->marks.p;
    uint8_t *f = sc->marks_is_match;
    if (invert)
        for (size_t i = 0; i < n; i++) f[i] = !f[i];
    switch (b) {
    case HG_SPLIT_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!f[i] && m[i].len && !hg_spanvec_push(out, m[i].off, m[i].len)) return false;
        return true;
    case HG_SPLIT_ISOLATED:
        for (size_t i = 0; i < n; i++)
            if (m[i].len && !hg_spanvec_push(out, m[i].off, m[i].len)) return false;
        return true;
    case HG_SPLIT_MERGED_WITH_PREVIOUS:
    case HG_SPLIT_CONTIGUOUS: {
        /* fold left: a range joins the previous one (MergedWithPrevious: a match after a non-match;
         * Contiguous: same kind as the previous) */
        size_t first = out->n;
        bool prev = false;
        for (size_t i = 0; i < n; i++) {
            bool join = b == HG_SPLIT_CONTIGUOUS ? (f[i] == prev) : (f[i] && !prev);
            if (join && out->n > first) {
                hg_span *last = &out->p[out->n - 1];
                last->len = m[i].off + m[i].len - last->off;
            } else if (!hg_spanvec_push(out, m[i].off, m[i].len)) {
                return false;
            }
            prev = f[i];
        }
        size_t w = first; /* drop empty ranges */
        for (size_t r = first; r < out->n; r++)
            if (out->p[r].len) out->p[w++] = out->p[r];
        out->n = w;
        return true;
    }
    case HG_SPLIT_MERGED_WITH_NEXT: {
        /* fold right: a match followed by a non-match joins the range after it */
        size_t first = out->n;
        bool prev = false;
        for (size_t k = n; k-- > 0;) {
            if (f[k] && !prev && out->n > first) {
                hg_span *last = &out->p[out->n - 1];
                last->len = last->off + last->len - m[k].off;
                last->off = m[k].off;
            } else if (!hg_spanvec_push(out, m[k].off, m[k].len)) {
                return false;
            }
            prev = f[k];
        }
        /* reverse the ranges pushed in this call, dropping empty ones */
        for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
            hg_span t = out->p[i];
            out->p[i] = out->p[j - 1];
            out->p[j - 1] = t;
        }
        size_t w = first;
        for (size_t r = first; r < out->n; r++)
            if (out->p[r].len) out->p[w++] = out->p[r];
        out->n = w;
        return true;
    }
    }
    return false;
}

/* ---- the pre-tokenizer pipeline ------------------------------------------------------------------ */

static hg_status run_step(hg_tokenizer *tok, const hg_pretok *pt, hg_error *err) {
    hg_tok_scratch *sc = &tok->s;
    sc->next.n = 0;
    for (size_t i = 0; i < sc->pieces.n; i++) {
        hg_span pc = sc->pieces.p[i];
        sc->marks.n = 0;
        hg_split_behavior beh = pt->behavior;
        bool inv = pt->invert;
        switch (pt->kind) {
        case HG_PRETOK_SPLIT: {
            hg_status st = regex_marks(sc, pt->re, pc.off, pc.len, err);
            if (st) return st;
            break;
        }
        case HG_PRETOK_DIGITS:
            if (!char_marks(sc, hg_cp_is_numeric, pc.off, pc.len)) goto nomem;
            beh = pt->individual ? HG_SPLIT_ISOLATED : HG_SPLIT_CONTIGUOUS;
            inv = false;
            break;
        case HG_PRETOK_WS_SPLIT:
            if (!char_marks(sc, hg_cp_is_whitespace, pc.off, pc.len)) goto nomem;
            beh = HG_SPLIT_REMOVED;
            inv = false;
            break;
        case HG_PRETOK_BYTE_LEVEL:
            if (pt->add_prefix_space && sc->arena.p[pc.off] != ' ') {
                /* ByteLevel prepends a space to every piece that lacks one */
                size_t off = sc->arena.n;
                if (!hg_bytes_reserve(&sc->arena, pc.len + 1)) goto nomem;
                sc->arena.p[off] = ' ';
                memcpy(sc->arena.p + off + 1, sc->arena.p + pc.off, pc.len);
                sc->arena.n += pc.len + 1;
                pc.off = off;
                pc.len += 1;
            }
            if (!pt->use_regex) {
                if (!hg_spanvec_push(&sc->next, pc.off, pc.len)) goto nomem;
                continue;
            }
            {
                hg_status st = regex_marks(sc, pt->re, pc.off, pc.len, err);
                if (st) return st;
            }
            beh = HG_SPLIT_ISOLATED;
            inv = false;
            break;
        }
        if (!apply_behavior(sc, beh, inv, &sc->next)) goto nomem;
    }
    hg_spanvec t = sc->pieces;
    sc->pieces = sc->next;
    sc->next = t;
    return HG_OK;
nomem:
    return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
}

hg_status hg_pretokenize(hg_tokenizer *tok, hg_span seg, hg_error *err) {
    hg_tok_scratch *sc = &tok->s;
    sc->pieces.n = 0;
    if (seg.len == 0) return HG_OK;
    if (!hg_spanvec_push(&sc->pieces, seg.off, seg.len)) return hg_err(err, HG_STATUS_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < tok->n_pretoks; i++) {
        hg_status st = run_step(tok, &tok->pretoks[i], err);
        if (st) return st;
    }
    return HG_OK;
}
