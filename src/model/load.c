/*
 * load.c — load a recurrent-depth checkpoint in the Hugging Face layout (docs/forward-pass.md "Tensors"):
 * config.json, then model.safetensors or the shards named by model.safetensors.index.json.
 *
 * Weights stay in their stored dtype inside the mapped files (never copied to f32 wholesale); only the
 * small vectors (RMSNorm weights, q/k bias) are widened to f32 once, into one block. Every tensor's
 * name, dtype and shape is checked against the config, and unknown tensors are an error, so a config
 * that does not match its weights never runs. `freqs_cis` (a saved RoPE table) is ignored: RoPE is
 * computed. With tied embeddings a stored `lm_head.weight` is checked and then ignored, as the
 * reference's tie_weights() does.
 */
#include "io/gguf.h"
#include "model/model.h"
#include "kernels/kernels.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *k_stage_names[3] = {"prelude", "core_block", "coda"};

hg_model_params hg_model_default_params(void) {
    hg_model_params p = {.use_mmap = true};
    return p;
}

void hg_model_free(hg_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_files; i++) hg_st_close(&m->files[i]);
    hg_free(m->files);
    hg_free(m->layers);
    hg_free(m->small);
    hg_free(m->owned_weights);
    hg_gguf_free(m->gguf); /* a GGUF-backed model's open file (load_gguf.c) */
    hg_free(m->path);
    hg_free(m);
}

const hg_config *hg_model_config(const hg_model *m) { return &m->cfg; }
int64_t hg_model_n_params(const hg_model *m) { return m->n_params; }
int64_t hg_model_n_bytes(const hg_model *m) { return m->n_bytes; }
const char *hg_model_path(const hg_model *m) { return m->path; }

/* ---- finding tensors -------------------------------------------------------------------------- */

static const hg_st_tensor *find_any(const hg_model *m, const char *name) {
    for (int i = 0; i < m->n_files; i++) {
        const hg_st_tensor *t = hg_st_find(&m->files[i], name);
        if (t) return t;
    }
    return NULL;
}

static hg_status bind(hg_model *m, const char *name, int n_dims, int64_t d0, int64_t d1, hg_tensor *out,
                      hg_error *err) {
    const hg_st_tensor *t = find_any(m, name);
    if (!t) return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s missing", m->path, name);
    hg_dtype dt;
    switch (t->dtype) {
    case HG_ST_F32: dt = HG_DTYPE_F32; break;
    case HG_ST_F16: dt = HG_DTYPE_F16; break;
    case HG_ST_BF16: dt = HG_DTYPE_BF16; break;
    default:
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s has dtype %s; weights must be F32, BF16 or F16",
                      m->path, name, hg_st_dtype_name(t->dtype));
    }
    bool ok = t->n_dims == n_dims && t->shape[0] == d0 && (n_dims < 2 || t->shape[1] == d1);
    if (!ok) {
        char got[128] = "", *p = got;
        for (int i = 0; i < t->n_dims && p < got + 100; i++)
            p += snprintf(p, (size_t)(got + sizeof got - p), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        if (n_dims == 2)
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s has shape [%s], expected [%lld,%lld]", m->path, name,
                          got, (long long)d0, (long long)d1);
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s has shape [%s], expected [%lld]", m->path, name, got,
                      (long long)d0);
    }
    out->dtype = dt;
    out->n_dims = n_dims;
    out->ne[0] = d0;
    out->ne[1] = n_dims > 1 ? d1 : 1;
    out->data = t->data;
    out->nbytes = t->nbytes;
    return HG_OK;
}

/* qk_bias is stored [2, 1, H, d]: check that exact shape. */
static hg_status bind_qk_bias(hg_model *m, const char *name, float *dst, hg_error *err) {
    const hg_config *c = &m->cfg;
    const hg_st_tensor *t = find_any(m, name);
    if (!t) return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s missing (config says qk_bias true)", m->path, name);
    if (t->n_dims != 4 || t->shape[0] != 2 || t->shape[1] != 1 || t->shape[2] != c->n_head || t->shape[3] != c->head_dim)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s must have shape [2,1,%lld,%lld]", m->path, name,
                      (long long)c->n_head, (long long)c->head_dim);
    hg_tensor tmp = {.n_dims = 1, .data = t->data, .nbytes = t->nbytes};
    if (t->dtype == HG_ST_F32) tmp.dtype = HG_DTYPE_F32;
    else if (t->dtype == HG_ST_BF16) tmp.dtype = HG_DTYPE_BF16;
    else if (t->dtype == HG_ST_F16) tmp.dtype = HG_DTYPE_F16;
    else
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s has dtype %s; weights must be F32, BF16 or F16",
                      m->path, name, hg_st_dtype_name(t->dtype));
    hg_tensor_widen(&tmp, dst, 2 * c->n_embd);
    return HG_OK;
}

/* Is `name` one of the tensors this config expects? (used to reject unknown tensors) */
static bool expected_name(const hg_model *m, const char *name) {
    const hg_config *c = &m->cfg;
    if (!strcmp(name, "transformer.wte.weight") || !strcmp(name, "transformer.adapter.weight") ||
        !strcmp(name, "transformer.ln_f.weight") || !strcmp(name, "lm_head.weight") || !strcmp(name, "freqs_cis"))
        return true;
    const int64_t counts[3] = {c->n_layers_prelude, c->n_layers_core, c->n_layers_coda};
    static const char *parts[] = {"norm_1.weight", "norm_2.weight", "norm_3.weight", "norm_4.weight",
                                  "attn.Wqkv.weight", "attn.proj.weight", "mlp.fc.weight", "mlp.proj.weight",
                                  "attn.qk_bias"};
    for (int s = 0; s < 3; s++) {
        char prefix[64];
        int n = snprintf(prefix, sizeof prefix, "transformer.%s.", k_stage_names[s]);
        if (strncmp(name, prefix, (size_t)n) != 0) continue;
        const char *p = name + n;
        char *end;
        long idx = strtol(p, &end, 10);
        if (end == p || *end != '.' || idx < 0 || idx >= counts[s]) return false;
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
            if (!strcmp(end + 1, parts[k])) return k < 8 || c->qk_bias;
        return false;
    }
    return false;
}

/* ---- opening the files ------------------------------------------------------------------------ */

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static hg_status open_shards(hg_model *m, const char *index_path, bool use_mmap, hg_error *err) {
    char *text = NULL;
    size_t len;
    hg_status st = hg_read_text_file(index_path, 64u << 20, &text, &len, err);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    hg_free(text);
    const cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!root || !cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: not a valid index (needs an object `weight_map`)", index_path);
    }
    int n_entries = cJSON_GetArraySize(wm);
    m->files = hg_calloc((size_t)(n_entries ? n_entries : 1), sizeof *m->files);
    const char **names = hg_calloc((size_t)(n_entries ? n_entries : 1), sizeof *names);
    if (!m->files || !names) {
        hg_free(names);
        cJSON_Delete(root);
        return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", index_path);
    }
    int n_names = 0;
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !*e->valuestring || strchr(e->valuestring, '/') || !strcmp(e->valuestring, "..") ||
            !strcmp(e->valuestring, ".")) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: weight_map entry for %s must be a plain file name", index_path,
                        e->string);
            goto out;
        }
        bool seen = false;
        for (int i = 0; i < n_names; i++) seen |= !strcmp(names[i], e->valuestring);
        if (!seen) names[n_names++] = e->valuestring;
    }
    for (int i = 0; i < n_names; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", m->path, names[i]);
        if ((st = hg_st_open(p, use_mmap, &m->files[m->n_files], err))) goto out;
        m->n_files++;
    }
    /* every tensor must be where the index says */
    for (const cJSON *e = wm->child; e; e = e->next) {
        int fi = -1;
        for (int i = 0; i < n_names; i++)
            if (!strcmp(names[i], e->valuestring)) fi = i;
        if (!hg_st_find(&m->files[fi], e->string)) {
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: index maps tensor %s to %s, which does not contain it", index_path,
                        e->string, e->valuestring);
            goto out;
        }
    }
out:
    hg_free(names);
    cJSON_Delete(root);
    return st;
}

/* ---- binding weights -------------------------------------------------------------------------- */

static hg_status bind_all(hg_model *m, hg_error *err) {
    const hg_config *c = &m->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size, V = c->vocab_size;
    const int64_t nl = hg_model_n_layers(m);
    hg_status st;
    m->layers = hg_calloc((size_t)nl, sizeof *m->layers);
    /* small f32 block: 4 norms + qk_bias(2h) per layer, plus ln_f */
    size_t per_layer = (size_t)(4 * h + 2 * h);
    m->small = hg_calloc((size_t)nl * per_layer + (size_t)h, sizeof(float));
    if (!m->layers || !m->small) return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", m->path);

    for (int64_t i = 0; i < m->n_files; i++)
        for (int64_t k = 0; k < m->files[i].n_tensors; k++)
            if (!expected_name(m, m->files[i].tensors[k].name))
                return hg_err(err, HG_STATUS_BAD_FILE,
                              "%s: unexpected tensor %s (does config.json match the weights?)", m->path,
                              m->files[i].tensors[k].name);

    if ((st = bind(m, "transformer.wte.weight", 2, V, h, &m->wte, err))) return st;
    if ((st = bind(m, "transformer.adapter.weight", 2, h, 2 * h, &m->adapter, err))) return st;
    hg_tensor tmp;
    float *lnf = m->small + (size_t)nl * per_layer;
    if ((st = bind(m, "transformer.ln_f.weight", 1, h, 0, &tmp, err))) return st;
    hg_tensor_widen(&tmp, lnf, h);
    m->ln_f = lnf;
    if (find_any(m, "lm_head.weight") || !c->tie_embeddings) {
        if ((st = bind(m, "lm_head.weight", 2, V, h, &m->lm_head, err))) return st;
    }
    if (c->tie_embeddings) m->lm_head = m->wte; /* the reference ties after loading */

    int64_t li = 0;
    const int64_t counts[3] = {c->n_layers_prelude, c->n_layers_core, c->n_layers_coda};
    for (int s = 0; s < 3; s++) {
        for (int64_t i = 0; i < counts[s]; i++, li++) {
            hg_layer *L = &m->layers[li];
            float *blk = m->small + (size_t)li * per_layer;
            char name[256];
#define NAME(part) (snprintf(name, sizeof name, "transformer.%s.%lld.%s", k_stage_names[s], (long long)i, part), name)
            for (int k = 0; k < 4; k++) {
                char part[32];
                snprintf(part, sizeof part, "norm_%d.weight", k + 1);
                if ((st = bind(m, NAME(part), 1, h, 0, &tmp, err))) return st;
                hg_tensor_widen(&tmp, blk + k * h, h);
                L->norm[k] = blk + k * h;
            }
            if (c->qk_bias) {
                if ((st = bind_qk_bias(m, NAME("attn.qk_bias"), blk + 4 * h, err))) return st;
                L->qk_bias = blk + 4 * h;
            }
            if ((st = bind(m, NAME("attn.Wqkv.weight"), 2, 3 * h, h, &L->wqkv, err))) return st;
            if ((st = bind(m, NAME("attn.proj.weight"), 2, h, h, &L->attn_proj, err))) return st;
            if ((st = bind(m, NAME("mlp.fc.weight"), 2, 2 * I, h, &L->fc, err))) return st;
            if ((st = bind(m, NAME("mlp.proj.weight"), 2, h, I, &L->mlp_proj, err))) return st;
#undef NAME
        }
    }
    /* stored bytes of what we use */
    m->n_params = hg_config_n_params(c);
    m->n_bytes = 0;
    for (int i = 0; i < m->n_files; i++)
        for (int64_t k = 0; k < m->files[i].n_tensors; k++)
            if (strcmp(m->files[i].tensors[k].name, "freqs_cis") &&
                !(c->tie_embeddings && !strcmp(m->files[i].tensors[k].name, "lm_head.weight")))
                m->n_bytes += (int64_t)m->files[i].tensors[k].nbytes;
    return HG_OK;
}

hg_status hg_model_load_gguf(const char *path, const hg_model_params *params, hg_model **out, hg_error *err);

hg_status hg_model_load(const char *path, const hg_model_params *params, hg_model **out, hg_error *err) {
    hg_model_params p = params ? *params : hg_model_default_params();
    if (!path || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_model_load: path and out are required");
    size_t pl = strlen(path);
    if (pl > 5 && !strcmp(path + pl - 5, ".gguf")) return hg_model_load_gguf(path, &p, out, err);
    struct stat st_dir;
    if (stat(path, &st_dir) != 0) return hg_err(err, HG_STATUS_IO, "%s: no such file or directory", path);
    if (!S_ISDIR(st_dir.st_mode))
        return hg_err(err, HG_STATUS_BAD_ARG, "%s: a model is a Hugging Face directory or a .gguf file", path);

    hg_model *m = hg_calloc(1, sizeof *m);
    if (!m) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    hg_status st;
    m->path = hg_strdup(path);
    if (!m->path) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = hg_config_load(path, &m->cfg, err))) goto fail;
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/model.safetensors.index.json", path);
    snprintf(p2, sizeof p2, "%s/model.safetensors", path);
    if (is_file(p1)) {
        if ((st = open_shards(m, p1, p.use_mmap, err))) goto fail;
    } else if (is_file(p2)) {
        m->files = hg_calloc(1, sizeof *m->files);
        if (!m->files) {
            st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
            goto fail;
        }
        if ((st = hg_st_open(p2, p.use_mmap, &m->files[0], err))) goto fail;
        m->n_files = 1;
    } else {
        st = hg_err(err, HG_STATUS_IO, "%s: neither model.safetensors nor model.safetensors.index.json found", path);
        goto fail;
    }
    if ((st = bind_all(m, err))) goto fail;
    *out = m;
    return HG_OK;
fail:
    hg_model_free(m);
    return st;
}
