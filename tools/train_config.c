/*
 * train_config.c — the schema of a `huginn train` config (keys: docs/training.md) and its check.
 *
 * Rule: a key the trainer does not know, a value of the wrong JSON type, a fraction where a count
 * belongs or a number outside what the trainer can use is an error that names the key. Reason: the
 * reader used to take defaults for anything it did not recognise, so `"max_stepz": 3` or
 * `"max_steps": "ten"` silently started a default 1,000-step run; and a double such as 1e300 cast
 * to int64_t is undefined behaviour. One table per section, walked before any value is read, rather
 * than checks spread over the readers: a new key is one line, and the fuzz target runs this check.
 * The ranges are generous bounds that keep every later product (rows · seq_len · vocabulary, depths
 * times layers) far from overflow and every run finite, not tuning advice.
 */
#include "train_config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_INT, K_NUM, K_STR, K_STR_OR_NULL, K_OBJ, K_DEPTHS, K_STAGES, K_STEPS } key_kind;

typedef struct key_rule {
    const char *key;
    key_kind kind;
    double lo, hi; /* K_INT, K_NUM, K_STEPS: the accepted closed range */
} key_rule;

#define BIG_STEPS 1e12    /* step counts: ~30,000 years at a step per millisecond */
#define SEED_MAX 9007199254740992.0 /* 2^53: a JSON number holds integers exactly up to here */

static const key_rule top_rules[] = {
    {"model", K_OBJ, 0, 0}, {"train", K_OBJ, 0, 0}, {"data", K_OBJ, 0, 0},
    {"out_dir", K_STR, 0, 0}, {"tokenizer", K_STR_OR_NULL, 0, 0}, {"init_from", K_STR_OR_NULL, 0, 0},
    {"eval_every", K_INT, 0, BIG_STEPS}, {"save_every", K_INT, 0, BIG_STEPS},
    {"eval_problems", K_INT, 1, 1 << 24}, {"eval_depths", K_DEPTHS, 0, 4096}, {NULL, K_INT, 0, 0}};
static const key_rule model_rules[] = {
    {"n_embd", K_INT, 1, 1 << 16}, {"n_head", K_INT, 1, 1 << 12}, {"intermediate_size", K_INT, 1, 1 << 20},
    {"n_layers_prelude", K_INT, 0, 1024}, {"n_layers_core", K_INT, 1, 1024}, {"n_layers_coda", K_INT, 0, 1024},
    {"mean_recurrence", K_INT, 1, 4096}, {"mean_backprop_depth", K_INT, 1, 4096},
    {"block_size", K_INT, 1, 1 << 20}, {"rope_base", K_NUM, 1e-6, 1e12}, {NULL, K_INT, 0, 0}};
static const key_rule train_rules[] = {
    {"rows", K_INT, 1, 1 << 20}, {"seq_len", K_INT, 1, 1 << 20}, {"accum", K_INT, 1, 1 << 20},
    {"max_steps", K_INT, 1, BIG_STEPS}, {"warmup", K_STEPS, 0, BIG_STEPS}, {"cooldown", K_STEPS, 0, BIG_STEPS},
    {"lr", K_NUM, 0, 1e300}, {"weight_decay", K_NUM, 0, 1e300}, {"grad_clip", K_NUM, 0, 1e300},
    {"fixed_n", K_INT, -1, 4096}, {"fixed_k", K_INT, -1, 4096}, {"init_scale", K_NUM, 0, 1e30},
    {"mean_recurrence", K_INT, 0, 4096}, {"backprop_depth", K_INT, 0, 4096},
    {"seed", K_INT, 0, SEED_MAX}, {"init_seed", K_INT, 0, SEED_MAX}, {NULL, K_INT, 0, 0}};
static const key_rule data_rules[] = {
    {"min_hops", K_INT, 0, 25}, {"max_hops", K_INT, 0, 25}, {"distractors", K_INT, 0, 25},
    {"max_distractors", K_INT, 0, 25}, {"queries", K_INT, 1, 16}, {"seed", K_INT, 0, SEED_MAX},
    {"curriculum_steps", K_INT, 0, BIG_STEPS}, {"curriculum_stages", K_STAGES, 1, BIG_STEPS},
    {"backward_pct", K_INT, 0, 100}, {"decoy_pct", K_INT, 0, 100}, {"hops_within_depth", K_INT, 0, 1},
    {"depth_hops_pct", K_INT, 0, 100},
    {"shard", K_STR_OR_NULL, 0, 0},
    {"val_shard", K_STR_OR_NULL, 0, 0}, {NULL, K_INT, 0, 0}};

static bool is_int_in(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi && floor(v->valuedouble) == v->valuedouble;
}

/* "P%" with 0 <= P <= 100; the percentage in *pct. */
static bool parse_pct(const char *s, double *pct) {
    char *end = NULL;
    const double v = strtod(s, &end);
    if (end == s || strcmp(end, "%") != 0 || !(v >= 0 && v <= 100)) return false;
    *pct = v;
    return true;
}

/* Checks one value against its rule; NULL when fine, else what is wrong. */
static const char *check_value(const key_rule *r, const cJSON *v, char *buf, size_t n) {
    double pct;
    switch (r->kind) {
    case K_INT:
        if (!cJSON_IsNumber(v)) return "must be an integer";
        if (!is_int_in(v, r->lo, r->hi)) {
            snprintf(buf, n, "must be an integer in %.0f..%.0f", r->lo, r->hi);
            return buf;
        }
        return NULL;
    case K_STEPS:
        if (cJSON_IsString(v)) return parse_pct(v->valuestring, &pct) ? NULL : "must be a step count or \"P%\" (0..100)";
        if (!is_int_in(v, r->lo, r->hi)) {
            snprintf(buf, n, "must be an integer in %.0f..%.0f or \"P%%\" of max_steps", r->lo, r->hi);
            return buf;
        }
        return NULL;
    case K_NUM:
        if (!cJSON_IsNumber(v)) return "must be a number";
        if (!(v->valuedouble >= r->lo && v->valuedouble <= r->hi)) {
            snprintf(buf, n, "must be a number in %g..%g", r->lo, r->hi);
            return buf;
        }
        return NULL;
    case K_STR: return cJSON_IsString(v) ? NULL : "must be a string";
    case K_STR_OR_NULL: return cJSON_IsString(v) || cJSON_IsNull(v) ? NULL : "must be a string (or null)";
    case K_OBJ: return cJSON_IsObject(v) ? NULL : "must be an object";
    case K_DEPTHS:
    case K_STAGES: {
        if (!cJSON_IsArray(v)) return "must be an array of integers";
        int count = 0;
        for (const cJSON *e = v->child; e; e = e->next, count++)
            if (!is_int_in(e, r->lo, r->hi)) {
                snprintf(buf, n, "must hold integers in %.0f..%.0f", r->lo, r->hi);
                return buf;
            }
        const int most = r->kind == K_DEPTHS ? 16 : 26; /* cmd_train.c's arrays */
        if (count > most || (r->kind == K_DEPTHS && count == 0)) {
            snprintf(buf, n, "must hold 1..%d entries", most);
            return buf;
        }
        return NULL;
    }
    }
    return "has an unknown rule";
}

/* Every key of object `o` (section `name`, "" for the top level) against `rules`; 0, or 1 with msg. */
static int check_section(const cJSON *o, const char *name, const key_rule *rules, char *msg, size_t msg_len) {
    for (const cJSON *it = o->child; it; it = it->next) {
        const char *sep = *name ? "." : "";
        const key_rule *r = rules;
        while (r->key && (!it->string || strcmp(r->key, it->string) != 0)) r++;
        if (!r->key) {
            snprintf(msg, msg_len, "%s%s%s: unknown key (keys: docs/training.md)", name, sep,
                     it->string ? it->string : "?");
            return 1;
        }
        char buf[128];
        const char *why = check_value(r, it, buf, sizeof buf);
        if (why) {
            snprintf(msg, msg_len, "%s%s%s: %s", name, sep, it->string, why);
            return 1;
        }
        for (const cJSON *dup = it->next; dup; dup = dup->next)
            if (dup->string && !strcmp(dup->string, it->string)) {
                snprintf(msg, msg_len, "%s%s%s: given twice", name, sep, it->string);
                return 1;
            }
    }
    return 0;
}

int train_config_check(const cJSON *root, char *msg, size_t msg_len) {
    if (!cJSON_IsObject(root)) {
        snprintf(msg, msg_len, "the config must be a JSON object");
        return 1;
    }
    if (check_section(root, "", top_rules, msg, msg_len)) return 1;
    const struct { const char *name; const key_rule *rules; } sections[] = {
        {"model", model_rules}, {"train", train_rules}, {"data", data_rules}};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, sections[i].name);
        if (s && check_section(s, sections[i].name, sections[i].rules, msg, msg_len)) return 1;
    }
    if (!cJSON_GetObjectItemCaseSensitive(root, "out_dir")) {
        snprintf(msg, msg_len, "out_dir: required (a string)");
        return 1;
    }
    return 0;
}

long long train_config_steps(const cJSON *section, const char *key, long long max_steps, double def_frac) {
    const cJSON *v = section ? cJSON_GetObjectItemCaseSensitive(section, key) : NULL;
    double pct;
    if (cJSON_IsNumber(v)) return (long long)v->valuedouble; /* range-checked: an integer <= 1e12 */
    if (cJSON_IsString(v) && parse_pct(v->valuestring, &pct)) return (long long)((double)max_steps * pct / 100.0);
    return (long long)((double)max_steps * def_frac);
}
