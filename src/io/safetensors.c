/*
 * safetensors.c — validated reader and atomic writer of safetensors files.
 *
 * Every number in the header comes from outside, so every one is checked before use (docs/conventions.md
 * rule 7): the header length against the file, each shape's element count against SIZE_MAX and
 * against data_offsets, each [begin, end) against the data region, and the sorted ranges against
 * each other (the format forbids overlap). Tensors whose mapped address is not aligned to their
 * element size (a header length that is not a multiple of 8) are served from one aligned copy of the
 * data region, so kernels can load floats directly.
 */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define HG_ST_MAX_HEADER (100u << 20) /* the reference implementation's own limit is 100 MB */

static const struct {
    const char *name;
    hg_st_dtype t;
    size_t size;
} k_dtypes[] = {
    {"F32", HG_ST_F32, 4},   {"F16", HG_ST_F16, 2},    {"BF16", HG_ST_BF16, 2}, {"F64", HG_ST_F64, 8},
    {"I64", HG_ST_I64, 8},   {"I32", HG_ST_I32, 4},    {"I16", HG_ST_I16, 2},   {"I8", HG_ST_I8, 1},
    {"U8", HG_ST_U8, 1},     {"BOOL", HG_ST_BOOL, 1},  {"U16", HG_ST_U16, 2},   {"U32", HG_ST_U32, 4},
    {"U64", HG_ST_U64, 8},   {"F8_E4M3", HG_ST_F8_E4M3, 1}, {"F8_E5M2", HG_ST_F8_E5M2, 1},
};

const char *hg_st_dtype_name(hg_st_dtype t) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (k_dtypes[i].t == t) return k_dtypes[i].name;
    return "?";
}

size_t hg_st_dtype_size(hg_st_dtype t) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (k_dtypes[i].t == t) return k_dtypes[i].size;
    return 0;
}

static bool dtype_from_name(const char *s, hg_st_dtype *t) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (!strcmp(k_dtypes[i].name, s)) {
            *t = k_dtypes[i].t;
            return true;
        }
    return false;
}

/* A JSON number that is an exact non-negative integer below 2^53. */
static bool json_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    double v = j->valuedouble;
    if (!(v >= 0) || v > 9007199254740992.0 || floor(v) != v) return false;
    *out = (uint64_t)v;
    return true;
}

static int cmp_by_offset(const void *a, const void *b) {
    const hg_st_tensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data ? 1 : 0;
}

void hg_st_close(hg_st_file *f) {
    if (!f) return;
    for (int64_t i = 0; i < f->n_tensors; i++) hg_free(f->tensors[i].name);
    hg_free(f->tensors);
    hg_free(f->aligned_copy);
    hg_mapped_file_close(&f->map);
    hg_free(f->path);
    memset(f, 0, sizeof *f);
}

hg_status hg_st_open(const char *path, bool use_mmap, hg_st_file *out, hg_error *err) {
    hg_st_file f = {0};
    cJSON *root = NULL;
    hg_status st = hg_mapped_file_open(path, use_mmap, &f.map, err);
    if (st) return st;
    f.path = hg_strdup(path);
    if (!f.path) {
        st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (f.map.size < 8) {
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: truncated (%zu bytes; a safetensors file starts with an 8-byte header length)",
                    path, f.map.size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f.map.data[i];
    if (hlen > HG_ST_MAX_HEADER || hlen > f.map.size - 8) {
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: header length %llu exceeds the file (%zu bytes): truncated or not safetensors",
                    path, (unsigned long long)hlen, f.map.size);
        goto fail;
    }
    const char *hdr = (const char *)f.map.data + 8;
    const uint8_t *region = f.map.data + 8 + hlen;
    size_t region_size = f.map.size - 8 - (size_t)hlen;
    root = cJSON_ParseWithLength(hdr, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: header is not a valid JSON object", path);
        goto fail;
    }
    int64_t n = 0;
    for (cJSON *e = root->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0) n++;
    f.tensors = hg_calloc((size_t)(n ? n : 1), sizeof *f.tensors);
    if (!f.tensors) {
        st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    bool misaligned = false;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e)) {
                st = hg_err(err, HG_STATUS_BAD_FILE, "%s: __metadata__ is not an object", path);
                goto fail;
            }
            continue;
        }
        hg_st_tensor *t = &f.tensors[f.n_tensors];
        t->name = hg_strdup(e->string);
        if (!t->name) {
            st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        f.n_tensors++;
        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsObject(e) || !cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo) ||
            cJSON_GetArraySize(jo) != 2) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: entry needs dtype, shape and data_offsets [begin, end]",
                        path, t->name);
            goto fail;
        }
        if (!dtype_from_name(jd->valuestring, &t->dtype)) {
            st = hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s: unknown dtype `%s`", path, t->name, jd->valuestring);
            goto fail;
        }
        int nd = cJSON_GetArraySize(js);
        if (nd > 8) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: %d dimensions (at most 8 supported)", path, t->name, nd);
            goto fail;
        }
        t->n_dims = nd;
        size_t count = 1;
        int k = 0;
        for (const cJSON *d = js->child; d; d = d->next, k++) {
            uint64_t v;
            if (!json_u64(d, &v) || !hg_mul_ok(count, (size_t)v, &count)) {
                st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: bad shape (dimension %d)", path, t->name, k);
                goto fail;
            }
            t->shape[k] = (int64_t)v;
        }
        uint64_t b, en;
        if (!json_u64(jo->child, &b) || !json_u64(jo->child->next, &en) || en < b) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s: bad data_offsets", path, t->name);
            goto fail;
        }
        size_t nbytes = 0;
        if (!hg_mul_ok(count, hg_st_dtype_size(t->dtype), &nbytes) || nbytes != en - b) {
            st = hg_err(err, HG_STATUS_BAD_FILE,
                        "%s: tensor %s: data_offsets span %llu bytes but shape and dtype %s need %zu", path, t->name,
                        (unsigned long long)(en - b), jd->valuestring, nbytes);
            goto fail;
        }
        if (en > region_size) {
            st = hg_err(err, HG_STATUS_BAD_FILE,
                        "%s: tensor %s: data_offsets [%llu, %llu) run past the end of the data (%zu bytes): truncated file?",
                        path, t->name, (unsigned long long)b, (unsigned long long)en, region_size);
            goto fail;
        }
        t->data = region + b;
        t->nbytes = nbytes;
        size_t es = hg_st_dtype_size(t->dtype);
        if (nbytes && ((uintptr_t)t->data % es) != 0) misaligned = true;
    }
    /* overlap check on a sorted copy (the order of f.tensors stays the header's) */
    if (f.n_tensors > 1) {
        hg_st_tensor *s = hg_malloc((size_t)f.n_tensors * sizeof *s);
        if (!s) {
            st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        memcpy(s, f.tensors, (size_t)f.n_tensors * sizeof *s);
        qsort(s, (size_t)f.n_tensors, sizeof *s, cmp_by_offset);
        for (int64_t i = 1; i < f.n_tensors; i++) {
            if (s[i].data < s[i - 1].data + s[i - 1].nbytes) {
                st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensors %s and %s overlap in the data region", path,
                            s[i - 1].name, s[i].name);
                hg_free(s);
                goto fail;
            }
        }
        hg_free(s);
    }
    if (misaligned && region_size) {
        f.aligned_copy = hg_malloc(region_size);
        if (!f.aligned_copy) {
            st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory copying a misaligned data region", path);
            goto fail;
        }
        memcpy(f.aligned_copy, region, region_size);
        for (int64_t i = 0; i < f.n_tensors; i++)
            f.tensors[i].data = f.aligned_copy + (f.tensors[i].data - region);
    }
    cJSON_Delete(root);
    *out = f;
    return HG_OK;
fail:
    cJSON_Delete(root);
    hg_st_close(&f);
    return st;
}

const hg_st_tensor *hg_st_find(const hg_st_file *f, const char *name) {
    for (int64_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

/* ---- writing ---------------------------------------------------------------------------------- */

static bool write_all(FILE *fp, const void *p, size_t n) { return fwrite(p, 1, n, fp) == n; }

hg_status hg_st_write(const char *path, const hg_st_entry *entries, int64_t n, hg_st_fill_fn fill, void *user,
                      hg_error *err) {
    /* header JSON: {"__metadata__":{"format":"pt"}, name: {...}} in the given (= data) order */
    size_t cap = 256 + (size_t)n * 256, len = 0;
    char *hdr = hg_malloc(cap);
    if (!hdr) return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
    len += (size_t)snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    size_t max_bytes = 0;
    for (int64_t i = 0; i < n; i++) {
        const hg_st_entry *e = &entries[i];
        size_t count = 1;
        for (int d = 0; d < e->n_dims; d++) count *= (size_t)e->shape[d];
        size_t nb = count * hg_st_dtype_size(e->dtype);
        if (nb > max_bytes) max_bytes = nb;
        if (cap - len < 512 + strlen(e->name)) {
            cap = cap * 2 + strlen(e->name) + 512;
            char *h2 = hg_realloc(hdr, cap);
            if (!h2) {
                hg_free(hdr);
                return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", path);
            }
            hdr = h2;
        }
        len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", e->name,
                                hg_st_dtype_name(e->dtype));
        for (int d = 0; d < e->n_dims; d++)
            len += (size_t)snprintf(hdr + len, cap - len, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        len += (size_t)snprintf(hdr + len, cap - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                                (unsigned long long)(off + nb));
        off += nb;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    while (len % 8) hdr[len++] = ' '; /* pad so the data region starts 8-aligned */

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        hg_free(hdr);
        return hg_err(err, HG_STATUS_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    hg_status st = HG_OK;
    uint8_t lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (uint8_t)((uint64_t)len >> (8 * i));
    uint8_t *buf = hg_malloc(max_bytes ? max_bytes : 1);
    if (!buf) {
        st = hg_err(err, HG_STATUS_NOMEM, "%s: cannot allocate %zu bytes", path, max_bytes);
        goto out;
    }
    if (!write_all(fp, lenbuf, 8) || !write_all(fp, hdr, len)) {
        st = hg_err(err, HG_STATUS_IO, "%s: write failed", tmp);
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        const hg_st_entry *e = &entries[i];
        size_t count = 1;
        for (int d = 0; d < e->n_dims; d++) count *= (size_t)e->shape[d];
        size_t nb = count * hg_st_dtype_size(e->dtype);
        if (!fill(user, i, buf, nb)) {
            st = hg_err(err, HG_STATUS_IO, "%s: producing tensor %s failed", path, e->name);
            goto out;
        }
        if (!write_all(fp, buf, nb)) {
            st = hg_err(err, HG_STATUS_IO, "%s: write failed (disk full?)", tmp);
            goto out;
        }
    }
out:
    hg_free(buf);
    hg_free(hdr);
    if (fclose(fp) != 0 && !st) st = hg_err(err, HG_STATUS_IO, "%s: write failed", tmp);
    if (!st && rename(tmp, path) != 0) st = hg_err(err, HG_STATUS_IO, "%s: rename failed: %s", path, strerror(errno));
    if (st) remove(tmp);
    return st;
}
