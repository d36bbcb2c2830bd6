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

const char *cli_default_model(void) {
    static char buf[8192];
    struct stat st;
    const char *env = getenv("HUGINN_MODEL");
    if (env && *env) return env;
    /* next to the binary: <exe dir>/../models/default, then the source tree's models/default */
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(buf, sizeof buf, "%s/../models/default", exe);
        if (stat(buf, &st) == 0) return buf;
        snprintf(buf, sizeof buf, "%s/models/default", exe);
        if (stat(buf, &st) == 0) return buf;
    }
    return NULL;
}

hg_status cli_model_load(const char *path, bool no_mmap, hg_model **out, hg_error *err) {
    hg_model_params mp = hg_model_default_params();
    mp.use_mmap = !no_mmap;
    return hg_model_load(path, &mp, out, err);
}
