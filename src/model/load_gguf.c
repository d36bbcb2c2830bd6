/*
 * load_gguf.c — the weight source of a GGUF file written by `huginn convert` / `huginn quantize`
 * (layout and names: docs/gguf.md, model/schema.h).
 *
 * The config comes from the huginn.* metadata and passes the same hg_config_validate as config.json;
 * tensors are found by name, their shapes given in HF order (GGUF lists ne[0] first, so an HF
 * [n_out, n_in] matrix is ne = [n_in, n_out]); load.c binds them (weights.h). Matrices stay in the
 * mapping in their stored dtype (F32, F16, BF16, Q8_0 or Q4_0). The opened file is kept in m->gguf
 * and closed by hg_model_free.
 */
#include "model/weights.h"

#include <math.h>
#include "io/gguf.h"

#include <stdio.h>
#include <stdlib.h>

static const hg_wsource_words k_words = {
    .meta = "the metadata",
    .qk_bias_set = "huginn.qk_bias is true",
    .shape = "ne",
    .reversed = true,
    .type = "ggml type",
    .supported = "supported: F32, F16, BF16, Q8_0, Q4_0",
};

/* ---- config from metadata ------------------------------------------------------------------------- */

hg_status hg_ouro_gguf_read_config(const hg_gguf_file *g, hg_config *out, hg_error *err); /* gguf_ouro.c */

/* A metadata key "{prefix}.{suffix}". */
static const char *key_of(char *buf, size_t n, const char *prefix, const char *suffix) {
    snprintf(buf, n, "%s.%s", prefix, suffix);
    return buf;
}

/* A retrofitted model's keys beyond Huginn's (docs/gguf.md "Retrofitted models"); hg_config_validate
 * checks the values after. */
static hg_status read_retrofit(const hg_gguf_file *g, const char *p, hg_config *c, hg_error *err) {
    char k[128];
    double v;
    hg_status st;
    if ((st = hg_gguf_get_int(g, key_of(k, sizeof k, p, "attention.key_length"), 1, 65536, &c->head_dim, err))) return st;
    if ((st = hg_gguf_get_float(g, key_of(k, sizeof k, p, "embedding_scale"), &v, err))) return st;
    c->embed_scale = (float)v;
    if ((st = hg_gguf_get_float(g, key_of(k, sizeof k, p, "init_std"), &c->init_std, err))) return st;
    if (!hg_gguf_find_kv(g, key_of(k, sizeof k, p, "rope.scaling.type"))) return HG_OK;
    hg_gguf_str type;
    if ((st = hg_gguf_get_str(g, k, &type, err))) return st;
    if (!hg_gguf_str_eq(type, "llama3"))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: %s is \"%.*s\"; only \"llama3\" is implemented", g->path, k,
                      (int)(type.len > 64 ? 64 : type.len), type.s);
    if ((st = hg_gguf_get_float(g, key_of(k, sizeof k, p, "rope.scaling.factor"), &c->rope_factor, err))) return st;
    if ((st = hg_gguf_get_float(g, key_of(k, sizeof k, p, "rope.scaling.low_freq_factor"), &c->rope_low_freq_factor, err)))
        return st;
    if ((st = hg_gguf_get_float(g, key_of(k, sizeof k, p, "rope.scaling.high_freq_factor"), &c->rope_high_freq_factor, err)))
        return st;
    if ((st = hg_gguf_get_int(g, key_of(k, sizeof k, p, "rope.scaling.original_context_length"), 1, INT64_C(1) << 40,
                              &c->rope_orig_ctx, err)))
        return st;
    if (!(c->rope_factor > 0))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: %s.rope.scaling.factor must be positive", g->path, p);
    return HG_OK;
}

static hg_status read_config(const hg_gguf_file *g, hg_config *c, hg_error *err) {
    const char *const huginn = hg_schema_for(HG_ARCH_HUGINN)->gguf_arch;
    hg_gguf_str arch;
    hg_status st = hg_gguf_get_str(g, "general.architecture", &arch, err);
    if (st) return st;
    if (hg_gguf_str_eq(arch, hg_schema_for(HG_ARCH_OURO)->gguf_arch)) return hg_ouro_gguf_read_config(g, c, err);
    /* the architecture whose schema names this general.architecture; its name prefixes the keys */
    hg_arch a = HG_ARCH_COUNT;
    for (int i = 0; i < HG_ARCH_COUNT && a == HG_ARCH_COUNT; i++)
        if (hg_schema_for((hg_arch)i) && hg_gguf_str_eq(arch, hg_schema_for((hg_arch)i)->gguf_arch)) a = (hg_arch)i;
    if (a == HG_ARCH_COUNT)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: general.architecture is \"%.*s\"; only \"%s\" models run here",
                      g->path, (int)(arch.len > 64 ? 64 : arch.len), arch.s, huginn);
    const char *const pre = hg_schema_for(a)->gguf_arch;
    char k[128];
    const int64_t big = INT64_C(1) << 40;
    static const struct {
        const char *key;
        size_t off;
    } ints[] = {
        {"embedding_length", offsetof(hg_config, n_embd)},
        {"attention.head_count", offsetof(hg_config, n_head)},
        {"feed_forward_length", offsetof(hg_config, intermediate_size)},
        {"vocab_size", offsetof(hg_config, vocab_size)},
        {"prelude_layers", offsetof(hg_config, n_layers_prelude)},
        {"core_layers", offsetof(hg_config, n_layers_core)},
        {"coda_layers", offsetof(hg_config, n_layers_coda)},
        {"mean_recurrence", offsetof(hg_config, mean_recurrence)},
        {"mean_backprop_depth", offsetof(hg_config, mean_backprop_depth)},
        {"context_length", offsetof(hg_config, block_size)},
    };
    hg_config cfg = {0};
    cfg.arch = a;
    cfg.early_exit_threshold = (double)NAN;
    cfg.eos_token_id = -1;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if ((st = hg_gguf_get_int(g, key_of(k, sizeof k, pre, ints[i].key), 0, big, (int64_t *)(void *)((char *)&cfg + ints[i].off), err)))
            return st;
    int64_t n_kv, n_blocks;
    if ((st = hg_gguf_get_int(g, key_of(k, sizeof k, pre, "attention.head_count_kv"), 0, big, &n_kv, err))) return st;
    if (a == HG_ARCH_HUGINN && n_kv != cfg.n_head)
        return hg_err(err, HG_STATUS_UNSUPPORTED,
                      "%s: huginn.attention.head_count_kv is %lld but heads are %lld: grouped-query attention is not implemented",
                      g->path, (long long)n_kv, (long long)cfg.n_head);
    double rope, eps;
    if ((st = hg_gguf_get_float(g, key_of(k, sizeof k, pre, "rope.freq_base"), &rope, err))) return st;
    if ((st = hg_gguf_get_float(g, key_of(k, sizeof k, pre, "attention.layer_norm_rms_epsilon"), &eps, err))) return st;
    if (!(rope > 0) || !(rope < 1e30))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: %s.rope.freq_base must be a positive number", g->path, pre);
    if (!(eps >= 0) || !(eps < 1))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: %s.attention.layer_norm_rms_epsilon must be in [0, 1)", g->path, pre);
    cfg.n_kv_head = n_kv;
    cfg.rope_base = rope;
    cfg.norm_eps = (float)eps;
    if ((st = hg_gguf_get_bool(g, key_of(k, sizeof k, pre, "qk_bias"), &cfg.qk_bias, err))) return st;
    if ((st = hg_gguf_get_bool(g, key_of(k, sizeof k, pre, "tie_embeddings"), &cfg.tie_embeddings, err))) return st;
    if (hg_arch_is_retrofit(a) && (st = read_retrofit(g, pre, &cfg, err))) return st;
    if (hg_arch_is_retrofit(a) && cfg.qk_bias)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: %s.qk_bias is true; not implemented for this architecture", g->path, pre);
    if ((st = hg_config_validate(&cfg, g->path, err))) return st;
    /* optional llama.cpp keys, checked when present */
    if (hg_gguf_find_kv(g, key_of(k, sizeof k, pre, "block_count"))) {
        if ((st = hg_gguf_get_int(g, k, 0, big, &n_blocks, err))) return st;
        if (n_blocks != cfg.n_layers_prelude + cfg.n_layers_core + cfg.n_layers_coda)
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: %s.block_count %lld != prelude + core + coda layers (%lld)",
                          g->path, pre, (long long)n_blocks,
                          (long long)(cfg.n_layers_prelude + cfg.n_layers_core + cfg.n_layers_coda));
    }
    if (hg_gguf_find_kv(g, key_of(k, sizeof k, pre, "rope.dimension_count"))) {
        int64_t rd;
        if ((st = hg_gguf_get_int(g, k, 0, big, &rd, err))) return st;
        if (rd != cfg.head_dim)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: %s.rope.dimension_count %lld != head dimension %lld (partial RoPE is not implemented)",
                          g->path, pre, (long long)rd, (long long)cfg.head_dim);
    }
    *c = cfg;
    return HG_OK;
}

/* ---- the source ----------------------------------------------------------------------------------- */

static bool find(const hg_wsource *s, const char *name, hg_wtensor *out) {
    const hg_gguf_tensor *t = hg_gguf_find_tensor(s->m->gguf, name);
    if (!t) return false;
    memset(out, 0, sizeof *out);
    out->known = hg_ggml_to_dtype(t->type, &out->dtype);
    out->type_name = "?";
    hg_ggml_type_info(t->type, &out->type_name, NULL, NULL);
    out->n_dims = t->n_dims;
    for (int d = 0; d < t->n_dims; d++) out->shape[d] = t->ne[t->n_dims - 1 - d];
    out->data = t->data;
    out->nbytes = t->nbytes;
    return true;
}

static const char *name_at(const hg_wsource *s, int64_t i) {
    return ((const hg_gguf_file *)s->m->gguf)->tensors[i].name;
}

/* The data region is aligned in the file, but general.alignment may be as small as 1. */
static hg_status check_align(const hg_wsource *s, const char *name, const hg_wtensor *t, hg_error *err) {
    const size_t align = t->dtype == HG_DTYPE_F32 ? 4 : 2;
    if ((uintptr_t)t->data % align)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s is not %zu-byte aligned (general.alignment %llu)",
                      s->path, name, align, (unsigned long long)((const hg_gguf_file *)s->m->gguf)->alignment);
    return HG_OK;
}

hg_status hg_wsource_gguf_open(hg_model *m, const char *path, bool use_mmap, hg_wsource *out, hg_error *err) {
    hg_gguf_file *g = hg_calloc(1, sizeof *g);
    if (!g) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    hg_status st = hg_gguf_open(path, use_mmap, g, err);
    if (st) {
        hg_free(g);
        return st;
    }
    m->gguf = g; /* owned from here: hg_model_free closes it */
    if ((st = read_config(g, &m->cfg, err))) return st;
    *out = (hg_wsource){.path = m->path, .names = HG_NAMES_GGUF, .words = &k_words, .m = m, .find = find,
                        .n_tensors = g->n_tensors, .name_at = name_at, .check = check_align};
    return HG_OK;
}
