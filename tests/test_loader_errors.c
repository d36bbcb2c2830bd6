/*
 * test_loader_errors.c — bad input gets a clear error and a non-zero status, never a crash
 * (docs/conventions.md rule 6): truncated safetensors, broken or lying headers, missing / misshapen /
 * unexpected tensors, unknown dtypes, configs with missing or unsupported keys, broken shard indexes,
 * allocation failure at every allocation of the loader and of a context, bad ids and limits at run
 * time. Each case checks the status AND that the message names the problem. Run under ASan/UBSan
 * (build type Sanitize) this also proves nothing leaks or reads out of bounds.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void hg_alloc_fail_after(int64_t n); /* src/base/alloc.c, HG_TESTING builds */
void *hg_malloc_huge(size_t n);      /* src/base/alloc.c: the non-mmap loader's buffer */
void hg_free(void *p);

/* The huge-page buffer of the read path: 2 MiB-aligned, every byte usable, sizes that are not a
 * multiple of 2 MiB, and NULL (not a crash) when allocation fails. */
static void huge_buffer(void) {
    static const size_t sizes[] = {1, ((size_t)2 << 20) - 1, (size_t)2 << 20, ((size_t)3 << 20) + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = hg_malloc_huge(sizes[i]);
        CHECK_MSG(p && ((uintptr_t)p & (((uintptr_t)2 << 20) - 1)) == 0, "hg_malloc_huge(%zu) not 2 MiB-aligned", sizes[i]);
        if (!p) continue;
        memset(p, 0xa5, sizes[i]);
        CHECK(p[sizes[i] - 1] == 0xa5);
        hg_free(p);
    }
    hg_alloc_fail_after(0);
    void *q = hg_malloc_huge((size_t)4 << 20);
    hg_alloc_fail_after(-1);
    CHECK(q == NULL);
}

static const char *g_tmp;

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fwrite(data, 1, n, f);
    fclose(f);
}

static void copy_file(const char *src, const char *dst) {
    size_t n;
    char *d = hg_read_file(src, &n);
    if (!d) { perror(src); exit(2); }
    write_file(dst, d, n);
    free(d);
}

/* A model dir under tmp named `name` with tiny's config and a safetensors file whose header was
 * changed by `mutate` (NULL = unchanged); `data_cut` bytes removed from the end of the file. */
typedef void (*mutate_fn)(cJSON *hdr);

static const char *make_variant(const char *name, mutate_fn mutate, size_t data_cut, const char *raw_header) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
    mkdir(dir, 0755);
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    copy_file(hg_data_path("golden_model/tiny/config.json"), p);
    size_t n;
    unsigned char *st = hg_read_file(hg_data_path("golden_model/tiny/model.safetensors"), &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | st[i];
    char *hdr;
    if (raw_header) {
        hdr = strdup(raw_header);
    } else {
        cJSON *j = cJSON_ParseWithLength((char *)st + 8, hlen);
        if (mutate) mutate(j);
        hdr = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    size_t nh = strlen(hdr), nd = n - 8 - hlen - data_cut;
    unsigned char *out = malloc(8 + nh + nd);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)nh >> (8 * i));
    memcpy(out + 8, hdr, nh);
    memcpy(out + 8 + nh, st + 8 + hlen, nd);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    write_file(p, out, 8 + nh + nd);
    free(out), free(hdr), free(st);
    return dir;
}

static void expect_fail(const char *what, const char *dir, hg_status want, const char *needle) {
    hg_model *m = NULL;
    hg_error err = {0};
    hg_status st = hg_model_load(dir, NULL, &m, &err);
    CHECK_MSG(st == want, "%s: status %d (%s), want %d; message: %s", what, st, hg_status_str(st), want, err.msg);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message `%s` does not mention `%s`", what, err.msg, needle);
    CHECK(m == NULL);
    if (st == want) fprintf(stderr, "  ok %s: %s\n", what, err.msg);
    hg_model_free(m);
}

/* ---- header mutations ----------------------------------------------------------------------- */

static void drop_adapter(cJSON *h) { cJSON_DeleteItemFromObject(h, "transformer.adapter.weight"); }
static void bad_shape(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, "transformer.adapter.weight");
    cJSON *shape = cJSON_GetObjectItem(t, "shape");
    /* [64,128] -> [128,64]: same bytes, wrong shape */
    cJSON_ReplaceItemInArray(shape, 0, cJSON_CreateNumber(128));
    cJSON_ReplaceItemInArray(shape, 1, cJSON_CreateNumber(64));
}
static void bad_dtype(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, "transformer.ln_f.weight");
    cJSON_ReplaceItemInObject(t, "dtype", cJSON_CreateString("Q7_X"));
}
static void int_dtype(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, "transformer.ln_f.weight");
    cJSON_ReplaceItemInObject(t, "dtype", cJSON_CreateString("I32"));
}
static void lying_offsets(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, "transformer.ln_f.weight");
    cJSON *o = cJSON_GetObjectItem(t, "data_offsets");
    cJSON_ReplaceItemInArray(o, 0, cJSON_CreateNumber(1e12));
    cJSON_ReplaceItemInArray(o, 1, cJSON_CreateNumber(1e12 + 256));
}
static void short_span(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, "transformer.ln_f.weight");
    cJSON *o = cJSON_GetObjectItem(t, "data_offsets");
    double b = cJSON_GetArrayItem(o, 0)->valuedouble;
    cJSON_ReplaceItemInArray(o, 1, cJSON_CreateNumber(b + 4));
}
static void overlap(cJSON *h) {
    cJSON *a = cJSON_GetObjectItem(h, "transformer.ln_f.weight");
    cJSON *b = cJSON_GetObjectItem(h, "transformer.coda.0.norm_1.weight");
    cJSON_ReplaceItemInObject(a, "data_offsets", cJSON_Duplicate(cJSON_GetObjectItem(b, "data_offsets"), 1));
}
static void negative_dim(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, "transformer.ln_f.weight");
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(t, "shape"), 0, cJSON_CreateNumber(-64));
}
static void huge_dims(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, "transformer.ln_f.weight");
    cJSON *s = cJSON_CreateArray();
    for (int i = 0; i < 5; i++) cJSON_AddItemToArray(s, cJSON_CreateNumber(4294967296.0));
    cJSON_ReplaceItemInObject(t, "shape", s);
}
static void extra_tensor(cJSON *h) { /* a layer the config does not have */
    cJSON *t = cJSON_DetachItemFromObject(h, "transformer.ln_f.weight");
    cJSON_AddItemToObject(h, "transformer.prelude.7.norm_1.weight", t);
}

static void config_variant(const char *name, const char *from, const char *to, hg_status want, const char *needle) {
    const char *dir = make_variant(name, NULL, 0, NULL);
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    size_t n;
    char *c = hg_read_file(hg_data_path("golden_model/tiny/config.json"), &n);
    char *at = strstr(c, from);
    if (!at) { fprintf(stderr, "config_variant %s: `%s` not found\n", name, from); exit(2); }
    size_t nf = strlen(from), nt = strlen(to);
    char *out = malloc(n - nf + nt + 1);
    memcpy(out, c, (size_t)(at - c));
    memcpy(out + (at - c), to, nt);
    strcpy(out + (at - c) + nt, at + nf);
    write_file(p, out, strlen(out));
    free(c), free(out);
    expect_fail(name, dir, want, needle);
}

/* ---- run-time errors on a good model -------------------------------------------------------- */

static void runtime_errors(void) {
    hg_model *m = NULL;
    hg_error err = {0};
    CHECK(hg_model_load(golden_model_dir("tiny"), NULL, &m, &err) == HG_OK);
    if (!m) return;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 8;
    cp.max_steps = 2;
    hg_ctx *ctx = NULL;
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK);
    float logits[512 * 9];
    int32_t ids[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = 2;
    int32_t bad[2] = {1, 512};
    CHECK(hg_ctx_forward(ctx, bad, 2, 0, &fp, NULL, logits, &err) == HG_STATUS_BAD_INPUT);
    CHECK(strstr(err.msg, "512") != NULL);
    CHECK(hg_ctx_forward(ctx, ids, 9, 0, &fp, NULL, logits, &err) == HG_STATUS_LIMIT); /* 9 > n_ctx 8 */
    fp.n_steps = 3; /* cache sized for 2 iterations */
    CHECK(hg_ctx_forward(ctx, ids, 2, 0, &fp, NULL, logits, &err) == HG_STATUS_LIMIT);
    CHECK(strstr(err.msg, "iterations") != NULL);
    fp.n_steps = 1;
    fp.init_scale = NAN;
    CHECK(hg_ctx_forward(ctx, ids, 2, 0, &fp, NULL, logits, &err) == HG_STATUS_BAD_ARG);
    fp.init_scale = 0;
    CHECK(hg_ctx_forward(ctx, ids, 2, 5, &fp, NULL, logits, &err) == HG_STATUS_BAD_ARG); /* gap in positions */
    float s[64];
    CHECK(hg_ctx_core_step(ctx, s, s, 1, 0, 0, &err) == HG_STATUS_BAD_ARG); /* no prelude yet */
    CHECK(hg_ctx_truncate(ctx, 3, &err) == HG_STATUS_BAD_ARG);
    hg_ctx_free(ctx);
    cp.kv_cache = "compress-q9";
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_STATUS_BAD_ARG);
    CHECK(strstr(err.msg, "compress-q9") != NULL);
    cp.kv_cache = NULL;
    cp.n_ctx = 100000; /* > block_size 128 */
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_STATUS_LIMIT);
    hg_model_free(m);
}

/* Every allocation of the loader and of a context fails once in turn: each must return NOMEM and
 * free everything it took (LeakSanitizer in the Sanitize build checks the second half). */
static void allocation_failures(void) {
    int n_fail = 0;
    for (int64_t k = 0; k < 2000; k++) {
        hg_model *m = NULL;
        hg_ctx *ctx = NULL;
        hg_error err = {0};
        hg_alloc_fail_after(k);
        hg_status st = hg_model_load(golden_model_dir("small-sharded"), NULL, &m, &err);
        if (st == HG_OK) {
            hg_ctx_params cp = hg_ctx_default_params();
            cp.n_ctx = 16;
            st = hg_ctx_init(m, &cp, &ctx, &err);
        }
        hg_alloc_fail_after(-1);
        if (st == HG_OK && ctx) { /* k was past the last allocation: done */
            hg_ctx_free(ctx);
            hg_model_free(m);
            CHECK_MSG(k > 10, "allocation failure never triggered");
            fprintf(stderr, "  ok allocation failure at each of %d allocation sites: NOMEM, nothing leaked\n", n_fail);
            return;
        }
        CHECK_MSG(st == HG_STATUS_NOMEM || st == HG_STATUS_IO, "alloc fail %lld: status %d: %s", (long long)k, st, err.msg);
        n_fail++;
        hg_model_free(m);
    }
    CHECK_MSG(0, "loader still allocating after 2000 allocations");
}

int main(void) {
    g_tmp = hg_tmp_dir("loader_errors");
    expect_fail("missing directory", "/nonexistent/model", HG_STATUS_IO, "/nonexistent/model");

    const char *d = make_variant("truncated", NULL, 1000, NULL);
    expect_fail("truncated data", d, HG_STATUS_BAD_FILE, "truncated");
    d = make_variant("broken_json", NULL, 0, "{\"transformer.wte.weight\": {\"dtype\": \"F32\", ");
    expect_fail("broken header JSON", d, HG_STATUS_BAD_FILE, "not a valid JSON");
    d = make_variant("missing_tensor", drop_adapter, 0, NULL);
    expect_fail("missing tensor", d, HG_STATUS_BAD_FILE, "transformer.adapter.weight missing");
    d = make_variant("wrong_shape", bad_shape, 0, NULL);
    expect_fail("wrong shape", d, HG_STATUS_BAD_FILE, "has shape [128,64], expected [64,128]");
    d = make_variant("unknown_dtype", bad_dtype, 0, NULL);
    expect_fail("unknown dtype", d, HG_STATUS_UNSUPPORTED, "unknown dtype `Q7_X`");
    d = make_variant("int_dtype", int_dtype, 0, NULL);
    expect_fail("integer weights", d, HG_STATUS_UNSUPPORTED, "transformer.ln_f.weight");
    d = make_variant("lying_offsets", lying_offsets, 0, NULL);
    expect_fail("offsets past the end", d, HG_STATUS_BAD_FILE, "run past the end");
    d = make_variant("short_span", short_span, 0, NULL);
    expect_fail("offsets disagree with shape", d, HG_STATUS_BAD_FILE, "need 256");
    d = make_variant("overlap", overlap, 0, NULL);
    expect_fail("overlapping tensors", d, HG_STATUS_BAD_FILE, "overlap");
    d = make_variant("negative_dim", negative_dim, 0, NULL);
    expect_fail("negative dimension", d, HG_STATUS_BAD_FILE, "bad shape");
    d = make_variant("huge_dims", huge_dims, 0, NULL);
    expect_fail("overflowing shape", d, HG_STATUS_BAD_FILE, "bad shape");
    d = make_variant("extra_tensor", extra_tensor, 0, NULL);
    expect_fail("unexpected tensor", d, HG_STATUS_BAD_FILE, "unexpected tensor transformer.prelude.7");
    {
        char p[4200];
        d = make_variant("empty_file", NULL, 0, NULL);
        snprintf(p, sizeof p, "%s/model.safetensors", d);
        write_file(p, "", 0);
        expect_fail("empty file", d, HG_STATUS_BAD_FILE, "truncated");
        d = make_variant("huge_header_len", NULL, 0, NULL);
        snprintf(p, sizeof p, "%s/model.safetensors", d);
        write_file(p, "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
        expect_fail("header length past the file", d, HG_STATUS_BAD_FILE, "header length");
    }
    config_variant("cfg_missing_key", "\"n_embd\": 64,", "", HG_STATUS_BAD_FILE, "`n_embd` missing");
    config_variant("cfg_injection", "\"injection_type\": \"linear\"", "\"injection_type\": \"ffn\"", HG_STATUS_UNSUPPORTED,
                   "injection_type");
    config_variant("cfg_gqa", "\"num_key_value_heads\": 4", "\"num_key_value_heads\": 2", HG_STATUS_UNSUPPORTED,
                   "num_key_value_heads");
    config_variant("cfg_bias", "\"bias\": false", "\"bias\": true", HG_STATUS_UNSUPPORTED, "bias");
    config_variant("cfg_norm", "\"RMSNorm_llama\"", "\"LayerNorm\"", HG_STATUS_UNSUPPORTED, "norm_class_name");
    config_variant("cfg_heads", "\"n_embd\": 64", "\"n_embd\": 66", HG_STATUS_BAD_FILE,
                   "must divide");
    config_variant("cfg_type", "\"n_embd\": 64", "\"n_embd\": \"64\"", HG_STATUS_BAD_FILE, "n_embd");
    config_variant("cfg_json", "{", "[", HG_STATUS_BAD_FILE, "not a valid JSON");
    config_variant("cfg_mismatch", "\"n_embd\": 64", "\"n_embd\": 32", HG_STATUS_BAD_FILE, "has shape");

    /* shard index: path traversal, and a tensor mapped to a shard that lacks it */
    {
        char dir[4096], p[4200];
        snprintf(dir, sizeof dir, "%s/bad_index", g_tmp);
        mkdir(dir, 0755);
        snprintf(p, sizeof p, "%s/config.json", dir);
        copy_file(hg_data_path("golden_model/small-sharded/config.json"), p);
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
        const char *idx = "{\"metadata\":{},\"weight_map\":{\"transformer.wte.weight\":\"../../etc/passwd\"}}";
        write_file(p, idx, strlen(idx));
        expect_fail("index path traversal", dir, HG_STATUS_BAD_FILE, "plain file name");
        snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
        copy_file(hg_data_path("golden_model/small-sharded/model-00001-of-00002.safetensors"), p);
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
        idx = "{\"metadata\":{},\"weight_map\":{\"transformer.no_such\":\"model-00001-of-00002.safetensors\"}}";
        write_file(p, idx, strlen(idx));
        expect_fail("index lies about a shard", dir, HG_STATUS_BAD_FILE, "does not contain it");
        idx = "{\"metadata\":{},\"weight_map\":[1,2]}";
        write_file(p, idx, strlen(idx));
        expect_fail("index without weight_map object", dir, HG_STATUS_BAD_FILE, "weight_map");
    }
    runtime_errors();
    allocation_failures();
    huge_buffer();
    return hg_test_finish("test_loader_errors");
}
