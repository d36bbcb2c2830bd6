/*
 * fuzz_chat.c — libFuzzer target: the chat formats' input (src/tokenizer/chat*.c): messages with any
 * roles and contents (NUL-separated in the input: role, content, role, content, ...; invalid UTF-8
 * included) rendered and encoded in each built-in format: the first byte picks the Huginn-style
 * tokenizer and its template (tests/data/tokenizers/huginn_style), Llama 3's tokenizer and template
 * (llama3), or Qwen 3's tokenizer forced to ChatML (qwen3), and the generation prompt.
 */
#include "fuzz_util.h"

static hg_tokenizer *g_tok[3];

static hg_tokenizer *load_one(const char *name, const char *force) {
    char jp[128], cp[128];
    snprintf(jp, sizeof jp, "tests/data/tokenizers/%s/tokenizer.json.gz", name);
    snprintf(cp, sizeof cp, "tests/data/tokenizers/%s/tokenizer_config.json", name);
    size_t jl, cl;
    char *json = fz_read(fz_src(jp), &jl);
    char *cfg = fz_read(fz_src(cp), &cl);
    FZ_CHECK(json && cfg);
    hg_error err = {0};
    hg_tokenizer *tok = NULL;
    FZ_CHECK(hg_tokenizer_load_json(json, jl, cfg, cl, &tok, &err) == HG_OK);
    if (force) FZ_CHECK(hg_tokenizer_set_chat_format(tok, force, &err) == HG_OK);
    FZ_CHECK(hg_tokenizer_has_chat(tok));
    free(json), free(cfg);
    return tok;
}

static void load(void) {
    g_tok[0] = load_one("huginn_style", NULL);
    g_tok[1] = load_one("llama3", NULL);
    g_tok[2] = load_one("qwen3", "chatml");
}

/* Loading happens once, before the first input, so it never counts against an input's time limit. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    load();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    /* a NUL-terminated copy, cut at NULs into at most 16 strings */
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    const char *parts[16];
    size_t np = 0;
    for (size_t i = 0, start = 0; i < size && np < 16; i++)
        if (i == size - 1 || buf[i] == 0) parts[np++] = buf + start, start = i + 1;
    hg_chat_msg msgs[8];
    const size_t nm = np / 2;
    for (size_t i = 0; i < nm; i++) msgs[i] = (hg_chat_msg){parts[2 * i], parts[2 * i + 1]};
    hg_error err = {0};
    char *text = NULL;
    hg_tokenizer *tok = g_tok[(data[0] >> 2) % 3]; /* hg_chat_encode uses the handle's cache: not const */
    if (hg_chat_render(tok, msgs, nm, data[0] & 1, &text, &err) == HG_OK) hg_tokenizer_mem_free(text);
    int32_t *ids = NULL;
    int64_t n = 0;
    if (hg_chat_encode(tok, msgs, nm, data[0] & 2, &ids, &n, &err) == HG_OK) hg_tokenizer_mem_free(ids);
    free(buf);
    return 0;
}
