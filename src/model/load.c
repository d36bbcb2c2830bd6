/*
 * load.c — load a model: the one entry point (hg_model_load), which picks the weight source by format
 * (a GGUF file, recognised by its magic bytes, or a Hugging Face directory), and the one bind step
 * that walks the architecture's tensor schema (schema.h) over that source (weights.h).
 *
 * Weights stay in their stored dtype inside the mapped files (never copied to f32 wholesale); only the
 * small vectors (RMSNorm weights, q/k bias) are widened to f32 once, into one block. Every tensor's
 * name, dtype and shape is checked against the config, and unknown tensors are an error, so a config
 * that does not match its weights never runs. Names the schema ignores (a saved RoPE table) are
 * accepted. With tied embeddings a stored head is checked and then replaced by the embedding, as the
 * reference's tie_weights() does. Tensor shapes: docs/forward-pass.md.
 */
#include "model/weights.h"
#include "io/gguf.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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
    for (int64_t i = 0; i < m->n_packs; i++) hg_free(m->packs[i]);
    hg_free(m->packs);
    hg_gguf_free(m->gguf); /* a GGUF-backed model's open file */
    hg_free(m->path);
    hg_free(m);
}

const hg_config *hg_model_config(const hg_model *m) { return &m->cfg; }
int64_t hg_model_n_params(const hg_model *m) { return m->n_params; }
int64_t hg_model_n_bytes(const hg_model *m) { return m->n_bytes; }
int64_t hg_model_n_packed(const hg_model *m) { return m->n_packs; }
const char *hg_model_path(const hg_model *m) { return m->path; }

/* ---- binding one part ------------------------------------------------------------------------- */

/* "a,b,c" of n values, reversed when the source writes shapes innermost first (GGUF's ne). */
static void print_shape(char *buf, size_t size, const int64_t *v, int n, bool reversed) {
    char *p = buf, *end = buf + size;
    *buf = 0;
    for (int i = 0; i < n && p < end - 24; i++)
        p += snprintf(p, (size_t)(end - p), "%s%lld", i ? "," : "", (long long)v[reversed ? n - 1 - i : i]);
}

/* Check part `p` (named `name`) of the source against the config: present, of the schema's shape, of
 * a dtype we run; its stored tensor in *t and its shape in want. Allocates nothing. */
static hg_status check_part(const hg_model *m, const hg_wsource *s, const hg_part *p, const char *name,
                            hg_wtensor *tp, int64_t want[4], hg_error *err) {
    const hg_wsource_words *w = s->words;
    hg_wtensor t;
    if (!s->find(s, name, &t)) {
        if (p->when == HG_WHEN_QK_BIAS)
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s missing (%s)", s->path, name, w->qk_bias_set);
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s missing", s->path, name);
    }
    bool ok = t.n_dims == p->n_dims;
    for (int d = 0; d < p->n_dims; d++) {
        want[d] = hg_schema_dim(&m->cfg, p->dims[d]);
        ok = ok && t.shape[d] == want[d];
    }
    if (!ok) {
        char got[128], exp[128];
        print_shape(got, sizeof got, t.shape, t.n_dims, w->reversed);
        print_shape(exp, sizeof exp, want, p->n_dims, w->reversed);
        if (p->n_dims > 2) /* the q/k bias: its whole stored layout is prescribed */
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s must have %s [%s]", s->path, name, w->shape, exp);
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s has %s [%s], expected [%s]", s->path, name, w->shape,
                      got, exp);
    }
    if (!t.known)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s has %s %s; %s", s->path, name, w->type, t.type_name,
                      w->supported);
    hg_status st = s->check ? s->check(s, name, &t, err) : HG_OK;
    if (st) return st;
    *tp = t;
    return HG_OK;
}

/* Bind part `p` (named `name`) of the source to the hg_tensor or f32 vector at `slot`; vectors are
 * widened into *small, which advances. */
static hg_status bind_part(const hg_model *m, const hg_wsource *s, const hg_part *p, const char *name, char *slot,
                           float **small, hg_error *err) {
    hg_wtensor t;
    int64_t want[4];
    hg_status st = check_part(m, s, p, name, &t, want, err);
    if (st) return st;
    if (p->store == HG_STORE_VECTOR) {
        if (t.dtype != HG_DTYPE_F32 && t.dtype != HG_DTYPE_F16 && t.dtype != HG_DTYPE_BF16)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: tensor %s is %s; norms and biases must be F32, F16 or BF16",
                          s->path, name, hg_dtype_name(t.dtype));
        const int64_t n = hg_schema_numel(&m->cfg, p);
        const hg_tensor src = {.dtype = t.dtype, .n_dims = 1, .ne = {1, n, 1, 1}, .data = t.data, .nbytes = t.nbytes};
        const float *v = *small;
        hg_tensor_widen(&src, *small, n);
        memcpy(slot, &v, sizeof v);
        *small += n;
        return HG_OK;
    }
    hg_tensor out = {.dtype = t.dtype, .n_dims = p->n_dims, .ne = {want[0], p->n_dims > 1 ? want[1] : 1, 1, 1},
                     .data = t.data, .nbytes = t.nbytes};
    memcpy(slot, &out, sizeof out);
    return HG_OK;
}

/* ---- binding the model ------------------------------------------------------------------------ */

static hg_status bind_all(hg_model *m, const hg_wsource *s, hg_error *err) {
    const hg_config *c = &m->cfg;
    const hg_schema *sc = hg_schema_for(c->arch);
    if (!sc) return hg_err(err, HG_STATUS_UNSUPPORTED, "%s: no tensor schema for architecture %s", s->path, hg_arch_name(c->arch));
    const int64_t nl = hg_schema_n_layers(c);
    for (int64_t i = 0; i < s->n_tensors; i++)
        if (!hg_schema_expects(sc, c, s->names, s->name_at(s, i)))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: unexpected tensor %s (does %s match the weights?)", s->path,
                          s->name_at(s, i), s->words->meta);
    /* Rule: every tensor's shape is checked against the config before anything is sized from the config.
     * Reason: a config.json with huge dimensions asked for hundreds of GB here and reported "out of
     * memory" instead of the mismatch; the stored shapes are bounded by the files, so once they match
     * every size below is too. */
    char name[256];
    hg_status st;
    for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it);) {
        hg_wtensor t;
        int64_t want[4];
        if (!hg_schema_name(sc, c, it.part, it.layer, s->names, name, sizeof name))
            return hg_err(err, HG_STATUS_LIMIT, "%s: tensor name too long", s->path);
        if ((st = check_part(m, s, it.part, name, &t, want, err))) return st;
    }
    /* one f32 block for every vector the config has */
    int64_t n_small = 0;
    for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it);)
        if (it.part->store == HG_STORE_VECTOR) n_small += hg_schema_numel(c, it.part);
    m->layers = hg_calloc((size_t)nl, sizeof *m->layers);
    m->small = hg_calloc((size_t)(n_small ? n_small : 1), sizeof(float));
    if (!m->layers || !m->small) return hg_err(err, HG_STATUS_NOMEM, "%s: out of memory", s->path);
    float *small = m->small;
    for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it);) {
        if (!hg_schema_name(sc, c, it.part, it.layer, s->names, name, sizeof name))
            return hg_err(err, HG_STATUS_LIMIT, "%s: tensor name too long", s->path);
        if ((st = bind_part(m, s, it.part, name, hg_schema_slot(m, it.part, it.layer), &small, err))) return st;
    }
    /* a tied part (the head) is checked when stored, then takes its partner's tensor, as the reference ties */
    for (int k = 0; k < sc->n_parts; k++) {
        const hg_part *p = &sc->parts[k];
        if (p->tied_to < 0 || !c->tie_embeddings || p->place == HG_PLACE_LAYER) continue;
        hg_wtensor probe;
        hg_schema_name(sc, c, p, -1, s->names, name, sizeof name);
        if (s->find(s, name, &probe) && (st = bind_part(m, s, p, name, hg_schema_slot(m, p, -1), &small, err))) return st;
        memcpy(hg_schema_slot(m, p, -1), hg_schema_slot(m, &sc->parts[p->tied_to], -1), sizeof(hg_tensor));
    }
    /* parameters (tied embeddings once); bytes of the tensors used, as stored */
    m->n_params = hg_config_n_params(c);
    m->n_bytes = 0;
    for (int64_t i = 0; i < s->n_tensors; i++) {
        const char *nm = s->name_at(s, i);
        if (hg_schema_ignored(sc, s->names, nm)) continue;
        bool tied = false;
        for (int k = 0; k < sc->n_parts; k++) {
            const hg_part *p = &sc->parts[k];
            tied |= p->tied_to >= 0 && c->tie_embeddings && !strcmp(nm, s->names == HG_NAMES_HF ? p->hf : p->gguf);
        }
        hg_wtensor t;
        if (!tied && s->find(s, nm, &t)) m->n_bytes += (int64_t)t.nbytes;
    }
    return HG_OK;
}

/* ---- laying weights out for the kernels ------------------------------------------------------- */

/* A packed weight's stored bytes are read no more by this model's products, so where they lie in a
 * mapped file the process lets their pages go: the packed copy then replaces them in memory instead of
 * doubling it. The tied head shares the embedding's bytes, which the lookup still reads. */
static void release_stored(hg_model *m, const hg_tensor *w) {
    if (w->data == m->wte.data) return;
    for (int f = 0; f < m->n_files; f++)
        if (hg_mapped_file_release(&m->files[f].map, w->data, w->nbytes)) return;
    if (m->gguf) (void)hg_mapped_file_release(&((const hg_gguf_file *)m->gguf)->map, w->data, w->nbytes);
}

/* Every product weight the kernels have a packed layout for gets one (hg_matmul_prepack: Q8_0 on the
 * VNNI kernels, bf16 on the AVX2 and AVX-512 widening kernels): decode then reads W once for a whole batch at about the cost of one position, and a
 * position's result no longer depends on how many share the step. The embedding keeps its stored rows
 * (a tied head gets its own packed copy; the lookup reads wte). Out of memory leaves a weight as stored:
 * the products are the same, only slower in batches. */
static void prepack_all(hg_model *m) {
    const int64_t nl = hg_model_n_layers(m);
    const int64_t most = nl * 9 + 2;
    m->packs = hg_calloc((size_t)most, sizeof *m->packs);
    if (!m->packs) return;
    hg_tensor *ws[11];
    int64_t n_products = 0;
    for (int64_t l = -1; l < nl; l++) {
        int n = 0;
        if (l < 0) {
            ws[n++] = &m->adapter;
            ws[n++] = &m->lm_head;
        } else {
            hg_layer *L = &m->layers[l];
            hg_tensor *lw[] = {&L->wqkv, &L->attn_proj, &L->fc, &L->mlp_proj, &L->wq, &L->wk, &L->wv, &L->w_gate, &L->w_up};
            for (size_t i = 0; i < sizeof lw / sizeof lw[0]; i++) ws[n++] = lw[i];
        }
        for (int i = 0; i < n; i++) {
            if (!ws[i]->data) continue;
            n_products++;
            if (m->n_packs >= most) continue;
            void *pk = hg_matmul_prepack(ws[i]);
            if (!pk) continue;
            ws[i]->packed = pk;
            m->packs[m->n_packs++] = pk;
            release_stored(m, ws[i]);
        }
    }
    m->all_packed = m->n_packs == n_products;
}

/* ---- the entry point -------------------------------------------------------------------------- */

/* Does the file start with GGUF's magic? */
static bool has_gguf_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char magic[4] = {0};
    const bool yes = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    fclose(f);
    return yes;
}

hg_status hg_model_load(const char *path, const hg_model_params *params, hg_model **out, hg_error *err) {
    hg_model_params p = params ? *params : hg_model_default_params();
    if (!path || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_model_load: path and out are required");
    const size_t pl = strlen(path);
    const bool gguf_name = pl > 5 && !strcmp(path + pl - 5, ".gguf");
    struct stat sb;
    const bool exists = stat(path, &sb) == 0;
    /* a .gguf path that cannot be read is reported by the GGUF reader, which names the cause */
    if (!exists && !gguf_name) return hg_err(err, HG_STATUS_IO, "%s: no such file or directory", path);
    const bool gguf = gguf_name || (exists && S_ISREG(sb.st_mode) && has_gguf_magic(path));
    if (!gguf && !S_ISDIR(sb.st_mode))
        return hg_err(err, HG_STATUS_BAD_ARG, "%s: a model is a Hugging Face directory or a .gguf file", path);

    hg_model *m = hg_calloc(1, sizeof *m);
    if (!m) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    hg_status st;
    m->path = hg_strdup(path);
    if (!m->path) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto fail;
    }
    hg_wsource src;
    if ((st = gguf ? hg_wsource_gguf_open(m, path, p.use_mmap, &src, err)
                   : hg_wsource_hf_open(m, path, p.use_mmap, &src, err)))
        goto fail;
    if ((st = bind_all(m, &src, err))) goto fail;
    const char *pp = getenv("HG_PREPACK");
    if (pp && *pp ? strcmp(pp, "0") != 0 : p.prepack) prepack_all(m);
    *out = m;
    return HG_OK;
fail:
    hg_model_free(m);
    return st;
}
