/*
 * test_run_text.c — `huginn run` with text: -p goes through the model's own tokenizer.json (the
 * Huginn-style golden tokenizer, with the tokenizer's BOS in front), --chat renders the Huginn chat
 * template (prompt ids must equal the chat goldens' ids), generated ids come back as text whose
 * per-token --json pieces concatenate to the one-shot decode, and the plain output equals that
 * decode without special tokens. The model is a random one of vocabulary 65536 made by `huginn init`.
 */
#include "harness.h"
#include "huginn.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static bool ids_equal(const cJSON *arr, const int32_t *ids, int64_t n) {
    if (cJSON_GetArraySize(arr) != n) return false;
    int64_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++)
        if ((int32_t)e->valuedouble != ids[i]) return false;
    return true;
}

/* The golden chat ids of `name` from huginn_chat_goldens.jsonl. */
static cJSON *chat_golden(const char *name) {
    size_t n;
    char *text = hg_read_file(hg_data_path("tokenizers/chat/huginn_chat_goldens.jsonl"), &n);
    cJSON *found = NULL;
    for (char *line = text; line && *line && !found;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(line);
        const cJSON *c = cJSON_GetObjectItem(j, "case");
        if (cJSON_IsString(c) && !strcmp(c->valuestring, name)) found = j;
        else cJSON_Delete(j);
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return found;
}

int main(void) {
    const char *tmp = hg_tmp_dir("run_text");
    char model[4096], cmd[16384];
    snprintf(model, sizeof model, "%s/m", tmp);
    snprintf(cmd, sizeof cmd, "%s/cfg.json", tmp);
    FILE *f = fopen(cmd, "w");
    fputs("{\"n_embd\": 64, \"num_attention_heads\": 4, \"num_key_value_heads\": 4, \"intermediate_size\": 128,"
          "\"vocab_size\": 65536, \"n_layers_in_prelude\": 1, \"n_layers_in_recurrent_block\": 1, \"n_layers_in_coda\": 1,"
          "\"mean_recurrence\": 2, \"mean_backprop_depth\": 1, \"block_size\": 256, \"norm_eps\": 1e-6, \"qk_bias\": true,"
          "\"tie_embeddings\": true, \"bias\": false, \"injection_type\": \"linear\", \"norm_class_name\": \"RMSNorm_llama\","
          "\"mlp_class_name\": \"GatedMLP\", \"nonlin_name\": \"SiLU\", \"block_class_name\": \"SandwichBlock\","
          "\"state_init\": \"like-init\"}", f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "%s init --config %s/cfg.json -o %s --dtype bf16 --seed 3 2>/dev/null && gzip -dc %s > %s/tokenizer.json && cp %s %s/",
             hg_huginn(), tmp, model, hg_data_path("tokenizers/huginn_style/tokenizer.json.gz"), model,
             hg_data_path("tokenizers/huginn_style/tokenizer_config.json"), model);
    CHECK_MSG(hg_run_capture(cmd, NULL) == 0, "%s", cmd);

    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    CHECK(hg_tokenizer_load(model, &tok, &err) == HG_OK);
    if (!tok) return hg_test_finish("test_run_text");

    const char *text = "Hello, world! ½ naïve";
    int32_t *enc = NULL;
    int64_t ne = 0;
    CHECK(hg_tokenizer_encode(tok, text, strlen(text), false, &enc, &ne, &err) == HG_OK);
    int32_t *want = malloc((size_t)(ne + 1) * sizeof *want);
    want[0] = hg_tokenizer_bos_id(tok);
    CHECK(want[0] == 65504);
    memcpy(want + 1, enc, (size_t)ne * sizeof *want);

    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s run -m %s -p '%s' -n 12 --steps 2 --temp 0 --init-scale 0 --json", hg_huginn(), model, text);
    CHECK_MSG(hg_run_capture(cmd, &out) == 0, "%s", cmd);
    cJSON *j = cJSON_Parse(out);
    CHECK_MSG(j != NULL, "not JSON: %s", out);
    CHECK_MSG(ids_equal(cJSON_GetObjectItem(j, "prompt_ids"), want, ne + 1), "-p ids differ from BOS + encode: %s", out);
    /* pieces concatenate to decode(generated) */
    const cJSON *gen = cJSON_GetObjectItem(j, "generated");
    int64_t ng = cJSON_GetArraySize(gen);
    int32_t *gids = malloc((size_t)(ng + 1) * sizeof *gids);
    size_t cat_len = 0;
    char *cat = calloc(1, 1 << 16);
    int64_t i = 0;
    for (const cJSON *e = gen ? gen->child : NULL; e; e = e->next, i++) {
        gids[i] = (int32_t)cJSON_GetObjectItem(e, "id")->valuedouble;
        const cJSON *t = cJSON_GetObjectItem(e, "text");
        CHECK(cJSON_IsString(t));
        if (cJSON_IsString(t)) {
            size_t l = strlen(t->valuestring);
            memcpy(cat + cat_len, t->valuestring, l);
            cat_len += l;
        }
    }
    char *dec = NULL;
    size_t dl = 0;
    CHECK(ng > 0 && hg_tokenizer_decode(tok, gids, ng, false, &dec, &dl, &err) == HG_OK);
    /* a NUL inside a piece cannot travel in a C string from cJSON: compare where the decode has none */
    if (dec && memchr(dec, 0, dl) == NULL)
        CHECK_MSG(dl == cat_len && memcmp(dec, cat, dl) == 0, "--json pieces `%s` != decode `%s`", cat, dec);
    fprintf(stderr, "  ok run -p: %lld prompt ids, %lld generated, pieces == decode\n", (long long)ne + 1, (long long)ng);
    cJSON_Delete(j);
    free(out);

    /* plain output: the decode without special tokens */
    snprintf(cmd, sizeof cmd, "%s run -m %s -p '%s' -n 12 --steps 2 --temp 0 --init-scale 0", hg_huginn(), model, text);
    CHECK(hg_run_capture(cmd, &out) == 0);
    char *dec2 = NULL;
    size_t dl2 = 0;
    CHECK(hg_tokenizer_decode(tok, gids, ng, true, &dec2, &dl2, &err) == HG_OK);
    if (dec2 && !memchr(dec2, 0, dl2))
        CHECK_MSG(strlen(out) == dl2 + 1 && !memcmp(out, dec2, dl2), "plain output `%s` != `%s`", out, dec2);
    free(out);
    hg_tokenizer_mem_free(dec), hg_tokenizer_mem_free(dec2);

    /* chat: the prompt ids are the chat goldens' ids */
    const struct {
        const char *golden, *args;
    } chats[] = {
        {"single_user_gen", "--chat -p 'What is 2+2?'"},
        {"readme_example", "--chat --system 'You are a helpful assistant.' -p \"What do you think of Goethe's Faust?\""},
    };
    for (int c = 0; c < 2; c++) {
        cJSON *g = chat_golden(chats[c].golden);
        CHECK_MSG(g != NULL, "chat golden %s", chats[c].golden);
        if (!g) continue;
        snprintf(cmd, sizeof cmd, "%s run -m %s %s -n 3 --steps 1 --temp 0 --init-scale 0 --json", hg_huginn(), model, chats[c].args);
        CHECK_MSG(hg_run_capture(cmd, &out) == 0, "%s", cmd);
        cJSON *r = cJSON_Parse(out);
        int64_t n;
        const cJSON *gi = cJSON_GetObjectItem(g, "ids");
        n = cJSON_GetArraySize(gi);
        int32_t *w = malloc((size_t)n * sizeof *w);
        int64_t k = 0;
        for (const cJSON *e = gi->child; e; e = e->next) w[k++] = (int32_t)e->valuedouble;
        CHECK_MSG(r && ids_equal(cJSON_GetObjectItem(r, "prompt_ids"), w, n), "chat %s: prompt ids differ: %s", chats[c].golden, out);
        fprintf(stderr, "  ok run --chat %s: %lld prompt ids equal the golden\n", chats[c].golden, (long long)n);
        free(w), free(out);
        cJSON_Delete(r), cJSON_Delete(g);
    }

    /* interactive chat: two turns on stdin; the second reuses the first turn's cache */
    snprintf(cmd, sizeof cmd, "printf 'What is 2+2?\\nAnd 3+3?\\n' | %s chat -m %s -n 4 --steps 1 --temp 0 --init-scale 0 2>&1 >/dev/null",
             hg_huginn(), model);
    CHECK_MSG(hg_run_capture(cmd, &out) == 0, "%s", cmd);
    {
        long p1 = 0, r1 = -1, p2 = 0, r2 = 0;
        /* the turn lines follow the session's "[chat format ...]" line */
        char *first = out ? strstr(out, "\n[") : NULL;
        if (first) first++;
        char *second = first ? strchr(first + 1, '[') : NULL;
        CHECK_MSG(out && strstr(out, "[chat format huginn; a reply ends at") == out && first &&
                      sscanf(first, "[%ld prompt tokens, %ld reused", &p1, &r1) == 2 && second &&
                      sscanf(second, "[%ld prompt tokens, %ld reused", &p2, &r2) == 2,
                  "chat stderr: %s", out);
        CHECK_MSG(r1 == 0 && p1 == 19 && r2 >= p1 && p2 > p2 - r2, "chat: turn 1 %ld/%ld, turn 2 %ld/%ld reused", r1, p1, r2, p2);
        fprintf(stderr, "  ok chat: turn 2 reused %ld of %ld prompt tokens from the cache\n", r2, p2);
    }
    free(out);

    /* errors */
    const char *bad[] = {"run -m %s --ids 1,2 -p hi", "run -m %s --system x -p hi", "run -m %s --chat --ids 1,2",
                         "run -m %s/../../golden_model_missing -p hi"};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        char a[4096];
        snprintf(a, sizeof a, bad[b], model);
        snprintf(cmd, sizeof cmd, "%s %s 2>&1 >/dev/null", hg_huginn(), a);
        int rc = hg_run_capture(cmd, &out);
        CHECK_MSG(rc == 1 && strstr(out, "huginn"), "`%s`: exit %d `%s`", a, rc, out);
        free(out);
    }
    snprintf(cmd, sizeof cmd, "%s run -m %s -p hi 2>&1 >/dev/null", hg_huginn(), hg_data_path("golden_model/tiny"));
    CHECK(hg_run_capture(cmd, &out) == 1 && strstr(out, "tokenizer"));
    free(out);
    hg_tokenizer_mem_free(enc);
    free(want), free(gids), free(cat);
    hg_tokenizer_mem_free(NULL);
    hg_tokenizer_free(tok);
    return hg_test_finish("test_run_text");
}
