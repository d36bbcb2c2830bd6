/*
 * test_schema.c — the tensor schema (src/model/schema.h) against real files, and format detection:
 *   - walking Huginn's table for the golden tiny checkpoint's config gives exactly the tensors its
 *     safetensors file holds (every HF name found with the table's shape, nothing left over but the
 *     ignored names) and the loaded model's bindings have those shapes;
 *   - the GGUF exported from it holds exactly the table's GGUF names, in table order, with the
 *     reversed shapes; the same file renamed without `.gguf` loads through its magic bytes to the
 *     same config and weights, and a file that is neither format is still refused;
 *   - the trainer's layout holds the table's HF names with the table's shapes;
 *   - the fused QKV rows follow (n_head + 2 n_kv_head) * head_dim (3h when K/V are not grouped).
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"
#include "io/gguf.h"
#include "model/model.h"
#include "model/schema.h"
#include "train/train.h"

#include <stdlib.h>
#include <string.h>

/* The name of the iterator's tensor in format f (checked to fit). */
static const char *name_of(const hg_schema_iter *it, hg_name_format f, char *buf, size_t n) {
    CHECK(hg_schema_name(it->s, it->c, it->part, it->layer, f, buf, n));
    return buf;
}

/* Walk the table for m's config: each present part's HF name is in m's files with the table's shape,
 * and m's binding of it has that shape; returns the number of (part, layer) tensors walked. */
static int64_t check_hf(const hg_model *m, const hg_schema *sc) {
    const hg_config *c = &m->cfg;
    int64_t n = 0;
    for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it);) {
        const hg_part *p = it.part;
        char name[256];
        name_of(&it, HG_NAMES_HF, name, sizeof name);
        const hg_st_tensor *t = NULL;
        for (int f = 0; f < m->n_files && !t; f++) t = hg_st_find(&m->files[f], name);
        CHECK_MSG(t != NULL, "%s not in the checkpoint", name);
        if (!t) continue;
        n++;
        CHECK_MSG(t->n_dims == p->n_dims, "%s: n_dims %d, table %d", name, t->n_dims, p->n_dims);
        for (int d = 0; d < p->n_dims && d < t->n_dims; d++)
            CHECK_MSG(t->shape[d] == hg_schema_dim(c, p->dims[d]), "%s: dim %d is %lld, table %lld", name, d,
                      (long long)t->shape[d], (long long)hg_schema_dim(c, p->dims[d]));
        CHECK(hg_schema_expects(sc, c, HG_NAMES_HF, name));
        const void *slot = hg_schema_cslot(m, p, it.layer);
        if (p->store == HG_STORE_MATRIX) {
            const hg_tensor *w = slot;
            CHECK_MSG(w->ne[0] == hg_schema_dim(c, p->dims[0]) && w->ne[1] == hg_schema_dim(c, p->dims[1]) &&
                          w->data == t->data,
                      "%s: bound as [%lld,%lld]", name, (long long)w->ne[0], (long long)w->ne[1]);
        } else {
            const float *v;
            memcpy(&v, slot, sizeof v);
            CHECK_MSG(v != NULL, "%s: vector not bound", name);
        }
    }
    return n;
}

static void test_hf(const hg_model *m, const hg_schema *sc) {
    const int64_t walked = check_hf(m, sc);
    int64_t stored = 0;
    for (int f = 0; f < m->n_files; f++)
        for (int64_t i = 0; i < m->files[f].n_tensors; i++) {
            const char *nm = m->files[f].tensors[i].name;
            CHECK_MSG(hg_schema_expects(sc, &m->cfg, HG_NAMES_HF, nm), "%s not in the table", nm);
            bool tied_head = false; /* a stored head the tied model replaces by the embedding */
            for (int k = 0; k < sc->n_parts; k++)
                tied_head |= sc->parts[k].when == HG_WHEN_UNTIED && m->cfg.tie_embeddings && !strcmp(nm, sc->parts[k].hf);
            stored += !hg_schema_ignored(sc, HG_NAMES_HF, nm) && !tied_head;
        }
    CHECK_MSG(walked == stored, "table walks %lld tensors, checkpoint stores %lld", (long long)walked,
              (long long)stored);
    CHECK(!hg_schema_expects(sc, &m->cfg, HG_NAMES_HF, "transformer.prelude.99.norm_1.weight"));
    CHECK(!hg_schema_expects(sc, &m->cfg, HG_NAMES_HF, "transformer.core_block.0.norm_9.weight"));
    CHECK(!hg_schema_expects(sc, &m->cfg, HG_NAMES_GGUF, "blk.-1.attn_norm.weight"));
}

/* The exported GGUF holds the table's GGUF names in table order with reversed shapes. */
static void test_gguf_names(const hg_model *m, const hg_schema *sc, const char *path) {
    hg_gguf_file g;
    hg_error err = {0};
    CHECK_MSG(hg_gguf_open(path, true, &g, &err) == HG_OK, "%s", err.msg);
    const hg_config *c = &m->cfg;
    int64_t ti = 0;
    char buf[256];
    for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it); ti++) {
        const char *name = name_of(&it, HG_NAMES_GGUF, buf, sizeof buf);
        const hg_part *p = it.part;
        CHECK_MSG(ti < g.n_tensors && !strcmp(g.tensors[ti].name, name), "tensor %lld: want %s", (long long)ti, name);
        if (ti < g.n_tensors) {
            const hg_gguf_tensor *t = &g.tensors[ti];
            CHECK(t->n_dims == p->n_dims);
            for (int d = 0; d < p->n_dims; d++)
                CHECK_MSG(t->ne[d] == hg_schema_dim(c, p->dims[p->n_dims - 1 - d]), "%s: ne[%d]", name, d);
        }
    }
    CHECK_MSG(ti == g.n_tensors, "table %lld tensors, file %lld", (long long)ti, (long long)g.n_tensors);
    hg_gguf_close(&g);
}

static bool copy_file(const char *from, const char *to) {
    size_t len = 0;
    void *data = hg_read_file(from, &len);
    FILE *f = data ? fopen(to, "wb") : NULL;
    const bool ok = f && fwrite(data, 1, len, f) == len;
    if (f) fclose(f);
    free(data);
    return ok;
}

/* A GGUF without the suffix loads by its magic to the same model; other files are still refused. */
static void test_magic(const hg_model *hf, const char *gguf, const char *dir) {
    char plain[4096], junk[4096];
    snprintf(plain, sizeof plain, "%s/tiny-model.bin", dir);
    snprintf(junk, sizeof junk, "%s/not-a-model.bin", dir);
    CHECK(copy_file(gguf, plain));
    hg_model *m = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_model_load(plain, NULL, &m, &err) == HG_OK, "load %s: %s", plain, err.msg);
    if (m) {
        CHECK(m->gguf != NULL && m->n_files == 0);
        CHECK(!memcmp(&m->cfg, &hf->cfg, offsetof(hg_config, rope_base)));
        CHECK(m->wte.dtype == hf->wte.dtype && m->wte.nbytes == hf->wte.nbytes &&
              !memcmp(m->wte.data, hf->wte.data, hf->wte.nbytes));
        CHECK(m->layers[1].qk_bias && !memcmp(m->layers[1].qk_bias, hf->layers[1].qk_bias, 2 * (size_t)hf->cfg.n_embd * sizeof(float)));
        CHECK(m->n_params == hf->n_params);
        hg_model_free(m);
    }
    FILE *f = fopen(junk, "wb");
    CHECK(f && fputs("GGUX this is not a model\n", f) >= 0);
    if (f) fclose(f);
    m = NULL;
    CHECK(hg_model_load(junk, NULL, &m, &err) == HG_STATUS_BAD_ARG && !m);
    CHECK_MSG(strstr(err.msg, "a model is a Hugging Face directory or a .gguf file"), "%s", err.msg);
}

/* The trainer's layout holds the table's HF names and shapes (its order is the table's trainer order). */
static void test_trainer(const hg_config *c, const hg_schema *sc) {
    hg_tlayout L;
    hg_error err = {0};
    CHECK_MSG(hg_tlayout_init(&L, c, &err) == HG_OK, "%s", err.msg);
    int64_t n = 0;
    for (hg_schema_iter it = hg_schema_begin(sc, c); hg_schema_next(&it);) {
        char name[256];
        const int64_t i = hg_tlayout_find(&L, name_of(&it, HG_NAMES_HF, name, sizeof name));
        CHECK_MSG(i >= 0, "%s not in the trainer's layout", name);
        if (i < 0) continue;
        n++;
        CHECK(L.t[i].n_dims == it.part->n_dims && L.t[i].n == hg_schema_numel(c, it.part));
    }
    CHECK(n == L.n_tensors);
    /* the layout's order: wte, prelude layers, adapter, core and coda layers, ln_f; per layer Wqkv first */
    CHECK(L.n_tensors > 2 && !strcmp(L.t[0].name, "transformer.wte.weight") &&
          !strcmp(L.t[1].name, "transformer.prelude.0.attn.Wqkv.weight") &&
          !strcmp(L.t[L.n_tensors - 1].name, "transformer.ln_f.weight"));
    hg_tlayout_free(&L);
}

static void test_dims(const hg_config *c) {
    CHECK(hg_schema_dim(c, HG_SD_QKV) == 3 * c->n_embd);
    CHECK(hg_schema_dim(c, HG_SD_Q) == c->n_embd);
    hg_config g = *c;
    g.n_kv_head = c->n_head / 2; /* grouped K/V: narrower fused rows */
    CHECK(hg_schema_dim(&g, HG_SD_QKV) == (c->n_head + 2 * g.n_kv_head) * c->head_dim);
    CHECK(hg_schema_for((hg_arch)HG_ARCH_COUNT) == NULL);
    /* the parameter count walks the table: Huginn-0125's closed form (tied, with the q/k bias) */
    const hg_config big = hg_config_huginn_0125();
    const int64_t h = big.n_embd, I = big.intermediate_size, V = big.vocab_size;
    const int64_t per = 4 * h + (big.qk_bias ? 2 * h : 0) + 4 * h * h + 3 * I * h;
    const int64_t layers = big.n_layers_prelude + big.n_layers_core + big.n_layers_coda;
    CHECK(hg_config_n_params(&big) == layers * per + V * h + 2 * h * h + h + (big.tie_embeddings ? 0 : V * h));
}

int main(void) {
    const char *dir = hg_tmp_dir("test_schema");
    hg_model *m = NULL;
    hg_error err = {0};
    const char *tiny = hg_data_path("golden_model/tiny");
    CHECK_MSG(hg_model_load(tiny, NULL, &m, &err) == HG_OK, "load %s: %s", tiny, err.msg);
    const hg_schema *sc = m ? hg_schema_for(m->cfg.arch) : NULL;
    CHECK(sc != NULL);
    if (m && sc) {
        CHECK(m->cfg.qk_bias && m->cfg.tie_embeddings); /* the golden checkpoint has the optional bias */
        test_hf(m, sc);
        char gguf[4096];
        snprintf(gguf, sizeof gguf, "%s/tiny.gguf", dir);
        hg_gguf_export_params p = {.out_dtype = -1, .no_tokenizer = true};
        CHECK_MSG(hg_model_export_gguf(m, gguf, &p, &err) == HG_OK, "export: %s", err.msg);
        test_gguf_names(m, sc, gguf);
        test_magic(m, gguf, dir);
        test_trainer(&m->cfg, sc);
        test_dims(&m->cfg);
    }
    hg_model_free(m);
    return hg_test_finish("test_schema");
}
