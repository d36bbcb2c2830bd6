/*
 * config.c — config.json of a recurrent-depth model (docs/forward-pass.md "config.json"): every key the forward
 * pass depends on is read, and every value we do not implement is a load error naming the key —
 * never a silent fallback. rope_base may be absent (the official file omits it: default 50000);
 * num_key_value_heads may be absent (then equal to the heads) but must equal them when present.
 *
 * Retrofitted-recurrence checkpoints (McLeish et al. 2025; docs/family.md) keep Huginn's Raven
 * layout and most of its keys, and even its block_class_name "SandwichBlock"; what marks them is
 * `rope_theta`, which only their modeling files read (with rope_scaling, init_values.embed_scale and
 * grouped-query heads). They parse in parse_retrofit as HG_ARCH_RETROFIT_LLAMA; the config cannot say
 * Llama or OLMo-2 (both files save the same keys), so the Hugging Face loader makes it
 * HG_ARCH_RETROFIT_OLMO when the checkpoint holds the OLMo block's q/k norms (load_hf.c).
 */
#include "model/model.h"
#include "model/schema.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>

hg_status hg_config_parse_ouro(const cJSON *root, const char *path, hg_config *out, hg_error *err);

static hg_status get_int(const cJSON *root, const char *key, int64_t *out, const char *path, hg_error *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing", path, key);
    if (!cJSON_IsNumber(j) || floor(j->valuedouble) != j->valuedouble || j->valuedouble < 0 ||
        j->valuedouble > 1e15)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be a non-negative integer", path, key);
    *out = (int64_t)j->valuedouble;
    return HG_OK;
}

static hg_status get_bool(const cJSON *root, const char *key, bool *out, const char *path, hg_error *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing", path, key);
    if (!cJSON_IsBool(j)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be true or false", path, key);
    *out = cJSON_IsTrue(j);
    return HG_OK;
}

/* A string key that must have exactly the value we implement. */
static hg_status want_str(const cJSON *root, const char *key, const char *want, const char *path, hg_error *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing", path, key);
    if (!cJSON_IsString(j)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be a string", path, key);
    if (strcmp(j->valuestring, want) != 0)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `%s` is \"%s\"; only \"%s\" is implemented", path, key,
                      j->valuestring, want);
    return HG_OK;
}

/* ---- retrofitted recurrence (Llama / OLMo-2 blocks in the Raven layout) -------------------------- */

/* A number key: required (then `def` is ignored) or absent -> def; must be finite and > lo (or >= lo). */
static hg_status get_num(const cJSON *obj, const char *key, bool required, double def, double lo, bool lo_open,
                         double *out, const char *path, hg_error *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) {
        if (required) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing", path, key);
        *out = def;
        return HG_OK;
    }
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble) || (lo_open ? !(j->valuedouble > lo) : !(j->valuedouble >= lo)))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` must be a number %s %g", path, key, lo_open ? ">" : ">=", lo);
    *out = j->valuedouble;
    return HG_OK;
}

/* The keys raven_modeling_minimal_{llama,olmo}.py read (docs/family.md "config.json"). The Raven keys
 * naming classes (block_class_name, mlp_class_name, ...) are not checked: those files hard-code the
 * classes whatever the keys say. */
static hg_status parse_retrofit(const cJSON *root, const char *path, hg_config *out, hg_error *err) {
    hg_config c = {0};
    c.arch = HG_ARCH_RETROFIT_LLAMA;
    c.early_exit_threshold = (double)NAN; /* Ouro's fields: none here */
    c.eos_token_id = -1;
    hg_status st;
    bool bias = false;
    double v;
    if ((st = get_int(root, "n_embd", &c.n_embd, path, err))) return st;
    /* RavenConfig saves the heads as n_heads and maps num_attention_heads to it */
    const char *heads = cJSON_GetObjectItemCaseSensitive(root, "n_heads") ? "n_heads" : "num_attention_heads";
    if ((st = get_int(root, heads, &c.n_head, path, err))) return st;
    if ((st = get_int(root, "num_key_value_heads", &c.n_kv_head, path, err))) return st;
    if (c.n_kv_head == 0)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `num_key_value_heads` must be positive", path);
    if (cJSON_GetObjectItemCaseSensitive(root, "head_dim")) {
        if ((st = get_int(root, "head_dim", &c.head_dim, path, err))) return st;
        if (c.head_dim == 0) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `head_dim` must be positive", path);
    }
    if ((st = get_int(root, "intermediate_size", &c.intermediate_size, path, err))) return st;
    if ((st = get_int(root, "vocab_size", &c.vocab_size, path, err))) return st;
    if ((st = get_int(root, "n_layers_in_prelude", &c.n_layers_prelude, path, err))) return st;
    if ((st = get_int(root, "n_layers_in_recurrent_block", &c.n_layers_core, path, err))) return st;
    if ((st = get_int(root, "n_layers_in_coda", &c.n_layers_coda, path, err))) return st;
    if ((st = get_int(root, "mean_recurrence", &c.mean_recurrence, path, err))) return st;
    c.mean_backprop_depth = 8; /* RavenConfig's default; only training reads it */
    if (cJSON_GetObjectItemCaseSensitive(root, "mean_backprop_depth") &&
        (st = get_int(root, "mean_backprop_depth", &c.mean_backprop_depth, path, err)))
        return st;
    if ((st = get_int(root, "block_size", &c.block_size, path, err))) return st;
    if ((st = get_num(root, "norm_eps", true, 0, 0, false, &v, path, err))) return st;
    if (!(v < 1)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `norm_eps` must be a number in [0, 1)", path);
    c.norm_eps = (float)v;
    /* rope_theta drives RoPE; rope_base is saved alongside and unused by these files */
    if ((st = get_num(root, "rope_theta", true, 0, 0, true, &c.rope_base, path, err))) return st;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    const cJSON *rt = cJSON_IsObject(rs) ? cJSON_GetObjectItemCaseSensitive(rs, "rope_type") : NULL;
    if (cJSON_IsString(rt) && !strcmp(rt->valuestring, "default")) rs = NULL; /* transformers: no scaling */
    if (rs && !cJSON_IsNull(rs)) {
        if (!cJSON_IsObject(rs)) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `rope_scaling` must be an object or null", path);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
        if (!t) t = cJSON_GetObjectItemCaseSensitive(rs, "type"); /* the older transformers name */
        if (!cJSON_IsString(t))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `rope_scaling.rope_type` missing or not a string", path);
        if (strcmp(t->valuestring, "llama3") != 0)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: rope_scaling.rope_type is \"%s\"; only \"llama3\" is implemented",
                          path, t->valuestring);
        double orig;
        if ((st = get_num(rs, "factor", true, 0, 0, true, &c.rope_factor, path, err))) return st;
        if ((st = get_num(rs, "low_freq_factor", true, 0, 0, true, &c.rope_low_freq_factor, path, err))) return st;
        if ((st = get_num(rs, "high_freq_factor", true, 0, 0, true, &c.rope_high_freq_factor, path, err))) return st;
        if ((st = get_num(rs, "original_max_position_embeddings", true, 0, 0, true, &orig, path, err))) return st;
        if (c.rope_high_freq_factor == c.rope_low_freq_factor || orig > 1e12 || floor(orig) != orig)
            return hg_err(err, HG_STATUS_BAD_FILE,
                          "%s: rope_scaling needs high_freq_factor != low_freq_factor and an integer "
                          "original_max_position_embeddings", path);
        c.rope_orig_ctx = (int64_t)orig;
    }
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(root, "init_values");
    if (!cJSON_IsObject(iv))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `init_values` (with embed_scale) missing or not an object", path);
    if ((st = get_num(iv, "embed_scale", true, 0, 0, true, &v, path, err))) return st;
    c.embed_scale = (float)v;
    /* RavenConfig derives std = sqrt(2 / (5 h)) when the file does not say */
    if ((st = get_num(iv, "std", false, sqrt(2.0 / (5.0 * (double)(c.n_embd ? c.n_embd : 1))), 0, false, &c.init_std,
                      path, err)))
        return st;
    /* RavenConfig's defaults when absent: no q/k bias in the checkpoint (the reference's parameter stays
     * zero), tied embeddings, no linear biases */
    if (cJSON_GetObjectItemCaseSensitive(root, "qk_bias") && (st = get_bool(root, "qk_bias", &c.qk_bias, path, err)))
        return st;
    if (c.qk_bias)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `qk_bias` is true; a q/k bias on Llama / OLMo-2 blocks is not implemented", path);
    c.tie_embeddings = true;
    if (cJSON_GetObjectItemCaseSensitive(root, "tie_embeddings") &&
        (st = get_bool(root, "tie_embeddings", &c.tie_embeddings, path, err)))
        return st;
    if (cJSON_GetObjectItemCaseSensitive(root, "bias") && (st = get_bool(root, "bias", &bias, path, err))) return st;
    if (bias) return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `bias` is true; linear-layer biases are not implemented", path);
    const cJSON *ism = cJSON_GetObjectItemCaseSensitive(root, "initial_state_mode");
    if (ism && (!cJSON_IsString(ism) || strcmp(ism->valuestring, "random") != 0))
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `initial_state_mode` must be \"random\" (other modes are not implemented)", path);
    if ((st = get_num(root, "test_time_noise", false, 0, 0, false, &v, path, err))) return st;
    if (v != 0) return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `test_time_noise` is %g; test-time noise is not implemented", path, v);
    if ((st = hg_config_validate(&c, path, err))) return st;
    *out = c;
    return HG_OK;
}

/* ---- Huginn-0125 ------------------------------------------------------------------------------- */

hg_status hg_config_parse(const char *text, size_t len, const char *path, hg_config *out, hg_error *err) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: not a valid JSON object", path);
    }
    hg_config c = {0};
    c.arch = HG_ARCH_HUGINN;
    c.early_exit_threshold = (double)NAN;
    c.eos_token_id = -1;
    hg_status st;
    int64_t n_kv = -1;
    {   /* another architecture's config: Ouro by its model_type (config_ouro.c); a retrofitted model by
         * rope_theta, which only the retrofit modeling files read (docs/family.md) */
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
        if (cJSON_IsString(mt) && !strcmp(mt->valuestring, "ouro")) {
            st = hg_config_parse_ouro(root, path, out, err);
            goto out;
        }
        if (cJSON_GetObjectItemCaseSensitive(root, "rope_theta")) {
            st = parse_retrofit(root, path, out, err);
            goto out;
        }
    }
    bool bias = false;
    if ((st = get_int(root, "n_embd", &c.n_embd, path, err))) goto out;
    if (cJSON_GetObjectItemCaseSensitive(root, "num_attention_heads"))
        st = get_int(root, "num_attention_heads", &c.n_head, path, err);
    else
        st = get_int(root, "n_heads", &c.n_head, path, err);
    if (st) {
        if (!cJSON_GetObjectItemCaseSensitive(root, "n_heads"))
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: key `num_attention_heads` missing", path);
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "num_key_value_heads")) {
        if ((st = get_int(root, "num_key_value_heads", &n_kv, path, err))) goto out;
        if (n_kv != c.n_head) {
            st = hg_err(err, HG_STATUS_UNSUPPORTED,
                        "%s: key `num_key_value_heads` is %lld but heads are %lld: grouped-query attention is not implemented",
                        path, (long long)n_kv, (long long)c.n_head);
            goto out;
        }
    }
    if ((st = get_int(root, "intermediate_size", &c.intermediate_size, path, err))) goto out;
    if ((st = get_int(root, "vocab_size", &c.vocab_size, path, err))) goto out;
    if ((st = get_int(root, "n_layers_in_prelude", &c.n_layers_prelude, path, err))) goto out;
    if ((st = get_int(root, "n_layers_in_recurrent_block", &c.n_layers_core, path, err))) goto out;
    if ((st = get_int(root, "n_layers_in_coda", &c.n_layers_coda, path, err))) goto out;
    if ((st = get_int(root, "mean_recurrence", &c.mean_recurrence, path, err))) goto out;
    if ((st = get_int(root, "mean_backprop_depth", &c.mean_backprop_depth, path, err))) goto out;
    if ((st = get_int(root, "block_size", &c.block_size, path, err))) goto out;
    {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "rope_base");
        if (!j) {
            c.rope_base = 50000.0;
        } else if (!cJSON_IsNumber(j) || !(j->valuedouble > 0)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: key `rope_base` must be a positive number", path);
            goto out;
        } else {
            c.rope_base = j->valuedouble;
        }
        j = cJSON_GetObjectItemCaseSensitive(root, "norm_eps");
        if (!j) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: key `norm_eps` missing", path);
            goto out;
        }
        if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || !(j->valuedouble < 1)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: key `norm_eps` must be a number in [0, 1)", path);
            goto out;
        }
        c.norm_eps = (float)j->valuedouble;
    }
    if ((st = get_bool(root, "qk_bias", &c.qk_bias, path, err))) goto out;
    if ((st = get_bool(root, "tie_embeddings", &c.tie_embeddings, path, err))) goto out;
    if ((st = get_bool(root, "bias", &bias, path, err))) goto out;
    if (bias) {
        st = hg_err(err, HG_STATUS_UNSUPPORTED, "%s: key `bias` is true; linear-layer biases are not implemented", path);
        goto out;
    }
    if ((st = want_str(root, "injection_type", "linear", path, err))) goto out;
    if ((st = want_str(root, "norm_class_name", "RMSNorm_llama", path, err))) goto out;
    if ((st = want_str(root, "mlp_class_name", "GatedMLP", path, err))) goto out;
    if ((st = want_str(root, "nonlin_name", "SiLU", path, err))) goto out;
    if ((st = want_str(root, "block_class_name", "SandwichBlock", path, err))) goto out;
    if ((st = want_str(root, "state_init", "like-init", path, err))) goto out;
    c.n_kv_head = n_kv < 0 ? c.n_head : n_kv;
    if ((st = hg_config_validate(&c, path, err))) goto out;
    *out = c;
out:
    cJSON_Delete(root);
    return st;
}

hg_status hg_config_validate(hg_config *c, const char *path, hg_error *err) {
    const int64_t big = (int64_t)1 << 24;
    /* retrofitted models may give head_dim (OLMo-2's file reads it), Ouro does (config_ouro.c); Huginn's
     * is always h / H */
    const bool own_hd = (hg_arch_is_retrofit(c->arch) || c->arch == HG_ARCH_OURO) && c->head_dim > 0;
    if (c->n_embd <= 0 || c->n_embd > big) return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `n_embd` must be in 1..%lld", path, (long long)big);
    /* n_heads · head_dim bounded as n_embd is, so tensor sizes stay far from int64 overflow */
    if (own_hd && (c->n_head <= 0 || c->n_head > big || c->head_dim > 65536 || c->n_head * c->head_dim > big))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: keys `n_heads` (%lld) and `head_dim` (%lld) must be positive with "
                      "n_heads x head_dim at most %lld", path, (long long)c->n_head, (long long)c->head_dim, (long long)big);
    if (!own_hd && (c->n_head <= 0 || c->n_embd % c->n_head))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `num_attention_heads` (%lld) must divide n_embd (%lld)", path,
                      (long long)c->n_head, (long long)c->n_embd);
    if (c->n_kv_head == 0) c->n_kv_head = c->n_head; /* configs built in code may leave it unset */
    if (c->n_kv_head < 0 || c->n_kv_head > c->n_head || c->n_head % c->n_kv_head)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `num_key_value_heads` (%lld) must divide the heads (%lld)", path,
                      (long long)c->n_kv_head, (long long)c->n_head);
    if ((unsigned)c->arch >= HG_ARCH_COUNT)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: unknown architecture %d", path, (int)c->arch);
    const int64_t hd = own_hd ? c->head_dim : c->n_embd / c->n_head;
    if (hd % 2)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: head dimension %lld is odd; RoPE needs an even one", path,
                      (long long)hd);
    if (hg_arch_is_retrofit(c->arch)) {
        if (!(c->embed_scale > 0) || !isfinite(c->embed_scale) || !(c->init_std >= 0) || !isfinite(c->init_std))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: init_values.embed_scale must be > 0 and init_values.std >= 0", path);
        if (!(c->rope_base > 0) || !(c->rope_factor >= 0))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: rope_theta and rope_scaling.factor must be positive", path);
        if (c->rope_factor > 0 && (!(c->rope_low_freq_factor > 0) || !(c->rope_high_freq_factor > 0) ||
                                   c->rope_low_freq_factor == c->rope_high_freq_factor || c->rope_orig_ctx <= 0))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: rope_scaling needs positive, distinct low/high_freq_factor and "
                          "original_max_position_embeddings", path);
    }
    if (c->intermediate_size <= 0 || c->intermediate_size > big)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `intermediate_size` must be in 1..%lld", path, (long long)big);
    if (c->vocab_size <= 0 || c->vocab_size > ((int64_t)1 << 30))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `vocab_size` must be in 1..2^30", path);
    if (c->n_layers_prelude < 0 || c->n_layers_core <= 0 || c->n_layers_coda < 0 || c->n_layers_prelude > 1024 ||
        c->n_layers_core > 1024 || c->n_layers_coda > 1024)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: layer counts must be in 0..1024 (the recurrent block at least 1)", path);
    if (c->mean_recurrence > 100000 || c->mean_backprop_depth > 100000)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `mean_recurrence` out of range", path);
    if (c->block_size <= 0 || c->block_size > ((int64_t)1 << 24))
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `block_size` must be in 1..2^24", path);
    c->head_dim = hd;
    return HG_OK;
}

hg_status hg_config_load(const char *path, hg_config *out, hg_error *err) {
    char buf[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(buf, sizeof buf, "%s/config.json", path);
    else
        snprintf(buf, sizeof buf, "%s", path);
    char *text;
    size_t len;
    hg_status st = hg_read_text_file(buf, 16u << 20, &text, &len, err);
    if (st) return st;
    st = hg_config_parse(text, len, buf, out, err);
    hg_free(text);
    return st;
}

int64_t hg_config_n_params(const hg_config *c) {
    const hg_schema *sc = hg_schema_for(c->arch);
    int64_t n = 0;
    if (sc) /* every tensor the config has; a tied head is not one */
        for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it);) n += hg_schema_numel(c, it.part);
    return n;
}

const char *hg_arch_name(hg_arch a) {
    switch (a) {
    case HG_ARCH_HUGINN: return "huginn";
    case HG_ARCH_OURO: return "ouro";
    case HG_ARCH_RETROFIT_LLAMA: return "retrofit-llama";
    case HG_ARCH_RETROFIT_OLMO: return "retrofit-olmo2";
    default: return "unknown";
    }
}

hg_config hg_config_huginn_0125(void) {
    hg_config c = {0};
    c.n_embd = 5280;
    c.arch = HG_ARCH_HUGINN;
    c.n_head = 55;
    c.n_kv_head = 55;
    c.head_dim = 96;
    c.intermediate_size = 17920;
    c.vocab_size = 65536;
    c.n_layers_prelude = 2;
    c.n_layers_core = 4;
    c.n_layers_coda = 2;
    c.mean_recurrence = 32;
    c.mean_backprop_depth = 8;
    c.block_size = 4096;
    c.rope_base = 50000.0;
    c.norm_eps = 1e-6f;
    c.qk_bias = true;
    c.tie_embeddings = true;
    c.early_exit_threshold = (double)NAN;
    c.eos_token_id = -1;
    return c;
}

/* The keys a retrofitted config adds (parse_retrofit reads them back), spliced in before the final
 * brace of the Huginn text; *s is replaced (or freed and set to NULL when out of memory). */
static void append_retrofit(char **s, size_t cap, const hg_config *c) {
    if (!*s) return;
    char extra[1024];
    int k = snprintf(extra, sizeof extra,
                     ",\n  \"n_heads\": %lld,\n  \"head_dim\": %lld,\n  \"rope_theta\": %.17g,\n"
                     "  \"init_values\": {\"std\": %.17g, \"embed_scale\": %.9g}",
                     (long long)c->n_head, (long long)c->head_dim, c->rope_base, c->init_std, (double)c->embed_scale);
    if (c->rope_factor > 0)
        k += snprintf(extra + k, sizeof extra - (size_t)k,
                      ",\n  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": %.17g, \"low_freq_factor\": %.17g, "
                      "\"high_freq_factor\": %.17g, \"original_max_position_embeddings\": %lld}",
                      c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor, (long long)c->rope_orig_ctx);
    const size_t n = strlen(*s);
    char *t = hg_malloc(cap + sizeof extra + 8);
    if (!t || n < 3) {
        hg_free(t), hg_free(*s), *s = NULL;
        return;
    }
    const size_t ke = strlen(extra);
    memcpy(t, *s, n - 3); /* the Huginn text ends "\n}\n" */
    memcpy(t + n - 3, extra, ke);
    memcpy(t + n - 3 + ke, "\n}\n", 4);
    hg_free(*s);
    *s = t;
}

char *hg_config_to_json(const hg_config *c, const char *name) {
    if (c->arch == HG_ARCH_OURO) return hg_config_ouro_to_json(c, name);
    size_t cap = 4096;
    char *s = hg_malloc(cap);
    if (!s) return NULL;
    snprintf(s, cap,
             "{\n"
             "  \"name\": \"%s\",\n"
             "  \"architectures\": [\n    \"RavenForCausalLM\"\n  ],\n"
             "  \"auto_map\": {\n"
             "    \"AutoConfig\": \"raven_config_minimal.RavenConfig\",\n"
             "    \"AutoModelForCausalLM\": \"raven_modeling_minimal.RavenForCausalLM\"\n  },\n"
             "  \"torch_dtype\": \"float32\",\n"
             "  \"model_type\": \"huginn_raven\",\n"
             "  \"block_size\": %lld,\n"
             "  \"vocab_size\": %lld,\n"
             "  \"padding_multiple\": %lld,\n"
             "  \"tie_embeddings\": %s,\n"
             "  \"num_attention_heads\": %lld,\n"
             "  \"num_key_value_heads\": %lld,\n"
             "  \"n_embd\": %lld,\n"
             "  \"intermediate_size\": %lld,\n"
             "  \"bias\": false,\n"
             "  \"architecture_class_name\": \"RecurrentGPT\",\n"
             "  \"block_class_name\": \"SandwichBlock\",\n"
             "  \"norm_class_name\": \"RMSNorm_llama\",\n"
             "  \"norm_eps\": %.9g,\n"
             "  \"mlp_class_name\": \"GatedMLP\",\n"
             "  \"nonlin_name\": \"SiLU\",\n"
             "  \"init_strategy\": \"takase\",\n"
             "  \"init_orthogonal\": false,\n"
             "  \"state_init\": \"like-init\",\n"
             "  \"injection_type\": \"linear\",\n"
             "  \"n_layers_in_recurrent_block\": %lld,\n"
             "  \"mean_recurrence\": %lld,\n"
             "  \"sampling_scheme\": \"poisson-lognormal-filling\",\n"
             "  \"mean_backprop_depth\": %lld,\n"
             "  \"n_layers_in_prelude\": %lld,\n"
             "  \"n_layers_in_coda\": %lld,\n"
             "  \"qk_bias\": %s,\n"
             "  \"rope_base\": %.17g,\n"
             "  \"activation_checkpoint_impl\": \"per-iteration\"\n"
             "}\n",
             name ? name : "huginn-random", (long long)c->block_size, (long long)c->vocab_size,
             (long long)c->vocab_size, c->tie_embeddings ? "true" : "false", (long long)c->n_head,
             (long long)(c->n_kv_head ? c->n_kv_head : c->n_head), (long long)c->n_embd, (long long)c->intermediate_size, (double)c->norm_eps,
             (long long)c->n_layers_core, (long long)c->mean_recurrence, (long long)c->mean_backprop_depth,
             (long long)c->n_layers_prelude, (long long)c->n_layers_coda, c->qk_bias ? "true" : "false",
             c->rope_base);
    if (hg_arch_is_retrofit(c->arch)) append_retrofit(&s, cap, c);
    return s;
}
