/*
 * config_ouro.c — config.json of an Ouro checkpoint (model_type "ouro", ByteDance Seed's
 * Ouro-1.4B/2.6B; docs/family.md "Ouro"). Ouro loops its whole layer stack, so it maps onto the
 * stage structure as P = 0, R = num_hidden_layers, C = 0 with mean_recurrence = total_ut_steps:
 * core iteration t is loop t and its KV slots t·R + l are the reference's per-(loop, layer) cache.
 * As for Huginn (config.c), every key the math depends on is read and every value we do not implement
 * (another activation, RoPE scaling, sliding windows) is a load error naming the key.
 * The writer (hg_config_ouro_to_json, for `huginn init`) emits the Hugging Face OuroConfig layout with
 * every key the parser reads, so a written config parses back to the same hg_config.
 */
#include "model/model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* A non-negative integer key; `def` >= 0 is used when the key is absent (or null), else it is required. */
static hg_status ouro_int(const cJSON *root, const char *key, int64_t def, int64_t *out, const char *path,
                          hg_error *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j || cJSON_IsNull(j)) {
        if (def < 0) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing", path, key);
        *out = def;
        return HG_OK;
    }
    if (!cJSON_IsNumber(j) || floor(j->valuedouble) != j->valuedouble || j->valuedouble < 0 || j->valuedouble > 1e15)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be a non-negative integer", path, key);
    *out = (int64_t)j->valuedouble;
    return HG_OK;
}

/* A number key in [lo, hi); `def` (not NAN) when absent; a null value gives `null_value`. */
static hg_status ouro_num(const cJSON *root, const char *key, double def, double null_value, double lo, double hi,
                          double *out, const char *path, hg_error *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j) {
        if (isnan(def)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing", path, key);
        *out = def;
        return HG_OK;
    }
    if (cJSON_IsNull(j)) {
        *out = null_value;
        return HG_OK;
    }
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= lo) || !(j->valuedouble < hi))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be a number in [%g, %g)", path, key, lo, hi);
    *out = j->valuedouble;
    return HG_OK;
}

/* A key that must be absent, null or false (a feature we do not implement). */
static hg_status ouro_off(const cJSON *root, const char *key, const char *what, const char *path, hg_error *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j || cJSON_IsNull(j) || cJSON_IsFalse(j)) return HG_OK;
    return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `%s` is set; %s is not implemented", path, key, what);
}

hg_status hg_config_parse_ouro(const cJSON *root, const char *path, hg_config *out, hg_error *err);

hg_status hg_config_parse_ouro(const cJSON *root, const char *path, hg_config *out, hg_error *err) {
    hg_config c = {0};
    c.arch = HG_ARCH_OURO;
    hg_status st;
    int64_t layers = 0, head_dim = 0, eos = -1;
    double eps = 0, theta = 0, thr = 0;
    if ((st = ouro_int(root, "hidden_size", -1, &c.n_embd, path, err))) return st;
    if ((st = ouro_int(root, "intermediate_size", -1, &c.intermediate_size, path, err))) return st;
    if ((st = ouro_int(root, "num_hidden_layers", -1, &layers, path, err))) return st;
    if ((st = ouro_int(root, "num_attention_heads", -1, &c.n_head, path, err))) return st;
    if ((st = ouro_int(root, "num_key_value_heads", c.n_head, &c.n_kv_head, path, err))) return st;
    if ((st = ouro_int(root, "vocab_size", -1, &c.vocab_size, path, err))) return st;
    if ((st = ouro_int(root, "total_ut_steps", 4, &c.mean_recurrence, path, err))) return st;
    if ((st = ouro_int(root, "max_position_embeddings", 32768, &c.block_size, path, err))) return st;
    if (c.n_head == 0) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `num_attention_heads` must be positive", path);
    if ((st = ouro_int(root, "head_dim", c.n_embd / c.n_head, &head_dim, path, err))) return st;
    if ((st = ouro_num(root, "rms_norm_eps", (double)NAN, (double)NAN, 0, 1, &eps, path, err))) return st;
    if ((st = ouro_num(root, "rope_theta", 10000.0, (double)NAN, 1e-300, 1e300, &theta, path, err))) return st;
    if (isnan(theta)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `rope_theta` must be a positive number", path);
    /* null disables the threshold (then use_weighted_exit applies); absent is the class default 1.0 */
    if ((st = ouro_num(root, "early_exit_threshold", 1.0, (double)NAN, -1e300, 1e300, &thr, path, err))) return st;
    if ((st = ouro_off(root, "rope_scaling", "RoPE scaling", path, err))) return st;
    if ((st = ouro_off(root, "use_sliding_window", "sliding-window attention", path, err))) return st;
    if ((st = ouro_off(root, "attention_bias", "attention biases", path, err))) return st;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `hidden_act` must be \"silu\" (the only one implemented)", path);
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "layer_types");
    for (const cJSON *e = cJSON_IsArray(lt) ? lt->child : NULL; e; e = e->next)
        if (!cJSON_IsString(e) || strcmp(e->valuestring, "full_attention") != 0)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `layer_types` lists a layer that is not \"full_attention\"",
                          path);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
    if (tie && !cJSON_IsBool(tie))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `tie_word_embeddings` must be true or false", path);
    c.tie_embeddings = tie && cJSON_IsTrue(tie);
    /* eos_token_id: one id, or a list whose first entry is taken */
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
    if (cJSON_IsArray(e)) e = e->child;
    if (e && cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < 2147483648.0) eos = (int64_t)e->valuedouble;
    if (layers < 1 || layers > 1024)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `num_hidden_layers` must be in 1..1024", path);
    if (c.mean_recurrence < 1 || c.mean_recurrence > 100000)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `total_ut_steps` must be in 1..100000", path);
    if (head_dim <= 0 || head_dim % 2 || head_dim > 65536)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `head_dim` (%lld) must be positive and even (RoPE)", path,
                      (long long)head_dim);
    if (c.n_head && c.n_kv_head && (c.n_kv_head * head_dim > c.intermediate_size))
        /* the block projects k and v into the MLP's scratch (block_ouro.c) */
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: num_key_value_heads x head_dim (%lld) exceeds intermediate_size (%lld)",
                      path, (long long)(c.n_kv_head * head_dim), (long long)c.intermediate_size);
    c.n_layers_prelude = 0;
    c.n_layers_core = layers;
    c.n_layers_coda = 0;
    c.head_dim = head_dim;
    c.norm_eps = (float)eps;
    c.rope_base = theta;
    c.early_exit_threshold = thr;
    c.eos_token_id = eos;
    c.qk_bias = false;
    if ((st = hg_config_validate(&c, path, err))) return st;
    *out = c;
    return HG_OK;
}

/* ---- writer ------------------------------------------------------------------------------------ */

/* The shortest decimal that reads back as the same float (1e-06, not 9.99999997e-07, as Python writes it). */
static void float_text(float v, char *buf, size_t n) {
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, n, "%.*g", digits, (double)v);
        if ((float)strtod(buf, NULL) == v) return;
    }
}

char *hg_config_ouro_to_json(const hg_config *c, const char *name) {
    const int64_t L = c->n_layers_core;
    /* fixed keys (< 2 KiB with their numbers) + one layer_types entry per layer */
    const size_t cap = 4096 + (size_t)(L > 0 ? L : 0) * 24;
    char *s = hg_malloc(cap);
    if (!s) return NULL;
    char thr[40], eos[24], eps[32];
    float_text(c->norm_eps, eps, sizeof eps);
    if (isnan(c->early_exit_threshold)) snprintf(thr, sizeof thr, "null");
    else snprintf(thr, sizeof thr, "%.17g", c->early_exit_threshold);
    if (c->eos_token_id < 0) snprintf(eos, sizeof eos, "null");
    else snprintf(eos, sizeof eos, "%lld", (long long)c->eos_token_id);
    size_t k = (size_t)snprintf(
        s, cap,
        "{\n"
        "  \"architectures\": [\n    \"OuroForCausalLM\"\n  ],\n"
        "  \"auto_map\": {\n"
        "    \"AutoConfig\": \"configuration_ouro.OuroConfig\",\n"
        "    \"AutoModel\": \"modeling_ouro.OuroModel\",\n"
        "    \"AutoModelForCausalLM\": \"modeling_ouro.OuroForCausalLM\"\n  },\n"
        "  \"model_type\": \"ouro\",\n"
        "  \"_name_or_path\": \"%s\",\n"
        "  \"vocab_size\": %lld,\n"
        "  \"hidden_size\": %lld,\n"
        "  \"intermediate_size\": %lld,\n"
        "  \"num_hidden_layers\": %lld,\n"
        "  \"num_attention_heads\": %lld,\n"
        "  \"num_key_value_heads\": %lld,\n"
        "  \"head_dim\": %lld,\n"
        "  \"hidden_act\": \"silu\",\n"
        "  \"max_position_embeddings\": %lld,\n"
        "  \"initializer_range\": 0.02,\n"
        "  \"rms_norm_eps\": %s,\n"
        "  \"use_cache\": true,\n"
        "  \"tie_word_embeddings\": %s,\n"
        "  \"rope_theta\": %.17g,\n"
        "  \"rope_scaling\": null,\n"
        "  \"use_sliding_window\": false,\n"
        "  \"sliding_window\": null,\n"
        "  \"max_window_layers\": %lld,\n"
        "  \"layer_types\": [",
        name ? name : "ouro-random", (long long)c->vocab_size, (long long)c->n_embd, (long long)c->intermediate_size,
        (long long)L, (long long)c->n_head, (long long)(c->n_kv_head ? c->n_kv_head : c->n_head),
        (long long)c->head_dim, (long long)c->block_size, eps, c->tie_embeddings ? "true" : "false",
        c->rope_base, (long long)L);
    for (int64_t l = 0; l < L && k < cap; l++)
        k += (size_t)snprintf(s + k, cap - k, "%s\n    \"full_attention\"", l ? "," : "");
    if (k < cap)
        k += (size_t)snprintf(s + k, cap - k,
                              "\n  ],\n"
                              "  \"attention_dropout\": 0.0,\n"
                              "  \"total_ut_steps\": %lld,\n"
                              "  \"early_exit_threshold\": %s,\n"
                              "  \"eos_token_id\": %s,\n"
                              "  \"torch_dtype\": \"float32\"\n"
                              "}\n",
                              (long long)c->mean_recurrence, thr, eos);
    if (k >= cap) { /* cannot happen with the capacity above; never hand out a truncated config */
        hg_free(s);
        return NULL;
    }
    return s;
}
