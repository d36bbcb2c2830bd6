/*
 * eval_util.c — helpers of the evaluation commands (tools/eval_util.h): file reading, depth lists,
 * prompt encoding and the stderr progress bar.
 */
#include "eval_util.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *evu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *b = realloc(buf, cap *= 2);
        if (!b) free(buf);
        buf = b;
    }
    const bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) return free(buf), NULL;
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

bool evu_parse_depths(const char *arg, int64_t *depths, int64_t *n) {
    int32_t *list = NULL;
    int64_t k = 0;
    if (!cli_parse_ids(arg, &list, &k) || k < 1 || k > EVU_MAX_DEPTHS) {
        free(list);
        cli_fail("--steps: need 1..%d comma-separated depths", EVU_MAX_DEPTHS);
        return false;
    }
    for (int64_t i = 0; i < k; i++) {
        if (list[i] < 0 || list[i] > 4096) {
            free(list);
            cli_fail("--steps: each depth must be in 0..4096");
            return false;
        }
        for (int64_t j = 0; j < i; j++)
            if (list[j] == list[i]) {
                free(list);
                cli_fail("--steps: depth %d given twice", list[i]);
                return false;
            }
        depths[i] = list[i];
    }
    *n = k;
    free(list);
    return true;
}

bool evu_encode(hg_tokenizer *tok, const char *text, size_t len, bool bos, int32_t **ids, int64_t *n) {
    int32_t *raw = NULL;
    int64_t k = 0;
    hg_error err = {0};
    if (hg_tokenizer_encode(tok, text, len, false, &raw, &k, &err)) return cli_fail_err(&err), false;
    const int32_t b = bos ? hg_tokenizer_bos_id(tok) : -1;
    int32_t *out = malloc((size_t)(k + 1) * sizeof *out);
    if (!out) return hg_tokenizer_mem_free(raw), cli_fail("out of memory"), false;
    if (b >= 0) out[0] = b;
    if (k) memcpy(out + (b >= 0), raw, (size_t)k * sizeof *raw);
    hg_tokenizer_mem_free(raw);
    *ids = out;
    *n = k + (b >= 0);
    return true;
}

void evu_bar_start(evu_bar *b, const char *label, bool quiet) {
    /* not a terminal (a log, a test): only the final line, so logs stay readable */
    *b = (evu_bar){.label = label, .t0 = cli_now(), .last = -1, .quiet = quiet, .tty = isatty(2) != 0};
}

void evu_bar_update(evu_bar *b, int64_t done, int64_t total) {
    const double now = cli_now();
    if (b->quiet || total <= 0 || (done < total && (!b->tty || now - b->last < 0.2))) return;
    b->last = now;
    const double frac = (double)done / (double)total, el = now - b->t0;
    char bar[31];
    for (int i = 0; i < 30; i++) bar[i] = i < (int)(frac * 30) ? '#' : ' ';
    bar[30] = 0;
    if (done < total && done > 0)
        fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld  %.1f s left   ", b->label, bar, (int)(frac * 100), (long long)done,
                (long long)total, el / frac - el);
    else
        fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld  %.1f s%s", b->label, bar, (int)(frac * 100), (long long)done,
                (long long)total, el, done >= total ? "          \n" : "   ");
    fflush(stderr);
}

void evu_bar_cb(void *user, int64_t done, int64_t total) { evu_bar_update(user, done, total); }
