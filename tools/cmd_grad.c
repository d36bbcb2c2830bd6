/*
 * cmd_grad.c — `huginn grad`: loss and gradients of one sequence with truncated backpropagation, for
 * inspection and tests (the counterpart of the golden `train_step` case).
 *   huginn grad -m MODEL --ids 1,2,3 --labels 2,3,-100 [--no-grad-steps N] [--grad-steps K] --out DIR
 * Writes DIR/loss (text, %.9g) and DIR/<tensor name>.bin (raw little-endian f32, the stored shape,
 * row-major) for every parameter. The initial state is zero (init_scale 0), as in the golden case.
 */
#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "2,3,-100" -> malloc'ed labels (non-negative ids or -100); false on anything else. */
static bool parse_labels(const char *s, int32_t **out, int64_t *n) {
    int64_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int32_t *a = malloc((size_t)cap * sizeof *a);
    if (!a) return false;
    int64_t k = 0;
    for (const char *p = s;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || (v < 0 && v != -100) || v > INT32_MAX || (*end && *end != ',') ||
            (*end == ',' && !end[1])) {
            free(a);
            return false;
        }
        a[k++] = (int32_t)v;
        if (!*end) break;
        p = end + 1;
    }
    *out = a;
    *n = k;
    return true;
}

static int usage(void) {
    fprintf(stderr, "usage: huginn grad -m MODEL --ids 1,2,3 --labels 2,3,-100 [--no-grad-steps N] [--grad-steps K] "
                    "--out DIR\n");
    return 1;
}

int cmd_grad(int argc, char **argv) {
    const char *model = NULL, *ids_s = NULL, *labels_s = NULL, *out = NULL;
    int64_t n = 0, k = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && (model = cli_next(argc, argv, &i))) continue;
        if (!strcmp(a, "--ids") && (ids_s = cli_next(argc, argv, &i))) continue;
        if (!strcmp(a, "--labels") && (labels_s = cli_next(argc, argv, &i))) continue;
        if ((!strcmp(a, "--out") || !strcmp(a, "-o")) && (out = cli_next(argc, argv, &i))) continue;
        if (!strcmp(a, "--no-grad-steps") || !strcmp(a, "--grad-steps")) {
            const char *v = cli_next(argc, argv, &i);
            int64_t x;
            if (!v || !cli_parse_i64(v, &x) || x < 0) return cli_fail("%s needs a non-negative integer", a);
            if (!strcmp(a, "--grad-steps")) k = x;
            else n = x;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        return cli_fail("grad: unknown or incomplete option `%s`", a), usage();
    }
    if (!model) model = cli_default_model();
    if (!model || !ids_s || !labels_s || !out) return usage();
    int32_t *ids = NULL, *labels = NULL;
    int64_t T = 0, TL = 0;
    if (!cli_parse_ids(ids_s, &ids, &T)) return cli_fail("--ids: expected a comma-separated list of integers");
    if (!parse_labels(labels_s, &labels, &TL)) {
        free(ids);
        return cli_fail("--labels: expected a comma-separated list of integers (-100 = ignored)");
    }
    int rc = 1;
    hg_trainer *tr = NULL;
    hg_error err = {0};
    if (T != TL) {
        cli_fail("--ids has %lld values but --labels %lld", (long long)T, (long long)TL);
        goto out;
    }
    hg_train_params p = hg_train_default_params();
    p.rows = 1, p.seq_len = 1, p.fixed_n = n, p.fixed_k = 0; /* hg_trainer_grad sizes its own buffers */
    if (hg_trainer_load(model, &p, &tr, &err)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    double loss;
    if (hg_trainer_grad(tr, ids, labels, T, n, k, &loss, &err)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        cli_fail("%s: cannot create: %s", out, strerror(errno));
        goto out;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/loss", out);
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%.9g\n", loss) < 0 || fclose(f) != 0) {
        cli_fail("%s: cannot write", path);
        goto out;
    }
    for (int64_t i = 0; i < hg_trainer_n_tensors(tr); i++) {
        int64_t cnt;
        float *g;
        const char *name = hg_trainer_tensor(tr, i, &cnt, NULL, &g);
        snprintf(path, sizeof path, "%s/%s.bin", out, name);
        if (!cli_write_f32(path, g, (size_t)cnt)) {
            cli_fail("%s: cannot write", path);
            goto out;
        }
    }
    printf("loss %.9g  (n=%lld no-grad + k=%lld grad iterations, %lld tensors written to %s)\n", loss, (long long)n,
           (long long)k, (long long)hg_trainer_n_tensors(tr), out);
    rc = 0;
out:
    hg_trainer_free(tr);
    free(ids), free(labels);
    return rc;
}
