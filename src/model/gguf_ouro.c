/*
 * gguf_ouro.c — Ouro's hyper-parameters in GGUF metadata (docs/gguf.md "Ouro"), written by the
 * exporter and read back by the GGUF loader so that `huginn convert` round-trips every value the
 * forward pass and the exit rule use. Keys follow llama.cpp's conventions under the "ouro." prefix:
 *   ouro.context_length, .embedding_length, .feed_forward_length, .block_count (the looped layers),
 *   .attention.head_count, .attention.head_count_kv, .attention.key_length (head_dim),
 *   .rope.dimension_count, .rope.freq_base (F32 when exact, else F64), .attention.layer_norm_rms_epsilon,
 *   .vocab_size, .tie_embeddings, and Ouro's own .total_ut_steps, .early_exit_threshold (F64; absent
 *   when the config's is null) and .eos_token_id (absent when the config has none).
 */
#include "model/model.h"
#include "io/gguf.h"

#include <math.h>

void hg_ouro_gguf_put_config(hg_gguf_writer *w, const hg_config *c);
hg_status hg_ouro_gguf_read_config(const hg_gguf_file *g, hg_config *out, hg_error *err);

void hg_ouro_gguf_put_config(hg_gguf_writer *w, const hg_config *c) {
    hg_gguf_set_u32(w, "ouro.context_length", (uint32_t)c->block_size);
    hg_gguf_set_u32(w, "ouro.embedding_length", (uint32_t)c->n_embd);
    hg_gguf_set_u32(w, "ouro.feed_forward_length", (uint32_t)c->intermediate_size);
    hg_gguf_set_u32(w, "ouro.block_count", (uint32_t)c->n_layers_core);
    hg_gguf_set_u32(w, "ouro.attention.head_count", (uint32_t)c->n_head);
    hg_gguf_set_u32(w, "ouro.attention.head_count_kv", (uint32_t)c->n_kv_head);
    hg_gguf_set_u32(w, "ouro.attention.key_length", (uint32_t)c->head_dim);
    hg_gguf_set_u32(w, "ouro.rope.dimension_count", (uint32_t)c->head_dim);
    if ((double)(float)c->rope_base == c->rope_base)
        hg_gguf_set_f32(w, "ouro.rope.freq_base", (float)c->rope_base);
    else
        hg_gguf_set_scalar(w, "ouro.rope.freq_base", HG_GGUF_FLOAT64, &c->rope_base);
    hg_gguf_set_f32(w, "ouro.attention.layer_norm_rms_epsilon", c->norm_eps);
    hg_gguf_set_u32(w, "ouro.vocab_size", (uint32_t)c->vocab_size);
    hg_gguf_set_bool(w, "ouro.tie_embeddings", c->tie_embeddings);
    hg_gguf_set_u32(w, "ouro.total_ut_steps", (uint32_t)c->mean_recurrence);
    if (!isnan(c->early_exit_threshold))
        hg_gguf_set_scalar(w, "ouro.early_exit_threshold", HG_GGUF_FLOAT64, &c->early_exit_threshold);
    if (c->eos_token_id >= 0) hg_gguf_set_u32(w, "ouro.eos_token_id", (uint32_t)c->eos_token_id);
}

hg_status hg_ouro_gguf_read_config(const hg_gguf_file *g, hg_config *out, hg_error *err) {
    const int64_t big = INT64_C(1) << 40;
    static const struct {
        const char *key;
        size_t off;
    } ints[] = {
        {"ouro.context_length", offsetof(hg_config, block_size)},
        {"ouro.embedding_length", offsetof(hg_config, n_embd)},
        {"ouro.feed_forward_length", offsetof(hg_config, intermediate_size)},
        {"ouro.block_count", offsetof(hg_config, n_layers_core)},
        {"ouro.attention.head_count", offsetof(hg_config, n_head)},
        {"ouro.attention.head_count_kv", offsetof(hg_config, n_kv_head)},
        {"ouro.attention.key_length", offsetof(hg_config, head_dim)},
        {"ouro.vocab_size", offsetof(hg_config, vocab_size)},
        {"ouro.total_ut_steps", offsetof(hg_config, mean_recurrence)},
    };
    hg_config c = {0};
    c.arch = HG_ARCH_OURO;
    hg_status st;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if ((st = hg_gguf_get_int(g, ints[i].key, 0, big, (int64_t *)(void *)((char *)&c + ints[i].off), err))) return st;
    double rope, eps;
    if ((st = hg_gguf_get_float(g, "ouro.rope.freq_base", &rope, err))) return st;
    if ((st = hg_gguf_get_float(g, "ouro.attention.layer_norm_rms_epsilon", &eps, err))) return st;
    if (!(rope > 0) || !(rope < 1e30))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: ouro.rope.freq_base must be a positive number", g->path);
    if (!(eps >= 0) || !(eps < 1))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: ouro.attention.layer_norm_rms_epsilon must be in [0, 1)", g->path);
    c.rope_base = rope;
    c.norm_eps = (float)eps;
    if ((st = hg_gguf_get_bool(g, "ouro.tie_embeddings", &c.tie_embeddings, err))) return st;
    c.early_exit_threshold = (double)NAN;
    if (hg_gguf_find_kv(g, "ouro.early_exit_threshold") &&
        (st = hg_gguf_get_float(g, "ouro.early_exit_threshold", &c.early_exit_threshold, err)))
        return st;
    c.eos_token_id = -1;
    if (hg_gguf_find_kv(g, "ouro.eos_token_id") && (st = hg_gguf_get_int(g, "ouro.eos_token_id", 0, INT32_MAX, &c.eos_token_id, err)))
        return st;
    if (hg_gguf_find_kv(g, "ouro.rope.dimension_count")) {
        int64_t rd;
        if ((st = hg_gguf_get_int(g, "ouro.rope.dimension_count", 0, big, &rd, err))) return st;
        if (rd != c.head_dim)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: ouro.rope.dimension_count %lld != head dimension %lld (partial RoPE is not implemented)",
                          g->path, (long long)rd, (long long)c.head_dim);
    }
    if (c.head_dim <= 0 || c.head_dim % 2 || c.mean_recurrence < 1 || c.n_layers_core < 1 || c.n_layers_core > 1024)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: ouro.attention.key_length must be even and positive, total_ut_steps and block_count positive",
                      g->path);
    if (c.n_kv_head * c.head_dim > c.intermediate_size)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: ouro.attention.head_count_kv x key_length exceeds feed_forward_length", g->path);
    if ((st = hg_config_validate(&c, g->path, err))) return st;
    *out = c;
    return HG_OK;
}
