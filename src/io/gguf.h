/*
 * gguf.h — reader and writer of GGUF v3 files (ggml's docs/gguf.md; our use in docs/gguf.md).
 *
 * Layout (all little-endian):
 *     "GGUF" u32 version(3) u64 n_tensors u64 n_kv
 *     n_kv × { string key, u32 value_type, value }                    string = u64 length + bytes
 *     n_tensors × { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
 *     padding to `general.alignment` (default 32), then the data region; each tensor's offset is
 *     relative to the region and a multiple of the alignment.
 * ne[0] is the contiguous (fastest) dimension: a PyTorch Linear weight [n_out, n_in] is ne = [n_in, n_out].
 *
 * The reader validates everything before use and keeps every value inside the mapping (no copies of
 * tensor data; strings are (pointer, length) views, not NUL-terminated). The writer serialises the
 * metadata as it is set and writes the file atomically (temporary file + rename).
 */
#ifndef HG_GGUF_H
#define HG_GGUF_H

#include "base/base.h"
#include "io/mapped_file.h"

#define HG_GGUF_VERSION 3
#define HG_GGUF_DEFAULT_ALIGNMENT 32
#define HG_GGUF_MAX_DIMS 4
#define HG_GGUF_MAX_NAME 256 /* bytes of a tensor name, NUL excluded (ggml's own limit is 63) */

/* Metadata value types (numbering of the spec). */
typedef enum hg_gguf_vtype {
    HG_GGUF_UINT8 = 0,
    HG_GGUF_INT8 = 1,
    HG_GGUF_UINT16 = 2,
    HG_GGUF_INT16 = 3,
    HG_GGUF_UINT32 = 4,
    HG_GGUF_INT32 = 5,
    HG_GGUF_FLOAT32 = 6,
    HG_GGUF_BOOL = 7,
    HG_GGUF_STRING = 8,
    HG_GGUF_ARRAY = 9,
    HG_GGUF_UINT64 = 10,
    HG_GGUF_INT64 = 11,
    HG_GGUF_FLOAT64 = 12,
    HG_GGUF_VTYPE_COUNT
} hg_gguf_vtype;

/* ggml tensor types we convert to/from (the full list of known ids, with block sizes, is in gguf.c). */
typedef enum hg_ggml_type {
    HG_GGML_F32 = 0,
    HG_GGML_F16 = 1,
    HG_GGML_Q4_0 = 2,
    HG_GGML_Q8_0 = 8,
    HG_GGML_BF16 = 30,
} hg_ggml_type;

/* A string inside the mapping (or the writer's memory): not NUL-terminated. */
typedef struct hg_gguf_str {
    const char *s; /* [len] */
    uint64_t len;
} hg_gguf_str;

typedef struct hg_gguf_kv {
    hg_gguf_str key;
    hg_gguf_vtype type;
    hg_gguf_vtype arr_type; /* element type when type == ARRAY */
    uint64_t n;             /* elements: 1 for a scalar or string, the count for an array */
    const uint8_t *data;    /* the value (scalar) or the first element (array) in the mapping */
    uint64_t *str_off;      /* [n] owned, arrays of strings only: byte offset of element i from data */
} hg_gguf_kv;

typedef struct hg_gguf_tensor {
    char *name;          /* owned, NUL-terminated */
    int n_dims;          /* 1..4 */
    int64_t ne[HG_GGUF_MAX_DIMS]; /* ne[0] contiguous; unused dims are 1 */
    uint32_t type;       /* ggml type id (validated: known, ne[0] a multiple of its block) */
    uint64_t offset;     /* from the start of the data region */
    const uint8_t *data; /* [nbytes] in the mapping */
    size_t nbytes;
} hg_gguf_tensor;

typedef struct hg_gguf_file {
    char *path; /* owned */
    hg_mapped_file map;
    uint32_t version;
    uint64_t alignment;
    hg_gguf_kv *kv;          /* [n_kv] owned, file order */
    int64_t n_kv;
    hg_gguf_tensor *tensors; /* [n_tensors] owned, file order */
    int64_t n_tensors;
    size_t data_offset;      /* start of the data region in the file */
} hg_gguf_file;

/* Open and fully validate `path` (see gguf.c for every check). On failure *out is untouched and the
 * message names the file, the item and the problem: HG_STATUS_IO (cannot open), HG_STATUS_BAD_FILE
 * (malformed), HG_STATUS_UNSUPPORTED (another version, nested arrays). */
hg_status hg_gguf_open(const char *path, bool use_mmap, hg_gguf_file *out, hg_error *err);
/* The same on bytes already in memory (fuzzing, tests); `data` must outlive the result, which does not
 * own it. `name` is used in messages. */
hg_status hg_gguf_parse(const uint8_t *data, size_t size, const char *name, hg_gguf_file *out, hg_error *err);
void hg_gguf_close(hg_gguf_file *f);      /* NULL or zeroed: no-op */
void hg_gguf_free(hg_gguf_file *f);       /* close and hg_free a heap-allocated one; NULL: no-op */

const hg_gguf_kv *hg_gguf_find_kv(const hg_gguf_file *f, const char *key);
const hg_gguf_tensor *hg_gguf_find_tensor(const hg_gguf_file *f, const char *name);
bool hg_gguf_str_eq(hg_gguf_str s, const char *z);

/* Typed access. Each returns HG_STATUS_BAD_FILE naming the key when it is missing or has another type.
 * get_int accepts any integer type whose value lies in [lo, hi]; get_float accepts FLOAT32/FLOAT64. */
hg_status hg_gguf_get_int(const hg_gguf_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out, hg_error *err);
hg_status hg_gguf_get_float(const hg_gguf_file *f, const char *key, double *out, hg_error *err);
hg_status hg_gguf_get_bool(const hg_gguf_file *f, const char *key, bool *out, hg_error *err);
hg_status hg_gguf_get_str(const hg_gguf_file *f, const char *key, hg_gguf_str *out, hg_error *err);
/* Element i of an array of strings (i < kv->n). */
hg_gguf_str hg_gguf_arr_str(const hg_gguf_kv *kv, uint64_t i);
/* Bytes of one scalar of type t (0 for STRING/ARRAY/unknown). */
size_t hg_gguf_vtype_size(hg_gguf_vtype t);

/* ggml type facts: name ("Q8_0"), elements per block and bytes per block; false for an unknown id. */
bool hg_ggml_type_info(uint32_t type, const char **name, int64_t *block, size_t *block_bytes);
/* Bytes of a row-major tensor of `count` elements (count a multiple of the block); false on overflow. */
bool hg_ggml_nbytes(uint32_t type, int64_t count, size_t *out);
/* hg_dtype <-> ggml type (false when there is no counterpart). */
bool hg_ggml_from_dtype(hg_dtype d, uint32_t *out);
bool hg_ggml_to_dtype(uint32_t t, hg_dtype *out);

/* ---- writing -----------------------------------------------------------------------------------
 * Set metadata in the order it should appear (a key set twice is an error), add tensors in data
 * order, then write. Errors are sticky: the first failure is kept and returned by hg_gguf_write, so a
 * caller may check only the final status. Tensor bytes are taken from `data` (which must stay valid
 * until hg_gguf_write) or, when data is NULL, produced by `fill` in chunks of whole rows (a row is ne[0]
 * elements; rows are counted over ne[1..3]): fill writes rows row0 .. row0+n_rows-1 of tensor `index`
 * (the order of hg_gguf_add_tensor calls) into buf and returns false on failure. The chunk buffer is at
 * most ~32 MB (or one row), so converting a model never holds a whole tensor in memory. */
typedef struct hg_gguf_writer hg_gguf_writer;
typedef bool (*hg_gguf_fill_fn)(void *user, int64_t index, int64_t row0, int64_t n_rows, uint8_t *buf);

hg_status hg_gguf_writer_init(hg_gguf_writer **out, hg_error *err);
void hg_gguf_writer_free(hg_gguf_writer *w);
/* A scalar of a numeric or bool type; `value` points at one value of that C type
 * (uint8_t, int8_t, ..., float, bool stored as uint8_t 0/1, double). */
hg_status hg_gguf_set_scalar(hg_gguf_writer *w, const char *key, hg_gguf_vtype type, const void *value);
hg_status hg_gguf_set_u32(hg_gguf_writer *w, const char *key, uint32_t v);
hg_status hg_gguf_set_f32(hg_gguf_writer *w, const char *key, float v);
hg_status hg_gguf_set_bool(hg_gguf_writer *w, const char *key, bool v);
hg_status hg_gguf_set_str(hg_gguf_writer *w, const char *key, const char *s, size_t len);
/* An array of n scalars of `type` laid out as a C array (bool: uint8_t 0/1). */
hg_status hg_gguf_set_arr(hg_gguf_writer *w, const char *key, hg_gguf_vtype type, const void *values, uint64_t n);
/* An array of n strings: strs[i] of lens[i] bytes (lens NULL: NUL-terminated). */
hg_status hg_gguf_set_arr_str(hg_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                              uint64_t n);
/* Copy a key/value pair read from another file (any type, arrays included). */
hg_status hg_gguf_set_kv_copy(hg_gguf_writer *w, const hg_gguf_kv *kv);
/* Alignment of the data region (a power of two; default 32). Writes general.alignment when it
 * differs from the default. Must precede every hg_gguf_add_tensor. */
hg_status hg_gguf_set_alignment(hg_gguf_writer *w, uint32_t alignment);
hg_status hg_gguf_add_tensor(hg_gguf_writer *w, const char *name, uint32_t ggml_type, int n_dims,
                             const int64_t *ne /* [n_dims], ne[0] contiguous */, const void *data,
                             hg_gguf_fill_fn fill, void *user);
/* Write everything to path (path.tmp.PID, then rename). On failure no file is left at path. */
hg_status hg_gguf_write(hg_gguf_writer *w, const char *path, hg_error *err);

/* The tokenizer.* keys from a Hugging Face tokenizer.json in dir (and its tokenizer_config.json):
 * tokenizer.ggml.model "gpt2", tokens, token_type, merges, bos/eos/padding ids, chat template and the
 * whole file as tokenizer.huggingface.json. n_vocab: the model's vocabulary size (ids must be below;
 * ids without a token become "[PAD<id>]", type UNUSED). */
hg_status hg_gguf_put_tokenizer(hg_gguf_writer *w, const char *dir, int64_t n_vocab, hg_error *err);

#endif
