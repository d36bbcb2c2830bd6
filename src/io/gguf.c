/*
 * gguf.c — validated GGUF v3 reader (layout in gguf.h; spec: ggml's docs/gguf.md).
 *
 * Every number in a GGUF file comes from outside, so every one is checked before it is used
 * (docs/conventions.md rule 7), in file order by one cursor that never reads past the end:
 *   - magic, then version (v1/v2 and byte-swapped files get a message saying what they are);
 *   - n_kv and n_tensors against the bytes that remain (a key/value needs >= 13 bytes, a tensor
 *     info >= 32), which also bounds every allocation by the file size;
 *   - each string length against the bytes that remain; value types known; arrays: element type
 *     known and not itself an array (nested arrays: UNSUPPORTED, as in ggml), count × element size
 *     against the bytes that remain; duplicate keys rejected;
 *   - general.alignment: UINT32, a non-zero power of two;
 *   - tensor infos: name 1..256 bytes, unique; n_dims 1..4; every ne >= 0 and their product within
 *     INT64_MAX; ggml type known and ne[0] a multiple of its block; offset a multiple of the
 *     alignment; offset + size inside the data region; no two tensors overlap.
 * Tensor data stays in the mapping. The cost is one pass over the header (a few MB at most: the
 * tokenizer's 65536 strings) plus sorting names and offsets, O(n log n).
 *
 * Rejected alternative: lazily validating on access. A loader then half-builds a model before
 * finding a lying offset; checking once up front keeps every later access trivially in bounds.
 */
#include "io/gguf.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- ggml types: id, name, elements per block, bytes per block ------------------------------------
 * The ids and sizes of ggml's type table (ggml.h enum ggml_type; sizes as in gguf-py's
 * GGML_QUANT_SIZES). Ids 4, 5, 31-33 and 36-38 were removed from ggml and are unknown here. */
static const struct {
    uint32_t id;
    const char *name;
    int64_t block;
    size_t bytes;
} k_types[] = {
    {0, "F32", 1, 4},        {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},     {7, "Q5_1", 32, 24},      {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 40},
    {10, "Q2_K", 256, 84},   {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},  {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},  {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},  {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},       {27, "I64", 1, 8},        {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2},      {34, "TQ1_0", 256, 54},   {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
};

bool hg_ggml_type_info(uint32_t type, const char **name, int64_t *block, size_t *block_bytes) {
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if (k_types[i].id == type) {
            if (name) *name = k_types[i].name;
            if (block) *block = k_types[i].block;
            if (block_bytes) *block_bytes = k_types[i].bytes;
            return true;
        }
    return false;
}

bool hg_ggml_nbytes(uint32_t type, int64_t count, size_t *out) {
    int64_t block;
    size_t bb;
    if (count < 0 || !hg_ggml_type_info(type, NULL, &block, &bb) || count % block) return false;
    return hg_mul_ok((size_t)(count / block), bb, out);
}

bool hg_ggml_from_dtype(hg_dtype d, uint32_t *out) {
    static const uint32_t map[HG_DTYPE_COUNT] = {HG_GGML_F32, HG_GGML_F16, HG_GGML_BF16, HG_GGML_Q8_0,
                                                 HG_GGML_Q4_0};
    if ((unsigned)d >= HG_DTYPE_COUNT) return false;
    *out = map[d];
    return true;
}

bool hg_ggml_to_dtype(uint32_t t, hg_dtype *out) {
    for (int d = 0; d < HG_DTYPE_COUNT; d++) {
        uint32_t g;
        if (hg_ggml_from_dtype((hg_dtype)d, &g) && g == t) {
            *out = (hg_dtype)d;
            return true;
        }
    }
    return false;
}

size_t hg_gguf_vtype_size(hg_gguf_vtype t) {
    switch (t) {
    case HG_GGUF_UINT8: case HG_GGUF_INT8: case HG_GGUF_BOOL: return 1;
    case HG_GGUF_UINT16: case HG_GGUF_INT16: return 2;
    case HG_GGUF_UINT32: case HG_GGUF_INT32: case HG_GGUF_FLOAT32: return 4;
    case HG_GGUF_UINT64: case HG_GGUF_INT64: case HG_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *vtype_name(uint32_t t) {
    static const char *n[] = {"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                              "BOOL",  "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
    return t < HG_GGUF_VTYPE_COUNT ? n[t] : "unknown";
}

/* ---- the cursor ------------------------------------------------------------------------------------
 * Reads little-endian values; every read checks the bytes that remain first. */
typedef struct cursor {
    const uint8_t *base, *p;
    size_t left;
} cursor;

static size_t cur_pos(const cursor *c) { return (size_t)(c->p - c->base); }

static bool rd(cursor *c, void *dst, size_t n) {
    if (n > c->left) return false;
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return true;
}
static bool rd_u32(cursor *c, uint32_t *v) { return rd(c, v, 4); } /* hosts are little-endian (x86-64, arm64) */
static bool rd_u64(cursor *c, uint64_t *v) { return rd(c, v, 8); }
static bool skip(cursor *c, uint64_t n) {
    if (n > c->left) return false;
    c->p += n;
    c->left -= (size_t)n;
    return true;
}

/* A string: u64 length then bytes. On failure *why says which part did not fit. */
static bool rd_str(cursor *c, hg_gguf_str *s, const char **why) {
    uint64_t len;
    if (!rd_u64(c, &len)) {
        *why = "truncated in a string length";
        return false;
    }
    if (len > c->left) {
        *why = "string length runs past the end of the file";
        return false;
    }
    s->s = (const char *)c->p;
    s->len = len;
    c->p += len;
    c->left -= (size_t)len;
    return true;
}

bool hg_gguf_str_eq(hg_gguf_str s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && memcmp(s.s, z, n) == 0;
}

static int str_cmp(hg_gguf_str a, hg_gguf_str b) {
    size_t n = a.len < b.len ? (size_t)a.len : (size_t)b.len;
    int c = memcmp(a.s, b.s, n);
    return c ? c : a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

/* ---- closing ---------------------------------------------------------------------------------------- */

void hg_gguf_close(hg_gguf_file *f) {
    if (!f) return;
    for (int64_t i = 0; i < f->n_kv; i++) hg_free(f->kv[i].str_off);
    hg_free(f->kv);
    for (int64_t i = 0; i < f->n_tensors; i++) hg_free(f->tensors[i].name);
    hg_free(f->tensors);
    hg_mapped_file_close(&f->map);
    hg_free(f->path);
    memset(f, 0, sizeof *f);
}

void hg_gguf_free(hg_gguf_file *f) {
    if (!f) return;
    hg_gguf_close(f);
    hg_free(f);
}

/* ---- parsing ---------------------------------------------------------------------------------------- */

/* One key/value pair at the cursor into *kv (str_off allocated for arrays of strings). */
static hg_status parse_kv(cursor *c, const char *name, int64_t idx, hg_gguf_kv *kv, hg_error *err) {
    const char *why = NULL;
    if (!rd_str(c, &kv->key, &why))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key/value %lld: key %s", name, (long long)idx, why);
    const int kl = kv->key.len > 200 ? 200 : (int)kv->key.len;
    uint32_t t;
    if (!rd_u32(c, &t))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: truncated before its value type", name, kl, kv->key.s);
    if (t >= HG_GGUF_VTYPE_COUNT)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: unknown value type %u", name, kl, kv->key.s, t);
    kv->type = (hg_gguf_vtype)t;
    kv->n = 1;
    kv->data = c->p;
    if (t == HG_GGUF_STRING) {
        hg_gguf_str s;
        if (!rd_str(c, &s, &why)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: value %s", name, kl, kv->key.s, why);
        return HG_OK;
    }
    if (t != HG_GGUF_ARRAY) {
        if (!skip(c, hg_gguf_vtype_size(kv->type)))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: truncated value", name, kl, kv->key.s);
        if (t == HG_GGUF_BOOL && *kv->data > 1)
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: BOOL value %u is neither 0 nor 1", name, kl,
                          kv->key.s, *kv->data);
        return HG_OK;
    }
    uint32_t at;
    uint64_t n;
    if (!rd_u32(c, &at) || !rd_u64(c, &n))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: truncated array header", name, kl, kv->key.s);
    if (at == HG_GGUF_ARRAY)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key %.*s: arrays of arrays are not supported", name, kl, kv->key.s);
    if (at >= HG_GGUF_VTYPE_COUNT)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: unknown array element type %u", name, kl, kv->key.s, at);
    kv->arr_type = (hg_gguf_vtype)at;
    kv->n = n;
    kv->data = c->p;
    if (at != HG_GGUF_STRING) {
        size_t es = hg_gguf_vtype_size(kv->arr_type), nb;
        if (n > SIZE_MAX || !hg_mul_ok((size_t)n, es, &nb) || nb > c->left)
            return hg_err(err, HG_STATUS_BAD_FILE,
                          "%s: key %.*s: array of %llu %s elements is larger than the rest of the file (%zu bytes)",
                          name, kl, kv->key.s, (unsigned long long)n, vtype_name(at), c->left);
        skip(c, nb);
        if (at == HG_GGUF_BOOL)
            for (size_t i = 0; i < nb; i++)
                if (kv->data[i] > 1)
                    return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: BOOL element %zu is neither 0 nor 1", name,
                                  kl, kv->key.s, i);
        return HG_OK;
    }
    if (n > c->left / 8) /* each string needs at least its 8-byte length */
        return hg_err(err, HG_STATUS_BAD_FILE,
                      "%s: key %.*s: array of %llu strings is larger than the rest of the file (%zu bytes)", name, kl,
                      kv->key.s, (unsigned long long)n, c->left);
    kv->str_off = hg_malloc((size_t)(n ? n : 1) * sizeof *kv->str_off);
    if (!kv->str_off) return hg_err(err, HG_STATUS_NOMEM, "%s: key %.*s: out of memory", name, kl, kv->key.s);
    for (uint64_t i = 0; i < n; i++) {
        kv->str_off[i] = (uint64_t)(c->p - kv->data);
        hg_gguf_str s;
        if (!rd_str(c, &s, &why))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s: element %llu: %s", name, kl, kv->key.s,
                          (unsigned long long)i, why);
    }
    return HG_OK;
}

/* One tensor info at the cursor (offset and data checked later, once the data region is known). */
static hg_status parse_tensor_info(cursor *c, const char *name, int64_t idx, hg_gguf_tensor *t, hg_error *err) {
    const char *why = NULL;
    hg_gguf_str s;
    if (!rd_str(c, &s, &why))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor info %lld: name %s", name, (long long)idx, why);
    if (s.len == 0 || s.len > HG_GGUF_MAX_NAME || memchr(s.s, 0, (size_t)s.len))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor info %lld: name of %llu bytes (must be 1..%d, no NUL)", name,
                      (long long)idx, (unsigned long long)s.len, HG_GGUF_MAX_NAME);
    t->name = hg_malloc((size_t)s.len + 1);
    if (!t->name) return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", name);
    memcpy(t->name, s.s, (size_t)s.len);
    t->name[s.len] = 0;
    uint32_t nd;
    if (!rd_u32(c, &nd)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: truncated info", name, t->name);
    if (nd < 1 || nd > HG_GGUF_MAX_DIMS)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: n_dims %u (must be 1..%d)", name, t->name, nd,
                      HG_GGUF_MAX_DIMS);
    t->n_dims = (int)nd;
    int64_t count = 1;
    for (int d = 0; d < HG_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t v;
        if (!rd_u64(c, &v)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: truncated info", name, t->name);
        if (v > (uint64_t)INT64_MAX || (v != 0 && count > INT64_MAX / (int64_t)v))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: element count overflows (ne[%u] = %llu)", name,
                          t->name, d, (unsigned long long)v);
        t->ne[d] = (int64_t)v;
        count *= (int64_t)v;
    }
    if (!rd_u32(c, &t->type) || !rd_u64(c, &t->offset))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: truncated info", name, t->name);
    const char *tn;
    int64_t block;
    if (!hg_ggml_type_info(t->type, &tn, &block, NULL))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: unknown ggml type %u", name, t->name, t->type);
    if (t->ne[0] % block)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: ne[0] = %lld is not a multiple of the %s block (%lld)",
                      name, t->name, (long long)t->ne[0], tn, (long long)block);
    if (!hg_ggml_nbytes(t->type, count, &t->nbytes))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: byte size overflows", name, t->name);
    return HG_OK;
}

static int cmp_kv_key(const void *a, const void *b) {
    return str_cmp((*(const hg_gguf_kv *const *)a)->key, (*(const hg_gguf_kv *const *)b)->key);
}
static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const hg_gguf_tensor *const *)a)->name, (*(const hg_gguf_tensor *const *)b)->name);
}
static int cmp_tensor_off(const void *a, const void *b) {
    uint64_t x = (*(const hg_gguf_tensor *const *)a)->offset, y = (*(const hg_gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Duplicate keys, duplicate tensor names and overlapping tensors, on sorted pointer arrays. */
static hg_status check_unique(hg_gguf_file *f, const char *name, hg_error *err) {
    size_t n = (size_t)(f->n_kv > f->n_tensors ? f->n_kv : f->n_tensors);
    void **ptr = hg_malloc((n ? n : 1) * sizeof *ptr);
    if (!ptr) return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", name);
    hg_status st = HG_OK;
    for (int64_t i = 0; i < f->n_kv; i++) ptr[i] = &f->kv[i];
    qsort(ptr, (size_t)f->n_kv, sizeof *ptr, cmp_kv_key);
    for (int64_t i = 1; i < f->n_kv; i++) {
        const hg_gguf_kv *a = ptr[i - 1], *b = ptr[i];
        if (!str_cmp(a->key, b->key)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: key %.*s appears twice", name, (int)(a->key.len > 200 ? 200 : a->key.len),
                        a->key.s);
            goto out;
        }
    }
    for (int64_t i = 0; i < f->n_tensors; i++) ptr[i] = &f->tensors[i];
    qsort(ptr, (size_t)f->n_tensors, sizeof *ptr, cmp_tensor_name);
    for (int64_t i = 1; i < f->n_tensors; i++) {
        const hg_gguf_tensor *a = ptr[i - 1], *b = ptr[i];
        if (!strcmp(a->name, b->name)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s appears twice", name, a->name);
            goto out;
        }
    }
    qsort(ptr, (size_t)f->n_tensors, sizeof *ptr, cmp_tensor_off);
    for (int64_t i = 1; i < f->n_tensors; i++) {
        const hg_gguf_tensor *a = ptr[i - 1], *b = ptr[i];
        if (b->offset < a->offset + a->nbytes) { /* no overflow: both ends were checked against the region */
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensors %s and %s overlap in the data region", name, a->name,
                        b->name);
            goto out;
        }
    }
out:
    hg_free(ptr);
    return st;
}

hg_status hg_gguf_parse(const uint8_t *data, size_t size, const char *name, hg_gguf_file *out, hg_error *err) {
    hg_gguf_file f = {0};
    hg_status st = HG_OK;
    cursor c = {data, data, size};
    uint8_t magic[4];
    if (!rd(&c, magic, 4) || memcmp(magic, "GGUF", 4) != 0)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: not a GGUF file (the first 4 bytes must be \"GGUF\")", name);
    uint64_t n_tensors, n_kv;
    if (!rd_u32(&c, &f.version))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: truncated GGUF header (%zu bytes)", name, size);
    if (f.version != HG_GGUF_VERSION) {
        if ((f.version & 0xffff) == 0 && f.version != 0)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: GGUF version field %#x looks byte-swapped: big-endian files are not supported",
                          name, f.version);
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: GGUF version %u; only version %d is supported (re-convert the model)",
                      name, f.version, HG_GGUF_VERSION);
    }
    if (!rd_u64(&c, &n_tensors) || !rd_u64(&c, &n_kv))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: truncated GGUF header (%zu bytes)", name, size);
    if (n_kv > c.left / 13 || n_tensors > c.left / 32)
        return hg_err(err, HG_STATUS_BAD_FILE,
                      "%s: header claims %llu key/values and %llu tensors, more than the file's %zu bytes can hold", name,
                      (unsigned long long)n_kv, (unsigned long long)n_tensors, size);
    f.kv = hg_calloc((size_t)(n_kv ? n_kv : 1), sizeof *f.kv);
    f.tensors = hg_calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *f.tensors);
    if (!f.kv || !f.tensors) {
        st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    f.alignment = HG_GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        f.n_kv++;
        if ((st = parse_kv(&c, name, (int64_t)i, &f.kv[i], err))) goto fail;
        if (hg_gguf_str_eq(f.kv[i].key, "general.alignment")) {
            uint32_t a = 0;
            if (f.kv[i].type == HG_GGUF_UINT32) memcpy(&a, f.kv[i].data, 4);
            if (f.kv[i].type != HG_GGUF_UINT32 || a == 0 || (a & (a - 1)) != 0) {
                st = hg_err(err, HG_STATUS_BAD_FILE, "%s: general.alignment must be a UINT32 power of two (got %s %u)",
                            name, vtype_name(f.kv[i].type), a);
                goto fail;
            }
            f.alignment = a;
        }
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        f.n_tensors++;
        if ((st = parse_tensor_info(&c, name, (int64_t)i, &f.tensors[i], err))) goto fail;
    }
    /* the data region starts at the next multiple of the alignment */
    size_t pos = cur_pos(&c), pad = (size_t)((f.alignment - pos % f.alignment) % f.alignment);
    if (n_tensors > 0 && pad > c.left) {
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: truncated before the data region", name);
        goto fail;
    }
    f.data_offset = n_tensors > 0 ? pos + pad : pos;
    const size_t region = size - f.data_offset;
    for (int64_t i = 0; i < f.n_tensors; i++) {
        hg_gguf_tensor *t = &f.tensors[i];
        if (t->offset % f.alignment) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: offset %llu is not a multiple of the alignment %llu", name,
                        t->name, (unsigned long long)t->offset, (unsigned long long)f.alignment);
            goto fail;
        }
        if (t->offset > region || t->nbytes > region - t->offset) {
            st = hg_err(err, HG_STATUS_BAD_FILE,
                        "%s: tensor %s: data [%llu, +%zu) runs past the end of the data region (%zu bytes): truncated file?",
                        name, t->name, (unsigned long long)t->offset, t->nbytes, region);
            goto fail;
        }
        t->data = data + f.data_offset + t->offset;
    }
    if ((st = check_unique(&f, name, err))) goto fail;
    *out = f;
    return HG_OK;
fail:
    hg_gguf_close(&f);
    return st;
}

hg_status hg_gguf_open(const char *path, bool use_mmap, hg_gguf_file *out, hg_error *err) {
    hg_mapped_file map;
    hg_status st = hg_mapped_file_open(path, use_mmap, &map, err);
    if (st) return st;
    hg_gguf_file f;
    if ((st = hg_gguf_parse(map.data, map.size, path, &f, err))) {
        hg_mapped_file_close(&map);
        return st;
    }
    f.map = map;
    f.path = hg_strdup(path);
    if (!f.path) {
        hg_gguf_close(&f);
        return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
    }
    *out = f;
    return HG_OK;
}

/* ---- lookups and typed access ------------------------------------------------------------------ */

const hg_gguf_kv *hg_gguf_find_kv(const hg_gguf_file *f, const char *key) {
    for (int64_t i = 0; i < f->n_kv; i++)
        if (hg_gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const hg_gguf_tensor *hg_gguf_find_tensor(const hg_gguf_file *f, const char *name) {
    for (int64_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

hg_gguf_str hg_gguf_arr_str(const hg_gguf_kv *kv, uint64_t i) {
    HG_ASSERT(kv->type == HG_GGUF_ARRAY && kv->arr_type == HG_GGUF_STRING && i < kv->n);
    const uint8_t *p = kv->data + kv->str_off[i];
    hg_gguf_str s;
    memcpy(&s.len, p, 8);
    s.s = (const char *)p + 8;
    return s;
}

static const char *file_name(const hg_gguf_file *f) { return f->path ? f->path : "gguf"; }

static hg_status find_typed(const hg_gguf_file *f, const char *key, const hg_gguf_kv **out, hg_error *err) {
    *out = hg_gguf_find_kv(f, key);
    if (!*out) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing", file_name(f), key);
    return HG_OK;
}

hg_status hg_gguf_get_int(const hg_gguf_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out, hg_error *err) {
    const hg_gguf_kv *kv;
    hg_status st = find_typed(f, key, &kv, err);
    if (st) return st;
    int64_t v;
    bool ok = true;
    switch (kv->type) {
    case HG_GGUF_UINT8: v = *kv->data; break;
    case HG_GGUF_INT8: v = (int8_t)*kv->data; break;
    case HG_GGUF_UINT16: { uint16_t x; memcpy(&x, kv->data, 2); v = x; break; }
    case HG_GGUF_INT16: { int16_t x; memcpy(&x, kv->data, 2); v = x; break; }
    case HG_GGUF_UINT32: { uint32_t x; memcpy(&x, kv->data, 4); v = x; break; }
    case HG_GGUF_INT32: { int32_t x; memcpy(&x, kv->data, 4); v = x; break; }
    case HG_GGUF_INT64: memcpy(&v, kv->data, 8); break;
    case HG_GGUF_UINT64: {
        uint64_t x;
        memcpy(&x, kv->data, 8);
        ok = x <= (uint64_t)INT64_MAX;
        v = ok ? (int64_t)x : 0;
        break;
    }
    default:
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be an integer (it is %s)", file_name(f), key,
                      vtype_name(kv->type));
    }
    if (!ok || v < lo || v > hi)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be in %lld..%lld", file_name(f), key, (long long)lo,
                      (long long)hi);
    *out = v;
    return HG_OK;
}

hg_status hg_gguf_get_float(const hg_gguf_file *f, const char *key, double *out, hg_error *err) {
    const hg_gguf_kv *kv;
    hg_status st = find_typed(f, key, &kv, err);
    if (st) return st;
    if (kv->type == HG_GGUF_FLOAT32) {
        float x;
        memcpy(&x, kv->data, 4);
        *out = (double)x;
    } else if (kv->type == HG_GGUF_FLOAT64) {
        memcpy(out, kv->data, 8);
    } else {
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be FLOAT32 or FLOAT64 (it is %s)", file_name(f), key,
                      vtype_name(kv->type));
    }
    return HG_OK;
}

hg_status hg_gguf_get_bool(const hg_gguf_file *f, const char *key, bool *out, hg_error *err) {
    const hg_gguf_kv *kv;
    hg_status st = find_typed(f, key, &kv, err);
    if (st) return st;
    if (kv->type != HG_GGUF_BOOL)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be BOOL (it is %s)", file_name(f), key,
                      vtype_name(kv->type));
    *out = *kv->data != 0;
    return HG_OK;
}

hg_status hg_gguf_get_str(const hg_gguf_file *f, const char *key, hg_gguf_str *out, hg_error *err) {
    const hg_gguf_kv *kv;
    hg_status st = find_typed(f, key, &kv, err);
    if (st) return st;
    if (kv->type != HG_GGUF_STRING)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be STRING (it is %s)", file_name(f), key,
                      vtype_name(kv->type));
    memcpy(&out->len, kv->data, 8);
    out->s = (const char *)kv->data + 8;
    return HG_OK;
}
