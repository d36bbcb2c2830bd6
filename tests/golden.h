/*
 * golden.h — reading the golden manifests of tests/data/golden_model (tiny checkpoints
 * run through the authors' own code) for the tests that compare against them.
 */
#ifndef HG_TEST_GOLDEN_H
#define HG_TEST_GOLDEN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#define HG_GOLDEN_MODELS 3
extern const char *const hg_golden_models[HG_GOLDEN_MODELS];

/* Parse <model>/golden/manifest.json (cJSON_Delete the result); NULL on failure. */
cJSON *golden_manifest(const char *model);
/* The case named `name`, or NULL. */
const cJSON *golden_case(const cJSON *manifest, const char *name);
/* Load outputs[key] (or inputs[key]) of a case as floats; malloc'ed, count in *n. */
float *golden_floats(const char *model, const cJSON *obj, size_t *n);
/* Int array -> malloc'ed int32 array. */
int32_t *golden_ints(const cJSON *arr, int64_t *n);
/* num / item: a case's integer field and any field. */
int64_t golden_num(const cJSON *o, const char *k);
const cJSON *golden_item(const cJSON *o, const char *k);

/* A context of 64 positions with slots for max_steps iterations and cache strategy kv (message
 * printed and NULL on failure). */
struct hg_model;
struct hg_ctx *golden_ctx(struct hg_model *m, int64_t max_steps, const char *kv);

/* hg_token_callback that keeps each token's logits: logits [max, V]. */
typedef struct golden_collect {
    float *logits; /* [max, V] */
    int64_t n, V, max;
} golden_collect;
bool golden_collect_token(void *user, int32_t id, int64_t steps, const float *logits);

/* tests/data/golden_model/<model> */
const char *golden_model_dir(const char *model);

#endif
