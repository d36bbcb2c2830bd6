/*
 * fuzz_tokenizer_config.c — libFuzzer target: tokenizer_config.json (bos/eos tokens, add_bos_token,
 * chat template; src/tokenizer/tok_load.c) beside a fixed tokenizer.json (the chain model's,
 * models/default). An accepted config renders and encodes a chat when it has a template.
 *
 * The input is only the config: the tokenizer.json never changes, so it is loaded once per process
 * (LLVMFuzzerInitialize) and each input is applied to it with hg_tok_set_config, the function
 * hg_tokenizer_load_json applies a config with (which replaces every field a config sets, so no
 * input sees the previous one's). Reloading the 57 KB tokenizer.json per input had held the target
 * at ~19 executions/s (docs/results/fuzzing.md); the edges that loading counted per input are
 * tokenizer.json's (fuzz_tokenizer_json's target), none of the config's. The BPE cache persists across
 * inputs, so a piece may be a cache hit here where a fresh tokenizer would miss.
 */
#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

static hg_tokenizer *g_tok;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    size_t len = 0;
    char *json = fz_read(fz_src("models/default/tokenizer.json"), &len);
    FZ_CHECK(json != NULL);
    hg_error err = {0};
    FZ_CHECK(hg_tokenizer_load_json(json, len, NULL, 0, &g_tok, &err) == HG_OK);
    free(json);
    return 0;
}

static void exercise(hg_tokenizer *tok) {
    const int32_t nv = hg_tokenizer_n_vocab(tok), bos = hg_tokenizer_bos_id(tok), eos = hg_tokenizer_eos_id(tok);
    FZ_CHECK(bos < nv && eos < nv);
    if (hg_tokenizer_has_chat(tok)) {
        const hg_chat_msg msgs[2] = {{"system", "be brief"}, {"user", "k=3;?k="}};
        int32_t *ids = NULL;
        int64_t n = 0;
        hg_error err = {0};
        if (hg_chat_encode(tok, msgs, 2, true, &ids, &n, &err) == HG_OK) hg_tokenizer_mem_free(ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hg_error err = {0};
    if (hg_tok_set_config(g_tok, (const char *)data, size, &err) != HG_OK) {
        FZ_CHECK(err.msg[0]);
        return 0;
    }
    exercise(g_tok);
    return 0;
}
