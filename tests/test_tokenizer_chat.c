/*
 * test_tokenizer_chat.c — the native chat formats against Jinja's renderings:
 *   Huginn: tests/data/tokenizers/chat/huginn_chat_goldens.jsonl (Python Jinja2, 17 conversations;
 *     `rendered` is the reference, `ids` its huginn_style encoding with add_special_tokens=false);
 *   Llama 3 and ChatML: family_chat_goldens.jsonl (@huggingface/jinja, the same 17 conversations with
 *     each template of chat/templates/, ids by the llama3 / qwen3 tokenizers; tests/oracle/gen_chat_goldens.mjs).
 * Also: the template recogniser (each template file, a modified one), forcing a format by name
 * (hg_tokenizer_set_chat_format) and its refusals, the end-of-turn ids, bos/eos ids, and a
 * tokenizer_config.json replaced on a loaded tokenizer (hg_tok_set_config, as fuzz_tokenizer_config does).
 */
#include "test_tokenizer_util.h"
#include "tokenizer/tokenizer.h"

/* Every line of the golden file `rel` (whose `template` is `tmpl`, or every line when tmpl is NULL)
 * against tok: the rendered text and the ids. Returns the number of cases checked. */
static int check_golden_file(hg_tokenizer *tok, const char *rel, const char *tmpl, const char *label) {
    char *all = tt_read(rel, NULL);
    CHECK(all != NULL);
    if (!all || !tok) return free(all), 0;
    int cases = 0;
    for (char *line = all, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL);
        if (!j) continue;
        if (tmpl && strcmp(cJSON_GetObjectItem(j, "template")->valuestring, tmpl)) {
            cJSON_Delete(j);
            continue;
        }
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
        CHECK_MSG(st == HG_OK && want && strlen(got) == wl && !memcmp(got, want, wl),
                  "%s case %s: rendered\n  got  %s\n  want %s", label, name, got ? got : err.msg, want ? want : "?");
        int64_t nw = 0, ng = 0;
        int32_t *wids = tt_ids(cJSON_GetObjectItem(j, "ids"), &nw), *ids = NULL;
        st = hg_chat_encode(tok, m, (size_t)n, gen, &ids, &ng, &err);
        CHECK_MSG(st == HG_OK && tt_first_diff(ids, ng, wids, nw) < 0, "%s case %s: ids differ", label, name);
        hg_tokenizer_mem_free(ids);
        hg_tokenizer_mem_free(got);
        free(wids);
        free(want);
        cJSON_Delete(j);
        cases++;
    }
    free(all);
    return cases;
}

static void check_goldens(hg_tokenizer *tok) {
    const int cases = check_golden_file(tok, "tokenizers/chat/huginn_chat_goldens.jsonl", NULL, "huginn");
    CHECK_MSG(cases == 17, "%d chat cases", cases);
}

/* The tokenizer `name` with its tokenizer_config.json's chat_template replaced by the text of
 * chat/templates/TEMPLATE.jinja (NULL: as shipped). */
static hg_tokenizer *load_with_template(const char *name, const char *tmpl_name) {
    if (!tmpl_name) return tt_load(name);
    char rel[256], crel[256], trel[256];
    snprintf(rel, sizeof rel, "tokenizers/%s/tokenizer.json.gz", name);
    snprintf(crel, sizeof crel, "tokenizers/%s/tokenizer_config.json", name);
    snprintf(trel, sizeof trel, "tokenizers/chat/templates/%s.jinja", tmpl_name);
    size_t jl = 0;
    char *j = tt_read(rel, &jl), *c = tt_read(crel, NULL), *t = tt_read(trel, NULL);
    cJSON *cfg = c ? cJSON_Parse(c) : NULL;
    char *cs = NULL;
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    if (j && cfg && t) {
        cJSON_ReplaceItemInObject(cfg, "chat_template", cJSON_CreateString(t));
        cs = cJSON_PrintUnformatted(cfg);
        if (hg_tokenizer_load_json(j, jl, cs, strlen(cs), &tok, &err)) fprintf(stderr, "FAIL %s: %s\n", name, err.msg), tok = NULL;
    }
    CHECK_MSG(tok != NULL, "load %s with template %s", name, tmpl_name);
    free(j), free(c), free(t), free(cs);
    cJSON_Delete(cfg);
    return tok;
}

/* Every line of family_chat_goldens.jsonl whose template is `tmpl` against tok. */
static int check_family_goldens(hg_tokenizer *tok, const char *tmpl, const char *label) {
    char full[256];
    snprintf(full, sizeof full, "%s (%s)", tmpl, label);
    return check_golden_file(tok, "tokenizers/chat/family_chat_goldens.jsonl", tmpl, full);
}

/* Llama 3 (base and Instruct) and ChatML (plain and with a default system message), each recognised
 * from its template text and rendered as @huggingface/jinja does. */
static void check_family(void) {
    static const struct {
        const char *tmpl, *tok, *format;
        int32_t end_id;
    } k[] = {
        {"llama3", "llama3", "llama3", 128009},                  /* <|eot_id|> */
        {"llama3_instruct", "llama3", "llama3", 128009},
        {"chatml", "qwen3", "chatml", 151645},                   /* <|im_end|> */
        {"chatml_default_system", "qwen3", "chatml", 151645},
    };
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        /* the llama3 tokenizer ships the base template itself */
        hg_tokenizer *tok = load_with_template(k[i].tok, strcmp(k[i].tmpl, "llama3") ? k[i].tmpl : NULL);
        if (!tok) continue;
        const char *f = hg_tokenizer_chat_format(tok);
        CHECK_MSG(hg_tokenizer_has_chat(tok) && f && !strcmp(f, k[i].format), "%s: format %s", k[i].tmpl, f ? f : "(none)");
        CHECK_MSG(hg_tokenizer_chat_end_id(tok) == k[i].end_id, "%s: end id %d", k[i].tmpl, hg_tokenizer_chat_end_id(tok));
        int n = check_family_goldens(tok, k[i].tmpl, "recognised");
        CHECK_MSG(n == 17, "%s: %d cases", k[i].tmpl, n);
        hg_tokenizer_free(tok);

        /* the template file is recognised (with surrounding whitespace too); one changed byte is not */
        char rel[256];
        snprintf(rel, sizeof rel, "tokenizers/chat/templates/%s.jinja", k[i].tmpl);
        char *t = tt_read(rel, NULL);
        CHECK(t != NULL);
        if (!t) continue;
        f = hg_chat_template_format(t);
        CHECK_MSG(f && !strcmp(f, k[i].format), "%s.jinja recognised as %s", k[i].tmpl, f ? f : "(none)");
        size_t tl = strlen(t);
        char *padded = malloc(tl + 8);
        snprintf(padded, tl + 8, "\n  %s\n\n", t);
        CHECK(hg_chat_template_supported(padded));
        free(padded);
        t[tl / 2] ^= 0x20;
        CHECK_MSG(!hg_chat_template_supported(t), "%s.jinja with one byte changed is refused", k[i].tmpl);
        free(t);
    }
}

/* Forcing a built-in format by name: the rendering equals the goldens of that format's template;
 * unknown names and vocabularies without the format's tokens are refused with a clear message. */
static void check_forcing(void) {
    hg_error err = {0};
    char *out = NULL;
    hg_chat_msg m[1] = {{"user", "hi"}};
    /* Qwen 3's own template (tools, thinking) is not one of ours */
    hg_tokenizer *q = tt_load("qwen3");
    CHECK(q != NULL);
    if (q) {
        CHECK(!hg_tokenizer_has_chat(q) && !hg_tokenizer_chat_format(q) && hg_tokenizer_chat_end_id(q) == -1);
        hg_status st = hg_chat_render(q, m, 1, true, &out, &err);
        CHECK_MSG(st == HG_STATUS_UNSUPPORTED && out == NULL && strstr(err.msg, "not supported") &&
                  strstr(err.msg, "huginn, llama3, chatml"), "qwen3 refused: %s", err.msg);
        CHECK(hg_tokenizer_set_chat_format(q, "chatml", &err) == HG_OK);
        CHECK(hg_tokenizer_has_chat(q) && !strcmp(hg_tokenizer_chat_format(q), "chatml"));
        CHECK(hg_tokenizer_chat_end_id(q) == 151645);
        int32_t stop[2] = {-1, -1}; /* the EOS, then <|im_end|> unless that is the EOS: each once */
        const int n_stop = hg_tokenizer_stop_ids(q, true, stop);
        const int32_t q_eos = hg_tokenizer_eos_id(q);
        CHECK_MSG(q_eos == 151645 ? n_stop == 1 && stop[0] == 151645 : n_stop == 2 && stop[1] == 151645,
                  "qwen3 stop ids: %d (%d, %d), EOS %d", n_stop, stop[0], stop[1], q_eos);
        CHECK(check_family_goldens(q, "chatml", "forced") == 17);
        st = hg_tokenizer_set_chat_format(q, "chatm", &err);
        CHECK_MSG(st == HG_STATUS_BAD_ARG && strstr(err.msg, "\"chatm\"") && strstr(err.msg, hg_chat_format_names()),
                  "unknown name: %s", err.msg);
        CHECK(!strcmp(hg_tokenizer_chat_format(q), "chatml")); /* a refused name changes nothing */
        st = hg_tokenizer_set_chat_format(q, "llama3", &err);
        CHECK_MSG(st == HG_STATUS_UNSUPPORTED && strstr(err.msg, "<|start_header_id|>"), "llama3 on qwen3: %s", err.msg);
        CHECK(hg_tokenizer_set_chat_format(q, NULL, &err) == HG_OK && !hg_tokenizer_has_chat(q));
        hg_tokenizer_free(q);
    }
    /* forced llama3 is the Instruct template, whatever the tokenizer ships */
    hg_tokenizer *l = tt_load("llama3");
    CHECK(l != NULL);
    if (l) {
        CHECK(hg_tokenizer_set_chat_format(l, "llama3", &err) == HG_OK);
        CHECK(check_family_goldens(l, "llama3_instruct", "forced") == 17);
        hg_status st = hg_tokenizer_set_chat_format(l, "huginn", &err);
        CHECK_MSG(st == HG_STATUS_UNSUPPORTED && strstr(err.msg, "<|begin_header|>"), "huginn on llama3: %s", err.msg);
        hg_tokenizer_free(l);
    }
    CHECK(!strcmp(hg_chat_format_names(), "huginn, llama3, chatml"));
    CHECK(hg_tokenizer_set_chat_format(NULL, "chatml", &err) == HG_STATUS_BAD_ARG);
}

/* hg_tok_set_config replaces every field a config sets (nothing of the previous config survives) and
 * changes nothing when the config is refused. */
static void check_set_config(void) {
    hg_tokenizer *tok = tt_load("huginn_style");
    CHECK(tok != NULL);
    if (!tok) return;
    hg_error err = {0};
    const char *cfg = "{\"bos_token\": {\"content\": \"<|end_turn|>\"}, \"add_bos_token\": false}";
    CHECK(hg_tok_set_config(tok, cfg, strlen(cfg), &err) == HG_OK);
    CHECK(!hg_tokenizer_has_chat(tok) && hg_tokenizer_bos_id(tok) == 65508 && hg_tokenizer_eos_id(tok) == -1);
    CHECK(!hg_tokenizer_add_bos(tok));
    const char *bad = "{\"eos_token\": \"<|end_text|>\"";
    CHECK(hg_tok_set_config(tok, bad, strlen(bad), &err) == HG_STATUS_BAD_FILE && err.msg[0]);
    CHECK(hg_tokenizer_bos_id(tok) == 65508 && hg_tokenizer_eos_id(tok) == -1 && !hg_tokenizer_add_bos(tok));
    char *shipped = tt_read("tokenizers/huginn_style/tokenizer_config.json", NULL);
    CHECK(shipped && hg_tok_set_config(tok, shipped, strlen(shipped), &err) == HG_OK);
    CHECK(hg_tokenizer_has_chat(tok) && hg_tokenizer_bos_id(tok) == 65504 && hg_tokenizer_eos_id(tok) == 65505);
    free(shipped);
    CHECK(hg_tok_set_config(tok, NULL, 0, &err) == HG_OK);
    CHECK(!hg_tokenizer_has_chat(tok) && hg_tokenizer_bos_id(tok) == -1 && hg_tokenizer_eos_id(tok) == -1);
    hg_tokenizer_free(tok);
}

int main(void) {
    check_set_config();
    hg_tokenizer *tok = tt_load("huginn_style");
    CHECK(tok != NULL);
    if (!tok) return hg_test_finish("test_tokenizer_chat");
    CHECK(hg_tokenizer_has_chat(tok));
    CHECK(hg_tokenizer_bos_id(tok) == 65504);
    CHECK(hg_tokenizer_eos_id(tok) == 65505);
    CHECK(hg_tokenizer_token_to_id(tok, "<|end_turn|>") == 65508);
    CHECK(hg_tokenizer_is_special(tok, 65508) && !hg_tokenizer_is_special(tok, 300));
    CHECK(!strcmp(hg_tokenizer_chat_format(tok), "huginn") && hg_tokenizer_chat_end_id(tok) == 65508);
    int32_t stop[2] = {-1, -1}; /* a chat stops at the EOS and the end of turn, a completion at the EOS */
    CHECK(hg_tokenizer_stop_ids(tok, true, stop) == 2 && stop[0] == 65505 && stop[1] == 65508);
    stop[0] = stop[1] = -1;
    CHECK(hg_tokenizer_stop_ids(tok, false, stop) == 1 && stop[0] == 65505 && stop[1] == -1);
    CHECK(hg_tokenizer_stop_ids(NULL, true, stop) == 0);
    check_goldens(tok);

    /* the template file itself is recognised; a modified one is not */
    char *tmpl = tt_read("tokenizers/chat/huginn_chat_template.jinja", NULL);
    CHECK(tmpl && hg_chat_template_supported(tmpl) && !strcmp(hg_chat_template_format(tmpl), "huginn"));
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

    check_family();
    check_forcing();
    /* gpt4o has no chat template at all */
    hg_tokenizer *g = tt_load("gpt4o");
    if (g) {
        hg_chat_msg m[1] = {{"user", "hi"}};
        CHECK(hg_chat_render(g, m, 1, true, &out, &err) == HG_STATUS_UNSUPPORTED && strstr(err.msg, "no chat_template"));
        hg_tokenizer_free(g);
    }
    return hg_test_finish("test_tokenizer_chat");
}
