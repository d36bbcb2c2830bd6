/*
 * safetensors.h — reader (and writer) of the safetensors format: u64 LE header length, a JSON header
 * {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {...}}, then the raw data region.
 */
#ifndef HG_SAFETENSORS_H
#define HG_SAFETENSORS_H

#include "base/base.h"
#include "io/mapped_file.h"

/* Element types a safetensors file may declare. Only F32/F16/BF16 can be weights. */
typedef enum hg_st_dtype {
    HG_ST_F32, HG_ST_F16, HG_ST_BF16, HG_ST_F64, HG_ST_I64, HG_ST_I32, HG_ST_I16, HG_ST_I8, HG_ST_U8,
    HG_ST_BOOL, HG_ST_U16, HG_ST_U32, HG_ST_U64, HG_ST_F8_E4M3, HG_ST_F8_E5M2,
} hg_st_dtype;

typedef struct hg_st_tensor {
    char *name;           /* owned */
    hg_st_dtype dtype;
    int n_dims;
    int64_t shape[8];
    const uint8_t *data;  /* into the file's data region (or its aligned copy) */
    size_t nbytes;
} hg_st_tensor;

typedef struct hg_st_file {
    char *path;                /* owned */
    hg_mapped_file map;
    uint8_t *aligned_copy;     /* owned: data region copied when the mapping leaves tensors misaligned */
    hg_st_tensor *tensors;     /* [n_tensors], owned */
    int64_t n_tensors;
} hg_st_file;

/* Open and fully validate a safetensors file: header length, JSON, dtypes, shapes, offsets against
 * the data region (no overlap, no overrun), element counts against byte counts. */
hg_status hg_st_open(const char *path, bool use_mmap, hg_st_file *out, hg_error *err);
void hg_st_close(hg_st_file *f);
const hg_st_tensor *hg_st_find(const hg_st_file *f, const char *name);
const char *hg_st_dtype_name(hg_st_dtype t);
size_t hg_st_dtype_size(hg_st_dtype t);

/* ---- writing ---------------------------------------------------------------------------------
 * The header is written first from the list of tensors (names, dtypes, shapes, in the order given,
 * which is also the data order), then each tensor's bytes in that order through a callback. */
typedef struct hg_st_entry {
    const char *name;
    hg_st_dtype dtype;
    int n_dims;
    int64_t shape[8];
} hg_st_entry;

/* fill(user, index, buf, nbytes) writes tensor `index`'s bytes into buf; returns false on failure.
 * The file is written to path.tmp and renamed when complete. */
typedef bool (*hg_st_fill_fn)(void *user, int64_t index, uint8_t *buf, size_t nbytes);
hg_status hg_st_write(const char *path, const hg_st_entry *entries, int64_t n, hg_st_fill_fn fill, void *user,
                      hg_error *err);

#endif
