/*
 * cmd_tokenize.c — `huginn tokenize` (text on stdin -> JSON array of ids) and `huginn detokenize`
 * (JSON array of ids on stdin -> text on stdout), thin wrappers over the tokenizer API
 * (docs/architecture.md "Command line"). stdin is read as raw bytes, so NUL and CR survive; the text
 * written by detokenize is exactly the decoded bytes, without an added newline.
 * tokenize gives Hugging Face's encode (with the post-processor); `run -p` feeds the model the text
 * without the post-processor and with the bos in front (as llama.cpp does), so the two differ by
 * design: --as-prompt prints run -p's ids, and the help says so.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_stdin(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            char *p = cap <= SIZE_MAX / 4 ? realloc(buf, cap * 2 + 1) : NULL;
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, stdin);
        n += k;
        if (k == 0) break;
    }
    if (ferror(stdin)) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static int usage_tokenize(FILE *f) {
    fprintf(f, "usage: huginn tokenize -t TOKENIZER [--no-special | --as-prompt]\n"
               "  Reads UTF-8 text on stdin and prints its ids as a JSON array (Hugging Face's encode).\n"
               "  TOKENIZER is a tokenizer.json, a model directory holding one, or a GGUF model.\n"
               "  --no-special   do not add the post-processor's special tokens (e.g. <|begin_text|>);\n"
               "                 special-token text in the input is still recognised.\n"
               "  --as-prompt    the ids `huginn run -p` feeds the model: no post-processor, the bos token in\n"
               "                 front (unless add_bos_token is false), one final newline dropped as -p - does.\n");
    return f == stderr ? 1 : 0;
}

static int usage_detokenize(FILE *f) {
    fprintf(f, "usage: huginn detokenize -t TOKENIZER [--skip-special]\n"
               "  Reads a JSON array of ids on stdin and prints the decoded text.\n"
               "  --skip-special   leave out special tokens\n");
    return f == stderr ? 1 : 0;
}

int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL;
    bool add_special = true, as_prompt = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--tokenizer")) {
            if (!(path = cli_next(argc, argv, &i))) return 1;
        } else if (!strcmp(argv[i], "--no-special")) {
            add_special = false;
        } else if (!strcmp(argv[i], "--as-prompt")) {
            add_special = false, as_prompt = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            return usage_tokenize(stdout);
        } else {
            cli_fail("tokenize: unknown option `%s`", argv[i]);
            return usage_tokenize(stderr);
        }
    }
    if (!path) {
        cli_fail("tokenize: -t TOKENIZER is required");
        return usage_tokenize(stderr);
    }
    hg_error err = {0};
    hg_tokenizer *tok = NULL;
    if (cli_tokenizer_load(path, &tok, &err)) return cli_fail_err(&err);
    size_t len = 0;
    char *text = read_stdin(&len);
    if (!text) {
        hg_tokenizer_free(tok);
        return cli_fail("tokenize: cannot read stdin: %s", strerror(errno));
    }
    if (as_prompt && len && text[len - 1] == '\n') len--;
    int32_t *ids = NULL;
    int64_t n = 0;
    hg_status st = hg_tokenizer_encode(tok, text, len, add_special, &ids, &n, &err);
    free(text);
    if (st) {
        hg_tokenizer_free(tok);
        return cli_fail_err(&err);
    }
    putchar('[');
    const bool bos = as_prompt && hg_tokenizer_add_bos(tok);
    if (bos) printf("%d", (int)hg_tokenizer_bos_id(tok));
    for (int64_t i = 0; i < n; i++) printf(i || bos ? ",%d" : "%d", (int)ids[i]);
    fputs("]\n", stdout);
    hg_tokenizer_mem_free(ids);
    hg_tokenizer_free(tok);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : cli_fail("tokenize: cannot write stdout");
}

/* Strict parse of a JSON array of non-negative integers: "[1, 2,3]" (whitespace allowed). */
static bool parse_id_array(const char *s, int32_t **ids, int64_t *n) {
    size_t cap = 256, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return false;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    if (*s++ != '[') goto fail;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
        if (*s == ']' && k == 0) {
            s++;
            break;
        }
        if (*s < '0' || *s > '9') goto fail;
        long long x = 0;
        while (*s >= '0' && *s <= '9') {
            x = x * 10 + (*s++ - '0');
            if (x > INT32_MAX) goto fail;
        }
        if (k == cap) {
            int32_t *p = realloc(v, cap * 2 * sizeof *v);
            if (!p) goto fail;
            v = p;
            cap *= 2;
        }
        v[k++] = (int32_t)x;
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s++ != ']') goto fail;
        break;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    if (*s) goto fail;
    *ids = v;
    *n = (int64_t)k;
    return true;
fail:
    free(v);
    return false;
}

int cmd_detokenize(int argc, char **argv) {
    const char *path = NULL;
    bool skip_special = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--tokenizer")) {
            if (!(path = cli_next(argc, argv, &i))) return 1;
        } else if (!strcmp(argv[i], "--skip-special")) {
            skip_special = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            return usage_detokenize(stdout);
        } else {
            cli_fail("detokenize: unknown option `%s`", argv[i]);
            return usage_detokenize(stderr);
        }
    }
    if (!path) {
        cli_fail("detokenize: -t TOKENIZER is required");
        return usage_detokenize(stderr);
    }
    size_t len = 0;
    char *in = read_stdin(&len);
    if (!in) return cli_fail("detokenize: cannot read stdin: %s", strerror(errno));
    int32_t *ids = NULL;
    int64_t n = 0;
    bool ok = strlen(in) == len && parse_id_array(in, &ids, &n);
    free(in);
    if (!ok) return cli_fail("detokenize: stdin must be a JSON array of non-negative integer ids, e.g. [1,2,3]");
    hg_error err = {0};
    hg_tokenizer *tok = NULL;
    if (cli_tokenizer_load(path, &tok, &err)) {
        free(ids);
        return cli_fail_err(&err);
    }
    char *text = NULL;
    size_t tl = 0;
    hg_status st = hg_tokenizer_decode(tok, ids, n, skip_special, &text, &tl, &err);
    free(ids);
    hg_tokenizer_free(tok);
    if (st) return cli_fail_err(&err);
    fwrite(text, 1, tl, stdout);
    hg_tokenizer_mem_free(text);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : cli_fail("detokenize: cannot write stdout");
}
