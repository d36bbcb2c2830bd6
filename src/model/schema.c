/*
 * schema.c — the tensor tables of the architectures (schema.h) and the name helpers every reader and
 * writer of weights shares. Tensor shapes and roles: docs/forward-pass.md.
 *
 * Huginn-0125 (HG_ARCH_HUGINN): token embedding, a concat adapter in front of the core block, a final
 * norm and an optional untied head; each sandwich layer has four RMSNorm weights, a fused QKV matrix
 * (rows q, k, v), the attention output projection, a fused gate/up matrix and the down projection,
 * plus an optional q/k bias stored [2, 1, H, d]. The HF checkpoint's saved RoPE table `freqs_cis` is
 * ignored: RoPE is computed.
 *
 * Retrofitted recurrence (HG_ARCH_RETROFIT_LLAMA / _OLMO, docs/family.md): the same Raven names and
 * global parts, two norms per layer (Llama: before attention / MLP; OLMo-2: on their outputs, so their
 * GGUF names differ), fused QKV of (H + 2 Hkv)·d rows with no q/k bias, and for OLMo-2 the q and k
 * norms over the full projection widths. No RoPE buffer is stored.
 */
#include "model/schema.h"
#include "model/model.h"

#include <stdio.h>

#define GLOBAL(f) offsetof(hg_model, f)
#define LAYER(f) offsetof(hg_layer, f)
#define NORM(k) (offsetof(hg_layer, norm) + (k) * sizeof(const float *))

/* The order of this table is the GGUF file's tensor order (do not reorder: files are keyed by it). */
static const hg_part k_huginn_parts[] = {
    /* hf, gguf, place, n_dims, dims (HF order), store, when, init, group, slot, tied_to */
    {"transformer.wte.weight", "token_embd.weight", HG_PLACE_INPUT, 2, {HG_SD_V, HG_SD_H}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_EMBED, GLOBAL(wte), -1},
    {"transformer.adapter.weight", "adapter.weight", HG_PLACE_CORE_INPUT, 2, {HG_SD_H, HG_SD_2H}, HG_STORE_MATRIX,
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_WEIGHT, GLOBAL(adapter), -1},
    {"transformer.ln_f.weight", "output_norm.weight", HG_PLACE_OUTPUT, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, GLOBAL(ln_f), -1},
    {"lm_head.weight", "output.weight", HG_PLACE_OUTPUT, 2, {HG_SD_V, HG_SD_H}, HG_STORE_MATRIX, HG_WHEN_UNTIED,
     HG_INIT_NORMAL, HG_GROUP_WEIGHT, GLOBAL(lm_head), 0},
    {"norm_1.weight", "attn_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS, HG_INIT_ONES,
     HG_GROUP_NORM, NORM(0), -1},
    {"norm_2.weight", "post_attention_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, NORM(1), -1},
    {"norm_3.weight", "ffn_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS, HG_INIT_ONES,
     HG_GROUP_NORM, NORM(2), -1},
    {"norm_4.weight", "post_ffw_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, NORM(3), -1},
    {"attn.Wqkv.weight", "attn_qkv.weight", HG_PLACE_LAYER, 2, {HG_SD_QKV, HG_SD_H}, HG_STORE_MATRIX, HG_WHEN_ALWAYS,
     HG_INIT_NORMAL, HG_GROUP_WEIGHT, LAYER(wqkv), -1},
    {"attn.proj.weight", "attn_output.weight", HG_PLACE_LAYER, 2, {HG_SD_H, HG_SD_Q}, HG_STORE_MATRIX, HG_WHEN_ALWAYS,
     HG_INIT_OUT_PROJ, HG_GROUP_WEIGHT, LAYER(attn_proj), -1},
    {"mlp.fc.weight", "ffn_gate_up.weight", HG_PLACE_LAYER, 2, {HG_SD_2I, HG_SD_H}, HG_STORE_MATRIX, HG_WHEN_ALWAYS,
     HG_INIT_GATE_UP, HG_GROUP_WEIGHT, LAYER(fc), -1},
    {"mlp.proj.weight", "ffn_down.weight", HG_PLACE_LAYER, 2, {HG_SD_H, HG_SD_I}, HG_STORE_MATRIX, HG_WHEN_ALWAYS,
     HG_INIT_OUT_PROJ, HG_GROUP_WEIGHT, LAYER(mlp_proj), -1},
    {"attn.qk_bias", "attn_qk_bias", HG_PLACE_LAYER, 4, {HG_SD_TWO, HG_SD_ONE, HG_SD_HEADS, HG_SD_HEAD_DIM},
     HG_STORE_VECTOR, HG_WHEN_QK_BIAS, HG_INIT_ZEROS, HG_GROUP_NORM, LAYER(qk_bias), -1},
};
/* The trainer's per-layer order (its checkpoints and optimizer files are keyed by it): Wqkv, qk_bias,
 * attn.proj, mlp.fc, mlp.proj, norm_1..4. */
static const int k_huginn_train_layer[] = {8, 12, 9, 10, 11, 4, 5, 6, 7};
static const char *const k_huginn_hf_ignored[] = {"freqs_cis"};

static const hg_schema k_huginn = {
    .arch = HG_ARCH_HUGINN,
    .gguf_arch = "huginn",
    .hf_stage = {"transformer.prelude", "transformer.core_block", "transformer.coda"},
    .parts = k_huginn_parts,
    .n_parts = (int)(sizeof k_huginn_parts / sizeof k_huginn_parts[0]),
    .train_layer = k_huginn_train_layer,
    .n_train_layer = (int)(sizeof k_huginn_train_layer / sizeof k_huginn_train_layer[0]),
    .hf_ignored = k_huginn_hf_ignored,
    .n_hf_ignored = 1,
};

/* Retrofit parts: the globals as Huginn's (same names, order and tie rule), then the layer parts. */
#define RETROFIT_GLOBALS                                                                                             \
    {"transformer.wte.weight", "token_embd.weight", HG_PLACE_INPUT, 2, {HG_SD_V, HG_SD_H}, HG_STORE_MATRIX,          \
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_EMBED, GLOBAL(wte), -1},                                                \
    {"transformer.adapter.weight", "adapter.weight", HG_PLACE_CORE_INPUT, 2, {HG_SD_H, HG_SD_2H}, HG_STORE_MATRIX,   \
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_WEIGHT, GLOBAL(adapter), -1},                                          \
    {"transformer.ln_f.weight", "output_norm.weight", HG_PLACE_OUTPUT, 1, {HG_SD_H}, HG_STORE_VECTOR,               \
     HG_WHEN_ALWAYS, HG_INIT_ONES, HG_GROUP_NORM, GLOBAL(ln_f), -1},                                                 \
    {"lm_head.weight", "output.weight", HG_PLACE_OUTPUT, 2, {HG_SD_V, HG_SD_H}, HG_STORE_MATRIX, HG_WHEN_UNTIED,     \
     HG_INIT_NORMAL, HG_GROUP_WEIGHT, GLOBAL(lm_head), 0}
#define RETROFIT_MATRICES                                                                                            \
    {"attn.Wqkv.weight", "attn_qkv.weight", HG_PLACE_LAYER, 2, {HG_SD_QKV, HG_SD_H}, HG_STORE_MATRIX,                \
     HG_WHEN_ALWAYS, HG_INIT_NORMAL, HG_GROUP_WEIGHT, LAYER(wqkv), -1},                                              \
    {"attn.proj.weight", "attn_output.weight", HG_PLACE_LAYER, 2, {HG_SD_H, HG_SD_Q}, HG_STORE_MATRIX,               \
     HG_WHEN_ALWAYS, HG_INIT_OUT_PROJ, HG_GROUP_WEIGHT, LAYER(attn_proj), -1},                                       \
    {"mlp.fc.weight", "ffn_gate_up.weight", HG_PLACE_LAYER, 2, {HG_SD_2I, HG_SD_H}, HG_STORE_MATRIX,                 \
     HG_WHEN_ALWAYS, HG_INIT_GATE_UP, HG_GROUP_WEIGHT, LAYER(fc), -1},                                               \
    {"mlp.proj.weight", "ffn_down.weight", HG_PLACE_LAYER, 2, {HG_SD_H, HG_SD_I}, HG_STORE_MATRIX, HG_WHEN_ALWAYS,   \
     HG_INIT_OUT_PROJ, HG_GROUP_WEIGHT, LAYER(mlp_proj), -1}

/* Llama: norm_1 before attention, norm_2 before the MLP (llama.cpp's attn_norm / ffn_norm). */
static const hg_part k_retrofit_llama_parts[] = {
    RETROFIT_GLOBALS,
    {"norm_1.weight", "attn_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS, HG_INIT_ONES,
     HG_GROUP_NORM, NORM(0), -1},
    {"norm_2.weight", "ffn_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS, HG_INIT_ONES,
     HG_GROUP_NORM, NORM(1), -1},
    RETROFIT_MATRICES,
};
/* OLMo-2: norm_1 on the attention output, norm_2 on the MLP output (llama.cpp's olmo2 names), plus
 * the q / k norms. */
static const hg_part k_retrofit_olmo_parts[] = {
    RETROFIT_GLOBALS,
    {"norm_1.weight", "post_attention_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, NORM(0), -1},
    {"norm_2.weight", "post_ffw_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_H}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, NORM(1), -1},
    RETROFIT_MATRICES,
    {"attn.q_norm.weight", "attn_q_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_Q}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, LAYER(q_norm), -1},
    {"attn.k_norm.weight", "attn_k_norm.weight", HG_PLACE_LAYER, 1, {HG_SD_KV}, HG_STORE_VECTOR, HG_WHEN_ALWAYS,
     HG_INIT_ONES, HG_GROUP_NORM, LAYER(k_norm), -1},
};
/* The trainer does not run these blocks (trainer refuses them); the order lists every layer part. */
static const int k_retrofit_llama_train_layer[] = {6, 7, 8, 9, 4, 5};
static const int k_retrofit_olmo_train_layer[] = {6, 7, 8, 9, 4, 5, 10, 11};

#define RETROFIT_SCHEMA(a, name, tbl, order)                                                                       \
    {.arch = (a), .gguf_arch = (name),                                                                             \
     .hf_stage = {"transformer.prelude", "transformer.core_block", "transformer.coda"},                            \
     .parts = (tbl), .n_parts = (int)(sizeof(tbl) / sizeof(tbl)[0]), .train_layer = (order),                        \
     .n_train_layer = (int)(sizeof(order) / sizeof(order)[0]), .hf_ignored = NULL, .n_hf_ignored = 0}
static const hg_schema k_retrofit_llama =
    RETROFIT_SCHEMA(HG_ARCH_RETROFIT_LLAMA, "retrofit-llama", k_retrofit_llama_parts, k_retrofit_llama_train_layer);
static const hg_schema k_retrofit_olmo =
    RETROFIT_SCHEMA(HG_ARCH_RETROFIT_OLMO, "retrofit-olmo2", k_retrofit_olmo_parts, k_retrofit_olmo_train_layer);

const hg_schema *hg_schema_for(hg_arch arch) {
    switch (arch) {
    case HG_ARCH_HUGINN: return &k_huginn;
    case HG_ARCH_OURO: return &hg_schema_ouro;
    case HG_ARCH_RETROFIT_LLAMA: return &k_retrofit_llama;
    case HG_ARCH_RETROFIT_OLMO: return &k_retrofit_olmo;
    default: return NULL;
    }
}

int64_t hg_schema_dim(const hg_config *c, hg_sdim d) {
    const int64_t kv = c->n_kv_head ? c->n_kv_head : c->n_head; /* configs built in code may leave it 0 */
    switch (d) {
    case HG_SD_ONE: return 1;
    case HG_SD_TWO: return 2;
    case HG_SD_H: return c->n_embd;
    case HG_SD_2H: return 2 * c->n_embd;
    case HG_SD_HEADS: return c->n_head;
    case HG_SD_HEAD_DIM: return c->head_dim;
    case HG_SD_Q: return c->n_head * c->head_dim;
    case HG_SD_QKV: return (c->n_head + 2 * kv) * c->head_dim;
    case HG_SD_I: return c->intermediate_size;
    case HG_SD_2I: return 2 * c->intermediate_size;
    case HG_SD_V: return c->vocab_size;
    case HG_SD_KV: return kv * c->head_dim;
    }
    HG_ASSERT(!"hg_schema_dim: unknown dimension");
    return 0;
}

int64_t hg_schema_numel(const hg_config *c, const hg_part *p) {
    int64_t n = 1;
    for (int d = 0; d < p->n_dims; d++) n *= hg_schema_dim(c, p->dims[d]);
    return n;
}

bool hg_schema_has(const hg_config *c, const hg_part *p) {
    switch (p->when) {
    case HG_WHEN_ALWAYS: return true;
    case HG_WHEN_QK_BIAS: return c->qk_bias;
    case HG_WHEN_UNTIED: return !c->tie_embeddings;
    }
    return false;
}

int64_t hg_schema_n_layers(const hg_config *c) { return c->n_layers_prelude + c->n_layers_core + c->n_layers_coda; }

hg_schema_iter hg_schema_begin(const hg_schema *s, const hg_config *c) {
    hg_schema_iter it = {.s = s, .c = c, .layer = -1, .k = 0};
    return it;
}

bool hg_schema_next(hg_schema_iter *it) {
    const int64_t nl = hg_schema_n_layers(it->c);
    for (; it->layer < nl; it->layer++, it->k = 0)
        while (it->k < it->s->n_parts) {
            const hg_part *p = &it->s->parts[it->k++];
            if ((p->place == HG_PLACE_LAYER) == (it->layer >= 0) && hg_schema_has(it->c, p)) {
                it->part = p;
                return true;
            }
        }
    return false;
}

void *hg_schema_slot(hg_model *m, const hg_part *p, int64_t layer) {
    return p->place == HG_PLACE_LAYER ? (char *)&m->layers[layer] + p->slot : (char *)m + p->slot;
}

const void *hg_schema_cslot(const hg_model *m, const hg_part *p, int64_t layer) {
    return p->place == HG_PLACE_LAYER ? (const char *)&m->layers[layer] + p->slot : (const char *)m + p->slot;
}

bool hg_schema_name(const hg_schema *s, const hg_config *c, const hg_part *p, int64_t layer, hg_name_format f,
                    char *buf, size_t n) {
    int k;
    if (p->place != HG_PLACE_LAYER) {
        k = snprintf(buf, n, "%s", f == HG_NAMES_HF ? p->hf : p->gguf);
    } else if (f == HG_NAMES_GGUF) {
        k = snprintf(buf, n, "blk.%lld.%s", (long long)layer, p->gguf);
    } else {
        /* HF numbers layers within their stage: prelude, core block, coda */
        int stage = 0;
        int64_t i = layer;
        if (i >= c->n_layers_prelude) {
            i -= c->n_layers_prelude, stage = 1;
            if (i >= c->n_layers_core) i -= c->n_layers_core, stage = 2;
        }
        k = snprintf(buf, n, "%s.%lld.%s", s->hf_stage[stage], (long long)i, p->hf);
    }
    return k > 0 && (size_t)k < n;
}

bool hg_schema_ignored(const hg_schema *s, hg_name_format f, const char *name) {
    if (f != HG_NAMES_HF) return false;
    for (int i = 0; i < s->n_hf_ignored; i++)
        if (!strcmp(name, s->hf_ignored[i])) return true;
    return false;
}

/* A layer index written as plain decimal digits followed by '.': its value (or -1) and the rest. */
static int64_t parse_index(const char *p, const char **rest) {
    int64_t v = 0;
    const char *q = p;
    for (; *q >= '0' && *q <= '9' && v < (INT64_C(1) << 40); q++) v = v * 10 + (*q - '0');
    if (q == p || *q != '.') return -1;
    *rest = q + 1;
    return v;
}

/* Is `suffix` the per-layer part name of a part present under c? */
static bool layer_part(const hg_schema *s, const hg_config *c, hg_name_format f, const char *suffix) {
    for (int k = 0; k < s->n_parts; k++) {
        const hg_part *p = &s->parts[k];
        if (p->place == HG_PLACE_LAYER && !strcmp(suffix, f == HG_NAMES_HF ? p->hf : p->gguf))
            return hg_schema_has(c, p);
    }
    return false;
}

bool hg_schema_expects(const hg_schema *s, const hg_config *c, hg_name_format f, const char *name) {
    if (hg_schema_ignored(s, f, name)) return true;
    for (int k = 0; k < s->n_parts; k++) {
        const hg_part *p = &s->parts[k];
        if (p->place != HG_PLACE_LAYER && !strcmp(name, f == HG_NAMES_HF ? p->hf : p->gguf))
            return hg_schema_has(c, p) || p->when == HG_WHEN_UNTIED; /* a tied head may be stored */
    }
    const char *rest = NULL;
    if (f == HG_NAMES_GGUF) {
        if (strncmp(name, "blk.", 4) != 0) return false;
        const int64_t li = parse_index(name + 4, &rest);
        return li >= 0 && li < hg_schema_n_layers(c) && layer_part(s, c, f, rest);
    }
    const int64_t counts[3] = {c->n_layers_prelude, c->n_layers_core, c->n_layers_coda};
    for (int st = 0; st < 3; st++) {
        const size_t n = strlen(s->hf_stage[st]);
        if (strncmp(name, s->hf_stage[st], n) != 0 || name[n] != '.') continue;
        const int64_t i = parse_index(name + n + 1, &rest);
        return i >= 0 && i < counts[st] && layer_part(s, c, f, rest);
    }
    return false;
}
