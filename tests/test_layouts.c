/*
 * test_layouts.c — checkpoint layouts beyond the three goldens, as held-out acceptance checkpoints
 * may come: F16 storage, any number of shards, an untied lm_head. Built from the golden `tiny`
 * checkpoint, each variant is checked against an F32 twin holding exactly the same values, so the
 * comparison is bit-exact (compute is f32 either way):
 *   - F16 weights == F32 weights rounded through f16;
 *   - 3 shards with an index == the single file;
 *   - tie_embeddings false with lm_head = wte == tied; with lm_head = 2·wte the logits double exactly.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static hg_st_file g_src;
static const char *g_tmp;

typedef struct variant {
    int mode;      /* 0 copy as F32, 1 store F16, 2 F32 rounded through f16, 3 add lm_head (scale) */
    float lm_scale;
    const int64_t *pick; /* indices of tensors to write (NULL = all but freqs_cis) */
    int64_t n_pick;
    int64_t idx[256];
    int64_t n;
} variant;

static bool fill(void *user, int64_t i, uint8_t *buf, size_t nbytes) {
    variant *v = user;
    (void)nbytes;
    const hg_st_tensor *t = &g_src.tensors[v->idx[i] < 0 ? -v->idx[i] - 1 : v->idx[i]];
    const float *x = (const float *)t->data;
    size_t n = t->nbytes / 4;
    for (size_t k = 0; k < n; k++) {
        float f = x[k];
        if (v->mode == 1) {
            uint16_t h = hg_f32_to_f16(f);
            memcpy(buf + 2 * k, &h, 2);
            continue;
        }
        if (v->mode == 2) f = hg_f16_to_f32(hg_f32_to_f16(f));
        if (v->idx[i] < 0) f *= v->lm_scale; /* the synthetic lm_head */
        memcpy(buf + 4 * k, &f, 4);
    }
    return true;
}

static void write_model(const char *name, variant *v, const char *config_from, const char *config_to) {
    char dir[4096], p[4200];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
    mkdir(dir, 0755);
    size_t n;
    char *cfg = hg_read_file(hg_data_path("golden_model/tiny/config.json"), &n);
    char *at = config_from ? strstr(cfg, config_from) : NULL;
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "wb");
    if (at) {
        fwrite(cfg, 1, (size_t)(at - cfg), f);
        fputs(config_to, f);
        fputs(at + strlen(config_from), f);
    } else {
        fputs(cfg, f);
    }
    fclose(f);
    free(cfg);
    hg_st_entry es[256];
    for (int64_t i = 0; i < v->n; i++) {
        const hg_st_tensor *t = &g_src.tensors[v->idx[i] < 0 ? -v->idx[i] - 1 : v->idx[i]];
        es[i].name = v->idx[i] < 0 ? "lm_head.weight" : t->name;
        es[i].dtype = v->mode == 1 ? HG_ST_F16 : HG_ST_F32;
        es[i].n_dims = t->n_dims;
        memcpy(es[i].shape, t->shape, sizeof t->shape);
    }
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    hg_error err = {0};
    CHECK_MSG(hg_st_write(p, es, v->n, fill, v, &err) == HG_OK, "%s", err.msg);
}

static void all_tensors(variant *v) {
    v->n = 0;
    for (int64_t i = 0; i < g_src.n_tensors; i++)
        if (strcmp(g_src.tensors[i].name, "freqs_cis") && strcmp(g_src.tensors[i].name, "lm_head.weight"))
            v->idx[v->n++] = i;
}

static int64_t find(const char *name) {
    for (int64_t i = 0; i < g_src.n_tensors; i++)
        if (!strcmp(g_src.tensors[i].name, name)) return i;
    return -1;
}

static float *logits_of(const char *dir, int64_t *V) {
    hg_model *m = NULL;
    hg_error err = {0};
    if (hg_model_load(dir, NULL, &m, &err)) {
        CHECK_MSG(0, "load %s: %s", dir, err.msg);
        return NULL;
    }
    int32_t ids[9] = {396, 348, 154, 121, 111, 23, 52, 386, 164};
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 16;
    cp.max_steps = 4;
    hg_ctx *ctx = NULL;
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK);
    *V = hg_model_config(m)->vocab_size;
    float *lg = malloc((size_t)(9 * *V) * sizeof(float));
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = 4;
    CHECK_MSG(hg_ctx_forward(ctx, ids, 9, 0, &fp, NULL, lg, &err) == HG_OK, "%s", err.msg);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return lg;
}

static void same(const char *label, const float *a, const float *b, int64_t n, float scale_b) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += a[i] != b[i] * scale_b;
    CHECK_MSG(bad == 0, "%s: %lld of %lld logits differ", label, (long long)bad, (long long)n);
    if (!bad) fprintf(stderr, "  ok %s: bit-identical (%lld logits)\n", label, (long long)n);
}

int main(void) {
    g_tmp = hg_tmp_dir("layouts");
    hg_error err = {0};
    CHECK(hg_st_open(hg_data_path("golden_model/tiny/model.safetensors"), true, &g_src, &err) == HG_OK);
    char d[8][4096];
    for (int i = 0; i < 8; i++) snprintf(d[i], sizeof d[i], "%s/v%d", g_tmp, i);
    variant v = {0};
    all_tensors(&v);
    v.mode = 1;
    write_model("v1", &v, NULL, NULL); /* F16 */
    v.mode = 2;
    write_model("v2", &v, NULL, NULL); /* F32 rounded through f16 */
    v.mode = 0;
    write_model("v0", &v, NULL, NULL); /* F32, tied, no lm_head stored */
    int64_t V = 0;
    float *l0 = logits_of(d[0], &V), *l1 = logits_of(d[1], &V), *l2 = logits_of(d[2], &V);
    if (l1 && l2) same("F16 storage == F32 of the same values", l1, l2, 9 * V, 1.0f);

    /* untied: lm_head = wte (same logits), lm_head = 2 wte (exactly doubled logits) */
    all_tensors(&v);
    v.idx[v.n++] = -find("transformer.wte.weight") - 1;
    v.mode = 0;
    v.lm_scale = 1.0f;
    write_model("v3", &v, "\"tie_embeddings\": true", "\"tie_embeddings\": false");
    v.lm_scale = 2.0f;
    write_model("v4", &v, "\"tie_embeddings\": true", "\"tie_embeddings\": false");
    float *l3 = logits_of(d[3], &V), *l4 = logits_of(d[4], &V);
    if (l0 && l3) same("untied lm_head = wte == tied", l3, l0, 9 * V, 1.0f);
    if (l0 && l4) same("untied lm_head = 2 wte == 2 x tied logits", l4, l0, 9 * V, 2.0f);
    /* untied but no lm_head stored: a clear error */
    all_tensors(&v);
    write_model("v5", &v, "\"tie_embeddings\": true", "\"tie_embeddings\": false");
    {
        hg_model *m = NULL;
        CHECK(hg_model_load(d[5], NULL, &m, &err) == HG_STATUS_BAD_FILE && strstr(err.msg, "lm_head.weight missing"));
    }

    /* 3 shards + index, from the v0 tensors */
    {
        char p[4200];
        snprintf(p, sizeof p, "%s/v6", g_tmp);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/v6/config.json", g_tmp);
        size_t n;
        char *cfg = hg_read_file(hg_data_path("golden_model/tiny/config.json"), &n);
        FILE *f = fopen(p, "wb");
        fwrite(cfg, 1, n, f);
        fclose(f);
        free(cfg);
        all_tensors(&v);
        int64_t all[256], n_all = v.n;
        memcpy(all, v.idx, sizeof all);
        snprintf(p, sizeof p, "%s/v6/model.safetensors.index.json", g_tmp);
        FILE *ix = fopen(p, "wb");
        fputs("{\"metadata\":{\"total_size\":0},\"weight_map\":{", ix);
        for (int s = 0; s < 3; s++) {
            v.n = 0;
            for (int64_t i = s; i < n_all; i += 3) v.idx[v.n++] = all[i];
            char name[64];
            snprintf(name, sizeof name, "v6/model-%05d-of-00003.safetensors", s + 1);
            hg_st_entry es[256];
            for (int64_t i = 0; i < v.n; i++) {
                const hg_st_tensor *t = &g_src.tensors[v.idx[i]];
                es[i].name = t->name, es[i].dtype = HG_ST_F32, es[i].n_dims = t->n_dims;
                memcpy(es[i].shape, t->shape, sizeof t->shape);
                fprintf(ix, "%s\"%s\":\"%s\"", (s || i) ? "," : "", t->name, name + 3);
            }
            snprintf(p, sizeof p, "%s/%s", g_tmp, name);
            CHECK(hg_st_write(p, es, v.n, fill, &v, &err) == HG_OK);
        }
        fputs("}}", ix);
        fclose(ix);
        float *l6 = logits_of(d[6], &V);
        if (l0 && l6) same("3 shards == one file", l6, l0, 9 * V, 1.0f);
        free(l6);
    }
    free(l0), free(l1), free(l2), free(l3), free(l4);
    hg_st_close(&g_src);
    return hg_test_finish("test_layouts");
}
