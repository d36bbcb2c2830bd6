/*
 * params.c — the trainer's parameter set: a table of named tensors (official state_dict keys and
 * shapes, docs/forward-pass.md "Tensors") over one flat f32 buffer, views that give each layer's pointers, the
 * "takase" random initialisation (docs/training.md "Initialization"), conversion from a loaded model, and an
 * hg_model that points into the buffer so the inference engine can run the weights being trained.
 *
 * One flat buffer (rather than one allocation per tensor) makes the gradient all-reduce, the global
 * gradient norm, checkpoint writing and the optimizer plain loops over n_params floats; the tied
 * embedding exists once, so it is counted once in the norm and decayed once, as in the reference.
 */
#include "train/train.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>

static const char *k_stage[3] = {"prelude", "core_block", "coda"};
static const char *k_parts[9] = {"attn.Wqkv.weight", "attn.qk_bias",  "attn.proj.weight",
                                 "mlp.fc.weight",    "mlp.proj.weight", "norm_1.weight",
                                 "norm_2.weight",    "norm_3.weight",   "norm_4.weight"};

/* ---- layout ------------------------------------------------------------------------------------- */

static void add(hg_tlayout *L, const char *name, int n_dims, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                hg_tgroup g) {
    hg_tinfo *t = &L->t[L->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    const int64_t d[4] = {d0, d1, d2, d3};
    t->n = 1;
    for (int i = 0; i < 4; i++) {
        t->shape[i] = i < n_dims ? d[i] : 1;
        if (i < n_dims) t->n *= d[i];
    }
    t->offset = L->n_params;
    t->group = g;
    L->n_params += t->n;
}

static void add_layer(hg_tlayout *L, int stage, int64_t i) {
    const hg_config *c = &L->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size;
    char name[96];
    for (int k = 0; k < 9; k++) {
        if (k == 1 && !c->qk_bias) continue;
        snprintf(name, sizeof name, "transformer.%s.%lld.%s", k_stage[stage], (long long)i, k_parts[k]);
        switch (k) {
        case 0: add(L, name, 2, 3 * h, h, 1, 1, HG_TGROUP_WEIGHT); break;
        case 1: add(L, name, 4, 2, 1, c->n_head, c->head_dim, HG_TGROUP_NORM); break;
        case 2: add(L, name, 2, h, h, 1, 1, HG_TGROUP_WEIGHT); break;
        case 3: add(L, name, 2, 2 * I, h, 1, 1, HG_TGROUP_WEIGHT); break;
        case 4: add(L, name, 2, h, I, 1, 1, HG_TGROUP_WEIGHT); break;
        default: add(L, name, 1, h, 1, 1, 1, HG_TGROUP_NORM); break;
        }
    }
}

hg_status hg_tlayout_init(hg_tlayout *L, const hg_config *cfg, hg_error *err) {
    memset(L, 0, sizeof *L);
    const hg_config *c = cfg;
    if (c->n_embd <= 0 || c->n_head <= 0 || c->n_embd % c->n_head || c->head_dim != c->n_embd / c->n_head ||
        c->head_dim % 2 || c->intermediate_size <= 0 || c->vocab_size <= 0 || c->n_layers_prelude < 0 ||
        c->n_layers_core <= 0 || c->n_layers_coda < 0 || c->block_size <= 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: config sizes are not usable (h %lld, heads %lld, I %lld, V %lld)",
                      (long long)c->n_embd, (long long)c->n_head, (long long)c->intermediate_size,
                      (long long)c->vocab_size);
    if (!c->tie_embeddings)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "trainer: only tied embeddings are implemented (tie_embeddings true)");
    if (c->n_embd > (1 << 16) || c->intermediate_size > (1 << 18) || c->vocab_size > (1 << 22))
        return hg_err(err, HG_STATUS_LIMIT, "trainer: model too large for an f32 CPU trainer");
    L->cfg = *c;
    if (L->cfg.n_kv_head == 0) L->cfg.n_kv_head = c->n_head; /* configs built in code may leave it unset */
    if (L->cfg.n_kv_head != c->n_head)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "trainer: grouped-query attention is not implemented in the trainer");
    const int64_t nl = c->n_layers_prelude + c->n_layers_core + c->n_layers_coda;
    L->t = hg_calloc((size_t)(nl * 9 + 3), sizeof *L->t);
    if (!L->t) return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    const int64_t h = c->n_embd;
    add(L, "transformer.wte.weight", 2, c->vocab_size, h, 1, 1, HG_TGROUP_EMBED);
    for (int64_t i = 0; i < c->n_layers_prelude; i++) add_layer(L, 0, i);
    add(L, "transformer.adapter.weight", 2, h, 2 * h, 1, 1, HG_TGROUP_WEIGHT);
    for (int64_t i = 0; i < c->n_layers_core; i++) add_layer(L, 1, i);
    for (int64_t i = 0; i < c->n_layers_coda; i++) add_layer(L, 2, i);
    add(L, "transformer.ln_f.weight", 1, h, 1, 1, 1, HG_TGROUP_NORM);
    return HG_OK;
}

void hg_tlayout_free(hg_tlayout *L) {
    if (!L) return;
    hg_free(L->t);
    L->t = NULL;
    L->n_tensors = 0;
}

int64_t hg_tlayout_find(const hg_tlayout *L, const char *name) {
    for (int64_t i = 0; i < L->n_tensors; i++)
        if (!strcmp(L->t[i].name, name)) return i;
    return -1;
}

hg_status hg_tview_init(hg_tview *v, const hg_tlayout *L, float *buf, hg_error *err) {
    const hg_config *c = &L->cfg;
    const int64_t nl = c->n_layers_prelude + c->n_layers_core + c->n_layers_coda;
    memset(v, 0, sizeof *v);
    v->layers = hg_calloc((size_t)nl, sizeof *v->layers);
    if (!v->layers) return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    hg_tview_point(v, L, buf);
    return HG_OK;
}

void hg_tview_point(hg_tview *v, const hg_tlayout *L, float *buf) {
    const hg_config *c = &L->cfg;
    const int64_t nl = c->n_layers_prelude + c->n_layers_core + c->n_layers_coda;
    int64_t ti = 0;
    v->wte = buf + L->t[ti++].offset;
    for (int64_t l = 0; l < nl; l++) {
        if (l == c->n_layers_prelude) v->adapter = buf + L->t[ti++].offset;
        hg_tlayer *y = &v->layers[l];
        y->wqkv = buf + L->t[ti++].offset;
        if (c->qk_bias) y->qk_bias = buf + L->t[ti++].offset;
        y->attn_proj = buf + L->t[ti++].offset;
        y->fc = buf + L->t[ti++].offset;
        y->mlp_proj = buf + L->t[ti++].offset;
        for (int k = 0; k < 4; k++) y->norm[k] = buf + L->t[ti++].offset;
    }
    v->ln_f = buf + L->t[ti++].offset;
    HG_ASSERT(ti == L->n_tensors);
}

void hg_tview_free(hg_tview *v) {
    if (!v) return;
    hg_free(v->layers);
    v->layers = NULL;
}

/* ---- initialisation ----------------------------------------------------------------------------- */

void hg_tparams_init_random(const hg_tlayout *L, float *params, uint64_t seed) {
    const hg_config *c = &L->cfg;
    const double h = (double)c->n_embd;
    const double l_eff = (double)(c->n_layers_prelude + c->n_layers_coda + c->n_layers_core * c->mean_recurrence);
    const double std = sqrt(2.0 / (5.0 * h));                  /* every input-side matrix and wte */
    const double std_out = std / sqrt(2.0 * (l_eff > 0 ? l_eff : 1)); /* attn.proj and mlp.proj */
    hg_rng r;
    hg_rng_seed(&r, seed);
    for (int64_t i = 0; i < L->n_tensors; i++) {
        const hg_tinfo *t = &L->t[i];
        float *p = params + t->offset;
        double sd = std;
        if (t->group == HG_TGROUP_NORM) {
            /* RMSNorm weights start at 1, the q/k bias at 0 */
            const float v = strstr(t->name, "qk_bias") ? 0.0f : 1.0f;
            for (int64_t j = 0; j < t->n; j++) p[j] = v;
            continue;
        }
        if (strstr(t->name, "attn.proj") || strstr(t->name, "mlp.proj")) sd = std_out;
        for (int64_t j = 0; j < t->n; j++) p[j] = (float)hg_rng_trunc_normal(&r, sd, -3 * sd, 3 * sd);
    }
}

/* ---- from a loaded model ------------------------------------------------------------------------ */

static void copy_matrix(float *dst, const hg_tensor *w) {
    for (int64_t r = 0; r < w->ne[0]; r++) hg_tensor_row_f32(w, r, dst + r * w->ne[1]);
}

hg_status hg_tparams_from_model(const hg_tlayout *L, const hg_model *m, float *params, hg_error *err) {
    const hg_config *c = &m->cfg;
    if (c->n_embd != L->cfg.n_embd || c->intermediate_size != L->cfg.intermediate_size ||
        c->vocab_size != L->cfg.vocab_size || c->qk_bias != L->cfg.qk_bias ||
        hg_model_n_layers(m) != L->cfg.n_layers_prelude + L->cfg.n_layers_core + L->cfg.n_layers_coda)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: the model's config does not match the parameter layout");
    const int64_t h = c->n_embd;
    const hg_tensor *mats[] = {&m->wte, &m->adapter};
    for (int k = 0; k < 2; k++)
        if (mats[k]->dtype != HG_DTYPE_F32 && mats[k]->dtype != HG_DTYPE_BF16 && mats[k]->dtype != HG_DTYPE_F16)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "trainer: quantized weights cannot be trained; use an f32/bf16 model");
    hg_tview v;
    hg_status st = hg_tview_init(&v, L, params, err);
    if (st) return st;
    copy_matrix(v.wte, &m->wte);
    copy_matrix(v.adapter, &m->adapter);
    memcpy(v.ln_f, m->ln_f, (size_t)h * sizeof(float));
    for (int64_t l = 0; l < hg_model_n_layers(m); l++) {
        const hg_layer *s = &m->layers[l];
        hg_tlayer *d = &v.layers[l];
        for (int k = 0; k < 4; k++) memcpy(d->norm[k], s->norm[k], (size_t)h * sizeof(float));
        if (d->qk_bias) memcpy(d->qk_bias, s->qk_bias, (size_t)(2 * h) * sizeof(float));
        const hg_tensor *w[4] = {&s->wqkv, &s->attn_proj, &s->fc, &s->mlp_proj};
        float *dst[4] = {d->wqkv, d->attn_proj, d->fc, d->mlp_proj};
        for (int k = 0; k < 4; k++) {
            if (w[k]->dtype != HG_DTYPE_F32 && w[k]->dtype != HG_DTYPE_BF16 && w[k]->dtype != HG_DTYPE_F16) {
                hg_tview_free(&v);
                return hg_err(err, HG_STATUS_UNSUPPORTED, "trainer: quantized weights cannot be trained");
            }
            copy_matrix(dst[k], w[k]);
        }
    }
    hg_tview_free(&v);
    return HG_OK;
}

/* ---- an hg_model over the parameters -------------------------------------------------------------- */

static hg_tensor f32_tensor(const float *p, int64_t rows, int64_t cols) {
    hg_tensor t = {.dtype = HG_DTYPE_F32, .n_dims = 2, .ne = {rows, cols, 1, 1}, .data = p,
                   .nbytes = (size_t)(rows * cols) * sizeof(float)};
    return t;
}

hg_status hg_tparams_model_view(const hg_tlayout *L, const float *params, hg_model **out, hg_error *err) {
    const hg_config *c = &L->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size, V = c->vocab_size;
    hg_tview v;
    /* the view only reads through these pointers; hg_model holds const pointers */
    hg_status st = hg_tview_init(&v, L, (float *)(uintptr_t)params, err);
    if (st) return st;
    hg_model *m = hg_calloc(1, sizeof *m);
    if (!m) {
        hg_tview_free(&v);
        return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    }
    const int64_t nl = c->n_layers_prelude + c->n_layers_core + c->n_layers_coda;
    m->cfg = *c;
    m->path = hg_strdup("(trainer parameters)");
    m->layers = hg_calloc((size_t)nl, sizeof *m->layers);
    if (!m->path || !m->layers) {
        hg_tview_free(&v);
        hg_model_free(m);
        return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    }
    m->wte = f32_tensor(v.wte, V, h);
    m->lm_head = m->wte;
    m->adapter = f32_tensor(v.adapter, h, 2 * h);
    m->ln_f = v.ln_f;
    for (int64_t l = 0; l < nl; l++) {
        const hg_tlayer *s = &v.layers[l];
        hg_layer *d = &m->layers[l];
        for (int k = 0; k < 4; k++) d->norm[k] = s->norm[k];
        d->qk_bias = s->qk_bias;
        d->wqkv = f32_tensor(s->wqkv, 3 * h, h);
        d->attn_proj = f32_tensor(s->attn_proj, h, h);
        d->fc = f32_tensor(s->fc, 2 * I, h);
        d->mlp_proj = f32_tensor(s->mlp_proj, h, I);
    }
    m->n_params = L->n_params;
    m->n_bytes = L->n_params * 4;
    hg_tview_free(&v);
    *out = m;
    return HG_OK;
}
