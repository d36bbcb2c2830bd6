/*
 * gguf_write.c — the GGUF v3 writer (API in gguf.h).
 *
 * Metadata is serialised into one growing byte buffer as each key is set (so the writer holds no
 * copies of caller strings and key order is the call order); tensor infos are kept as a list with
 * their offsets assigned at add time (each tensor starts at a multiple of the alignment). Writing
 * emits header, metadata, tensor infos, padding, then each tensor's bytes followed by its padding,
 * into path.tmp.PID, and renames that over path only when everything succeeded (docs/conventions.md rule 9).
 *
 * Tensor bytes come either from memory the caller keeps alive, or from a fill callback in chunks of
 * whole rows of at most HG_GGUF_CHUNK bytes: converting Huginn-0125 (a 1.4 GB f32 embedding) never
 * holds a whole tensor twice.
 */
#include "io/gguf.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#define HG_GGUF_CHUNK ((size_t)32 << 20)

typedef struct wtensor {
    char *name;       /* owned */
    uint32_t type;
    int n_dims;
    int64_t ne[HG_GGUF_MAX_DIMS];
    uint64_t offset;  /* in the data region */
    size_t nbytes;
    size_t row_bytes; /* bytes of ne[0] elements */
    int64_t n_rows;   /* ne[1]·ne[2]·ne[3] */
    const void *data; /* or NULL: use fill */
    hg_gguf_fill_fn fill;
    void *user;
} wtensor;

struct hg_gguf_writer {
    uint8_t *meta; /* [meta_len] serialised key/value pairs, owned */
    size_t meta_len, meta_cap;
    uint64_t n_kv;
    char **keys;   /* [n_kv] owned copies, for the duplicate check */
    wtensor *tensors; /* [n_tensors] owned */
    int64_t n_tensors, cap_tensors;
    uint64_t data_size; /* bytes of the data region so far (padded) */
    uint32_t alignment;
    hg_status st;  /* first failure (sticky) */
    hg_error err;
};

static hg_status fail(hg_gguf_writer *w, hg_status st, const char *fmt, const char *arg) {
    if (!w->st) {
        w->st = st;
        hg_err(&w->err, st, fmt, arg);
    }
    return w->st;
}

hg_status hg_gguf_writer_init(hg_gguf_writer **out, hg_error *err) {
    hg_gguf_writer *w = hg_calloc(1, sizeof *w);
    if (!w) return hg_err(err, HG_STATUS_NOMEM, "gguf writer: out of memory");
    w->alignment = HG_GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return HG_OK;
}

void hg_gguf_writer_free(hg_gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) hg_free(w->keys[i]);
    hg_free(w->keys);
    for (int64_t i = 0; i < w->n_tensors; i++) hg_free(w->tensors[i].name);
    hg_free(w->tensors);
    hg_free(w->meta);
    hg_free(w);
}

/* ---- serialising metadata ------------------------------------------------------------------------ */

static bool put(hg_gguf_writer *w, const void *p, size_t n) {
    if (w->st) return false;
    if (n == 0) return true;
    if (n > SIZE_MAX - w->meta_len) {
        fail(w, HG_STATUS_NOMEM, "gguf writer: metadata too large%s", "");
        return false;
    }
    if (w->meta_len + n > w->meta_cap) {
        size_t cap = w->meta_cap ? w->meta_cap : 4096;
        while (cap < w->meta_len + n) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        uint8_t *m = hg_realloc(w->meta, cap);
        if (!m) {
            fail(w, HG_STATUS_NOMEM, "gguf writer: out of memory%s", "");
            return false;
        }
        w->meta = m;
        w->meta_cap = cap;
    }
    memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
    return true;
}
static bool put_u32(hg_gguf_writer *w, uint32_t v) { return put(w, &v, 4); }
static bool put_u64(hg_gguf_writer *w, uint64_t v) { return put(w, &v, 8); }
static bool put_str(hg_gguf_writer *w, const char *s, size_t len) { return put_u64(w, len) && put(w, s, len); }

/* Key and type of a new pair; refuses a key set before. */
static bool begin_kv(hg_gguf_writer *w, const char *key, hg_gguf_vtype type) {
    if (w->st) return false;
    if (!key || !*key) {
        fail(w, HG_STATUS_BAD_ARG, "gguf writer: empty key%s", "");
        return false;
    }
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) {
            fail(w, HG_STATUS_BAD_ARG, "gguf writer: key %s set twice", key);
            return false;
        }
    char **keys = hg_realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *keys);
    if (!keys) {
        fail(w, HG_STATUS_NOMEM, "gguf writer: out of memory%s", "");
        return false;
    }
    w->keys = keys;
    if (!(keys[w->n_kv] = hg_strdup(key))) {
        fail(w, HG_STATUS_NOMEM, "gguf writer: out of memory%s", "");
        return false;
    }
    w->n_kv++;
    return put_str(w, key, strlen(key)) && put_u32(w, (uint32_t)type);
}

static bool check_bools(hg_gguf_writer *w, const char *key, const uint8_t *v, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (v[i] > 1) {
            fail(w, HG_STATUS_BAD_ARG, "gguf writer: key %s: BOOL values must be 0 or 1", key);
            return false;
        }
    return true;
}

hg_status hg_gguf_set_scalar(hg_gguf_writer *w, const char *key, hg_gguf_vtype type, const void *value) {
    size_t es = hg_gguf_vtype_size(type);
    if (!es) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: key %s: not a scalar type", key);
    if (type == HG_GGUF_BOOL && !check_bools(w, key, value, 1)) return w->st;
    if (begin_kv(w, key, type)) put(w, value, es);
    return w->st;
}

hg_status hg_gguf_set_u32(hg_gguf_writer *w, const char *key, uint32_t v) {
    return hg_gguf_set_scalar(w, key, HG_GGUF_UINT32, &v);
}
hg_status hg_gguf_set_f32(hg_gguf_writer *w, const char *key, float v) {
    return hg_gguf_set_scalar(w, key, HG_GGUF_FLOAT32, &v);
}
hg_status hg_gguf_set_bool(hg_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return hg_gguf_set_scalar(w, key, HG_GGUF_BOOL, &b);
}
hg_status hg_gguf_set_str(hg_gguf_writer *w, const char *key, const char *s, size_t len) {
    if (begin_kv(w, key, HG_GGUF_STRING)) put_str(w, s, len);
    return w->st;
}

hg_status hg_gguf_set_arr(hg_gguf_writer *w, const char *key, hg_gguf_vtype type, const void *values, uint64_t n) {
    size_t es = hg_gguf_vtype_size(type), nb;
    if (!es) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: key %s: arrays of strings use hg_gguf_set_arr_str", key);
    if (n > SIZE_MAX || !hg_mul_ok((size_t)n, es, &nb)) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: key %s: array too large", key);
    if (type == HG_GGUF_BOOL && !check_bools(w, key, values, n)) return w->st;
    if (begin_kv(w, key, HG_GGUF_ARRAY) && put_u32(w, (uint32_t)type) && put_u64(w, n)) put(w, values, nb);
    return w->st;
}

hg_status hg_gguf_set_arr_str(hg_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                              uint64_t n) {
    if (!begin_kv(w, key, HG_GGUF_ARRAY) || !put_u32(w, HG_GGUF_STRING) || !put_u64(w, n)) return w->st;
    for (uint64_t i = 0; i < n; i++)
        if (!put_str(w, strs[i], lens ? lens[i] : strlen(strs[i]))) break;
    return w->st;
}

hg_status hg_gguf_set_kv_copy(hg_gguf_writer *w, const hg_gguf_kv *kv) {
    char key[1024];
    if (kv->key.len >= sizeof key) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: key too long to copy%s", "");
    memcpy(key, kv->key.s, (size_t)kv->key.len);
    key[kv->key.len] = 0;
    /* the value bytes of a validated pair are contiguous in its file: copy them as they are */
    size_t nb;
    if (kv->type == HG_GGUF_STRING) {
        uint64_t len;
        memcpy(&len, kv->data, 8);
        nb = 8 + (size_t)len;
    } else if (kv->type != HG_GGUF_ARRAY) {
        nb = hg_gguf_vtype_size(kv->type);
    } else if (kv->arr_type != HG_GGUF_STRING) {
        nb = (size_t)kv->n * hg_gguf_vtype_size(kv->arr_type);
    } else {
        nb = 0;
        if (kv->n) {
            uint64_t len;
            memcpy(&len, kv->data + kv->str_off[kv->n - 1], 8);
            nb = (size_t)kv->str_off[kv->n - 1] + 8 + (size_t)len;
        }
    }
    if (!begin_kv(w, key, kv->type)) return w->st;
    if (kv->type == HG_GGUF_ARRAY && !(put_u32(w, (uint32_t)kv->arr_type) && put_u64(w, kv->n))) return w->st;
    put(w, kv->data, nb);
    return w->st;
}

hg_status hg_gguf_set_alignment(hg_gguf_writer *w, uint32_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)))
        return fail(w, HG_STATUS_BAD_ARG, "gguf writer: alignment must be a power of two%s", "");
    if (w->n_tensors) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: set the alignment before adding tensors%s", "");
    w->alignment = alignment;
    if (alignment != HG_GGUF_DEFAULT_ALIGNMENT) hg_gguf_set_u32(w, "general.alignment", alignment);
    return w->st;
}

/* ---- tensors ------------------------------------------------------------------------------------- */

hg_status hg_gguf_add_tensor(hg_gguf_writer *w, const char *name, uint32_t ggml_type, int n_dims, const int64_t *ne,
                             const void *data, hg_gguf_fill_fn fill, void *user) {
    if (w->st) return w->st;
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > HG_GGUF_MAX_NAME) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: bad tensor name `%s`", name ? name : "");
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name)) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: tensor %s added twice", name);
    if (n_dims < 1 || n_dims > HG_GGUF_MAX_DIMS) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: tensor %s: n_dims must be 1..4", name);
    if (!data && !fill) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: tensor %s: no data and no fill callback", name);
    wtensor t = {.type = ggml_type, .n_dims = n_dims, .ne = {1, 1, 1, 1}, .data = data, .fill = fill, .user = user};
    int64_t rows = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 0) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: tensor %s: negative dimension", name);
        t.ne[d] = ne[d];
        if (d > 0) {
            if (ne[d] && rows > INT64_MAX / ne[d]) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: tensor %s: too large", name);
            rows *= ne[d];
        }
    }
    t.n_rows = rows;
    size_t total;
    if (!hg_ggml_nbytes(ggml_type, t.ne[0], &t.row_bytes) || !hg_mul_ok(t.row_bytes, (size_t)rows, &total))
        return fail(w, HG_STATUS_BAD_ARG, "gguf writer: tensor %s: unknown type, ne[0] not a multiple of its block, or too large",
                    name);
    t.nbytes = total;
    uint64_t padded = (uint64_t)total + (w->alignment - total % w->alignment) % w->alignment;
    if (padded < total || w->data_size > UINT64_MAX - padded) return fail(w, HG_STATUS_BAD_ARG, "gguf writer: tensor %s: too large", name);
    if (w->n_tensors == w->cap_tensors) {
        int64_t cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        wtensor *nt = hg_realloc(w->tensors, (size_t)cap * sizeof *nt);
        if (!nt) return fail(w, HG_STATUS_NOMEM, "gguf writer: out of memory%s", "");
        w->tensors = nt;
        w->cap_tensors = cap;
    }
    if (!(t.name = hg_strdup(name))) return fail(w, HG_STATUS_NOMEM, "gguf writer: out of memory%s", "");
    t.offset = w->data_size;
    w->data_size += padded;
    w->tensors[w->n_tensors++] = t;
    return HG_OK;
}

/* ---- writing the file ---------------------------------------------------------------------------- */

static bool out_bytes(FILE *fp, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, fp) == n; }
static bool out_u32(FILE *fp, uint32_t v) { return out_bytes(fp, &v, 4); }
static bool out_u64(FILE *fp, uint64_t v) { return out_bytes(fp, &v, 8); }
static bool out_zeros(FILE *fp, size_t n) {
    static const uint8_t z[64];
    while (n) {
        size_t k = n < sizeof z ? n : sizeof z;
        if (!out_bytes(fp, z, k)) return false;
        n -= k;
    }
    return true;
}

/* Rows per fill call: as many as fit in HG_GGUF_CHUNK, at least one. */
static int64_t chunk_rows(const wtensor *t) {
    int64_t rows = (int64_t)(HG_GGUF_CHUNK / t->row_bytes);
    return rows < 1 ? 1 : rows > t->n_rows ? t->n_rows : rows;
}

static hg_status write_tensor_data(hg_gguf_writer *w, FILE *fp, const char *tmp, uint8_t *buf, hg_error *err) {
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        if (t->data) {
            if (!out_bytes(fp, t->data, t->nbytes)) return hg_err(err, HG_STATUS_IO, "%s: write failed (disk full?)", tmp);
        } else if (t->row_bytes) {
            const int64_t chunk = chunk_rows(t);
            for (int64_t r = 0; r < t->n_rows; r += chunk) {
                int64_t n = hg_min_i64(chunk, t->n_rows - r);
                if (!t->fill(t->user, i, r, n, buf))
                    return hg_err(err, HG_STATUS_BAD_INPUT, "%s: producing tensor %s failed", tmp, t->name);
                if (!out_bytes(fp, buf, (size_t)n * t->row_bytes))
                    return hg_err(err, HG_STATUS_IO, "%s: write failed (disk full?)", tmp);
            }
        }
        if (!out_zeros(fp, (size_t)((w->alignment - t->nbytes % w->alignment) % w->alignment)))
            return hg_err(err, HG_STATUS_IO, "%s: write failed (disk full?)", tmp);
    }
    return HG_OK;
}

hg_status hg_gguf_write(hg_gguf_writer *w, const char *path, hg_error *err) {
    if (w->st) {
        if (err) *err = w->err;
        return w->st;
    }
    /* the chunk buffer: HG_GGUF_CHUNK, or one row when a row is larger */
    size_t buf_bytes = 0;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        if (t->data || !t->row_bytes || !t->n_rows) continue;
        size_t b = (size_t)chunk_rows(t) * t->row_bytes;
        if (b > buf_bytes) buf_bytes = b;
    }
    uint8_t *buf = hg_malloc(buf_bytes ? buf_bytes : 1);
    if (!buf) return hg_err(err, HG_STATUS_NOMEM, "%s: cannot allocate %zu bytes", path, buf_bytes);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        hg_free(buf);
        return hg_err(err, HG_STATUS_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    hg_status st = HG_OK;
    uint64_t pos = 4 + 4 + 8 + 8 + w->meta_len;
    bool ok = out_bytes(fp, "GGUF", 4) && out_u32(fp, HG_GGUF_VERSION) && out_u64(fp, (uint64_t)w->n_tensors) &&
              out_u64(fp, w->n_kv) && out_bytes(fp, w->meta, w->meta_len);
    for (int64_t i = 0; ok && i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        size_t nl = strlen(t->name);
        ok = out_u64(fp, nl) && out_bytes(fp, t->name, nl) && out_u32(fp, (uint32_t)t->n_dims);
        for (int d = 0; ok && d < t->n_dims; d++) ok = out_u64(fp, (uint64_t)t->ne[d]);
        ok = ok && out_u32(fp, t->type) && out_u64(fp, t->offset);
        pos += 8 + nl + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
    }
    if (ok && w->n_tensors) ok = out_zeros(fp, (size_t)((w->alignment - pos % w->alignment) % w->alignment));
    if (!ok) {
        st = hg_err(err, HG_STATUS_IO, "%s: write failed (disk full?)", tmp);
        goto out;
    }
    st = write_tensor_data(w, fp, tmp, buf, err);
out:
    hg_free(buf);
    if (fclose(fp) != 0 && !st) st = hg_err(err, HG_STATUS_IO, "%s: write failed (disk full?)", tmp);
    if (!st && rename(tmp, path) != 0) st = hg_err(err, HG_STATUS_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st) remove(tmp);
    return st;
}
