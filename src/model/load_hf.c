/*
 * load_hf.c — the weight source of a checkpoint in the Hugging Face layout (docs/forward-pass.md):
 * config.json, then model.safetensors or the shards named by model.safetensors.index.json. The
 * tensors are found by name across the mapped files; load.c binds them (weights.h). A retrofitted
 * config (config.c) becomes the OLMo-2 architecture here when the tensors hold q/k norms.
 */
#include "model/weights.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <sys/stat.h>

static const hg_wsource_words k_words = {
    .meta = "config.json",
    .qk_bias_set = "config says qk_bias true",
    .shape = "shape",
    .reversed = false,
    .type = "dtype",
    .supported = "weights must be F32, BF16 or F16",
};

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

/* ---- the source ------------------------------------------------------------------------------- */

static bool find(const hg_wsource *s, const char *name, hg_wtensor *out) {
    const hg_st_tensor *t = NULL;
    for (int i = 0; i < s->m->n_files && !t; i++) t = hg_st_find(&s->m->files[i], name);
    if (!t) return false;
    memset(out, 0, sizeof *out);
    out->known = true;
    switch (t->dtype) {
    case HG_ST_F32: out->dtype = HG_DTYPE_F32; break;
    case HG_ST_F16: out->dtype = HG_DTYPE_F16; break;
    case HG_ST_BF16: out->dtype = HG_DTYPE_BF16; break;
    default: out->known = false;
    }
    out->type_name = hg_st_dtype_name(t->dtype);
    out->n_dims = t->n_dims;
    for (int d = 0; d < t->n_dims && d < 8; d++) out->shape[d] = t->shape[d];
    out->data = t->data;
    out->nbytes = t->nbytes;
    return true;
}

static const char *name_at(const hg_wsource *s, int64_t i) {
    for (int f = 0; f < s->m->n_files; i -= s->m->files[f].n_tensors, f++)
        if (i < s->m->files[f].n_tensors) return s->m->files[f].tensors[i].name;
    HG_ASSERT(!"name_at: index out of range");
    return NULL;
}

hg_status hg_wsource_hf_open(hg_model *m, const char *path, bool use_mmap, hg_wsource *out, hg_error *err) {
    hg_status st;
    if ((st = hg_config_load(path, &m->cfg, err))) return st;
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/model.safetensors.index.json", path);
    snprintf(p2, sizeof p2, "%s/model.safetensors", path);
    if (is_file(p1)) {
        if ((st = open_shards(m, p1, use_mmap, err))) return st;
    } else if (is_file(p2)) {
        m->files = hg_calloc(1, sizeof *m->files);
        if (!m->files) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
        if ((st = hg_st_open(p2, use_mmap, &m->files[0], err))) return st;
        m->n_files = 1;
    } else {
        return hg_err(err, HG_STATUS_IO, "%s: neither model.safetensors nor model.safetensors.index.json found", path);
    }
    int64_t n = 0;
    for (int i = 0; i < m->n_files; i++) n += m->files[i].n_tensors;
    if (m->cfg.arch == HG_ARCH_RETROFIT_LLAMA) {
        /* Rule: a retrofitted checkpoint with q/k norms is OLMo-2's. Reason: the Llama and OLMo-2
         * converters save the same config keys; the block is only told by its tensors (config.c). */
        for (int f = 0; f < m->n_files; f++)
            for (int64_t i = 0; i < m->files[f].n_tensors; i++) {
                const char *nm = m->files[f].tensors[i].name;
                const size_t nl = strlen(nm), sl = strlen(".attn.q_norm.weight");
                if (nl > sl && !strcmp(nm + nl - sl, ".attn.q_norm.weight")) m->cfg.arch = HG_ARCH_RETROFIT_OLMO;
            }
    }
    *out = (hg_wsource){.path = m->path, .names = HG_NAMES_HF, .words = &k_words, .m = m, .find = find,
                        .n_tensors = n, .name_at = name_at};
    return HG_OK;
}
