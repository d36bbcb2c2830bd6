/*
 * model.h — internal view of a loaded model: the weight tensors (in their stored dtype, pointing
 * into mapped files) arranged by stage and layer, and the config.
 */
#ifndef HG_MODEL_H
#define HG_MODEL_H

#include "base/base.h"
#include "base/tensor.h"
#include "io/safetensors.h"

typedef struct hg_layer {
    const float *norm[4]; /* [h] each, f32 copies (owned by the model) */
    const float *qk_bias; /* [2, H*d] f32 copy or NULL: row 0 added to q, row 1 to k */
    hg_tensor wqkv;       /* [(H + 2·Hkv)·d, h] rows q, k, v (3h for Huginn) */
    hg_tensor attn_proj;  /* [h, H·d] */
    hg_tensor fc;         /* [2I, h] rows gate then up */
    hg_tensor mlp_proj;   /* [h, I] */
    /* Ouro stores the projections unfused (wqkv and fc stay empty there) */
    hg_tensor wq, wk, wv; /* [H·d, h], [Hkv·d, h], [Hkv·d, h] */
    hg_tensor w_gate, w_up; /* [I, h] each */
    const float *q_norm;  /* [H·d] f32 copy or NULL: OLMo-2's RMSNorm weight over all of q */
    const float *k_norm;  /* [Hkv·d] f32 copy or NULL: the same over all of k */
} hg_layer;

struct hg_model {
    hg_config cfg;
    char *path;              /* owned */
    hg_layer *layers;        /* [P + R + C]: prelude, then core block, then coda (owned) */
    hg_tensor wte;           /* [V, h] */
    hg_tensor adapter;       /* [h, 2h] input concat(state, embedding) */
    const float *ln_f;       /* [h] f32 copy */
    hg_tensor lm_head;       /* [V, h]; = wte when tied */
    const float *exit_gate;  /* Ouro: [h] f32 copy of early_exit_gate.weight, else NULL */
    const float *exit_gate_b; /* Ouro: [1] its bias */
    float *small;            /* owned block holding every f32 norm/bias copy */
    hg_st_file *files;       /* [n_files] owned: the mapped safetensors files */
    int n_files;
    void *owned_weights;     /* weights created in memory (tests, trainer) instead of mapped; or NULL */
    void *gguf;              /* an opened GGUF file (io/gguf), or NULL */
    int64_t n_params, n_bytes;
    void **packs;            /* [n_packs] owned: weights laid out for this host's kernels (hg_matmul_prepack) */
    int64_t n_packs;
    /* every product weight is packed: a position's result then depends on no other row of a call, so
     * positions of several sequences may share one call and still equal each sequence run alone */
    bool all_packed;
};

static inline const hg_layer *hg_model_prelude(const hg_model *m, int64_t i) { return &m->layers[i]; }
static inline const hg_layer *hg_model_core(const hg_model *m, int64_t j) {
    return &m->layers[m->cfg.n_layers_prelude + j];
}
static inline const hg_layer *hg_model_coda(const hg_model *m, int64_t i) {
    return &m->layers[m->cfg.n_layers_prelude + m->cfg.n_layers_core + i];
}
static inline int64_t hg_model_n_layers(const hg_model *m) {
    return m->cfg.n_layers_prelude + m->cfg.n_layers_core + m->cfg.n_layers_coda;
}

/* Widths of the attention projections: queries H·d, keys and values each Hkv·d, the fused QKV rows
 * (H + 2·Hkv)·d (q rows first, then k, then v). For Huginn Hkv = H and H·d = h. */
static inline int64_t hg_cfg_q_dim(const hg_config *c) { return c->n_head * c->head_dim; }
static inline int64_t hg_cfg_kv_dim(const hg_config *c) { return (c->n_kv_head ? c->n_kv_head : c->n_head) * c->head_dim; }
static inline int64_t hg_cfg_qkv_dim(const hg_config *c) { return hg_cfg_q_dim(c) + 2 * hg_cfg_kv_dim(c); }

/* A retrofitted-recurrence architecture (Llama or OLMo-2 blocks in the Raven layout; docs/family.md)? */
static inline bool hg_arch_is_retrofit(hg_arch a) { return a == HG_ARCH_RETROFIT_LLAMA || a == HG_ARCH_RETROFIT_OLMO; }

/* Parse config.json text (path is used in messages). */
hg_status hg_config_parse(const char *text, size_t len, const char *path, hg_config *out, hg_error *err);
/* Check the config's values are usable (positive sizes, h divisible by heads, even head_dim, ...). */
hg_status hg_config_validate(hg_config *c, const char *path, hg_error *err);
/* Parameters of a model with this config (tied embeddings counted once). */
int64_t hg_config_n_params(const hg_config *c);
/* Write config.json text in the official key order (hg_free the result). */
char *hg_config_to_json(const hg_config *c, const char *name);
/* The same for Ouro: Hugging Face's OuroConfig keys (config_ouro.c); hg_config_to_json dispatches to it. */
char *hg_config_ouro_to_json(const hg_config *c, const char *name);

#endif
