/*
 * schema_ouro.c — the tensor table of Ouro (HG_ARCH_OURO, schema.h; docs/family.md "Ouro"): the
 * official state_dict() names (model.embed_tokens, model.layers.{l}.…, model.norm,
 * model.early_exit_gate, lm_head) and GGUF names in llama.cpp's style under general.architecture
 * "ouro". Ouro stores q/k/v and gate/up unfused, so they bind to hg_layer's unfused slots; the four
 * per-layer norms bind to norm[0..3] in the order the block applies them (input, input_2,
 * post_attention, post_attention_2). The gate's [1, h] weight and [1] bias are widened to f32 once.
 * With tie_word_embeddings the head is the embedding, as for Huginn.
 */
#include "model/schema.h"
#include "model/model.h"

#define GLOBAL(f) offsetof(hg_model, f)
#define LAYER(f) offsetof(hg_layer, f)
#define NORM(k) (offsetof(hg_layer, norm) + (k) * sizeof(const float *))

/* The order of this table is the GGUF file's tensor order (do not reorder: files are keyed by it). */
static const hg_part k_ouro_parts[] = {
    /* hf, gguf, place, n_dims, dims (HF order), store, when, init, group, slot, tied_to */
    {"model.embed_tokens.weight", "token_embd.weight", HG_PLACE_INPUT, 2, {HG_SD_V, HG_SD_H}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_EMBED, GLOBAL(wte), -1},
    {"model.norm.weight", "output_norm.weight", HG_PLACE_OUTPUT, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, GLOBAL(ln_f), -1},
    {"model.early_exit_gate.weight", "exit_gate.weight", HG_PLACE_OUTPUT, 2, {HG_SD_ONE, HG_SD_H}, HG_STORE_VECTOR,
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_WEIGHT, GLOBAL(exit_gate), -1},
    {"model.early_exit_gate.bias", "exit_gate.bias", HG_PLACE_OUTPUT, 1, {HG_SD_ONE}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ZEROS, HG_GROUP_NORM, GLOBAL(exit_gate_b), -1},
    {"lm_head.weight", "output.weight", HG_PLACE_OUTPUT, 2, {HG_SD_V, HG_SD_H}, HG_STORE_MATRIX, HG_WHEN_UNTIED,
     HG_INIT_NORMAL, HG_GROUP_WEIGHT, GLOBAL(lm_head), 0},
    {"input_layernorm.weight", "attn_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, NORM(0), -1},
    {"input_layernorm_2.weight", "attn_post_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR,
     HG_WHEN_ALWAYS, HG_INIT_ONES, HG_GROUP_NORM, NORM(1), -1},
    {"post_attention_layernorm.weight", "ffn_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR,
     HG_WHEN_ALWAYS, HG_INIT_ONES, HG_GROUP_NORM, NORM(2), -1},
    {"post_attention_layernorm_2.weight", "ffn_post_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR,
     HG_WHEN_ALWAYS, HG_INIT_ONES, HG_GROUP_NORM, NORM(3), -1},
    {"self_attn.q_proj.weight", "attn_q.weight", HG_PLACE_LAYER, 2, {HG_SD_Q, HG_SD_H}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_WEIGHT, LAYER(wq), -1},
    {"self_attn.k_proj.weight", "attn_k.weight", HG_PLACE_LAYER, 2, {HG_SD_KV, HG_SD_H}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_WEIGHT, LAYER(wk), -1},
    {"self_attn.v_proj.weight", "attn_v.weight", HG_PLACE_LAYER, 2, {HG_SD_KV, HG_SD_H}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_WEIGHT, LAYER(wv), -1},
    {"self_attn.o_proj.weight", "attn_output.weight", HG_PLACE_LAYER, 2, {HG_SD_H, HG_SD_Q}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_OUT_PROJ, HG_GROUP_WEIGHT, LAYER(attn_proj), -1},
    {"mlp.gate_proj.weight", "ffn_gate.weight", HG_PLACE_LAYER, 2, {HG_SD_I, HG_SD_H}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_WEIGHT, LAYER(w_gate), -1},
    {"mlp.up_proj.weight", "ffn_up.weight", HG_PLACE_LAYER, 2, {HG_SD_I, HG_SD_H}, HG_STORE_MATRIX, HG_WHEN_ALWAYS,
     HG_INIT_OUT_PROJ, HG_GROUP_WEIGHT, LAYER(w_up), -1},
    {"mlp.down_proj.weight", "ffn_down.weight", HG_PLACE_LAYER, 2, {HG_SD_H, HG_SD_I}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_OUT_PROJ, HG_GROUP_WEIGHT, LAYER(mlp_proj), -1},
};
/* Every per-layer part, in table order (the trainer does not run Ouro; the layout is still defined). */
static const int k_ouro_train_layer[] = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
/* a saved RoPE buffer is recomputed, never read */
static const char *const k_ouro_hf_ignored[] = {"model.rotary_emb.inv_freq"};

const hg_schema hg_schema_ouro = {
    .arch = HG_ARCH_OURO,
    .gguf_arch = "ouro",
    /* Ouro's stack is all core block (P = C = 0); the other two prefixes name no tensor */
    .hf_stage = {"model.prelude_layers", "model.layers", "model.coda_layers"},
    .parts = k_ouro_parts,
    .n_parts = (int)(sizeof k_ouro_parts / sizeof k_ouro_parts[0]),
    .train_layer = k_ouro_train_layer,
    .n_train_layer = (int)(sizeof k_ouro_train_layer / sizeof k_ouro_train_layer[0]),
    .hf_ignored = k_ouro_hf_ignored,
    .n_hf_ignored = 1,
};
