/*
 * fuzz_chat.c — libFuzzer target: the chat template's input (src/tokenizer/chat.c): messages with any
 * roles and contents (NUL-separated in the input: role, content, role, content, ...; invalid UTF-8
 * included) rendered and encoded with the Huginn-style tokenizer and its template
 * (tests/data/tokenizers/huginn_style).
 */
#include "fuzz_util.h"

static hg_tokenizer *g_tok;

static void load(void) {
    size_t jl, cl;
    char *json = fz_read(fz_src("tests/data/tokenizers/huginn_style/tokenizer.json.gz"), &jl);
    char *cfg = fz_read(fz_src("tests/data/tokenizers/huginn_style/tokenizer_config.json"), &cl);
    FZ_CHECK(json && cfg);
    hg_error err = {0};
    FZ_CHECK(hg_tokenizer_load_json(json, jl, cfg, cl, &g_tok, &err) == HG_OK);
    FZ_CHECK(hg_tokenizer_has_chat(g_tok));
    free(json), free(cfg);
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
    if (hg_chat_render(g_tok, msgs, nm, data[0] & 1, &text, &err) == HG_OK) hg_tokenizer_mem_free(text);
    int32_t *ids = NULL;
    int64_t n = 0;
    if (hg_chat_encode(g_tok, msgs, nm, data[0] & 2, &ids, &n, &err) == HG_OK) hg_tokenizer_mem_free(ids);
    free(buf);
    return 0;
}
