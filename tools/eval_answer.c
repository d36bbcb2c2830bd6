/*
 * eval_answer.c — answer extraction and comparison for generate_until requests (docs/eval.md
 * "Metrics"), as lm-eval's GSM8K filters do it:
 *   - strict: the task line's "regex" (PCRE2, first match; capture group 1 when the pattern has one,
 *     else the whole match; no match = "[invalid]"), or the whole generation when there is no regex;
 *   - flexible: the last number in the generation (lm-eval's `-?[$0-9.,]{2,}|-?[0-9]+`, group_select -1).
 * Both sides are normalised before comparing: surrounding whitespace trimmed, ',' and '$' removed, one
 * trailing '.' dropped (lm-eval's regexes_to_ignore for GSM8K).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "eval_answer.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

void eva_normalise(const char *s, size_t n, char *out, size_t cap) {
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        if (s[i] != ',' && s[i] != '$') out[k++] = s[i];
    if (k && out[k - 1] == '.') k--;
    out[k] = 0;
}

bool eva_regex(const char *pattern, const char *text, char *out, size_t cap, char *why, size_t why_cap) {
    int code = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
    if (!re) {
        pcre2_get_error_message(code, (PCRE2_UCHAR *)why, why_cap);
        return false;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    snprintf(out, cap, "[invalid]");
    if (md && pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL) > 0) {
        uint32_t groups = 0;
        pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        const int g = groups >= 1 && ov[2] != PCRE2_UNSET ? 1 : 0;
        eva_normalise(text + ov[2 * g], ov[2 * g + 1] - ov[2 * g], out, cap);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return true;
}

void eva_last_number(const char *text, char *out, size_t cap) {
    /* the last run of [$0-9.,-] that holds a digit (a leading '-' belongs to it) */
    const char *best = NULL;
    size_t best_n = 0;
    for (const char *p = text; *p;) {
        if (!(isdigit((unsigned char)*p) || *p == '$' || *p == '.' || *p == ',' || *p == '-')) {
            p++;
            continue;
        }
        const char *q = p;
        bool digit = false;
        while (*q && (isdigit((unsigned char)*q) || *q == '$' || *q == '.' || *q == ',' || (*q == '-' && q == p)))
            digit = digit || isdigit((unsigned char)*q), q++;
        if (digit) best = p, best_n = (size_t)(q - p);
        p = q > p ? q : p + 1;
    }
    if (best) eva_normalise(best, best_n, out, cap);
    else snprintf(out, cap, "[invalid]");
}
