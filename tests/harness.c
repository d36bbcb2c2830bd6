/* harness.c — implementation of tests/harness.h. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

int hg_test_failures = 0;
int hg_test_checks = 0;

double hg_check_close(const char *name, const float *got, const float *want, size_t n, double tol) {
    double maxd = 0;
    size_t where = 0;
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        double g = (double)got[i], w = (double)want[i];
        double d = fabs(g - w);
        if (isnan(g) && isnan(w)) continue;
        if (isnan(d)) {
            d = (double)INFINITY;
        }
        if (!(d <= maxd)) {
            maxd = d;
            where = i;
        }
        if (!(d <= tol)) bad = true;
    }
    hg_test_checks++;
    if (bad) {
        hg_test_failures++;
        fprintf(stderr, "FAIL %s: max|diff| %.3g at [%zu] (got %.7g want %.7g), tol %.3g\n", name, maxd, where,
                (double)got[where], (double)want[where], tol);
    } else {
        fprintf(stderr, "  ok %s: max|diff| %.3g (n=%zu)\n", name, maxd, n);
    }
    return maxd;
}

void *hg_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz < 0) {
        fclose(f);
        return NULL;
    }
    char *buf = malloc((size_t)sz + 1);
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[sz] = 0;
        if (len) *len = (size_t)sz;
    }
    return buf;
}

const char *hg_data_path(const char *rel) {
    static char buf[4][4096];
    static int k = 0;
    const char *root = getenv("HG_TEST_DATA");
    if (!root) root = "tests/data";
    char *b = buf[k++ & 3];
    snprintf(b, 4096, "%s/%s", root, rel);
    return b;
}

const char *hg_tmp_dir(const char *name) {
    static char buf[4096];
    const char *root = getenv("HG_TEST_TMP");
    if (!root) root = "/tmp/hg_test";
    mkdir(root, 0755);
    snprintf(buf, sizeof buf, "%s/%s", root, name);
    mkdir(buf, 0755);
    return buf;
}

int hg_test_finish(const char *name) {
    fprintf(stderr, "%s: %d checks, %d failed\n", name, hg_test_checks, hg_test_failures);
    return hg_test_failures ? 1 : 0;
}

const char *hg_huginn(void) {
    const char *h = getenv("HUGINN");
    return h ? h : "huginn";
}

int hg_run_capture(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (cap - n < 1024) {
            char *b2 = realloc(buf, cap *= 2);
            if (!b2) break;
            buf = b2;
        }
    }
    if (buf) buf[n] = 0;
    int st = pclose(p);
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
