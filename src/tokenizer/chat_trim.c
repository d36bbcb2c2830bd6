/*
 * chat_trim.c — Jinja's `trim` filter for the chat renderers. Jinja2 (Python, what transformers'
 * apply_chat_template runs) strips what str.isspace() calls whitespace; @huggingface/jinja (the
 * oracle of the Llama 3 goldens) calls String.prototype.trim(), which strips ECMAScript WhiteSpace
 * and LineTerminator. The two sets differ: U+001C..U+001F and U+0085 are Python's only, U+FEFF is
 * JavaScript's only; the rest (ASCII tab..CR and space, U+00A0, U+1680, U+2000..U+200A, U+2028,
 * U+2029, U+202F, U+205F, U+3000) is common. U+200B is in neither.
 */
#include "tokenizer/tokenizer.h"

static bool common_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static bool is_space(uint32_t c, hg_trim_rule rule) {
    if (common_space(c)) return true;
    if (rule == HG_TRIM_PYTHON) return (c >= 0x1c && c <= 0x1f) || c == 0x85;
    return c == 0xfeff;
}

void hg_chat_trim(const char *s, size_t n, hg_trim_rule rule, size_t *b, size_t *e) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t w = hg_utf8_next(u + i, n - i, &cp);
        if (!w || !is_space(cp, rule)) break;
        i += w;
    }
    size_t j = n;
    while (j > i) {
        size_t st = j - 1;
        while (st > i && (u[st] & 0xc0) == 0x80) st--;
        uint32_t cp;
        size_t w = hg_utf8_next(u + st, j - st, &cp);
        if (!w || !is_space(cp, rule)) break;
        j = st;
    }
    *b = i;
    *e = j;
}
