/* golden.c — implementation of golden.h. */
#include "golden.h"
#include "harness.h"
#include "huginn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const hg_golden_models[HG_GOLDEN_MODELS] = {"tiny", "tiny-bf16", "small-sharded"};

const char *golden_model_dir(const char *model) {
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ & 3];
    snprintf(b, 4096, "%s", hg_data_path("golden_model"));
    size_t n = strlen(b);
    snprintf(b + n, 4096 - n, "/%s", model);
    return b;
}

cJSON *golden_manifest(const char *model) {
    char p[4096];
    snprintf(p, sizeof p, "%s/golden/manifest.json", golden_model_dir(model));
    size_t len;
    char *text = hg_read_file(p, &len);
    if (!text) return NULL;
    /* Python's json writes NaN / Infinity, which strict JSON (cJSON) rejects: outside strings, turn
     * them into null and ±1e999 (= ±inf through strtod), each the same length or shorter, padded. */
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        if (in_str) {
            if (text[i] == '\\') i++;
            else if (text[i] == '"') in_str = false;
            continue;
        }
        if (text[i] == '"') in_str = true;
        else if (!strncmp(text + i, "NaN", 3)) memcpy(text + i, "0  ", 3);
        else if (!strncmp(text + i, "Infinity", 8)) memcpy(text + i, "1e999   ", 8);
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    return j;
}

const cJSON *golden_case(const cJSON *manifest, const char *name) {
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(manifest, "cases");
    for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) return c;
    }
    return NULL;
}

float *golden_floats(const char *model, const cJSON *obj, size_t *n) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, "file");
    if (!cJSON_IsString(f)) return NULL;
    char p[4096];
    snprintf(p, sizeof p, "%s/golden/%s", golden_model_dir(model), f->valuestring);
    size_t len;
    float *x = hg_read_file(p, &len);
    if (x) *n = len / sizeof(float);
    return x;
}

int32_t *golden_ints(const cJSON *arr, int64_t *n) {
    int k = cJSON_GetArraySize(arr);
    int32_t *a = malloc((size_t)(k ? k : 1) * sizeof *a);
    int i = 0;
    for (const cJSON *e = arr ? arr->child : NULL; e; e = e->next) a[i++] = (int32_t)e->valuedouble;
    *n = k;
    return a;
}

int64_t golden_num(const cJSON *o, const char *k) { return (int64_t)cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble; }
const cJSON *golden_item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

hg_ctx *golden_ctx(hg_model *m, int64_t max_steps, const char *kv) {
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 64;
    cp.max_steps = max_steps > 0 ? max_steps : 1;
    cp.kv_cache = kv;
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    if (hg_ctx_init(m, &cp, &ctx, &err)) fprintf(stderr, "ctx: %s\n", err.msg);
    return ctx;
}

bool golden_collect_token(void *user, int32_t id, int64_t steps, const float *logits) {
    golden_collect *c = user;
    (void)id, (void)steps;
    if (c->n < c->max && logits) memcpy(c->logits + c->n * c->V, logits, (size_t)c->V * sizeof(float));
    c->n++;
    return true;
}
