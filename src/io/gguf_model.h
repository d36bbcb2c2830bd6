/*
 * gguf_model.h — how a recurrent-depth model is laid out in GGUF (docs/gguf.md): the tensor name
 * mapping HF <-> GGUF shared by the exporter (gguf_model.c) and the loader (model/load_gguf.c), and
 * the exporter behind `huginn convert` and `huginn quantize`.
 */
#ifndef HG_GGUF_MODEL_H
#define HG_GGUF_MODEL_H

#include "io/gguf.h"
#include "model/model.h"

#define HG_GGUF_ARCH "huginn"

/* Per-layer tensors. Layers are numbered globally: blk.0 .. blk.P-1 are the prelude, blk.P .. blk.P+R-1
 * the recurrent core block, then the coda (the order of hg_model.layers). */
typedef enum hg_gguf_part {
    HG_GGUF_PART_NORM_1,   /* norm_1.weight      -> attn_norm.weight             [h] */
    HG_GGUF_PART_NORM_2,   /* norm_2.weight      -> post_attention_norm.weight   [h] */
    HG_GGUF_PART_NORM_3,   /* norm_3.weight      -> ffn_norm.weight              [h] */
    HG_GGUF_PART_NORM_4,   /* norm_4.weight      -> post_ffw_norm.weight         [h] */
    HG_GGUF_PART_QKV,      /* attn.Wqkv.weight   -> attn_qkv.weight              ne [h, 3h] */
    HG_GGUF_PART_ATTN_OUT, /* attn.proj.weight   -> attn_output.weight           ne [h, h] */
    HG_GGUF_PART_GATE_UP,  /* mlp.fc.weight      -> ffn_gate_up.weight           ne [h, 2I] */
    HG_GGUF_PART_DOWN,     /* mlp.proj.weight    -> ffn_down.weight              ne [I, h] */
    HG_GGUF_PART_QK_BIAS,  /* attn.qk_bias       -> attn_qk_bias                 ne [d, H, 1, 2] */
    HG_GGUF_N_PARTS
} hg_gguf_part;

/* "blk.{layer}.{gguf part}" into buf; false if it does not fit. */
bool hg_gguf_layer_name(char *buf, size_t n, int64_t layer, hg_gguf_part part);
/* The HF suffix of a part ("norm_1.weight", "attn.Wqkv.weight", ...). */
const char *hg_gguf_part_hf(hg_gguf_part part);

/* The global tensors. */
#define HG_GGUF_TOKEN_EMBD "token_embd.weight"   /* transformer.wte.weight      ne [h, V] */
#define HG_GGUF_ADAPTER "adapter.weight"         /* transformer.adapter.weight  ne [2h, h] */
#define HG_GGUF_OUTPUT_NORM "output_norm.weight" /* transformer.ln_f.weight     [h] */
#define HG_GGUF_OUTPUT "output.weight"           /* lm_head.weight              ne [h, V], only when untied */

typedef struct hg_gguf_export_params {
    int out_dtype;          /* an hg_dtype for every matrix, or -1: keep each matrix's stored dtype */
    const char *tokenizer;  /* directory holding tokenizer.json (+ tokenizer_config.json), or NULL */
    const char *name;       /* general.name; NULL: taken from the source */
    bool no_tokenizer;      /* embed no tokenizer, not even a GGUF source's */
} hg_gguf_export_params;

/* Write model `m` as a GGUF file at out_path (atomically). Matrices get out_dtype when their rows
 * allow it (Q8_0/Q4_0 need n_in % 32 == 0; others fall back to F32); norms, ln_f and the q/k bias are
 * always F32 (as llama.cpp keeps them). The tokenizer is embedded from p->tokenizer when given, else
 * copied (every tokenizer.* key) from the model's own GGUF when it was loaded from one, unless
 * p->no_tokenizer. Returns the writer's and the tokenizer reader's statuses; no file on failure. */
hg_status hg_gguf_export(const hg_model *m, const char *out_path, const hg_gguf_export_params *p, hg_error *err);

/* The tokenizer.* keys from a Hugging Face tokenizer.json in dir (and its tokenizer_config.json):
 * tokenizer.ggml.model "gpt2", tokens, token_type, merges, bos/eos/padding ids, chat template and the
 * whole file as tokenizer.huggingface.json. n_vocab: the model's vocabulary size (ids must be below;
 * ids without a token become "[PAD<id>]", type UNUSED). */
hg_status hg_gguf_put_tokenizer(hg_gguf_writer *w, const char *dir, int64_t n_vocab, hg_error *err);

#endif
