/*
 * npy.c — the .npy format, version 1.0 (numpy/lib/format.py): magic "\x93NUMPY", version 1 0, a
 * little-endian uint16 header length, then a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (T, R, h), }
 * padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, then the
 * data in C order. We always pad the header to 128 bytes: the final shape (known only after
 * generation stops) is rewritten in place at close without moving the data.
 */
#include "npy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define NPY_DATA_OFF 128 /* header bytes, a multiple of 64 (the format's alignment) */

static int fail(const char *fmt, const char *a) {
    fprintf(stderr, "huginn: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 0;
}

static bool write_header(npy_file *n, const int64_t *shape) {
    char dict[NPY_DATA_OFF];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", n->descr);
    for (int i = 0; i < n->ndim; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n->ndim == 1) len += snprintf(dict + len, sizeof dict - (size_t)len, ","); /* a 1-tuple, as Python writes it */
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    const int body = NPY_DATA_OFF - 10;
    if (len >= body) return fail("%s: .npy header too long", n->path);
    memset(dict + len, ' ', (size_t)(body - len));
    dict[body - 1] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(body & 0xff), (unsigned char)(body >> 8)};
    if (fseeko(n->f, 0, SEEK_SET) || fwrite(pre, 1, 10, n->f) != 10 || fwrite(dict, 1, (size_t)body, n->f) != (size_t)body)
        return fail("%s: write failed", n->tmp);
    return true;
}

bool npy_create(npy_file *n, const char *path, const char *descr, int ndim, const int64_t *shape) {
    memset(n, 0, sizeof *n);
    if (ndim < 1 || ndim > NPY_MAX_DIM) return fail("%s: bad rank", path);
    n->path = strdup(path);
    n->tmp = malloc(strlen(path) + 5);
    if (!n->path || !n->tmp) return npy_abort(n), fail("%s: out of memory", path);
    sprintf(n->tmp, "%s.tmp", path);
    memcpy(n->descr, descr, 4);
    n->ndim = ndim;
    if (!(n->f = fopen(n->tmp, "w+b"))) {
        fail("cannot create %s", n->tmp);
        npy_abort(n);
        return false;
    }
    if (!write_header(n, shape)) return npy_abort(n), false;
    return true;
}

bool npy_write_at(npy_file *n, int64_t off, const void *x, int64_t count) {
    if (fseeko(n->f, (off_t)(NPY_DATA_OFF + off * 4), SEEK_SET) || fwrite(x, 4, (size_t)count, n->f) != (size_t)count)
        return fail("%s: write failed (disk full?)", n->tmp);
    return true;
}

bool npy_close(npy_file *n, const int64_t *shape) {
    int64_t count = 1;
    for (int i = 0; i < n->ndim; i++) count *= shape[i];
    bool ok = write_header(n, shape) && fflush(n->f) == 0 && ftruncate(fileno(n->f), (off_t)(NPY_DATA_OFF + count * 4)) == 0;
    ok = fclose(n->f) == 0 && ok;
    n->f = NULL;
    if (ok && rename(n->tmp, n->path)) ok = fail("cannot rename to %s", n->path);
    if (!ok) remove(n->tmp);
    free(n->path), free(n->tmp);
    memset(n, 0, sizeof *n);
    return ok;
}

void npy_abort(npy_file *n) {
    if (n->f) fclose(n->f);
    if (n->tmp) remove(n->tmp);
    free(n->path), free(n->tmp);
    memset(n, 0, sizeof *n);
}

/* ---- reading ------------------------------------------------------------------------------------- */

bool npy_load(const char *path, char descr[4], int *ndim, int64_t shape[NPY_MAX_DIM], void **data) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail("cannot open %s", path);
    unsigned char pre[12];
    char *hdr = NULL;
    bool ok = false;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) goto out;
    size_t hl = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (pre[6] >= 2) { /* version 2/3: a uint32 length */
        if (fread(pre + 10, 1, 2, f) != 2) goto out;
        hl |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    if (hl > (1u << 20) || !(hdr = calloc(1, hl + 1)) || fread(hdr, 1, hl, f) != hl) goto out;
    const char *d = strstr(hdr, "'descr': '"), *s = strstr(hdr, "'shape': (");
    if (!d || !s || strstr(hdr, "'fortran_order': True")) goto out;
    memcpy(descr, d + 10, 3), descr[3] = 0;
    if (strcmp(descr, "<f4") && strcmp(descr, "<i4")) goto out;
    int nd = 0;
    int64_t count = 1;
    for (const char *p = s + 10; *p && *p != ')';) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) { p++; continue; }
        if (nd == NPY_MAX_DIM || v < 0) goto out;
        shape[nd++] = v, count *= v, p = end;
    }
    *ndim = nd;
    if (!(*data = malloc((size_t)(count > 0 ? count : 1) * 4))) goto out;
    if (fread(*data, 4, (size_t)count, f) != (size_t)count) {
        free(*data), *data = NULL;
        goto out;
    }
    ok = true;
out:
    free(hdr);
    fclose(f);
    if (!ok) fail("%s: not a readable 4-byte little-endian .npy file", path);
    return ok;
}
