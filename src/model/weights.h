/*
 * weights.h — a weight source: what the loader binds a model's tensors from. A source answers "find
 * the tensor of this name" (dtype, shape in HF order, data) and "list every name" (so tensors the
 * schema does not know are rejected). Two sources exist: the safetensors files of a Hugging Face
 * directory (load_hf.c) and an opened GGUF file (load_gguf.c); one bind step (load.c) walks the
 * architecture's schema (schema.h) over either.
 */
#ifndef HG_WEIGHTS_H
#define HG_WEIGHTS_H

#include "model/model.h"
#include "model/schema.h"

typedef struct hg_wtensor {
    bool known;            /* the stored type is one hg_dtype holds (else dtype is meaningless) */
    hg_dtype dtype;
    const char *type_name; /* the file's own name of the stored type, for messages */
    int n_dims;
    int64_t shape[8];      /* HF order: [n_out, n_in] for a matrix */
    const void *data;
    size_t nbytes;
} hg_wtensor;

/* How a source words its errors (the messages name the file's own terms). */
typedef struct hg_wsource_words {
    const char *meta;        /* where the config came from: "config.json", "the metadata" */
    const char *qk_bias_set; /* why a q/k bias is required: "config says qk_bias true" */
    const char *shape;       /* "shape" (HF order) or "ne" (GGUF order: shapes printed reversed) */
    bool reversed;
    const char *type;        /* "dtype", "ggml type" */
    const char *supported;   /* the types a matrix may have, as a clause */
} hg_wsource_words;

typedef struct hg_wsource {
    const char *path;
    hg_name_format names;
    const hg_wsource_words *words;
    const hg_model *m; /* the model whose files the source reads */
    bool (*find)(const struct hg_wsource *s, const char *name, hg_wtensor *out);
    int64_t n_tensors;
    const char *(*name_at)(const struct hg_wsource *s, int64_t i);
    /* Optional check of a bound tensor beyond shape and type (GGUF: data alignment). */
    hg_status (*check)(const struct hg_wsource *s, const char *name, const hg_wtensor *t, hg_error *err);
} hg_wsource;

/* Open the source of a Hugging Face directory: reads config.json into m->cfg and maps the
 * safetensors files into m->files. */
hg_status hg_wsource_hf_open(hg_model *m, const char *dir, bool use_mmap, hg_wsource *out, hg_error *err);
/* Open the source of a GGUF file: reads the config from its metadata into m->cfg, keeps the file in
 * m->gguf. */
hg_status hg_wsource_gguf_open(hg_model *m, const char *path, bool use_mmap, hg_wsource *out, hg_error *err);

#endif
