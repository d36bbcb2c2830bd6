/*
 * test_tokenizer_util.h — helpers shared by the tests/test_tokenizer_*.c programs (header-only, static
 * functions): reading the gzip'ed goldens of tests/data/tokenizers/ (through `gzip -dc`, so the
 * library needs no zlib), loading a golden tokenizer by name, and reading JSONL fields. JSON strings
 * are decoded here rather than by cJSON because goldens contain U+0000, which a C string cannot
 * hold; every golden line also carries `hex`, the exact UTF-8 bytes of its text.
 */
#ifndef HG_TEST_TOKENIZER_UTIL_H
#define HG_TEST_TOKENIZER_UTIL_H

#include "harness.h"
#include "huginn.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const k_tok_names[] = {"huginn_style", "llama3", "qwen3", "gpt4o", "deepseek_v3"};
#define N_TOK_NAMES (sizeof k_tok_names / sizeof k_tok_names[0])

/* Whole file (gunzipped when the name ends in .gz), NUL-terminated; NULL if missing. free() it. */
static inline char *tt_read(const char *rel, size_t *len) {
    const char *path = hg_data_path(rel);
    size_t pl = strlen(path);
    if (pl < 3 || strcmp(path + pl - 3, ".gz")) return hg_read_file(path, len);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fclose(f);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            char *q = realloc(buf, cap * 2 + 1);
            if (!q) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = q;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, p);
        if (!k) break;
        n += k;
    }
    if (pclose(p) != 0) {
        free(buf);
        return NULL;
    }
    if (buf) {
        buf[n] = 0;
        if (len) *len = n;
    }
    return buf;
}

/* Load tests/data/tokenizers/NAME/{tokenizer.json.gz, tokenizer_config.json}. */
static inline hg_tokenizer *tt_load(const char *name) {
    char rel[256], crel[256];
    snprintf(rel, sizeof rel, "tokenizers/%s/tokenizer.json.gz", name);
    snprintf(crel, sizeof crel, "tokenizers/%s/tokenizer_config.json", name);
    size_t jl = 0, cl = 0;
    char *j = tt_read(rel, &jl), *c = tt_read(crel, &cl);
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    if (!j) {
        fprintf(stderr, "FAIL cannot read %s\n", hg_data_path(rel));
    } else if (hg_tokenizer_load_json(j, jl, c, c ? cl : 0, &tok, &err)) {
        fprintf(stderr, "FAIL %s: %s\n", name, err.msg);
        tok = NULL;
    }
    free(j);
    free(c);
    return tok;
}

static inline int tt_hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static inline size_t tt_put_utf8(unsigned long cp, char *o) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode the JSON string starting at *p (at the opening quote); advances *p past it. Returns a
 * malloc'ed buffer (may hold NUL bytes) and its length, or NULL on malformed input. */
static inline char *tt_json_string(const char **p, size_t *len) {
    const char *s = *p;
    if (*s != '"') return NULL;
    s++;
    size_t cap = 64, n = 0;
    char *o = malloc(cap);
    while (o && *s && *s != '"') {
        if (n + 8 > cap) {
            char *q = realloc(o, cap * 2);
            if (!q) break;
            o = q;
            cap *= 2;
        }
        if (*s != '\\') {
            o[n++] = *s++;
            continue;
        }
        s++;
        char e = *s++;
        switch (e) {
        case 'n': o[n++] = '\n'; break;
        case 't': o[n++] = '\t'; break;
        case 'r': o[n++] = '\r'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'u': {
            unsigned long cp = 0;
            for (int i = 0; i < 4; i++) cp = cp * 16 + (unsigned long)tt_hexval(*s++);
            if (cp >= 0xd800 && cp < 0xdc00 && s[0] == '\\' && s[1] == 'u') {
                unsigned long lo = 0;
                for (int i = 0; i < 4; i++) lo = lo * 16 + (unsigned long)tt_hexval(s[2 + i]);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                }
            }
            n += tt_put_utf8(cp, o + n);
            break;
        }
        default: o[n++] = e; break;
        }
    }
    if (!o || *s != '"') {
        free(o);
        return NULL;
    }
    *p = s + 1;
    *len = n;
    return o;
}

/* The string value of "key" in a one-line JSON object (first occurrence). */
static inline char *tt_field_string(const char *line, const char *key, size_t *len) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(line, pat);
    if (!at) return NULL;
    at += strlen(pat);
    while (*at == ' ') at++;
    return tt_json_string(&at, len);
}

/* Hex string -> bytes (malloc'ed). */
static inline char *tt_unhex(const char *hex, size_t *len) {
    size_t n = strlen(hex) / 2;
    char *o = malloc(n + 1);
    for (size_t i = 0; o && i < n; i++) o[i] = (char)(tt_hexval(hex[2 * i]) * 16 + tt_hexval(hex[2 * i + 1]));
    if (o) o[n] = 0;
    *len = n;
    return o;
}

/* cJSON int array -> malloc'ed int32 array. */
static inline int32_t *tt_ids(const cJSON *arr, int64_t *n) {
    int k = cJSON_GetArraySize(arr);
    int32_t *v = malloc((size_t)(k ? k : 1) * sizeof *v);
    for (int i = 0; v && i < k; i++) v[i] = (int32_t)cJSON_GetArrayItem(arr, i)->valuedouble;
    *n = k;
    return v;
}

/* First index where a and b differ (or the shorter length), -1 when equal. */
static inline int64_t tt_first_diff(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    int64_t m = na < nb ? na : nb;
    for (int64_t i = 0; i < m; i++)
        if (a[i] != b[i]) return i;
    return na == nb ? -1 : m;
}

#endif
