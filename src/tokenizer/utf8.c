/*
 * utf8.c — the character-level facts the tokenizer needs: strict UTF-8 decoding (the validation
 * every input goes through), the GPT-2 byte alphabet of the ByteLevel pre-tokenizer/decoder, and the
 * Unicode predicates that Hugging Face's added-token rules use (char::is_whitespace, regex \w).
 *
 * The byte alphabet (GPT-2's bytes_to_unicode): printable Latin-1 bytes ('!'..'~', '¡'..'¬',
 * '®'..'ÿ') map to themselves; the other 68 bytes map, in increasing byte order, to U+0100.. .
 * It is computed into a table once per call site on the stack; no global state.
 */
#include "tokenizer/tokenizer.h"

#include <utf8proc.h>

/* ---- byte alphabet ------------------------------------------------------------------------------ */

static bool byte_is_printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

uint32_t hg_byte_to_cp(uint8_t b) {
    if (byte_is_printable(b)) return b;
    uint32_t n = 0; /* rank of b among the non-printable bytes */
    for (unsigned x = 0; x < b; x++)
        if (!byte_is_printable(x)) n++;
    return 256 + n;
}

void hg_byte_alphabet_inverse(int16_t inv[HG_BYTE_ALPHABET_END]) {
    for (int i = 0; i < HG_BYTE_ALPHABET_END; i++) inv[i] = -1;
    for (unsigned b = 0; b < 256; b++) inv[hg_byte_to_cp((uint8_t)b)] = (int16_t)b;
}

/* ---- UTF-8 -------------------------------------------------------------------------------------- */

size_t hg_utf8_next(const uint8_t *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t w;
    uint32_t c;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (b >= 0xc2 && b <= 0xdf) {
        w = 2;
        c = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        w = 3;
        c = b & 0x0f;
        if (b == 0xe0) lo = 0xa0;
        if (b == 0xed) hi = 0x9f; /* no surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        w = 4;
        c = b & 0x07;
        if (b == 0xf0) lo = 0x90;
        if (b == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (n < w) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    c = (c << 6) | (s[1] & 0x3f);
    for (size_t i = 2; i < w; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    *cp = c;
    return w;
}

size_t hg_utf8_put(uint32_t cp, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

size_t hg_utf8_valid_prefix(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* ASCII runs 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t w = hg_utf8_next(s + i, n - i, &cp);
        if (!w) return i;
        i += w;
    }
    return n;
}

/* ---- Rust char predicates ------------------------------------------------------------------------ */

/* char::is_whitespace: the Unicode White_Space property. */
bool hg_cp_is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

/* char::is_numeric: general categories Nd, Nl, No. */
bool hg_cp_is_numeric(uint32_t c) {
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* Rust regex `\w` (Unicode Word), which tokenizers' single_word rule tests with ^\w / \w$:
 * Alphabetic + Mark + Decimal_Number + Connector_Punctuation + Join_Control. Alphabetic is read as the
 * letter categories, Nl, the marks (Other_Alphabetic is almost all Mn/Mc) and the circled/squared
 * Latin letters that are Other_Alphabetic symbols; differential-tested (`⒇`, No, is not a word char). */
bool hg_cp_is_word(uint32_t c) {
    if (c == '_' || c == 0x200c || c == 0x200d) return true;
    if ((c >= 0x24b6 && c <= 0x24e9) || (c >= 0x1f130 && c <= 0x1f149) || (c >= 0x1f150 && c <= 0x1f169) ||
        (c >= 0x1f170 && c <= 0x1f189))
        return true;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}
