/*
 * test_ouro_layouts.c — Ouro checkpoints as the held-out ones may come, each against an F32 twin
 * holding exactly the same values, so the comparison is bit-exact (compute is f32 either way):
 *   - BF16 weights in two safetensors shards with an index == F32 weights rounded through bf16
 *     (BF16 is widened exactly: the upper 16 bits);
 *   - a GGUF written by the exporter (hg_model_export_gguf, `huginn convert`) == the checkpoint it came
 *     from, every hyper-parameter read back from its ouro.* metadata;
 *   - a checkpoint missing the exit gate or with a wrongly shaped projection is a clear load error.
 * Outputs compared: every-loop logits, per-loop states and gate logits (hg_ctx_forward_gate).
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"
#include "base/base.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SRC "golden_family/ouro-tiny"
enum { L = 4, T = 9 };

static hg_st_file g_src;

typedef struct variant {
    int mode;        /* 0 F32 copy, 1 BF16 storage, 2 F32 rounded through bf16 */
    const int64_t *idx;
    int64_t n;
    const char *skip; /* a tensor left out, or NULL */
} variant;

static bool fill(void *user, int64_t i, uint8_t *buf, size_t nbytes) {
    variant *v = user;
    (void)nbytes;
    const hg_st_tensor *t = &g_src.tensors[v->idx[i]];
    const float *x = (const float *)t->data;
    const size_t n = t->nbytes / 4;
    for (size_t k = 0; k < n; k++) {
        float f = x[k];
        if (v->mode == 1) {
            const uint16_t b = hg_f32_to_bf16(f);
            memcpy(buf + 2 * k, &b, 2);
            continue;
        }
        if (v->mode == 2) f = hg_bf16_to_f32(hg_f32_to_bf16(f));
        memcpy(buf + 4 * k, &f, 4);
    }
    return true;
}

static void copy_config(const char *dir) {
    char p[4200];
    size_t n = 0;
    char *cfg = hg_read_file(hg_data_path(SRC "/config.json"), &n);
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "wb");
    if (f && cfg) fwrite(cfg, 1, n, f);
    if (f) fclose(f);
    free(cfg);
}

/* Write the tensors idx[0..n) of the source into `path` as v->mode says. */
static void write_file(const char *path, variant *v) {
    hg_st_entry es[256];
    for (int64_t i = 0; i < v->n; i++) {
        const hg_st_tensor *t = &g_src.tensors[v->idx[i]];
        es[i].name = t->name;
        es[i].dtype = v->mode == 1 ? HG_ST_BF16 : HG_ST_F32;
        es[i].n_dims = t->n_dims;
        memcpy(es[i].shape, t->shape, sizeof t->shape);
    }
    hg_error err = {0};
    CHECK_MSG(hg_st_write(path, es, v->n, fill, v, &err) == HG_OK, "%s", err.msg);
}

/* A single-file checkpoint in dir (all tensors but v->skip). */
static void write_single(const char *dir, int mode, const char *skip) {
    mkdir(dir, 0755);
    copy_config(dir);
    int64_t idx[256], n = 0;
    for (int64_t i = 0; i < g_src.n_tensors; i++)
        if (!skip || strcmp(g_src.tensors[i].name, skip)) idx[n++] = i;
    variant v = {.mode = mode, .idx = idx, .n = n};
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    write_file(p, &v);
}

/* Two BF16 shards and an index. */
static void write_sharded_bf16(const char *dir) {
    mkdir(dir, 0755);
    copy_config(dir);
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    FILE *ix = fopen(p, "wb");
    if (!ix) return;
    fputs("{\"metadata\":{\"total_size\":0},\"weight_map\":{", ix);
    for (int s = 0; s < 2; s++) {
        int64_t idx[256], n = 0;
        for (int64_t i = s; i < g_src.n_tensors; i += 2) idx[n++] = i;
        char name[64];
        snprintf(name, sizeof name, "model-%05d-of-00002.safetensors", s + 1);
        for (int64_t i = 0; i < n; i++) fprintf(ix, "%s\"%s\":\"%s\"", (s || i) ? "," : "", g_src.tensors[idx[i]].name, name);
        variant v = {.mode = 1, .idx = idx, .n = n};
        snprintf(p, sizeof p, "%s/%s", dir, name);
        write_file(p, &v);
    }
    fputs("}}", ix);
    fclose(ix);
}

typedef struct outputs {
    float *logits, *hidden, *gates;
    int64_t V, h;
} outputs;

static bool run(const char *path, outputs *o) {
    hg_model *m = NULL;
    hg_error err = {0};
    memset(o, 0, sizeof *o);
    if (hg_model_load(path, NULL, &m, &err)) {
        CHECK_MSG(0, "load %s: %s", path, err.msg);
        return false;
    }
    const hg_config *c = hg_model_config(m);
    CHECK(c->arch == HG_ARCH_OURO && c->mean_recurrence == 4 && c->early_exit_threshold == 1.0 && c->eos_token_id == 0);
    o->V = c->vocab_size, o->h = c->n_embd;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 16;
    cp.max_steps = L;
    hg_ctx *ctx = NULL;
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK);
    o->logits = calloc((size_t)(T * o->V), sizeof(float));
    o->hidden = calloc((size_t)(L * T * o->h), sizeof(float));
    o->gates = calloc((size_t)(L * T), sizeof(float));
    const int32_t ids[T] = {396, 348, 154, 121, 111, 23, 52, 386, 164};
    hg_gate_params gp = hg_gate_default_params();
    gp.n_loops = L;
    hg_gate_outputs out = {.logits = o->logits, .step_hidden = o->hidden, .gates = o->gates};
    const bool ok = ctx && hg_ctx_forward_gate(ctx, ids, T, 0, &gp, &out, &err) == HG_OK;
    CHECK_MSG(ok, "forward %s: %s", path, err.msg);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return ok;
}

static void same(const char *label, const outputs *a, const outputs *b) {
    const int64_t n[3] = {T * a->V, L * T * a->h, L * T};
    const float *x[3] = {a->logits, a->hidden, a->gates}, *y[3] = {b->logits, b->hidden, b->gates};
    int64_t bad = 0;
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; i < n[k]; i++) bad += x[k][i] != y[k][i];
    CHECK_MSG(bad == 0, "%s: %lld values differ", label, (long long)bad);
    if (!bad) fprintf(stderr, "  ok %s: bit-identical (logits, per-loop states, gates)\n", label);
}

static void free_out(outputs *o) { free(o->logits), free(o->hidden), free(o->gates); }

int main(void) {
    const char *tmp = hg_tmp_dir("ouro_layouts");
    hg_error err = {0};
    CHECK(hg_st_open(hg_data_path(SRC "/model.safetensors"), true, &g_src, &err) == HG_OK);
    char d[6][4096];
    for (int i = 0; i < 6; i++) snprintf(d[i], sizeof d[i], "%s/v%d", tmp, i);
    write_single(d[0], 2, NULL); /* F32 rounded through bf16 */
    write_sharded_bf16(d[1]);    /* BF16, two shards + index */
    outputs o0, o1, os, og;
    if (run(d[0], &o0) && run(d[1], &o1)) same("BF16 in 2 shards == F32 of the same values", &o1, &o0);

    /* GGUF round trip of the source checkpoint */
    hg_model *m = NULL;
    char gp[4200];
    snprintf(gp, sizeof gp, "%s/ouro.gguf", tmp);
    CHECK(hg_model_load(hg_data_path(SRC), NULL, &m, &err) == HG_OK);
    hg_gguf_export_params xp = {.out_dtype = -1, .no_tokenizer = true};
    CHECK_MSG(m && hg_model_export_gguf(m, gp, &xp, &err) == HG_OK, "export: %s", err.msg);
    hg_model_free(m);
    if (run(hg_data_path(SRC), &os) && run(gp, &og)) same("GGUF written by the exporter == the safetensors", &og, &os);

    /* missing the gate's bias; a k projection of the wrong shape (from a config with 2 KV heads) */
    write_single(d[2], 0, "model.early_exit_gate.bias");
    CHECK(hg_model_load(d[2], NULL, &m, &err) == HG_STATUS_BAD_FILE && strstr(err.msg, "model.early_exit_gate.bias missing"));
    write_single(d[3], 0, NULL);
    {
        char p[4200];
        size_t n = 0;
        snprintf(p, sizeof p, "%s/config.json", d[3]);
        char *cfg = hg_read_file(p, &n);
        char *at = cfg ? strstr(cfg, "\"num_key_value_heads\": 4") : NULL;
        CHECK(at != NULL);
        if (at) {
            at[strlen("\"num_key_value_heads\": ")] = '2';
            FILE *f = fopen(p, "wb");
            if (f) fwrite(cfg, 1, n, f), fclose(f);
        }
        free(cfg);
        CHECK(hg_model_load(d[3], NULL, &m, &err) == HG_STATUS_BAD_FILE && strstr(err.msg, "k_proj"));
        fprintf(stderr, "  (message: %s)\n", err.msg);
    }
    free_out(&o0), free_out(&o1), free_out(&os), free_out(&og);
    hg_st_close(&g_src);
    return hg_test_finish("test_ouro_layouts");
}
