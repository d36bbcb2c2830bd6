/*
 * cmd_tokenize_data.c — `huginn tokenize-data`: text files -> token shards for `huginn train`.
 *
 *   huginn tokenize-data -t TOKENIZER --row-len N -o OUT.shard [--split file|line|blank]
 *                        [--keep-all] [--seed S] [--val OUT_VAL.shard --val-fraction F] FILE...
 *
 * Each document (a whole file, a line, or a paragraph between blank lines) is encoded with the
 * tokenizer without its post-processor, framed as <bos> text <eos> with the ids tokenizer_config.json
 * names (either may be absent), and the documents are shuffled (seeded Fisher-Yates over the whole
 * set, as the authors shuffle globally before packing) and packed into rows of N = T + 1 tokens by the
 * rule of docs/training.md "Packing" (hg_packer: rows start at document starts, the overflowing tail is
 * dropped unless --keep-all). With --val, each document goes to the validation shard with
 * probability F, decided by a hash of its index and the seed, so the split does not depend on order.
 * All documents are held in memory (ids), which fits the small corpora this project trains on.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct doc {
    int32_t *ids; /* [n] framed ids, malloc'ed */
    int64_t n;
} doc;

typedef struct docs {
    doc *d;
    int64_t n, cap;
} docs;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool push_doc(docs *ds, hg_tokenizer *tok, const char *text, size_t len, int32_t bos, int32_t eos,
                     hg_error *err, bool *failed) {
    int32_t *ids = NULL;
    int64_t n = 0;
    if (hg_tokenizer_encode(tok, text, len, false, &ids, &n, err)) return *failed = true, false;
    int32_t *framed = malloc((size_t)(n + 2) * sizeof *framed);
    if (framed && ds->n == ds->cap) {
        const int64_t cap = ds->cap ? 2 * ds->cap : 256;
        doc *nd = realloc(ds->d, (size_t)cap * sizeof *nd);
        if (nd) ds->d = nd, ds->cap = cap;
        else free(framed), framed = NULL;
    }
    if (!framed) {
        hg_tokenizer_mem_free(ids);
        return false;
    }
    int64_t k = 0;
    if (bos >= 0) framed[k++] = bos;
    if (n) memcpy(framed + k, ids, (size_t)n * sizeof *ids);
    k += n;
    if (eos >= 0) framed[k++] = eos;
    hg_tokenizer_mem_free(ids);
    ds->d[ds->n++] = (doc){framed, k};
    return true;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *b = realloc(buf, cap *= 2);
        if (!b) free(buf);
        buf = b;
    }
    fclose(f);
    *len = n;
    return buf;
}

static hg_status emit_row(void *user, const int32_t *row, int64_t row_len, hg_error *err) {
    (void)row_len;
    return hg_shard_writer_row(user, row, err);
}

static int usage(void) {
    fprintf(stderr, "usage: huginn tokenize-data -t TOKENIZER --row-len N -o OUT.shard [--split file|line|blank]\n"
                    "                            [--keep-all] [--seed S] [--val OUT_VAL.shard --val-fraction F] FILE...\n");
    return 1;
}

int cmd_tokenize_data(int argc, char **argv) {
    const char *tok_path = NULL, *out_path = NULL, *val_path = NULL, *split = "file";
    int64_t row_len = 0;
    uint64_t seed = 1;
    float val_frac = 0;
    bool keep_all = false;
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    if (!files) return cli_fail("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return free(files), usage(), 0;
        if (!strcmp(a, "--keep-all")) {
            keep_all = true;
            continue;
        }
        if (a[0] != '-') {
            files[n_files++] = a;
            continue;
        }
        if (!(v = cli_value(argc, argv, &i, "tokenize-data", "-t -o --val --split --row-len --seed --val-fraction"))) return free(files), 1;
        if (!strcmp(a, "-t")) tok_path = v;
        else if (!strcmp(a, "-o")) out_path = v;
        else if (!strcmp(a, "--val")) val_path = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--row-len")) {
            if (!cli_parse_i64(v, &row_len) || row_len < 2) return free(files), cli_fail("--row-len: need an integer >= 2");
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(v, &seed)) return free(files), cli_fail("--seed: need an unsigned integer");
        } else if (!strcmp(a, "--val-fraction")) {
            if (!cli_parse_f32(v, &val_frac) || !(val_frac >= 0 && val_frac < 1))
                return free(files), cli_fail("--val-fraction: need a number in [0, 1)");
        } else return free(files), cli_fail("tokenize-data: unknown option `%s`", a), usage();
    }
    if (!tok_path || !out_path || !row_len || !n_files) return free(files), usage();
    if (strcmp(split, "file") && strcmp(split, "line") && strcmp(split, "blank"))
        return free(files), cli_fail("--split: file, line or blank");
    if ((val_frac > 0) != (val_path != NULL)) return free(files), cli_fail("--val and --val-fraction go together");

    int rc = 1;
    hg_error err = {0};
    hg_tokenizer *tok = NULL;
    hg_packer *pk[2] = {NULL, NULL};
    hg_shard_writer *w[2] = {NULL, NULL};
    docs ds = {0};
    int64_t *order = NULL;
    if (hg_tokenizer_load(tok_path, &tok, &err)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    const int32_t bos = hg_tokenizer_bos_id(tok), eos = hg_tokenizer_eos_id(tok);
    int64_t n_bytes = 0;
    for (int fi = 0; fi < n_files; fi++) {
        size_t len = 0;
        char *text = slurp(files[fi], &len);
        if (!text) {
            cli_fail("%s: cannot read", files[fi]);
            goto out;
        }
        n_bytes += (int64_t)len;
        bool failed = false, ok = true;
        if (!strcmp(split, "file")) ok = push_doc(&ds, tok, text, len, bos, eos, &err, &failed);
        else
            for (size_t at = 0; ok && at < len;) {
                size_t end = at;
                if (!strcmp(split, "line"))
                    while (end < len && text[end] != '\n') end++;
                else /* a paragraph ends at an empty line */
                    while (end < len && !(text[end] == '\n' && end + 1 < len && text[end + 1] == '\n')) end++;
                size_t b = at, e = end;
                while (b < e && (text[b] == '\n' || text[b] == '\r')) b++;
                if (e > b) ok = push_doc(&ds, tok, text + b, e - b, bos, eos, &err, &failed);
                at = end + 1;
            }
        free(text);
        if (!ok) {
            if (failed) cli_fail("%s: %s", files[fi], err.msg);
            else cli_fail("out of memory");
            goto out;
        }
    }
    order = malloc((size_t)(ds.n ? ds.n : 1) * sizeof *order);
    if (!order) {
        cli_fail("out of memory");
        goto out;
    }
    for (int64_t i = 0; i < ds.n; i++) order[i] = i;
    uint64_t st = seed;
    for (int64_t i = ds.n - 1; i > 0; i--) { /* Fisher-Yates */
        const int64_t j = (int64_t)(mix64(st += 0x9e3779b97f4a7c15ull) % (uint64_t)(i + 1));
        const int64_t t = order[i];
        order[i] = order[j], order[j] = t;
    }
    const int n_out = val_path ? 2 : 1;
    const char *paths[2] = {out_path, val_path};
    for (int k = 0; k < n_out; k++)
        if (hg_packer_init(row_len, keep_all, &pk[k], &err) ||
            hg_shard_writer_open(paths[k], row_len, hg_tokenizer_n_vocab(tok), bos, eos, &w[k], &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
    int64_t n_tokens[2] = {0, 0}, n_docs[2] = {0, 0};
    for (int64_t i = 0; i < ds.n; i++) {
        const doc *d = &ds.d[order[i]];
        const int k = val_path && (double)(mix64(seed ^ (uint64_t)order[i] * 0xd1b54a32d192ed03ull) >> 11) * 0x1p-53 <
                                      (double)val_frac;
        n_tokens[k] += d->n, n_docs[k]++;
        if (hg_packer_add(pk[k], d->ids, d->n, emit_row, w[k], &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
    }
    for (int k = 0; k < n_out; k++) {
        if (hg_packer_finish(pk[k], emit_row, w[k], &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
        const int64_t rows = hg_shard_writer_rows(w[k]);
        hg_status s = hg_shard_writer_close(w[k], &err);
        w[k] = NULL;
        if (s) {
            rc = cli_fail_err(&err);
            goto out;
        }
        printf("%s: %lld documents, %lld tokens -> %lld rows of %lld (%.1f%% of tokens kept)\n", paths[k],
               (long long)n_docs[k], (long long)n_tokens[k], (long long)rows, (long long)row_len,
               n_tokens[k] ? 100.0 * (double)(rows * row_len) / (double)n_tokens[k] : 0.0);
    }
    printf("read %lld bytes from %d file(s)\n", (long long)n_bytes, n_files);
    rc = 0;
out:
    for (int k = 0; k < 2; k++) hg_shard_writer_abort(w[k]), hg_packer_free(pk[k]);
    for (int64_t i = 0; i < ds.n; i++) free(ds.d[i].ids);
    free(ds.d), free(order), free(files);
    hg_tokenizer_free(tok);
    return rc;
}
