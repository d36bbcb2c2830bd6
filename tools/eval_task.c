/*
 * eval_task.c — reading `huginn eval` task files (tools/eval_task.h; docs/eval.md "Task files") with
 * cJSON, one line at a time, copying every string so the items outlive the parser.
 */
#include "eval_task.h"
#include "cli.h"
#include "eval_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(const char *s) {
    const size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* A string field; NULL when absent. *bad set when present but not a string. Numbers are accepted for
 * `target` (GSM8K-style numeric answers) and written as integers when integral. */
static char *get_str(const cJSON *o, const char *k, bool *bad) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return NULL;
    if (cJSON_IsString(v)) return dup_str(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char buf[64];
        if (v->valuedouble == (double)(int64_t)v->valuedouble) snprintf(buf, sizeof buf, "%lld", (long long)v->valuedouble);
        else snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
        return dup_str(buf);
    }
    *bad = true;
    return NULL;
}

/* A string array field: *n strings, or NULL with *n = 0 when absent; *bad when malformed. */
static char **get_strs(const cJSON *o, const char *k, int64_t *n, bool *bad) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    *n = 0;
    if (!v) return NULL;
    if (!cJSON_IsArray(v)) return *bad = true, NULL;
    const int64_t m = cJSON_GetArraySize(v);
    char **out = calloc((size_t)(m ? m : 1), sizeof *out);
    if (!out) return *bad = true, NULL;
    int64_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++)
        if (!cJSON_IsString(e) || !(out[i] = dup_str(e->valuestring))) *bad = true;
    *n = m;
    return out;
}

static void item_free(evt_item *it) {
    for (int64_t i = 0; i < it->n_choices; i++) free(it->choices[i]);
    for (int64_t i = 0; i < it->n_until; i++) free(it->until[i]);
    free(it->choices), free(it->until), free(it->context), free(it->target), free(it->regex), free(it->text);
}

/* One line's object into *it; NULL, or what is wrong. */
static const char *parse_item(const cJSON *o, evt_item *it) {
    bool bad = false;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(ty)) return "needs a \"type\"";
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(o, "fewshot");
    it->fewshot = cJSON_IsTrue(fs);
    it->context = get_str(o, "context", &bad);
    if (!strcmp(ty->valuestring, "multiple_choice")) {
        it->type = EVT_MC;
        it->choices = get_strs(o, "choices", &it->n_choices, &bad);
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "gold");
        if (bad || !it->context || it->n_choices < 1) return "multiple_choice needs \"context\" and \"choices\" (strings)";
        if (!cJSON_IsNumber(g) || g->valuedouble != (double)(int64_t)g->valuedouble || g->valuedouble < 0 ||
            g->valuedouble >= (double)it->n_choices)
            return "\"gold\" must be the index of a choice";
        it->gold = (int64_t)g->valuedouble;
        for (int64_t j = 0; j < it->n_choices; j++)
            if (!it->choices[j][0]) return "a choice is empty";
    } else if (!strcmp(ty->valuestring, "generate_until")) {
        it->type = EVT_GEN;
        it->target = get_str(o, "target", &bad);
        it->regex = get_str(o, "regex", &bad);
        it->until = get_strs(o, "until", &it->n_until, &bad);
        const cJSON *mg = cJSON_GetObjectItemCaseSensitive(o, "max_gen_toks");
        it->max_gen_toks = 256;
        if (mg && (!cJSON_IsNumber(mg) || mg->valuedouble < 1 || mg->valuedouble > 1e6)) return "\"max_gen_toks\" must be 1..1e6";
        if (mg) it->max_gen_toks = (int64_t)mg->valuedouble;
        if (bad || !it->context || !it->target) return "generate_until needs \"context\" and \"target\" (strings)";
        for (int64_t j = 0; j < it->n_until; j++)
            if (!it->until[j][0]) return "an \"until\" string is empty";
        if (!it->n_until) {
            free(it->until);
            if (!(it->until = calloc(1, sizeof *it->until)) || !(it->until[0] = dup_str("\n\n"))) return "out of memory";
            it->n_until = 1;
        }
    } else if (!strcmp(ty->valuestring, "loglikelihood_rolling")) {
        it->type = EVT_ROLL;
        it->text = get_str(o, "text", &bad);
        if (bad || !it->text || !it->text[0]) return "loglikelihood_rolling needs a non-empty \"text\"";
    } else
        return "\"type\" must be multiple_choice, generate_until or loglikelihood_rolling";
    return NULL;
}

bool evt_load(const char *path, evt_task *t) {
    size_t len = 0;
    char *text = evu_read_file(path, &len);
    *t = (evt_task){0};
    if (!text) return cli_fail("%s: cannot read", path), false;
    int64_t cap = 0, line = 0;
    bool ok = true;
    for (char *s = text; ok && s < text + len;) {
        char *nl = memchr(s, '\n', (size_t)(text + len - s));
        if (nl) *nl = 0;
        line++;
        const char *p = s;
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (*p) {
            cJSON *o = cJSON_Parse(p);
            if (t->n == cap) {
                evt_item *q = realloc(t->items, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *q);
                if (!q) { cJSON_Delete(o); ok = false; cli_fail("out of memory"); break; }
                t->items = q;
            }
            evt_item *it = &t->items[t->n];
            *it = (evt_item){.line = line};
            const char *why = cJSON_IsObject(o) ? parse_item(o, it) : "not a JSON object";
            cJSON_Delete(o);
            if (why) {
                item_free(it);
                ok = false;
                cli_fail("%s:%lld: %s", path, (long long)line, why);
                break;
            }
            t->n++;
        }
        if (!nl) break;
        s = nl + 1;
    }
    free(text);
    if (ok && t->n == 0) ok = false, cli_fail("%s: no requests", path);
    if (!ok) evt_free(t);
    return ok;
}

void evt_free(evt_task *t) {
    for (int64_t i = 0; i < t->n; i++) item_free(&t->items[i]);
    free(t->items);
    *t = (evt_task){0};
}

const char *evt_answer(const evt_item *it) {
    return it->type == EVT_MC ? it->choices[it->gold] : it->type == EVT_GEN ? it->target : "";
}
