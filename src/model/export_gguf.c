/*
 * export_gguf.c — export a loaded model as GGUF (hg_model_export_gguf: `huginn convert`,
 * `huginn quantize`). Tensor names, shapes and order come from the architecture's schema (schema.h).
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
#include "model/schema.h"
#include "model/model.h"
#include "io/gguf.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

/* ---- row conversion ------------------------------------------------------------------------------- */

typedef struct src_tensor {
    const hg_tensor *t; /* a matrix [n_out, n_in] in its stored dtype */
    hg_dtype to;        /* target dtype */
    char name[HG_GGUF_MAX_NAME];
} src_tensor;

typedef struct export_ctx {
    src_tensor *src; /* [n] indexed like the writer's tensors; t == NULL for tensors given by pointer */
    float *row;      /* [max n_in] scratch */
    int64_t non_finite; /* index of a tensor refused for NaN/Inf values, or -1 */
} export_ctx;

static bool fill_rows(void *user, int64_t index, int64_t row0, int64_t n_rows, uint8_t *buf) {
    export_ctx *c = user;
    const src_tensor *s = &c->src[index];
    const int64_t n_in = s->t->ne[1];
    const size_t rb = hg_dtype_row_bytes(s->to, n_in);
    const bool quantized = s->to == HG_DTYPE_Q8_0 || s->to == HG_DTYPE_Q4_0;
    for (int64_t r = 0; r < n_rows; r++) {
        hg_tensor_row_f32(s->t, row0 + r, c->row);
        /* Rule: NaN or Inf weights are refused, not quantized. Reason: a block scale cannot represent
         * them, so the file would silently hold different numbers than the model (f16/bf16/f32 carry
         * them exactly, so only quantized targets refuse). The write fails; the file is not left. */
        for (int64_t j = 0; quantized && j < n_in; j++)
            if (!isfinite(c->row[j])) {
                c->non_finite = index;
                return false;
            }
        hg_row_from_f32(c->row, n_in, s->to, buf + (size_t)r * rb);
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

/* A metadata key "{arch}.{suffix}" (the architecture's prefix, as llama.cpp names keys). */
static const char *key_of(char *buf, size_t n, const char *prefix, const char *suffix) {
    snprintf(buf, n, "%s.%s", prefix, suffix);
    return buf;
}

/* A double as FLOAT32 when that is exact, else FLOAT64, so the loaded model computes the same numbers. */
static void put_real(hg_gguf_writer *w, const char *key, double v) {
    if ((double)(float)v == v)
        hg_gguf_set_f32(w, key, (float)v);
    else
        hg_gguf_set_scalar(w, key, HG_GGUF_FLOAT64, &v);
}

void hg_ouro_gguf_put_config(hg_gguf_writer *w, const hg_config *c); /* gguf_ouro.c */

static void put_config(hg_gguf_writer *w, const hg_config *c, const char *p) {
    if (c->arch == HG_ARCH_OURO) {
        hg_ouro_gguf_put_config(w, c);
        return;
    }
    char k[128];
    const size_t n = sizeof k;
    hg_gguf_set_u32(w, key_of(k, n, p, "context_length"), (uint32_t)c->block_size);
    hg_gguf_set_u32(w, key_of(k, n, p, "embedding_length"), (uint32_t)c->n_embd);
    hg_gguf_set_u32(w, key_of(k, n, p, "feed_forward_length"), (uint32_t)c->intermediate_size);
    hg_gguf_set_u32(w, key_of(k, n, p, "block_count"), (uint32_t)(c->n_layers_prelude + c->n_layers_core + c->n_layers_coda));
    hg_gguf_set_u32(w, key_of(k, n, p, "attention.head_count"), (uint32_t)c->n_head);
    /* Huginn has no grouped-query attention (configs built in code may leave n_kv_head 0) */
    hg_gguf_set_u32(w, key_of(k, n, p, "attention.head_count_kv"),
                    (uint32_t)(c->arch == HG_ARCH_HUGINN ? c->n_head : c->n_kv_head));
    hg_gguf_set_u32(w, key_of(k, n, p, "rope.dimension_count"), (uint32_t)c->head_dim);
    /* FLOAT32 as llama.cpp writes it when that is exact (50000 is); FLOAT64 otherwise, so the
     * loaded model computes the same RoPE angles as the source. */
    put_real(w, key_of(k, n, p, "rope.freq_base"), c->rope_base);
    hg_gguf_set_f32(w, key_of(k, n, p, "attention.layer_norm_rms_epsilon"), c->norm_eps);
    hg_gguf_set_u32(w, key_of(k, n, p, "prelude_layers"), (uint32_t)c->n_layers_prelude);
    hg_gguf_set_u32(w, key_of(k, n, p, "core_layers"), (uint32_t)c->n_layers_core);
    hg_gguf_set_u32(w, key_of(k, n, p, "coda_layers"), (uint32_t)c->n_layers_coda);
    hg_gguf_set_u32(w, key_of(k, n, p, "mean_recurrence"), (uint32_t)c->mean_recurrence);
    hg_gguf_set_u32(w, key_of(k, n, p, "mean_backprop_depth"), (uint32_t)c->mean_backprop_depth);
    hg_gguf_set_bool(w, key_of(k, n, p, "qk_bias"), c->qk_bias);
    hg_gguf_set_bool(w, key_of(k, n, p, "tie_embeddings"), c->tie_embeddings);
    hg_gguf_set_u32(w, key_of(k, n, p, "vocab_size"), (uint32_t)c->vocab_size);
    if (!hg_arch_is_retrofit(c->arch)) return;
    /* what a retrofitted config adds (docs/gguf.md "Retrofitted models"): head_dim need not be h / H */
    hg_gguf_set_u32(w, key_of(k, n, p, "attention.key_length"), (uint32_t)c->head_dim);
    hg_gguf_set_f32(w, key_of(k, n, p, "embedding_scale"), c->embed_scale);
    hg_gguf_set_scalar(w, key_of(k, n, p, "init_std"), HG_GGUF_FLOAT64, &c->init_std);
    if (c->rope_factor > 0) {
        hg_gguf_set_str(w, key_of(k, n, p, "rope.scaling.type"), "llama3", 6);
        put_real(w, key_of(k, n, p, "rope.scaling.factor"), c->rope_factor);
        put_real(w, key_of(k, n, p, "rope.scaling.low_freq_factor"), c->rope_low_freq_factor);
        put_real(w, key_of(k, n, p, "rope.scaling.high_freq_factor"), c->rope_high_freq_factor);
        hg_gguf_set_u32(w, key_of(k, n, p, "rope.scaling.original_context_length"), (uint32_t)c->rope_orig_ctx);
    }
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
    snprintf(c->src[index].name, sizeof c->src[index].name, "%s", name);
    if (to == t->dtype) return hg_gguf_add_tensor(w, name, gt, 2, ne, t->data, NULL, NULL);
    return hg_gguf_add_tensor(w, name, gt, 2, ne, NULL, fill_rows, c);
}

/* Add part p of the model (its hg_tensor or f32 vector at `slot`) under `name`. */
static void add_part(hg_gguf_writer *w, export_ctx *ctx, int64_t index, const hg_config *c, const hg_part *p,
                     const char *name, const char *slot, int out_dtype) {
    if (p->store == HG_STORE_MATRIX) {
        add_matrix(w, ctx, index, name, (const hg_tensor *)(const void *)slot, out_dtype);
        return;
    }
    const float *v;
    memcpy(&v, slot, sizeof v);
    int64_t ne[4];
    for (int d = 0; d < p->n_dims; d++) ne[d] = hg_schema_dim(c, p->dims[p->n_dims - 1 - d]); /* GGUF: reversed */
    hg_gguf_add_tensor(w, name, HG_GGML_F32, p->n_dims, ne, v, NULL, NULL);
}

hg_status hg_model_export_gguf(const hg_model *m, const char *out_path, const hg_gguf_export_params *p, hg_error *err) {
    if (!m || !out_path || !p) return hg_err(err, HG_STATUS_BAD_ARG, "gguf export: model, path and params are required");
    const hg_config *c = &m->cfg;
    const hg_schema *sc = hg_schema_for(c->arch);
    const int64_t nl = hg_model_n_layers(m), h = c->n_embd;
    if (!sc) return hg_err(err, HG_STATUS_UNSUPPORTED, "gguf export: no tensor schema for architecture %s", hg_arch_name(c->arch));
    if (p->out_dtype >= HG_DTYPE_COUNT) return hg_err(err, HG_STATUS_BAD_ARG, "gguf export: unknown dtype %d", p->out_dtype);
    hg_gguf_writer *w = NULL;
    hg_status st = hg_gguf_writer_init(&w, err);
    if (st) return st;
    const int64_t n_tensors = (int64_t)sc->n_parts * (nl + 1); /* upper bound */
    export_ctx ctx = {hg_calloc((size_t)n_tensors, sizeof *ctx.src), hg_malloc((size_t)(2 * h + c->intermediate_size) * sizeof(float)),
                      -1};
    if (!ctx.src || !ctx.row) {
        st = hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", out_path);
        goto out;
    }

    hg_gguf_set_str(w, "general.architecture", sc->gguf_arch, strlen(sc->gguf_arch));
    if ((st = put_name(w, m, p->name, err))) goto out;
    const hg_dtype ft = p->out_dtype >= 0 ? (hg_dtype)p->out_dtype : m->wte.dtype;
    hg_gguf_set_u32(w, "general.file_type", file_type(ft));
    if (ft == HG_DTYPE_Q8_0 || ft == HG_DTYPE_Q4_0) hg_gguf_set_u32(w, "general.quantization_version", 2);
    put_config(w, c, sc->gguf_arch);
    if (p->no_tokenizer) {
        /* nothing */
    } else if (p->tokenizer) {
        if ((st = hg_gguf_put_tokenizer(w, p->tokenizer, c->vocab_size, err))) goto out;
    } else if (m->gguf) {
        const hg_gguf_file *g = m->gguf;
        for (int64_t i = 0; i < g->n_kv; i++)
            if (g->kv[i].key.len > 10 && !memcmp(g->kv[i].key.s, "tokenizer.", 10)) hg_gguf_set_kv_copy(w, &g->kv[i]);
    }

    /* tensors in the schema's order: global ones first, then layer by layer (the data order) */
    int64_t ti = 0;
    char name[HG_GGUF_MAX_NAME];
    for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it);) {
        hg_schema_name(sc, c, it.part, it.layer, HG_NAMES_GGUF, name, sizeof name); /* fits: < 64 B */
        add_part(w, &ctx, ti++, c, it.part, name, hg_schema_cslot(m, it.part, it.layer), p->out_dtype);
    }
    HG_ASSERT(ti <= n_tensors);
    st = hg_gguf_write(w, out_path, err);
    if (st && ctx.non_finite >= 0)
        st = hg_err(err, HG_STATUS_BAD_INPUT, "%s: tensor %s holds NaN or Inf values, which %s cannot represent; "
                    "not written", out_path, ctx.src[ctx.non_finite].name, hg_dtype_name(ctx.src[ctx.non_finite].to));
out:
    hg_free(ctx.row);
    hg_free(ctx.src);
    hg_gguf_writer_free(w);
    return st;
}
