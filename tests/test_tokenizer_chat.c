/*
 * test_tokenizer_chat.c — the Huginn chat format against Python Jinja2's rendering
 * (tests/data/tokenizers/chat/huginn_chat_goldens.jsonl: 17 conversations; `rendered` is the
 * reference, `ids` its huginn_style encoding with add_special_tokens=false). Also: the template
 * recogniser, refusal of other templates (llama3's), bos/eos ids from tokenizer_config.json.
 */
#include "test_tokenizer_util.h"

static void check_goldens(hg_tokenizer *tok) {
    char *all = tt_read("tokenizers/chat/huginn_chat_goldens.jsonl", NULL);
    CHECK(all != NULL);
    if (!all) return;
    int cases = 0;
    for (char *line = all, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL);
        if (!j) continue;
        const char *name = cJSON_GetObjectItem(j, "case")->valuestring;
        const cJSON *msgs = cJSON_GetObjectItem(j, "messages");
        int n = cJSON_GetArraySize(msgs);
        hg_chat_msg m[32];
        CHECK(n <= 32);
        for (int i = 0; i < n && i < 32; i++) {
            const cJSON *e = cJSON_GetArrayItem(msgs, i);
            m[i].role = cJSON_GetObjectItem(e, "role")->valuestring;
            m[i].content = cJSON_GetObjectItem(e, "content")->valuestring;
        }
        bool gen = cJSON_IsTrue(cJSON_GetObjectItem(j, "add_generation_prompt"));
        size_t wl = 0;
        char *want = tt_field_string(line, "rendered", &wl);
        char *got = NULL;
        hg_error err = {0};
        hg_status st = hg_chat_render(tok, m, (size_t)n, gen, &got, &err);
        CHECK_MSG(st == HG_OK && want && strlen(got) == wl && !memcmp(got, want, wl), "chat case %s: rendered\n  got  %s\n  want %s",
                  name, got ? got : err.msg, want ? want : "?");
        int64_t nw = 0, ng = 0;
        int32_t *wids = tt_ids(cJSON_GetObjectItem(j, "ids"), &nw), *ids = NULL;
        st = hg_chat_encode(tok, m, (size_t)n, gen, &ids, &ng, &err);
        CHECK_MSG(st == HG_OK && tt_first_diff(ids, ng, wids, nw) < 0, "chat case %s: ids differ", name);
        hg_tokenizer_mem_free(ids);
        hg_tokenizer_mem_free(got);
        free(wids);
        free(want);
        cJSON_Delete(j);
        cases++;
    }
    CHECK_MSG(cases == 17, "%d chat cases", cases);
    free(all);
}

int main(void) {
    hg_tokenizer *tok = tt_load("huginn_style");
    CHECK(tok != NULL);
    if (!tok) return hg_test_finish("test_tokenizer_chat");
    CHECK(hg_tokenizer_has_chat(tok));
    CHECK(hg_tokenizer_bos_id(tok) == 65504);
    CHECK(hg_tokenizer_eos_id(tok) == 65505);
    CHECK(hg_tokenizer_token_to_id(tok, "<|end_turn|>") == 65508);
    CHECK(hg_tokenizer_is_special(tok, 65508) && !hg_tokenizer_is_special(tok, 300));
    check_goldens(tok);

    /* the template file itself is recognised; a modified one is not */
    char *tmpl = tt_read("tokenizers/chat/huginn_chat_template.jinja", NULL);
    CHECK(tmpl && hg_chat_template_supported(tmpl));
    if (tmpl) {
        char *p = strstr(tmpl, "trim");
        if (p) p[0] = 'T';
        CHECK(!hg_chat_template_supported(tmpl));
    }
    free(tmpl);
    CHECK(!hg_chat_template_supported(NULL));
    CHECK(!hg_chat_template_supported(""));

    /* bad messages */
    hg_error err = {0};
    char *out = NULL;
    hg_chat_msg bad[1] = {{"user", NULL}};
    CHECK(hg_chat_render(tok, bad, 1, true, &out, &err) == HG_STATUS_BAD_ARG && out == NULL);
    hg_chat_msg inval[1] = {{"user", "abc\xff"}};
    CHECK(hg_chat_render(tok, inval, 1, true, &out, &err) == HG_STATUS_BAD_INPUT && out == NULL);
    hg_tokenizer_free(tok);

    /* another family's template is refused with a clear message */
    hg_tokenizer *llama = tt_load("llama3");
    CHECK(llama != NULL);
    if (llama) {
        CHECK(!hg_tokenizer_has_chat(llama));
        hg_chat_msg m[1] = {{"user", "hi"}};
        hg_status st = hg_chat_render(llama, m, 1, true, &out, &err);
        CHECK(st == HG_STATUS_UNSUPPORTED && out == NULL && strstr(err.msg, "not supported"));
        hg_tokenizer_free(llama);
    }
    /* gpt4o has no chat template at all */
    hg_tokenizer *g = tt_load("gpt4o");
    if (g) {
        hg_chat_msg m[1] = {{"user", "hi"}};
        CHECK(hg_chat_render(g, m, 1, true, &out, &err) == HG_STATUS_UNSUPPORTED && strstr(err.msg, "no chat_template"));
        hg_tokenizer_free(g);
    }
    return hg_test_finish("test_tokenizer_chat");
}
