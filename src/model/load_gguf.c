/*
 * load_gguf.c — load a recurrent-depth model from a GGUF file written by `huginn convert` /
 * `huginn quantize` (layout and names: docs/gguf.md, io/gguf_model.h).
 *
 * The mirror of load.c for the HF layout: the config comes from the huginn.* metadata and passes the
 * same hg_config_validate; every tensor is bound by name with its shape checked against the config
 * (GGUF lists ne[0] first, so an HF [n_out, n_in] matrix is ne = [n_in, n_out]); unknown tensors are
 * an error; the small vectors (norms, q/k bias) are widened to f32 into m->small; matrices stay in the
 * mapping in their stored dtype (F32, F16, BF16, Q8_0 or Q4_0). The opened file is kept in m->gguf and
 * closed by hg_model_free.
 */
#include "io/gguf_model.h"
#include "model/model.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>

hg_status hg_model_load_gguf(const char *path, const hg_model_params *params, hg_model **out, hg_error *err);

/* ---- config from metadata ------------------------------------------------------------------------- */

static hg_status read_config(const hg_gguf_file *g, hg_config *c, hg_error *err) {
    hg_gguf_str arch;
    hg_status st = hg_gguf_get_str(g, "general.architecture", &arch, err);
    if (st) return st;
    if (!hg_gguf_str_eq(arch, HG_GGUF_ARCH))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: general.architecture is \"%.*s\"; only \"%s\" models run here",
                      g->path, (int)(arch.len > 64 ? 64 : arch.len), arch.s, HG_GGUF_ARCH);
    const int64_t big = INT64_C(1) << 40;
    static const struct {
        const char *key;
        size_t off;
    } ints[] = {
        {"huginn.embedding_length", offsetof(hg_config, n_embd)},
        {"huginn.attention.head_count", offsetof(hg_config, n_head)},
        {"huginn.feed_forward_length", offsetof(hg_config, intermediate_size)},
        {"huginn.vocab_size", offsetof(hg_config, vocab_size)},
        {"huginn.prelude_layers", offsetof(hg_config, n_layers_prelude)},
        {"huginn.core_layers", offsetof(hg_config, n_layers_core)},
        {"huginn.coda_layers", offsetof(hg_config, n_layers_coda)},
        {"huginn.mean_recurrence", offsetof(hg_config, mean_recurrence)},
        {"huginn.mean_backprop_depth", offsetof(hg_config, mean_backprop_depth)},
        {"huginn.context_length", offsetof(hg_config, block_size)},
    };
    hg_config cfg = {0};
    cfg.arch = HG_ARCH_HUGINN;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if ((st = hg_gguf_get_int(g, ints[i].key, 0, big, (int64_t *)(void *)((char *)&cfg + ints[i].off), err)))
            return st;
    int64_t n_kv, n_blocks;
    if ((st = hg_gguf_get_int(g, "huginn.attention.head_count_kv", 0, big, &n_kv, err))) return st;
    if (n_kv != cfg.n_head)
        return hg_err(err, HG_STATUS_UNSUPPORTED,
                      "%s: huginn.attention.head_count_kv is %lld but heads are %lld: grouped-query attention is not implemented",
                      g->path, (long long)n_kv, (long long)cfg.n_head);
    double rope, eps;
    if ((st = hg_gguf_get_float(g, "huginn.rope.freq_base", &rope, err))) return st;
    if ((st = hg_gguf_get_float(g, "huginn.attention.layer_norm_rms_epsilon", &eps, err))) return st;
    if (!(rope > 0) || !(rope < 1e30))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: huginn.rope.freq_base must be a positive number", g->path);
    if (!(eps >= 0) || !(eps < 1))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: huginn.attention.layer_norm_rms_epsilon must be in [0, 1)", g->path);
    cfg.n_kv_head = n_kv;
    cfg.rope_base = rope;
    cfg.norm_eps = (float)eps;
    if ((st = hg_gguf_get_bool(g, "huginn.qk_bias", &cfg.qk_bias, err))) return st;
    if ((st = hg_gguf_get_bool(g, "huginn.tie_embeddings", &cfg.tie_embeddings, err))) return st;
    if ((st = hg_config_validate(&cfg, g->path, err))) return st;
    /* optional llama.cpp keys, checked when present */
    if (hg_gguf_find_kv(g, "huginn.block_count")) {
        if ((st = hg_gguf_get_int(g, "huginn.block_count", 0, big, &n_blocks, err))) return st;
        if (n_blocks != cfg.n_layers_prelude + cfg.n_layers_core + cfg.n_layers_coda)
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: huginn.block_count %lld != prelude + core + coda layers (%lld)",
                          g->path, (long long)n_blocks,
                          (long long)(cfg.n_layers_prelude + cfg.n_layers_core + cfg.n_layers_coda));
    }
    if (hg_gguf_find_kv(g, "huginn.rope.dimension_count")) {
        int64_t rd;
        if ((st = hg_gguf_get_int(g, "huginn.rope.dimension_count", 0, big, &rd, err))) return st;
        if (rd != cfg.head_dim)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: huginn.rope.dimension_count %lld != head dimension %lld (partial RoPE is not implemented)",
                          g->path, (long long)rd, (long long)cfg.head_dim);
    }
    *c = cfg;
    return HG_OK;
}

/* ---- binding tensors ------------------------------------------------------------------------------ */

/* Is `name` a tensor this config has? */
static bool expected_name(const hg_config *c, int64_t nl, const char *name) {
    if (!strcmp(name, HG_GGUF_TOKEN_EMBD) || !strcmp(name, HG_GGUF_ADAPTER) || !strcmp(name, HG_GGUF_OUTPUT_NORM) ||
        !strcmp(name, HG_GGUF_OUTPUT))
        return true;
    if (strncmp(name, "blk.", 4) != 0) return false;
    char *end;
    long long li = strtoll(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || li < 0 || li >= nl || name[4] == '-' || name[4] == '+') return false;
    for (int k = 0; k < HG_GGUF_N_PARTS; k++) {
        char want[HG_GGUF_MAX_NAME];
        if (hg_gguf_layer_name(want, sizeof want, li, (hg_gguf_part)k) && !strcmp(want, name))
            return k != HG_GGUF_PART_QK_BIAS || c->qk_bias;
    }
    return false;
}

/* Bind a tensor of the HF shape [d0] (n_dims 1) or [d0, d1] (n_dims 2) = GGUF ne [d1, d0]. */
static hg_status bind(hg_model *m, const char *name, int n_dims, int64_t d0, int64_t d1, hg_tensor *out, hg_error *err) {
    const hg_gguf_tensor *t = hg_gguf_find_tensor(m->gguf, name);
    if (!t) return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s missing", m->path, name);
    const int64_t want0 = n_dims == 2 ? d1 : d0, want1 = n_dims == 2 ? d0 : 1;
    if (t->n_dims != n_dims || t->ne[0] != want0 || t->ne[1] != want1) {
        char got[128] = "", *p = got;
        for (int i = 0; i < t->n_dims; i++)
            p += snprintf(p, (size_t)(got + sizeof got - p), "%s%lld", i ? "," : "", (long long)t->ne[i]);
        if (n_dims == 2)
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s has ne [%s], expected [%lld,%lld]", m->path, name, got,
                          (long long)want0, (long long)want1);
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s has ne [%s], expected [%lld]", m->path, name, got,
                      (long long)want0);
    }
    hg_dtype dt;
    const char *tn = "?";
    hg_ggml_type_info(t->type, &tn, NULL, NULL);
    if (!hg_ggml_to_dtype(t->type, &dt))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s has ggml type %s; supported: F32, F16, BF16, Q8_0, Q4_0",
                      m->path, name, tn);
    /* the data region is aligned in the file, but general.alignment may be as small as 1 */
    const size_t align = dt == HG_DTYPE_F32 ? 4 : 2;
    if ((uintptr_t)t->data % align)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s is not %zu-byte aligned (general.alignment %llu)",
                      m->path, name, align, (unsigned long long)((const hg_gguf_file *)m->gguf)->alignment);
    out->dtype = dt;
    out->n_dims = n_dims;
    out->ne[0] = d0;
    out->ne[1] = n_dims > 1 ? d1 : 1;
    out->ne[2] = out->ne[3] = 1;
    out->data = t->data;
    out->nbytes = t->nbytes;
    return HG_OK;
}

/* A small vector [n] (norm or bias) widened to f32; only float dtypes make sense for it. */
static hg_status widen(const hg_model *m, const char *name, const hg_tensor *t, float *dst, int64_t n, hg_error *err) {
    if (t->dtype != HG_DTYPE_F32 && t->dtype != HG_DTYPE_F16 && t->dtype != HG_DTYPE_BF16)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s is %s; norms and biases must be F32, F16 or BF16",
                      m->path, name, hg_dtype_name(t->dtype));
    hg_tensor_widen(t, dst, n);
    return HG_OK;
}

static hg_status bind_all(hg_model *m, hg_error *err) {
    const hg_config *c = &m->cfg;
    const hg_gguf_file *g = m->gguf;
    const int64_t h = c->n_embd, I = c->intermediate_size, V = c->vocab_size, nl = hg_model_n_layers(m);
    hg_status st;
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!expected_name(c, nl, g->tensors[i].name))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: unexpected tensor %s (does the metadata match the weights?)",
                          m->path, g->tensors[i].name);
    m->layers = hg_calloc((size_t)nl, sizeof *m->layers);
    const size_t per_layer = (size_t)(4 * h + 2 * h); /* 4 norms + qk_bias [2, h], as load.c */
    m->small = hg_calloc((size_t)nl * per_layer + (size_t)h, sizeof(float));
    if (!m->layers || !m->small) return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", m->path);

    hg_tensor tmp;
    if ((st = bind(m, HG_GGUF_TOKEN_EMBD, 2, V, h, &m->wte, err))) return st;
    if ((st = bind(m, HG_GGUF_ADAPTER, 2, h, 2 * h, &m->adapter, err))) return st;
    float *lnf = m->small + (size_t)nl * per_layer;
    if ((st = bind(m, HG_GGUF_OUTPUT_NORM, 1, h, 0, &tmp, err))) return st;
    if ((st = widen(m, HG_GGUF_OUTPUT_NORM, &tmp, lnf, h, err))) return st;
    m->ln_f = lnf;
    if (hg_gguf_find_tensor(g, HG_GGUF_OUTPUT) || !c->tie_embeddings)
        if ((st = bind(m, HG_GGUF_OUTPUT, 2, V, h, &m->lm_head, err))) return st;
    if (c->tie_embeddings) m->lm_head = m->wte; /* as load.c: a stored head is checked, then tied */

    for (int64_t li = 0; li < nl; li++) {
        hg_layer *L = &m->layers[li];
        float *blk = m->small + (size_t)li * per_layer;
        char name[HG_GGUF_MAX_NAME];
        for (int k = 0; k < 4; k++) {
            hg_gguf_layer_name(name, sizeof name, li, (hg_gguf_part)(HG_GGUF_PART_NORM_1 + k));
            if ((st = bind(m, name, 1, h, 0, &tmp, err))) return st;
            if ((st = widen(m, name, &tmp, blk + k * h, h, err))) return st;
            L->norm[k] = blk + k * h;
        }
        if (c->qk_bias) {
            hg_gguf_layer_name(name, sizeof name, li, HG_GGUF_PART_QK_BIAS);
            const hg_gguf_tensor *t = hg_gguf_find_tensor(g, name);
            if (!t) return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s missing (huginn.qk_bias is true)", m->path, name);
            if (t->n_dims != 4 || t->ne[0] != c->head_dim || t->ne[1] != c->n_head || t->ne[2] != 1 || t->ne[3] != 2)
                return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s must have ne [%lld,%lld,1,2]", m->path, name,
                              (long long)c->head_dim, (long long)c->n_head);
            hg_tensor b = {.n_dims = 1, .data = t->data, .nbytes = t->nbytes};
            if (!hg_ggml_to_dtype(t->type, &b.dtype)) b.dtype = HG_DTYPE_Q8_0; /* rejected by widen */
            if ((st = widen(m, name, &b, blk + 4 * h, 2 * h, err))) return st;
            L->qk_bias = blk + 4 * h;
        }
        hg_tensor *mats[4] = {&L->wqkv, &L->attn_proj, &L->fc, &L->mlp_proj};
        const int64_t rows[4] = {3 * h, h, 2 * I, h}, cols[4] = {h, h, h, I};
        for (int k = 0; k < 4; k++) {
            hg_gguf_layer_name(name, sizeof name, li, (hg_gguf_part)(HG_GGUF_PART_QKV + k));
            if ((st = bind(m, name, 2, rows[k], cols[k], mats[k], err))) return st;
        }
    }
    /* parameter count (tied embeddings once) as load.c; bytes of the tensors used, as stored */
    m->n_params = hg_config_n_params(c);
    m->n_bytes = 0;
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!(c->tie_embeddings && !strcmp(g->tensors[i].name, HG_GGUF_OUTPUT)))
            m->n_bytes += (int64_t)g->tensors[i].nbytes;
    return HG_OK;
}

/* ---- entry point ---------------------------------------------------------------------------------- */

hg_status hg_model_load_gguf(const char *path, const hg_model_params *params, hg_model **out, hg_error *err) {
    const bool use_mmap = params ? params->use_mmap : true;
    hg_model *m = hg_calloc(1, sizeof *m);
    if (!m) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    hg_status st;
    hg_gguf_file *g = hg_calloc(1, sizeof *g);
    m->path = hg_strdup(path);
    if (!g || !m->path) {
        hg_free(g);
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = hg_gguf_open(path, use_mmap, g, err))) {
        hg_free(g);
        goto fail;
    }
    m->gguf = g; /* owned from here: hg_model_free closes it */
    if ((st = read_config(g, &m->cfg, err))) goto fail;
    if ((st = bind_all(m, err))) goto fail;
    *out = m;
    return HG_OK;
fail:
    hg_model_free(m);
    return st;
}
