/*
 * regex.c — compiling the tokenizers' own regular expressions for PCRE2 so that they match what
 * Hugging Face's engine (Oniguruma inside tokenizers, Unicode 16) matches.
 *
 * PCRE2 with PCRE2_UTF|PCRE2_UCP gives the same matches as Oniguruma on every golden text (the golden
 * README's regex_engines.json). What remains is the Unicode version: Debian's PCRE2 10.42 knows
 * Unicode 14, so the ~10k characters assigned in Unicode 15.0-16.0 (Kawi, Garay, CJK Ext. H/I, new
 * emoji, ...) are "unassigned" to it and fall out of \p{L}, \p{So}, ...; the differential test found
 * this on random text. The fix: before compiling, each general-category escape (\p{X}, \P{X}), \w, \W,
 * \d, \D and \b, \B is rewritten to a class that also lists the code points Hugging Face's engine puts
 * in that class and PCRE2 lacks (unicode_delta.c, generated from the oracle itself by
 * tests/oracle/gen_unicode_delta.js). \P{X}, \W, \D inside a bracket class cannot be widened without
 * class set operations and are left as they are (no golden regex uses them).
 * Rejected: carrying our own Unicode tables and matcher (a hand-written imitation of a regex engine),
 * and bundling a newer PCRE2 (Debian's is what the build links).
 */
#include "tokenizer/tokenizer.h"

#include <stdio.h>

static const hg_unicode_delta *find_delta(const char *name, size_t n) {
    for (const hg_unicode_delta *d = hg_unicode_deltas; d->name; d++)
        if (strlen(d->name) == n && !memcmp(d->name, name, n)) return d->n_ranges ? d : NULL;
    return NULL;
}

static bool put(hg_bytes *o, const char *s, size_t n) { return hg_bytes_append(o, s, n); }
static bool puts_(hg_bytes *o, const char *s) { return hg_bytes_append(o, s, strlen(s)); }

static bool put_ranges(hg_bytes *o, const hg_unicode_delta *d) {
    char buf[48];
    for (size_t i = 0; i < d->n_ranges; i++) {
        uint32_t lo = d->ranges[2 * i], hi = d->ranges[2 * i + 1];
        int k = lo == hi ? snprintf(buf, sizeof buf, "\\x{%x}", (unsigned)lo)
                         : snprintf(buf, sizeof buf, "\\x{%x}-\\x{%x}", (unsigned)lo, (unsigned)hi);
        if (!put(o, buf, (size_t)k)) return false;
    }
    return true;
}

/* Emit `esc` (e.g. "\\p{L}" or "\\w") widened by delta d: as a class of its own outside brackets,
 * as extra members inside them. neg: the escape is a complement (\P, \W, \D). */
static bool put_widened(hg_bytes *o, const char *esc, size_t n, const hg_unicode_delta *d, bool neg, bool in_class,
                        const char *pos_esc) {
    if (in_class) {
        if (neg) return put(o, esc, n); /* cannot widen a complement inside a class */
        return put(o, esc, n) && put_ranges(o, d);
    }
    return puts_(o, neg ? "[^" : "[") && puts_(o, pos_esc) && put_ranges(o, d) && puts_(o, "]");
}

/* Rewrite pattern p[0..n) into o (see the file comment). */
static bool rewrite(const char *p, size_t n, hg_bytes *o) {
    bool in_class = false;
    const hg_unicode_delta *dw = find_delta("w", 1);
    size_t i = 0;
    while (i < n) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char e = p[i + 1];
            if (e == 'Q') { /* \Q...\E: copy the literal section untouched */
                const char *end = NULL;
                for (size_t k = i + 2; k + 1 < n; k++)
                    if (p[k] == '\\' && p[k + 1] == 'E') {
                        end = p + k + 2;
                        break;
                    }
                size_t len = end ? (size_t)(end - (p + i)) : n - i;
                if (!put(o, p + i, len)) return false;
                i += len;
                continue;
            }
            if (e == 'p' || e == 'P') {
                size_t name_at, name_len, end;
                if (i + 2 < n && p[i + 2] == '{') {
                    const char *close = memchr(p + i + 3, '}', n - (i + 3));
                    if (!close) return put(o, p + i, n - i); /* malformed: let PCRE2 report it */
                    name_at = i + 3;
                    name_len = (size_t)(close - (p + name_at));
                    end = (size_t)(close - p) + 1;
                } else {
                    name_at = i + 2;
                    name_len = i + 2 < n ? 1 : 0;
                    end = name_at + name_len;
                }
                bool neg = e == 'P';
                if (name_len && p[name_at] == '^') neg = !neg, name_at++, name_len--;
                const hg_unicode_delta *d = find_delta(p + name_at, name_len);
                if (d) {
                    char pos[64];
                    if (name_len > 40) return false;
                    snprintf(pos, sizeof pos, "\\p{%.*s}", (int)name_len, p + name_at);
                    const char *esc = neg ? NULL : pos;
                    bool ok = neg ? put_widened(o, p + i, end - i, d, true, in_class, pos)
                                  : put_widened(o, esc, strlen(esc), d, false, in_class, pos);
                    if (!ok) return false;
                } else if (!put(o, p + i, end - i)) {
                    return false;
                }
                i = end;
                continue;
            }
            if (e == 'w' || e == 'W' || e == 'd' || e == 'D') {
                char lower = (char)(e | 0x20), pos[3] = {'\\', lower, 0};
                const hg_unicode_delta *d = find_delta(&lower, 1);
                bool ok = d ? (e == lower ? put_widened(o, pos, 2, d, false, in_class, pos)
                                          : put_widened(o, p + i, 2, d, true, in_class, pos))
                            : put(o, p + i, 2);
                if (!ok) return false;
                i += 2;
                continue;
            }
            if ((e == 'b' || e == 'B') && !in_class && dw) {
                /* a word boundary over the widened \w */
                hg_bytes w = {0};
                bool ok = puts_(&w, "[\\w") && put_ranges(&w, dw) && puts_(&w, "]");
                if (ok) {
                    ok = e == 'b' ? puts_(o, "(?:(?<=") && puts_(o, w.p) && puts_(o, ")(?!") && puts_(o, w.p) &&
                                        puts_(o, ")|(?<!") && puts_(o, w.p) && puts_(o, ")(?=") && puts_(o, w.p) &&
                                        puts_(o, "))")
                                  : puts_(o, "(?:(?<=") && puts_(o, w.p) && puts_(o, ")(?=") && puts_(o, w.p) &&
                                        puts_(o, ")|(?<!") && puts_(o, w.p) && puts_(o, ")(?!") && puts_(o, w.p) &&
                                        puts_(o, "))");
                }
                hg_free(w.p);
                if (!ok) return false;
                i += 2;
                continue;
            }
            if (!put(o, p + i, 2)) return false; /* any other escape, copied whole */
            i += 2;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            if (!put(o, "[", 1)) return false;
            i++;
            if (i < n && p[i] == '^') {
                if (!put(o, "^", 1)) return false;
                i++;
            }
            if (i < n && p[i] == ']') { /* a leading ] is a literal */
                if (!put(o, "]", 1)) return false;
                i++;
            }
            continue;
        }
        if (c == '[' && in_class && i + 1 < n && p[i + 1] == ':') { /* [:alpha:] */
            const char *end = NULL;
            for (size_t k = i + 2; k + 1 < n; k++)
                if (p[k] == ':' && p[k + 1] == ']') {
                    end = p + k + 2;
                    break;
                }
            size_t len = end ? (size_t)(end - (p + i)) : 1;
            if (!put(o, p + i, len)) return false;
            i += len;
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        if (!put(o, &c, 1)) return false;
        i++;
    }
    return true;
}

hg_status hg_pretok_compile(const char *pattern, size_t len, bool literal, pcre2_code **out, hg_error *err) {
    hg_bytes rw = {0};
    const char *src = pattern;
    size_t src_len = len;
    if (!literal) {
        if (!rewrite(pattern, len, &rw)) {
            hg_free(rw.p);
            return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        }
        src = rw.p ? rw.p : "";
        src_len = rw.n;
    }
    int ec = 0;
    PCRE2_SIZE eo = 0;
    /* PCRE2_LITERAL admits only a few options and PCRE2_UCP is not among them ("invalid option bits
     * with PCRE2_LITERAL"); a literal has no classes or case rules for UCP to change, so it is left
     * out there. Hugging Face compiles a {"String": s} pattern as the regex escape(s): a literal. */
    const uint32_t opts = literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, src_len, opts, &ec, &eo, NULL);
    hg_free(rw.p);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return hg_err(err, HG_STATUS_UNSUPPORTED, "pre_tokenizer regex /%.200s/ does not compile: %s", pattern,
                      (const char *)msg);
    }
    /* JIT is an optimisation only: without it pcre2_match interprets the same pattern. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
    return HG_OK;
}
