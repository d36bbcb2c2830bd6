/*
 * fuzz_tokenizer_json.c — libFuzzer target: tokenizer.json (src/tokenizer/tok_load.c,
 * tok_components.c: model, added tokens, normalizers, pre-tokenizers, post-processor, decoder).
 * An accepted tokenizer encodes and decodes a few fixed strings, so the components it configured run.
 */
#include "fuzz_util.h"

static void exercise(hg_tokenizer *tok) {
    static const char *const texts[] = {"Hello, world! 123 caf\xc3\xa9  \xe2\x80\x94 \xf0\x9f\x98\x80", "k=3;a=k;?a=",
                                        "<|s|> hello.hello e (x)", "\t\n  \xef\xac\x81 \xe2\x91\xa0"};
    hg_error err = {0};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids = NULL;
        int64_t n = 0;
        if (hg_tokenizer_encode(tok, texts[i], strlen(texts[i]), i & 1, &ids, &n, &err) != HG_OK) continue;
        for (int64_t k = 0; k < n; k++) FZ_CHECK(ids[k] >= 0 && ids[k] < hg_tokenizer_n_vocab(tok));
        char *text = NULL;
        size_t len;
        if (hg_tokenizer_decode(tok, ids, n, i & 2, &text, &len, &err) == HG_OK) hg_tokenizer_mem_free(text);
        hg_tokenizer_mem_free(ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    if (hg_tokenizer_load_json((const char *)data, size, NULL, 0, &tok, &err) != HG_OK) {
        FZ_CHECK(err.msg[0] && !tok);
        return 0;
    }
    exercise(tok);
    hg_tokenizer_free(tok);
    return 0;
}
