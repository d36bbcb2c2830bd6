/*
 * shard.c — token shards for training: the packing rule that turns tokenized documents into rows
 * (docs/training.md "Packing"), the shard file format, a writer and a streaming reader.
 *
 * Packing (the authors' rule): documents are concatenated into a block; before a document is added,
 * a block that already holds ≥ row_len tokens is emitted as one row of its first row_len tokens and
 * the rest of the block (the tail of the document that overflowed) is DISCARDED, unless the caller
 * marks the data "keep all", in which case the block is cut into as many full rows as it holds and
 * only the remainder stays. At the end a complete row left in the block is emitted (the reference
 * emits it only when another document follows) and the unfinished rest is dropped. So every row starts at a
 * document start (or, with keep-all, continues a document cut at a row boundary).
 *
 * File format (little-endian), version 1:
 *   offset 0  char[8]  "HGSHARD\0"
 *          8  u32      version (1)
 *         12  u32      header bytes (64)
 *         16  u64      n_rows
 *         24  u32      row_len (T + 1 tokens per row)
 *         28  u32      bytes per token (4: int32 ids)
 *         32  i32      vocab size the ids were checked against (every id < it)
 *         36  i32      bos id, 40 i32 eos id (-1 = none)
 *         44  u8[20]   zero
 *         64  i32      tokens [n_rows, row_len]
 * A shard is written under PATH.tmp and renamed when complete, so a reader never sees a partial file.
 * The reader maps nothing and keeps no rows: each call reads the rows it is asked for with one pread,
 * so a shard of any size streams through a fixed buffer.
 */
#include "train/train.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHARD_MAGIC "HGSHARD"
enum { SHARD_VERSION = 1, SHARD_HEADER = 64 };

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

/* ---- packing ------------------------------------------------------------------------------------- */

struct hg_packer {
    int32_t *block; /* [cap] tokens of the block being filled */
    int64_t len, cap, row_len;
    bool keep_all;
};

hg_status hg_packer_init(int64_t row_len, bool keep_all, hg_packer **out, hg_error *err) {
    if (row_len < 2 || row_len > (1 << 24))
        return hg_err(err, HG_STATUS_BAD_ARG, "packer: row_len %lld must be in 2..%d", (long long)row_len, 1 << 24);
    hg_packer *p = hg_calloc(1, sizeof *p);
    if (!p) return hg_err(err, HG_STATUS_NOMEM, "packer: out of memory");
    p->row_len = row_len, p->keep_all = keep_all, p->cap = 2 * row_len;
    p->block = hg_malloc((size_t)p->cap * sizeof *p->block);
    if (!p->block) {
        hg_free(p);
        return hg_err(err, HG_STATUS_NOMEM, "packer: out of memory");
    }
    *out = p;
    return HG_OK;
}

void hg_packer_free(hg_packer *p) {
    if (!p) return;
    hg_free(p->block);
    hg_free(p);
}

hg_status hg_packer_add(hg_packer *p, const int32_t *doc, int64_t n, hg_pack_emit emit, void *user, hg_error *err) {
    if (n < 0) return hg_err(err, HG_STATUS_BAD_ARG, "packer: negative document length");
    hg_status st;
    /* the rule runs before the document joins the block */
    if (p->len >= p->row_len) {
        if (p->keep_all) {
            int64_t at = 0;
            for (; p->len - at >= p->row_len; at += p->row_len)
                if ((st = emit(user, p->block + at, p->row_len, err))) return st;
            memmove(p->block, p->block + at, (size_t)(p->len - at) * sizeof *p->block);
            p->len -= at;
        } else {
            if ((st = emit(user, p->block, p->row_len, err))) return st;
            p->len = 0; /* the overflow tail is discarded */
        }
    }
    /* Without keep-all only the first row_len tokens of a block are ever emitted, so a document is
     * stored only up to that point (the rest would be discarded at the next add anyway). */
    const int64_t room = p->row_len - p->len; /* > 0: the rule above left len < row_len */
    const int64_t take = p->keep_all || n < room ? n : room;
    if (p->len + take > p->cap) {
        int64_t cap = p->cap;
        while (cap < p->len + take) cap *= 2;
        int32_t *b = hg_realloc(p->block, (size_t)cap * sizeof *b);
        if (!b) return hg_err(err, HG_STATUS_NOMEM, "packer: out of memory");
        p->block = b, p->cap = cap;
    }
    memcpy(p->block + p->len, doc, (size_t)take * sizeof *doc);
    p->len += take;
    return HG_OK;
}

hg_status hg_packer_finish(hg_packer *p, hg_pack_emit emit, void *user, hg_error *err) {
    /* a complete row still in the block is emitted; the unfinished remainder is dropped */
    hg_status st;
    for (int64_t at = 0; p->len - at >= p->row_len; at += p->row_len) {
        if ((st = emit(user, p->block + at, p->row_len, err))) return st;
        if (!p->keep_all) break;
    }
    p->len = 0;
    return HG_OK;
}

/* ---- writer -------------------------------------------------------------------------------------- */

struct hg_shard_writer {
    FILE *f;
    char *path, *tmp;
    uint8_t header[SHARD_HEADER];
    int64_t row_len, n_rows;
    int32_t n_vocab;
};

hg_status hg_shard_writer_open(const char *path, int64_t row_len, int32_t n_vocab, int32_t bos, int32_t eos,
                               hg_shard_writer **out, hg_error *err) {
    if (row_len < 2 || row_len > (1 << 24) || n_vocab <= 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "%s: row_len must be in 2..%d and n_vocab > 0", path, 1 << 24);
    hg_shard_writer *w = hg_calloc(1, sizeof *w);
    const size_t pl = strlen(path);
    if (!w || !(w->path = hg_malloc(pl + 1)) || !(w->tmp = hg_malloc(pl + 5))) {
        if (w) hg_free(w->path);
        hg_free(w);
        return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->path, path, pl + 1);
    snprintf(w->tmp, pl + 5, "%s.tmp", path);
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        hg_status st = hg_err(err, HG_STATUS_IO, "%s: cannot write (%s)", w->tmp, strerror(errno));
        hg_free(w->path), hg_free(w->tmp), hg_free(w);
        return st;
    }
    w->row_len = row_len, w->n_vocab = n_vocab;
    memcpy(w->header, SHARD_MAGIC, 8);
    put_u32(w->header + 8, SHARD_VERSION);
    put_u32(w->header + 12, SHARD_HEADER);
    put_u32(w->header + 24, (uint32_t)row_len);
    put_u32(w->header + 28, 4);
    put_u32(w->header + 32, (uint32_t)n_vocab);
    put_u32(w->header + 36, (uint32_t)bos);
    put_u32(w->header + 40, (uint32_t)eos);
    fwrite(w->header, 1, SHARD_HEADER, w->f); /* n_rows is patched at close */
    *out = w;
    return HG_OK;
}

hg_status hg_shard_writer_row(hg_shard_writer *w, const int32_t *row, hg_error *err) {
    uint8_t buf[4096];
    for (int64_t i = 0; i < w->row_len; i += 1024) {
        const int64_t n = w->row_len - i < 1024 ? w->row_len - i : 1024;
        for (int64_t j = 0; j < n; j++) {
            if (row[i + j] < 0 || row[i + j] >= w->n_vocab)
                return hg_err(err, HG_STATUS_BAD_INPUT, "%s: token id %d outside the vocabulary [0, %d)", w->path,
                              row[i + j], w->n_vocab);
            put_u32(buf + 4 * j, (uint32_t)row[i + j]);
        }
        if (fwrite(buf, 4, (size_t)n, w->f) != (size_t)n)
            return hg_err(err, HG_STATUS_IO, "%s: write failed", w->tmp);
    }
    w->n_rows++;
    return HG_OK;
}

hg_status hg_shard_writer_close(hg_shard_writer *w, hg_error *err) {
    if (!w) return HG_OK;
    hg_status st = HG_OK;
    put_u64(w->header + 16, (uint64_t)w->n_rows);
    if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(w->header, 1, SHARD_HEADER, w->f) != SHARD_HEADER ||
        fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
        st = hg_err(err, HG_STATUS_IO, "%s: write failed", w->tmp);
    if (fclose(w->f) != 0 && !st) st = hg_err(err, HG_STATUS_IO, "%s: write failed", w->tmp);
    if (!st && rename(w->tmp, w->path) != 0)
        st = hg_err(err, HG_STATUS_IO, "%s: cannot rename to %s (%s)", w->tmp, w->path, strerror(errno));
    if (st) remove(w->tmp);
    hg_free(w->path), hg_free(w->tmp), hg_free(w);
    return st;
}

void hg_shard_writer_abort(hg_shard_writer *w) {
    if (!w) return;
    fclose(w->f);
    remove(w->tmp);
    hg_free(w->path), hg_free(w->tmp), hg_free(w);
}

int64_t hg_shard_writer_rows(const hg_shard_writer *w) { return w->n_rows; }

/* ---- streaming reader ---------------------------------------------------------------------------- */

struct hg_shard {
    int fd;
    char *path;
    int64_t n_rows, row_len;
    int32_t n_vocab, bos, eos;
    uint8_t *buf; /* [row_len * 4] one row of raw bytes */
};

hg_status hg_shard_open(const char *path, hg_shard **out, hg_error *err) {
    const int fd = open(path, O_RDONLY);
    if (fd < 0) return hg_err(err, HG_STATUS_IO, "%s: cannot open (%s)", path, strerror(errno));
    uint8_t h[SHARD_HEADER];
    struct stat sb;
    hg_status st = HG_OK;
    if (fstat(fd, &sb) != 0 || pread(fd, h, SHARD_HEADER, 0) != SHARD_HEADER) {
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: too short for a token shard header", path);
        goto fail;
    }
    if (memcmp(h, SHARD_MAGIC, 8) != 0) {
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: not a token shard (bad magic; write one with huginn tokenize-data)",
                    path);
        goto fail;
    }
    if (get_u32(h + 8) != SHARD_VERSION || get_u32(h + 12) != SHARD_HEADER || get_u32(h + 28) != 4) {
        st = hg_err(err, HG_STATUS_UNSUPPORTED, "%s: token shard version %u (header %u, %u-byte ids); this build reads "
                    "version %d with 4-byte ids: re-run huginn tokenize-data", path, get_u32(h + 8), get_u32(h + 12),
                    get_u32(h + 28), SHARD_VERSION);
        goto fail;
    }
    const uint64_t n_rows = get_u64(h + 16), row_len = get_u32(h + 24);
    const int32_t n_vocab = (int32_t)get_u32(h + 32);
    size_t body;
    if (row_len < 2 || row_len > (1u << 24) || n_vocab <= 0 || n_rows > (uint64_t)INT64_MAX / 4 ||
        !hg_mul_ok((size_t)n_rows, (size_t)row_len * 4, &body) ||
        (uint64_t)sb.st_size != (uint64_t)SHARD_HEADER + body) {
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: header says %llu rows of %llu tokens but the file has %lld bytes",
                    path, (unsigned long long)n_rows, (unsigned long long)row_len, (long long)sb.st_size);
        goto fail;
    }
    hg_shard *s = hg_calloc(1, sizeof *s);
    const size_t pl = strlen(path);
    if (!s || !(s->path = hg_malloc(pl + 1)) || !(s->buf = hg_malloc((size_t)row_len * 4))) {
        if (s) hg_free(s->path);
        hg_free(s);
        st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    memcpy(s->path, path, pl + 1);
    s->fd = fd, s->n_rows = (int64_t)n_rows, s->row_len = (int64_t)row_len, s->n_vocab = n_vocab;
    s->bos = (int32_t)get_u32(h + 36), s->eos = (int32_t)get_u32(h + 40);
    *out = s;
    return HG_OK;
fail:
    close(fd);
    return st;
}

void hg_shard_close(hg_shard *s) {
    if (!s) return;
    close(s->fd);
    hg_free(s->buf), hg_free(s->path), hg_free(s);
}

int64_t hg_shard_rows(const hg_shard *s) { return s->n_rows; }
int64_t hg_shard_row_len(const hg_shard *s) { return s->row_len; }
int32_t hg_shard_vocab(const hg_shard *s) { return s->n_vocab; }

hg_status hg_shard_read(hg_shard *s, uint64_t cursor, int64_t n, int32_t *rows, hg_error *err) {
    if (s->n_rows == 0) return hg_err(err, HG_STATUS_BAD_INPUT, "%s: the shard holds no rows", s->path);
    for (int64_t r = 0; r < n; r++) {
        const int64_t idx = (int64_t)((cursor + (uint64_t)r) % (uint64_t)s->n_rows); /* epochs wrap around */
        const size_t bytes = (size_t)s->row_len * 4;
        const off_t off = (off_t)SHARD_HEADER + (off_t)idx * (off_t)bytes;
        if (pread(s->fd, s->buf, bytes, off) != (ssize_t)bytes)
            return hg_err(err, HG_STATUS_IO, "%s: read of row %lld failed", s->path, (long long)idx);
        for (int64_t t = 0; t < s->row_len; t++) {
            const uint32_t v = get_u32(s->buf + 4 * t);
            if (v >= (uint32_t)s->n_vocab)
                return hg_err(err, HG_STATUS_BAD_FILE, "%s: row %lld holds id %u >= vocabulary %d", s->path,
                              (long long)idx, v, s->n_vocab);
            rows[r * s->row_len + t] = (int32_t)v;
        }
    }
    return HG_OK;
}
