/*
 * params.c — the trainer's parameter set: a table of named tensors (official state_dict keys and
 * shapes, docs/forward-pass.md "Tensors") over one flat f32 buffer, views that give each layer's pointers, the
 * "takase" random initialisation (docs/training.md "Initialization"), conversion from a loaded model, and an
 * hg_model that points into the buffer so the inference engine can run the weights being trained.
 *
 * One flat buffer (rather than one allocation per tensor) makes the gradient all-reduce, the global
 * gradient norm, checkpoint writing and the optimizer plain loops over n_params floats; the tied
 * embedding exists once, so it is counted once in the norm and decayed once, as in the reference.
 * The tensors, their shapes, groups and order come from the architecture's schema (model/schema.h),
 * which the loaders and writers share.
 */
#include "train/train.h"
#include "kernels/kernels.h"
#include "model/schema.h"

#include <math.h>
#include <stdio.h>

/* ---- layout ------------------------------------------------------------------------------------- */

static void add(hg_tlayout *L, const hg_schema *sc, const hg_part *p, int64_t layer) {
    const hg_config *c = &L->cfg;
    hg_tinfo *t = &L->t[L->n_tensors++];
    const bool fits = hg_schema_name(sc, c, p, layer, HG_NAMES_HF, t->name, sizeof t->name);
    HG_ASSERT(fits); /* the config's sizes are bounded above, so layer numbers are short */
    t->n_dims = p->n_dims;
    t->n = 1;
    for (int i = 0; i < 4; i++) {
        t->shape[i] = i < p->n_dims ? hg_schema_dim(c, p->dims[i]) : 1;
        t->n *= t->shape[i];
    }
    t->offset = L->n_params;
    t->group = p->group == HG_GROUP_EMBED ? HG_TGROUP_EMBED : p->group == HG_GROUP_NORM ? HG_TGROUP_NORM : HG_TGROUP_WEIGHT;
    L->n_params += t->n;
}

/* The global parts used at `place` (before the prelude, before the core block, after the coda). */
static void add_globals(hg_tlayout *L, const hg_schema *sc, hg_part_place place) {
    for (int k = 0; k < sc->n_parts; k++)
        if (sc->parts[k].place == place && hg_schema_has(&L->cfg, &sc->parts[k])) add(L, sc, &sc->parts[k], 0);
}

/* One layer's parts in the schema's trainer order. */
static void add_layer(hg_tlayout *L, const hg_schema *sc, int64_t layer) {
    for (int j = 0; j < sc->n_train_layer; j++) {
        const hg_part *p = &sc->parts[sc->train_layer[j]];
        if (hg_schema_has(&L->cfg, p)) add(L, sc, p, layer);
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
    /* the backward passes exist for Huginn's sandwich block and the retrofit Llama and OLMo-2 blocks
     * (step.c); the adapter, the head and the loss are shared */
    if (c->arch != HG_ARCH_HUGINN && !hg_arch_is_retrofit(c->arch))
        return hg_err(err, HG_STATUS_UNSUPPORTED,
                      "trainer: the %s architecture has no backward pass (huginn, retrofit-llama and retrofit-olmo2 train)",
                      hg_arch_name(c->arch));
    if (c->n_embd > (1 << 16) || c->intermediate_size > (1 << 18) || c->vocab_size > (1 << 22))
        return hg_err(err, HG_STATUS_LIMIT, "trainer: model too large for an f32 CPU trainer");
    L->cfg = *c;
    if (L->cfg.n_kv_head == 0) L->cfg.n_kv_head = c->n_head; /* configs built in code may leave it unset */
    if (L->cfg.n_kv_head < 0 || L->cfg.n_kv_head > c->n_head || c->n_head % L->cfg.n_kv_head)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: %lld KV heads do not divide %lld heads",
                      (long long)L->cfg.n_kv_head, (long long)c->n_head);
    if (c->arch == HG_ARCH_HUGINN && L->cfg.n_kv_head != c->n_head)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "trainer: Huginn's sandwich block trains with as many KV heads as heads");
    if (hg_arch_is_retrofit(c->arch) && c->qk_bias)
        return hg_err(err, HG_STATUS_UNSUPPORTED, "trainer: retrofit models have no q/k bias");
    const hg_schema *sc = hg_schema_for(c->arch);
    if (!sc) return hg_err(err, HG_STATUS_UNSUPPORTED, "trainer: no tensor schema for architecture %s", hg_arch_name(c->arch));
    /* the order is the parameters' order in checkpoints and optimizer files: inputs, prelude layers,
     * the adapter, core block and coda layers, the outputs */
    const int64_t nl = hg_schema_n_layers(c), P = c->n_layers_prelude;
    L->t = hg_calloc((size_t)(sc->n_parts * (nl + 1)), sizeof *L->t);
    if (!L->t) return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    add_globals(L, sc, HG_PLACE_INPUT);
    for (int64_t li = 0; li < P; li++) add_layer(L, sc, li);
    add_globals(L, sc, HG_PLACE_CORE_INPUT);
    for (int64_t li = P; li < nl; li++) add_layer(L, sc, li);
    add_globals(L, sc, HG_PLACE_OUTPUT);
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
    const int n_norms = hg_tlayer_norms(c);
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
        for (int k = 0; k < 4; k++) y->norm[k] = k < n_norms ? buf + L->t[ti++].offset : NULL;
        const bool qk_norms = c->arch == HG_ARCH_RETROFIT_OLMO; /* after the norms, schema.c's trainer order */
        y->q_norm = qk_norms ? buf + L->t[ti++].offset : NULL;
        y->k_norm = qk_norms ? buf + L->t[ti++].offset : NULL;
    }
    v->ln_f = buf + L->t[ti++].offset;
    v->lm_head = c->tie_embeddings ? NULL : buf + L->t[ti++].offset;
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

/* The layout's tensor of part p (of global layer `layer`), or -1. */
static int64_t find_part(const hg_tlayout *L, const hg_schema *sc, const hg_part *p, int64_t layer) {
    char name[sizeof L->t[0].name];
    return hg_schema_name(sc, &L->cfg, p, layer, HG_NAMES_HF, name, sizeof name) ? hg_tlayout_find(L, name) : -1;
}

hg_status hg_tparams_from_model(const hg_tlayout *L, const hg_model *m, float *params, hg_error *err) {
    const hg_config *c = &m->cfg;
    const hg_schema *sc = hg_schema_for(L->cfg.arch);
    if (c->n_embd != L->cfg.n_embd || c->intermediate_size != L->cfg.intermediate_size ||
        c->vocab_size != L->cfg.vocab_size || c->qk_bias != L->cfg.qk_bias || c->arch != L->cfg.arch ||
        hg_model_n_layers(m) != L->cfg.n_layers_prelude + L->cfg.n_layers_core + L->cfg.n_layers_coda)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: the model's config does not match the parameter layout");
    /* every part the layout holds, from the model's binding of it (schema.h: slot) */
    for (hg_schema_iter it = hg_schema_begin(sc, &L->cfg); hg_schema_next(&it);) {
        const int64_t ti = find_part(L, sc, it.part, it.layer);
        if (ti < 0) continue; /* not in this layout */
        const void *slot = hg_schema_cslot(m, it.part, it.layer);
        float *dst = params + L->t[ti].offset;
        if (it.part->store == HG_STORE_VECTOR) {
            const float *v;
            memcpy(&v, slot, sizeof v);
            memcpy(dst, v, (size_t)L->t[ti].n * sizeof(float));
            continue;
        }
        const hg_tensor *w = slot;
        if (w->dtype != HG_DTYPE_F32 && w->dtype != HG_DTYPE_BF16 && w->dtype != HG_DTYPE_F16)
            return hg_err(err, HG_STATUS_UNSUPPORTED, "trainer: quantized weights cannot be trained; use an f32/bf16 model");
        copy_matrix(dst, w);
    }
    return HG_OK;
}

/* ---- an hg_model over the parameters -------------------------------------------------------------- */

hg_status hg_tparams_model_view(const hg_tlayout *L, const float *params, hg_model **out, hg_error *err) {
    const hg_config *c = &L->cfg;
    const hg_schema *sc = hg_schema_for(c->arch);
    const int64_t nl = hg_schema_n_layers(c);
    hg_model *m = hg_calloc(1, sizeof *m);
    if (!m) return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    m->cfg = *c;
    m->path = hg_strdup("(trainer parameters)");
    m->layers = hg_calloc((size_t)nl, sizeof *m->layers);
    if (!m->path || !m->layers) {
        hg_model_free(m);
        return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    }
    /* each part points into params: an F32 matrix or the f32 vector itself (no copy) */
    for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it);) {
        const int64_t ti = find_part(L, sc, it.part, it.layer);
        if (ti < 0) continue;
        void *slot = hg_schema_slot(m, it.part, it.layer);
        const hg_tinfo *t = &L->t[ti];
        const float *data = params + t->offset;
        if (it.part->store == HG_STORE_VECTOR) {
            memcpy(slot, &data, sizeof data);
            continue;
        }
        const hg_tensor w = {.dtype = HG_DTYPE_F32, .n_dims = 2, .ne = {t->shape[0], t->shape[1], 1, 1},
                             .data = data, .nbytes = (size_t)t->n * sizeof(float)};
        memcpy(slot, &w, sizeof w);
    }
    for (int k = 0; k < sc->n_parts; k++) /* the tied head is the embedding */
        if (sc->parts[k].tied_to >= 0 && c->tie_embeddings)
            memcpy(hg_schema_slot(m, &sc->parts[k], -1), hg_schema_slot(m, &sc->parts[sc->parts[k].tied_to], -1),
                   sizeof(hg_tensor));
    m->n_params = L->n_params;
    m->n_bytes = L->n_params * 4;
    *out = m;
    return HG_OK;
}
