/*
 * test_train_shard.c — data for training (src/train/shard.c):
 *   1. the packing rule of docs/training.md "Packing" against a direct transcription of the authors'
 *      loop (written here over plain arrays), on random document lengths, with and without keep-all:
 *      same rows in the same order; plus hand-checked cases (the overflow tail is dropped, rows start
 *      at document starts, an exactly full block, a document longer than a row, keep-all chunking);
 *   2. shards round-trip: writer -> reader gives the rows back; reads wrap around (epochs);
 *   3. malformed shards are refused with a status: wrong magic, other version, truncated body, ids
 *      outside the vocabulary (writer and reader).
 */
#include "harness.h"
#include "huginn.h"

#include <stdlib.h>
#include <string.h>

/* ---- the reference loop ------------------------------------------------------------------------- */

typedef struct rows {
    int32_t *tok; /* [n, row_len] */
    int64_t n, cap, row_len;
} rows;

static void rows_push(rows *r, const int32_t *row) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->tok = realloc(r->tok, (size_t)(r->cap * r->row_len) * sizeof *r->tok);
    }
    memcpy(r->tok + r->n * r->row_len, row, (size_t)r->row_len * sizeof *row);
    r->n++;
}

static hg_status collect(void *user, const int32_t *row, int64_t row_len, hg_error *err) {
    (void)err;
    rows *r = user;
    if (row_len != r->row_len) return HG_STATUS_BAD_ARG;
    rows_push(r, row);
    return HG_OK;
}

/* block = []; for doc: if len(block) >= L: (keep: emit every full row; else emit block[:L], block = []);
 * block += doc. At the end a complete row still in the block is emitted (keep: all of them). */
static void reference_pack(int32_t *const *docs, const int64_t *len, int n_docs, int64_t L, bool keep, rows *out) {
    int64_t cap = 1024, n = 0;
    int32_t *block = malloc((size_t)cap * sizeof *block);
    for (int d = 0; d <= n_docs; d++) {
        if (n >= L) {
            if (keep) {
                int64_t at = 0;
                for (; n - at >= L; at += L) rows_push(out, block + at);
                memmove(block, block + at, (size_t)(n - at) * sizeof *block);
                n -= at;
            } else {
                rows_push(out, block);
                n = 0;
            }
        }
        if (d == n_docs) break;
        if (n + len[d] > cap) block = realloc(block, (size_t)(cap = 2 * (n + len[d])) * sizeof *block);
        memcpy(block + n, docs[d], (size_t)len[d] * sizeof *block);
        n += len[d];
    }
    free(block);
}

static void pack(int32_t *const *docs, const int64_t *len, int n_docs, int64_t L, bool keep, rows *out) {
    hg_packer *p = NULL;
    hg_error err = {0};
    CHECK(hg_packer_init(L, keep, &p, &err) == HG_OK);
    if (!p) return;
    for (int d = 0; d < n_docs; d++) CHECK(hg_packer_add(p, docs[d], len[d], collect, out, &err) == HG_OK);
    CHECK(hg_packer_finish(p, collect, out, &err) == HG_OK);
    hg_packer_free(p);
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void test_against_reference(void) {
    uint64_t s = 42;
    for (int trial = 0; trial < 200; trial++) {
        const int n_docs = 1 + (int)(rng_next(&s) % 30);
        const int64_t L = 2 + (int64_t)(rng_next(&s) % 20);
        const bool keep = trial % 2;
        int32_t *docs[30];
        int64_t len[30];
        int32_t next = 0;
        for (int d = 0; d < n_docs; d++) {
            len[d] = 1 + (int64_t)(rng_next(&s) % (uint64_t)(3 * L));
            docs[d] = malloc((size_t)len[d] * sizeof *docs[d]);
            for (int64_t i = 0; i < len[d]; i++) docs[d][i] = next++; /* every token distinct */
        }
        rows want = {.row_len = L}, got = {.row_len = L};
        reference_pack(docs, len, n_docs, L, keep, &want);
        pack(docs, len, n_docs, L, keep, &got);
        CHECK_MSG(want.n == got.n, "trial %d (L %lld, keep %d): %lld rows, reference %lld", trial, (long long)L, keep,
                  (long long)got.n, (long long)want.n);
        if (want.n == got.n && want.n > 0)
            CHECK_MSG(!memcmp(want.tok, got.tok, (size_t)(want.n * L) * sizeof *want.tok), "trial %d: rows differ", trial);
        free(want.tok), free(got.tok);
        for (int d = 0; d < n_docs; d++) free(docs[d]);
    }
}

static void test_cases(void) {
    /* L = 4; docs A = 1 2 3, B = 4 5 6, C = 7, D = 8 9 10 11 12 */
    int32_t A[] = {1, 2, 3}, B[] = {4, 5, 6}, C[] = {7}, D[] = {8, 9, 10, 11, 12};
    int32_t *docs[] = {A, B, C, D};
    int64_t len[] = {3, 3, 1, 5};
    rows r = {.row_len = 4};
    pack(docs, len, 4, 4, false, &r);
    /* A+B = 1..6 overflows: row 1 2 3 4, tail 5 6 dropped; C = 7 then D: 7 8 9 10 (block 7..12) at the end */
    const int32_t want[] = {1, 2, 3, 4, 7, 8, 9, 10};
    CHECK_MSG(r.n == 2 && !memcmp(r.tok, want, sizeof want), "drop-tail rows: n = %lld", (long long)r.n);
    free(r.tok);
    rows k = {.row_len = 4};
    pack(docs, len, 4, 4, true, &k);
    /* keep-all: 1 2 3 4 | 5 6 7 8 | 9 10 11 12 */
    const int32_t want_k[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    CHECK_MSG(k.n == 3 && !memcmp(k.tok, want_k, sizeof want_k), "keep-all rows: n = %lld", (long long)k.n);
    free(k.tok);
    /* an exactly full block is one row and the next document starts the next row */
    int32_t E[] = {1, 2, 3, 4}, F[] = {5, 6, 7, 8, 9};
    int32_t *docs2[] = {E, F};
    int64_t len2[] = {4, 5};
    rows e = {.row_len = 4};
    pack(docs2, len2, 2, 4, false, &e);
    const int32_t want_e[] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_MSG(e.n == 2 && !memcmp(e.tok, want_e, sizeof want_e), "full block: n = %lld", (long long)e.n);
    free(e.tok);
    /* too little for one row: nothing */
    rows z = {.row_len = 16};
    pack(docs, len, 4, 16, false, &z);
    CHECK(z.n == 0);
    free(z.tok);
    hg_packer *p = NULL;
    hg_error err = {0};
    CHECK(hg_packer_init(1, false, &p, &err) == HG_STATUS_BAD_ARG && p == NULL);
}

/* ---- shard files ------------------------------------------------------------------------------------ */

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) fwrite(data, 1, n, f), fclose(f);
}

static void test_shards(void) {
    const char *dir = hg_tmp_dir("train_shard");
    char path[1024], bad[1100];
    snprintf(path, sizeof path, "%s/a.shard", dir);
    hg_error err = {0};
    hg_shard_writer *w = NULL;
    CHECK(hg_shard_writer_open(path, 5, 100, 98, 99, &w, &err) == HG_OK);
    if (!w) return;
    int32_t row[5];
    for (int r = 0; r < 7; r++) {
        for (int t = 0; t < 5; t++) row[t] = (r * 5 + t) % 97;
        CHECK(hg_shard_writer_row(w, row, &err) == HG_OK);
    }
    row[2] = 100; /* out of the vocabulary */
    CHECK(hg_shard_writer_row(w, row, &err) == HG_STATUS_BAD_INPUT);
    CHECK(hg_shard_writer_rows(w) == 7);
    CHECK(hg_shard_writer_close(w, &err) == HG_OK);
    hg_shard *s = NULL;
    CHECK(hg_shard_open(path, &s, &err) == HG_OK);
    if (!s) return;
    CHECK(hg_shard_rows(s) == 7 && hg_shard_row_len(s) == 5 && hg_shard_vocab(s) == 100);
    int32_t got[10 * 5];
    for (size_t i = 0; i < sizeof got / sizeof *got; i++) got[i] = -7; /* poison */
    CHECK(hg_shard_read(s, 5, 4, got, &err) == HG_OK); /* rows 5, 6, 0, 1: wraps */
    const int idx[4] = {5, 6, 0, 1};
    bool ok = true;
    for (int r = 0; r < 4; r++)
        for (int t = 0; t < 5; t++) ok &= got[r * 5 + t] == (idx[r] * 5 + t) % 97;
    CHECK_MSG(ok, "rows read back differ");
    hg_shard_close(s);

    size_t n = 0;
    uint8_t *bytes = hg_read_file(path, &n);
    CHECK(bytes && n == 64 + 7 * 5 * 4);
    if (!bytes) return;
    snprintf(bad, sizeof bad, "%s/bad.shard", dir);
    s = NULL;
    bytes[0] ^= 1; /* magic */
    write_file(bad, bytes, n);
    CHECK(hg_shard_open(bad, &s, &err) == HG_STATUS_BAD_FILE && !s && strstr(err.msg, "magic"));
    bytes[0] ^= 1, bytes[8] = 2; /* version */
    write_file(bad, bytes, n);
    CHECK(hg_shard_open(bad, &s, &err) == HG_STATUS_UNSUPPORTED && !s);
    bytes[8] = 1;
    write_file(bad, bytes, n - 3); /* truncated */
    CHECK(hg_shard_open(bad, &s, &err) == HG_STATUS_BAD_FILE && !s);
    bytes[16] = 0xff, bytes[23] = 0x7f; /* absurd row count */
    write_file(bad, bytes, n);
    CHECK(hg_shard_open(bad, &s, &err) == HG_STATUS_BAD_FILE && !s);
    bytes[16] = 7, bytes[23] = 0;
    bytes[64 + 4 * 7] = 200; /* row 1 holds an id >= vocab */
    write_file(bad, bytes, n);
    CHECK(hg_shard_open(bad, &s, &err) == HG_OK && s);
    if (s) {
        CHECK(hg_shard_read(s, 0, 1, got, &err) == HG_OK);
        CHECK(hg_shard_read(s, 1, 1, got, &err) == HG_STATUS_BAD_FILE);
        hg_shard_close(s);
    }
    free(bytes);
    CHECK(hg_shard_open("/nonexistent/x.shard", &s, &err) == HG_STATUS_IO);
}

int main(void) {
    test_cases();
    test_against_reference();
    test_shards();
    return hg_test_finish("test_train_shard");
}
