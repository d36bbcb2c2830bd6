/*
 * schema.h — the tensor schema of an architecture: one table of its weight tensors ("parts") with
 * their Hugging Face and GGUF names, shapes in terms of the config, how each is stored in hg_model,
 * when it is present, how the random initializer fills it and which optimizer group trains it.
 *
 * Every reader and writer of weights walks this table — the loaders (load.c over a weight source),
 * the GGUF exporter (export_gguf.c), the random initializer (checkpoint_init.c) and the trainer's
 * layout (train/params.c) — so an architecture is described once; a new one is a new table chosen by
 * hg_config.arch. Shapes and names: docs/forward-pass.md.
 */
#ifndef HG_SCHEMA_H
#define HG_SCHEMA_H

#include "base/base.h"

/* A dimension of a part's shape, resolved against a config by hg_schema_dim. */
typedef enum hg_sdim {
    HG_SD_ONE,      /* 1 */
    HG_SD_TWO,      /* 2 */
    HG_SD_H,        /* n_embd */
    HG_SD_2H,       /* 2 n_embd (the adapter's input: state and embedding concatenated) */
    HG_SD_HEADS,    /* n_head */
    HG_SD_HEAD_DIM, /* head_dim */
    HG_SD_Q,        /* n_head * head_dim (the attention output) */
    HG_SD_QKV,      /* (n_head + 2 n_kv_head) * head_dim (fused q, k, v rows) */
    HG_SD_I,        /* intermediate_size */
    HG_SD_2I,       /* 2 intermediate_size (fused gate and up rows) */
    HG_SD_V,        /* vocab_size */
    HG_SD_KV,       /* n_kv_head * head_dim (a separate k or v projection; OLMo-2's k_norm) */
} hg_sdim;

/* Where a part is used: per layer, or a global one before the prelude, before the core block (the
 * adapter) or after the coda. The trainer lays its parameters out in this order. */
typedef enum hg_part_place { HG_PLACE_LAYER, HG_PLACE_INPUT, HG_PLACE_CORE_INPUT, HG_PLACE_OUTPUT } hg_part_place;

/* MATRIX: an hg_tensor kept in its stored dtype. VECTOR: a small f32 copy (norm, bias), widened once. */
typedef enum hg_part_store { HG_STORE_MATRIX, HG_STORE_VECTOR } hg_part_store;

/* ALWAYS; QK_BIAS: only when cfg.qk_bias; UNTIED: needed when the embeddings are untied, and with tied
 * embeddings checked when stored and then replaced by the part it is tied to (never written). */
typedef enum hg_part_when { HG_WHEN_ALWAYS, HG_WHEN_QK_BIAS, HG_WHEN_UNTIED } hg_part_when;

/* The random initializer's fill: truncated normal with the base std, with the output-projection std,
 * ones, zeros, or the fused gate/up matrix (gate half base std, up half output-projection std). */
typedef enum hg_part_init { HG_INIT_NORMAL, HG_INIT_OUT_PROJ, HG_INIT_ONES, HG_INIT_ZEROS, HG_INIT_GATE_UP } hg_part_init;

/* The optimizer group (weight decay): the embedding, norms and biases (not decayed), other matrices. */
typedef enum hg_part_group { HG_GROUP_EMBED, HG_GROUP_NORM, HG_GROUP_WEIGHT } hg_part_group;

typedef struct hg_part {
    const char *hf;    /* global: the full HF name; layer: the suffix after "{hf_stage[s]}.{i}." */
    const char *gguf;  /* global: the full GGUF name; layer: the suffix after "blk.{layer}." */
    hg_part_place place;
    int n_dims;
    hg_sdim dims[4];   /* the HF (PyTorch) shape; GGUF's ne is its reverse */
    hg_part_store store;
    hg_part_when when;
    hg_part_init init;
    hg_part_group group;
    size_t slot;       /* offset in hg_model (global) or hg_layer (layer) of the hg_tensor (MATRIX) or
                        * const float * (VECTOR) it is bound to */
    int tied_to;       /* UNTIED parts: index of the part that replaces it when tied; else -1 */
} hg_part;

typedef struct hg_schema {
    hg_arch arch;
    const char *gguf_arch;       /* general.architecture and the metadata keys' prefix */
    const char *hf_stage[3];     /* name prefixes of prelude, core block and coda layers */
    const hg_part *parts;        /* global parts, then per-layer parts: the GGUF file's tensor order */
    int n_parts;
    const int *train_layer;      /* indices of the per-layer parts in the trainer's layout order */
    int n_train_layer;
    const char *const *hf_ignored; /* HF tensors accepted and not used (a saved RoPE table) */
    int n_hf_ignored;
} hg_schema;

typedef enum hg_name_format { HG_NAMES_HF, HG_NAMES_GGUF } hg_name_format;

/* Ouro's table (schema_ouro.c). */
extern const hg_schema hg_schema_ouro;

/* The schema of an architecture, or NULL if there is none. */
const hg_schema *hg_schema_for(hg_arch arch);
/* A dimension's value under config c. */
int64_t hg_schema_dim(const hg_config *c, hg_sdim d);
/* Does part p exist in a model of config c? (UNTIED parts: only when untied.) */
bool hg_schema_has(const hg_config *c, const hg_part *p);
/* The name of part p (of global layer `layer` for per-layer parts) into buf; false if it does not fit. */
bool hg_schema_name(const hg_schema *s, const hg_config *c, const hg_part *p, int64_t layer, hg_name_format f,
                    char *buf, size_t n);
/* Is `name` a tensor a file of config c may hold (including a tied head and the ignored names)? */
bool hg_schema_expects(const hg_schema *s, const hg_config *c, hg_name_format f, const char *name);
/* Is `name` one of the HF names that are accepted and ignored? */
bool hg_schema_ignored(const hg_schema *s, hg_name_format f, const char *name);
/* Walks the tensors a model of config c has, in the schema's file order: the global parts (layer -1),
 * then layer by layer every per-layer part.
 *     for (hg_schema_iter it = hg_schema_begin(s, c); hg_schema_next(&it);) use(it.part, it.layer);  */
typedef struct hg_schema_iter {
    const hg_schema *s;
    const hg_config *c;
    const hg_part *part; /* the current part */
    int64_t layer;       /* its global layer, or -1 for a global part */
    int k;               /* index of the next part to look at */
} hg_schema_iter;
hg_schema_iter hg_schema_begin(const hg_schema *s, const hg_config *c);
bool hg_schema_next(hg_schema_iter *it);
/* Where part p of global layer `layer` is bound in model m (an hg_tensor or a const float *). */
void *hg_schema_slot(hg_model *m, const hg_part *p, int64_t layer);
const void *hg_schema_cslot(const hg_model *m, const hg_part *p, int64_t layer);
/* Layers of all three stages. */
int64_t hg_schema_n_layers(const hg_config *c);
/* Elements of part p under config c. */
int64_t hg_schema_numel(const hg_config *c, const hg_part *p);

#endif
