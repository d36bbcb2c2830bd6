/*
 * bench_tokenizer.c — encode throughput of our tokenizer on a set of text files, checked first
 * against Hugging Face's ids for the same files (written by bench_hf.js in the same run), then timed
 * (docs/conventions.md rule 20). One thread. Each file is encoded as one string, like the goldens; the best of
 * `reps` runs per file is kept (both sides keep their BPE caches warm across runs, so this is the
 * steady state; the first, cold run is reported too).
 * Usage: bench_tokenizer TOKENIZER.json REPS FILE IDS_FILE [FILE IDS_FILE ...]
 * Prints one line: `ours_MBps=... cold_MBps=... bytes=... tokens=... mismatches=...`.
 */
#include "huginn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

int main(int argc, char **argv) {
    if (argc < 5 || (argc - 3) % 2) {
        fprintf(stderr, "usage: bench_tokenizer TOKENIZER.json REPS FILE IDS_FILE [FILE IDS_FILE ...]\n");
        return 2;
    }
    hg_error err = {0};
    hg_tokenizer *tok = NULL;
    double t0 = now();
    if (hg_tokenizer_load(argv[1], &tok, &err)) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double t_load = now() - t0;
    int reps = atoi(argv[2]);
    double best_total = 0, cold_total = 0;
    size_t bytes = 0;
    long long tokens = 0, mismatches = 0;
    for (int a = 3; a + 1 < argc; a += 2) {
        size_t len = 0, il = 0;
        char *text = slurp(argv[a], &len), *want = slurp(argv[a + 1], &il);
        if (!text || !want) {
            fprintf(stderr, "bench_tokenizer: cannot read %s or %s\n", argv[a], argv[a + 1]);
            return 1;
        }
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            int32_t *ids = NULL;
            int64_t n = 0;
            double s = now();
            if (hg_tokenizer_encode(tok, text, len, false, &ids, &n, &err)) {
                fprintf(stderr, "bench_tokenizer: %s: %s\n", argv[a], err.msg);
                return 1;
            }
            double dt = now() - s;
            if (r == 0) { /* check before trusting any timing */
                cold_total += dt;
                tokens += n;
                if ((size_t)n * 4 != il || memcmp(ids, want, il)) mismatches++;
            }
            if (dt < best) best = dt;
            hg_tokenizer_mem_free(ids);
        }
        best_total += best;
        bytes += len;
        free(text);
        free(want);
    }
    printf("ours_MBps=%.2f cold_MBps=%.2f load_s=%.3f bytes=%zu tokens=%lld mismatches=%lld\n",
           (double)bytes / best_total / 1e6, (double)bytes / cold_total / 1e6, t_load, bytes, tokens, mismatches);
    hg_tokenizer_free(tok);
    return mismatches ? 1 : 0;
}
