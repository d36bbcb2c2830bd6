/* cli.c — shared helpers of the subcommands (tools/cli.h). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("huginn: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_err(const hg_error *err) { return cli_fail("%s (%s)", err->msg, hg_status_str(err->status)); }

bool cli_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

bool cli_parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

bool cli_parse_f32(const char *s, float *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

bool cli_parse_ids(const char *s, int32_t **ids, int64_t *n) {
    int64_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int32_t *a = malloc((size_t)cap * sizeof *a);
    if (!a) return false;
    int64_t k = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            free(a);
            return false;
        }
        a[k++] = (int32_t)v;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) { /* trailing comma */
            free(a);
            return false;
        }
    }
    if (k == 0) {
        free(a);
        return false;
    }
    *ids = a;
    *n = k;
    return true;
}

const char *cli_next(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_fail("option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

char *cli_read_text(const char *path) {
    const bool is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        cli_fail("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - 1 - n, f)) > 0;) {
        n += k;
        if (n + 1 == cap) {
            char *p = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!p) free(buf);
            buf = p, cap *= 2;
        }
    }
    const bool bad = ferror(f);
    if (!is_stdin) fclose(f);
    if (!buf || bad) {
        free(buf);
        cli_fail("cannot read %s", is_stdin ? "standard input" : path);
        return NULL;
    }
    if (n && buf[n - 1] == '\n') n--; /* one final newline is the line's end, not part of the prompt (as llama.cpp -f) */
    buf[n] = 0;
    return buf;
}

int cli_unknown(const char *cmd, const char *opt) {
    return cli_fail("%s: unknown option `%s` (huginn %s --help lists the options)", cmd, opt, cmd);
}

static bool in_list(const char *a, const char *list) {
    const size_t n = strlen(a);
    for (const char *p = list; *p;) {
        const char *q = strchr(p, ' ');
        const size_t k = q ? (size_t)(q - p) : strlen(p);
        if (k == n && !memcmp(p, a, n)) return true;
        p += k + (q != NULL);
    }
    return false;
}

const char *cli_value(int argc, char **argv, int *i, const char *cmd, const char *opts) {
    if (!in_list(argv[*i], opts)) {
        cli_unknown(cmd, argv[*i]);
        return NULL;
    }
    return cli_next(argc, argv, i);
}

bool cli_write_f32(const char *path, const float *x, size_t n) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cli_fail("cannot write %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = fwrite(x, sizeof(float), n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        cli_fail("cannot write %s", path);
        return false;
    }
    return true;
}

bool cli_read_f32(const char *path, float *x, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_fail("cannot open %s: %s", path, strerror(errno));
        return false;
    }
    size_t got = fread(x, sizeof(float), n, f);
    int extra = fgetc(f);
    fclose(f);
    if (got != n || extra != EOF) {
        cli_fail("%s: expected exactly %zu f32 values (%zu bytes)", path, n, n * sizeof(float));
        return false;
    }
    /* a NaN or Inf state would propagate through every layer and still yield tokens (argmax of NaN
     * logits) with exit 0: refuse it here, where outside data enters */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            cli_fail("%s: f32 value %zu is %s; the state must be finite", path, i, isnan(x[i]) ? "NaN" : "infinite");
            return false;
        }
    return true;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#ifndef HG_REL_DATA_DIR
#define HG_REL_DATA_DIR "share/huginn"
#endif

/* Whether the path a + b exists; buf holds it. */
static bool model_at(char *buf, size_t n, const char *a, const char *b) {
    struct stat st;
    snprintf(buf, n, "%s%s", a, b);
    return stat(buf, &st) == 0;
}

const char *cli_default_model(void) {
    static char buf[8192];
    const char *env = getenv("HUGINN_MODEL");
    if (env && *env) return env; /* named by the user: used as given, a load error names it */
    /* relative to the executable first, so a moved build or install prefix finds its own model */
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        if (model_at(buf, sizeof buf, exe, "/../models/default")) return buf;               /* build/ in the sources */
        if (model_at(buf, sizeof buf, exe, "/models/default")) return buf;                  /* beside the binary */
        if (model_at(buf, sizeof buf, exe, "/../" HG_REL_DATA_DIR "/models/default")) return buf; /* PREFIX/bin */
    }
#ifdef HG_DATA_DIR
    if (model_at(buf, sizeof buf, HG_DATA_DIR, "/models/default")) return buf; /* the configured install prefix */
#endif
#ifdef HG_SOURCE_DIR
    if (model_at(buf, sizeof buf, HG_SOURCE_DIR, "/models/default")) return buf; /* a build dir outside the sources */
#endif
    return NULL;
}

hg_status cli_tokenizer_load(const char *path, hg_tokenizer **out, hg_error *err) {
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    const bool gguf = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    if (f) fclose(f);
    if (!gguf) return hg_tokenizer_load(path, out, err);
    hg_model *m = NULL;
    hg_status st = cli_model_load(path, false, false, &m, err);
    if (!st) st = hg_model_tokenizer(m, out, err); /* the tokenizer keeps no reference to the model */
    hg_model_free(m);
    return st;
}

hg_status cli_model_load(const char *path, bool no_mmap, bool prepack, hg_model **out, hg_error *err) {
    hg_model_params mp = hg_model_default_params();
    mp.use_mmap = !no_mmap;
    mp.prepack = prepack;
    return hg_model_load(path, &mp, out, err);
}

bool cli_chat_template_known(const char *cmd, const char *name) {
    /* the names come from the library, so a new format needs no change here */
    const char *names = hg_chat_format_names(), *p = names;
    const size_t n = strlen(name);
    while (*p) {
        const size_t k = strcspn(p, ",");
        if (k == n && !memcmp(p, name, n)) return true;
        p += k;
        while (*p == ',' || *p == ' ') p++;
    }
    cli_fail("%s: unknown --chat-template \"%s\" (built-in chat formats: %s)", cmd, name, names);
    return false;
}

int cli_chat_format(const char *cmd, hg_tokenizer *tok, const char *name) {
    hg_error err = {0};
    if (name) {
        if (hg_tokenizer_set_chat_format(tok, name, &err))
            return cli_fail("%s: --chat-template: %s", cmd, err.msg);
        return 0;
    }
    if (hg_tokenizer_has_chat(tok)) return 0;
    return cli_fail("%s: the model's tokenizer has no supported chat template (recognised: the Huginn-0125, Llama 3 "
                    "and ChatML templates); if the model uses one of the built-in formats, name it with "
                    "--chat-template NAME (%s)", cmd, hg_chat_format_names());
}
