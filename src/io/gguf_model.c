/*
 * gguf_model.c — export a loaded model as GGUF (`huginn convert`, `huginn quantize`); the name mapping.
 *
 * The exporter works from a loaded hg_model, whatever it was loaded from (Hugging Face directory or
 * GGUF), so both commands share one path and a GGUF can be re-quantized. Matrices whose stored dtype
 * is already the target are written straight from the mapping (no copy, bit-exact); every other
 * matrix is converted row by row (widen to f32, then narrow or quantize) through the writer's fill
 * callback, so memory stays at one chunk. Norms and the q/k bias are written from the model's f32
 * copies: widening bf16/f16 to f32 is exact, so a converted model computes the same numbers.
 *
 * Metadata follows llama.cpp's conventions ({arch}.context_length, ...), plus the keys only this
 * architecture has (huginn.prelude_layers, ...); docs/gguf.md lists them all.
 */
#include "io/gguf_model.h"

#include "kernels/quant.h"

#include <cjson/cJSON.h>
#include <stdio.h>

static const char *const k_part_gguf[HG_GGUF_N_PARTS] = {
    "attn_norm.weight", "post_attention_norm.weight", "ffn_norm.weight",    "post_ffw_norm.weight",
    "attn_qkv.weight",  "attn_output.weight",         "ffn_gate_up.weight", "ffn_down.weight",
    "attn_qk_bias",
};
static const char *const k_part_hf[HG_GGUF_N_PARTS] = {
    "norm_1.weight",    "norm_2.weight",    "norm_3.weight", "norm_4.weight", "attn.Wqkv.weight",
    "attn.proj.weight", "mlp.fc.weight",    "mlp.proj.weight", "attn.qk_bias",
};

bool hg_gguf_layer_name(char *buf, size_t n, int64_t layer, hg_gguf_part part) {
    int k = snprintf(buf, n, "blk.%lld.%s", (long long)layer, k_part_gguf[part]);
    return k > 0 && (size_t)k < n;
}

const char *hg_gguf_part_hf(hg_gguf_part part) { return k_part_hf[part]; }

/* ---- row conversion ------------------------------------------------------------------------------- */

typedef struct src_tensor {
    const hg_tensor *t; /* a matrix [n_out, n_in] in its stored dtype */
    hg_dtype to;        /* target dtype */
} src_tensor;

typedef struct export_ctx {
    src_tensor *src; /* [n] indexed like the writer's tensors; t == NULL for tensors given by pointer */
    float *row;      /* [max n_in] scratch */
} export_ctx;

/* dst[n] = row of a stored tensor widened to f32 (every hg_dtype). */
static void widen_row(const hg_tensor *t, int64_t r, float *dst) {
    const int64_t n = t->ne[1];
    const uint8_t *p = (const uint8_t *)t->data + (size_t)r * hg_dtype_row_bytes(t->dtype, n);
    switch (t->dtype) {
    case HG_DTYPE_F32: memcpy(dst, p, (size_t)n * 4); break;
    case HG_DTYPE_F16:
    case HG_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t u;
            memcpy(&u, p + 2 * i, 2);
            dst[i] = t->dtype == HG_DTYPE_BF16 ? hg_bf16_to_f32(u) : hg_f16_to_f32(u);
        }
        break;
    case HG_DTYPE_Q8_0: hg_dequantize_row_q8_0(p, dst, n); break;
    case HG_DTYPE_Q4_0: hg_dequantize_row_q4_0(p, dst, n); break;
    default: HG_ASSERT(!"widen_row: dtype");
    }
}

static void narrow_row(const float *x, int64_t n, hg_dtype to, uint8_t *dst) {
    switch (to) {
    case HG_DTYPE_F32: memcpy(dst, x, (size_t)n * 4); break;
    case HG_DTYPE_F16:
    case HG_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t u = to == HG_DTYPE_BF16 ? hg_f32_to_bf16(x[i]) : hg_f32_to_f16(x[i]);
            memcpy(dst + 2 * i, &u, 2);
        }
        break;
    case HG_DTYPE_Q8_0: hg_quantize_row_q8_0(x, dst, n); break;
    case HG_DTYPE_Q4_0: hg_quantize_row_q4_0(x, dst, n); break;
    default: HG_ASSERT(!"narrow_row: dtype");
    }
}

static bool fill_rows(void *user, int64_t index, int64_t row0, int64_t n_rows, uint8_t *buf) {
    export_ctx *c = user;
    const src_tensor *s = &c->src[index];
    const int64_t n_in = s->t->ne[1];
    const size_t rb = hg_dtype_row_bytes(s->to, n_in);
    for (int64_t r = 0; r < n_rows; r++) {
        widen_row(s->t, row0 + r, c->row);
        narrow_row(c->row, n_in, s->to, buf + (size_t)r * rb);
    }
    return true;
}

/* ---- metadata ------------------------------------------------------------------------------------ */

/* llama.cpp's general.file_type (enum llama_ftype) for a file whose matrices are all `d`. */
static uint32_t file_type(hg_dtype d) {
    switch (d) {
    case HG_DTYPE_F32: return 0;
    case HG_DTYPE_F16: return 1;
    case HG_DTYPE_Q4_0: return 2;
    case HG_DTYPE_Q8_0: return 7;
    case HG_DTYPE_BF16: return 32;
    default: return 0;
    }
}

/* general.name: the caller's, else the source GGUF's, else config.json's "name", else the path's last part. */
static hg_status put_name(hg_gguf_writer *w, const hg_model *m, const char *name, hg_error *err) {
    if (name) return hg_gguf_set_str(w, "general.name", name, strlen(name));
    if (m->gguf) {
        const hg_gguf_kv *kv = hg_gguf_find_kv(m->gguf, "general.name");
        if (kv && kv->type == HG_GGUF_STRING) return hg_gguf_set_kv_copy(w, kv);
    } else {
        char p[4096], *text = NULL;
        size_t len;
        snprintf(p, sizeof p, "%s/config.json", m->path);
        hg_error e2 = {0};
        if (hg_read_text_file(p, 16u << 20, &text, &len, &e2) == HG_OK) {
            cJSON *root = cJSON_ParseWithLength(text, len);
            hg_free(text);
            const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "name");
            hg_status st = HG_OK;
            bool done = cJSON_IsString(j) && *j->valuestring;
            if (done) st = hg_gguf_set_str(w, "general.name", j->valuestring, strlen(j->valuestring));
            cJSON_Delete(root);
            if (done) return st;
        }
    }
    const char *base = strrchr(m->path, '/');
    base = base && base[1] ? base + 1 : m->path;
    (void)err;
    return hg_gguf_set_str(w, "general.name", base, strlen(base));
}

static void put_config(hg_gguf_writer *w, const hg_config *c) {
    hg_gguf_set_u32(w, "huginn.context_length", (uint32_t)c->block_size);
    hg_gguf_set_u32(w, "huginn.embedding_length", (uint32_t)c->n_embd);
    hg_gguf_set_u32(w, "huginn.feed_forward_length", (uint32_t)c->intermediate_size);
    hg_gguf_set_u32(w, "huginn.block_count", (uint32_t)(c->n_layers_prelude + c->n_layers_core + c->n_layers_coda));
    hg_gguf_set_u32(w, "huginn.attention.head_count", (uint32_t)c->n_head);
    hg_gguf_set_u32(w, "huginn.attention.head_count_kv", (uint32_t)c->n_head);
    hg_gguf_set_u32(w, "huginn.rope.dimension_count", (uint32_t)c->head_dim);
    /* FLOAT32 as llama.cpp writes it when that is exact (50000 is); FLOAT64 otherwise, so the
     * loaded model computes the same RoPE angles as the source. */
    if ((double)(float)c->rope_base == c->rope_base)
        hg_gguf_set_f32(w, "huginn.rope.freq_base", (float)c->rope_base);
    else
        hg_gguf_set_scalar(w, "huginn.rope.freq_base", HG_GGUF_FLOAT64, &c->rope_base);
    hg_gguf_set_f32(w, "huginn.attention.layer_norm_rms_epsilon", c->norm_eps);
    hg_gguf_set_u32(w, "huginn.prelude_layers", (uint32_t)c->n_layers_prelude);
    hg_gguf_set_u32(w, "huginn.core_layers", (uint32_t)c->n_layers_core);
    hg_gguf_set_u32(w, "huginn.coda_layers", (uint32_t)c->n_layers_coda);
    hg_gguf_set_u32(w, "huginn.mean_recurrence", (uint32_t)c->mean_recurrence);
    hg_gguf_set_u32(w, "huginn.mean_backprop_depth", (uint32_t)c->mean_backprop_depth);
    hg_gguf_set_bool(w, "huginn.qk_bias", c->qk_bias);
    hg_gguf_set_bool(w, "huginn.tie_embeddings", c->tie_embeddings);
    hg_gguf_set_u32(w, "huginn.vocab_size", (uint32_t)c->vocab_size);
}

/* ---- the exporter --------------------------------------------------------------------------------- */

/* Add a matrix: written from the mapping when no conversion is needed, else through fill_rows. */
static hg_status add_matrix(hg_gguf_writer *w, export_ctx *c, int64_t index, const char *name, const hg_tensor *t,
                            int out_dtype) {
    hg_dtype to = out_dtype < 0 ? t->dtype : (hg_dtype)out_dtype;
    if ((to == HG_DTYPE_Q8_0 || to == HG_DTYPE_Q4_0) && t->ne[1] % HG_QK) to = HG_DTYPE_F32;
    uint32_t gt = HG_GGML_F32;
    const bool known = hg_ggml_from_dtype(to, &gt);
    HG_ASSERT(known); /* every hg_dtype has a ggml type */
    const int64_t ne[2] = {t->ne[1], t->ne[0]};
    c->src[index].t = t;
    c->src[index].to = to;
    if (to == t->dtype) return hg_gguf_add_tensor(w, name, gt, 2, ne, t->data, NULL, NULL);
    return hg_gguf_add_tensor(w, name, gt, 2, ne, NULL, fill_rows, c);
}

static hg_status add_f32(hg_gguf_writer *w, const char *name, int n_dims, const int64_t *ne, const float *data) {
    return hg_gguf_add_tensor(w, name, HG_GGML_F32, n_dims, ne, data, NULL, NULL);
}

hg_status hg_gguf_export(const hg_model *m, const char *out_path, const hg_gguf_export_params *p, hg_error *err) {
    const hg_config *c = &m->cfg;
    const int64_t nl = hg_model_n_layers(m), h = c->n_embd;
    if (p->out_dtype >= HG_DTYPE_COUNT) return hg_err(err, HG_STATUS_BAD_ARG, "gguf export: unknown dtype %d", p->out_dtype);
    hg_gguf_writer *w = NULL;
    hg_status st = hg_gguf_writer_init(&w, err);
    if (st) return st;
    const int64_t n_tensors = 4 + nl * HG_GGUF_N_PARTS; /* upper bound */
    export_ctx ctx = {hg_calloc((size_t)n_tensors, sizeof *ctx.src), hg_malloc((size_t)(2 * h + c->intermediate_size) * sizeof(float))};
    if (!ctx.src || !ctx.row) {
        st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", out_path);
        goto out;
    }

    hg_gguf_set_str(w, "general.architecture", HG_GGUF_ARCH, strlen(HG_GGUF_ARCH));
    if ((st = put_name(w, m, p->name, err))) goto out;
    const hg_dtype ft = p->out_dtype >= 0 ? (hg_dtype)p->out_dtype : m->wte.dtype;
    hg_gguf_set_u32(w, "general.file_type", file_type(ft));
    if (ft == HG_DTYPE_Q8_0 || ft == HG_DTYPE_Q4_0) hg_gguf_set_u32(w, "general.quantization_version", 2);
    put_config(w, c);
    if (p->no_tokenizer) {
        /* nothing */
    } else if (p->tokenizer) {
        if ((st = hg_gguf_put_tokenizer(w, p->tokenizer, c->vocab_size, err))) goto out;
    } else if (m->gguf) {
        const hg_gguf_file *g = m->gguf;
        for (int64_t i = 0; i < g->n_kv; i++)
            if (g->kv[i].key.len > 10 && !memcmp(g->kv[i].key.s, "tokenizer.", 10)) hg_gguf_set_kv_copy(w, &g->kv[i]);
    }

    /* tensors: global ones first, then layer by layer (the data order) */
    int64_t ti = 0;
    const int64_t ne_h[1] = {h};
    add_matrix(w, &ctx, ti++, HG_GGUF_TOKEN_EMBD, &m->wte, p->out_dtype);
    add_matrix(w, &ctx, ti++, HG_GGUF_ADAPTER, &m->adapter, p->out_dtype);
    ti++, add_f32(w, HG_GGUF_OUTPUT_NORM, 1, ne_h, m->ln_f);
    if (!c->tie_embeddings) add_matrix(w, &ctx, ti++, HG_GGUF_OUTPUT, &m->lm_head, p->out_dtype);
    for (int64_t li = 0; li < nl; li++) {
        const hg_layer *L = &m->layers[li];
        char name[HG_GGUF_MAX_NAME];
        for (int k = 0; k < 4; k++) {
            hg_gguf_layer_name(name, sizeof name, li, (hg_gguf_part)(HG_GGUF_PART_NORM_1 + k)); /* fits: < 64 B */
            ti++, add_f32(w, name, 1, ne_h, L->norm[k]);
        }
        const hg_tensor *mats[4] = {&L->wqkv, &L->attn_proj, &L->fc, &L->mlp_proj};
        for (int k = 0; k < 4; k++) {
            hg_gguf_layer_name(name, sizeof name, li, (hg_gguf_part)(HG_GGUF_PART_QKV + k));
            add_matrix(w, &ctx, ti++, name, mats[k], p->out_dtype);
        }
        if (c->qk_bias) {
            const int64_t ne[4] = {c->head_dim, c->n_head, 1, 2}; /* HF shape [2, 1, H, d] reversed */
            hg_gguf_layer_name(name, sizeof name, li, HG_GGUF_PART_QK_BIAS);
            ti++, add_f32(w, name, 4, ne, L->qk_bias);
        }
    }
    HG_ASSERT(ti <= n_tensors);
    st = hg_gguf_write(w, out_path, err);
out:
    hg_free(ctx.row);
    hg_free(ctx.src);
    hg_gguf_writer_free(w);
    return st;
}
