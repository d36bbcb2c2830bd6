/*
 * fuzz_shard.c — libFuzzer target: a token shard (`huginn tokenize-data` output, src/train/shard.c).
 * The input is written to a file and opened; an accepted shard's rows are read at a few cursors
 * (first, last, wrapping past the end) and every id must be below the shard's vocabulary.
 */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_path(0, "data.shard");
    if (!fz_write(path, data, size)) return 0;
    hg_shard *s = NULL;
    hg_error err = {0};
    if (hg_shard_open(path, &s, &err) != HG_OK) {
        FZ_CHECK(err.msg[0] && !s);
        return 0;
    }
    const int64_t rows = hg_shard_rows(s), len = hg_shard_row_len(s);
    FZ_CHECK(rows >= 0 && len > 0); /* a shard of no rows is valid; reading it is the error */
    if (len <= 4096) {
        int32_t *buf = malloc((size_t)(3 * len) * sizeof *buf);
        const uint64_t cursors[3] = {0, (uint64_t)rows - 1, (uint64_t)rows * 3 + 1};
        for (int c = 0; buf && c < 3; c++)
            if (hg_shard_read(s, cursors[c], 3, buf, &err) != HG_OK)
                FZ_CHECK(err.msg[0]);
            else
                for (int64_t i = 0; i < 3 * len; i++) FZ_CHECK(buf[i] >= 0 && buf[i] < hg_shard_vocab(s));
        free(buf);
    }
    hg_shard_close(s);
    return 0;
}
