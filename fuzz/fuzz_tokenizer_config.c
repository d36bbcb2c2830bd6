/*
 * fuzz_tokenizer_config.c — libFuzzer target: tokenizer_config.json (bos/eos tokens, chat template;
 * src/tokenizer/tok_load.c) beside a fixed tokenizer.json (the chain model's, models/default). An
 * accepted pair renders and encodes a chat when it has a template.
 */
#include "fuzz_util.h"

static char *g_json;
static size_t g_len;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_json) {
        g_json = fz_read(fz_src("models/default/tokenizer.json"), &g_len);
        FZ_CHECK(g_json != NULL);
    }
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    if (hg_tokenizer_load_json(g_json, g_len, (const char *)data, size, &tok, &err) != HG_OK) {
        FZ_CHECK(err.msg[0] && !tok);
        return 0;
    }
    const int32_t nv = hg_tokenizer_n_vocab(tok), bos = hg_tokenizer_bos_id(tok), eos = hg_tokenizer_eos_id(tok);
    FZ_CHECK(bos < nv && eos < nv);
    if (hg_tokenizer_has_chat(tok)) {
        const hg_chat_msg msgs[2] = {{"system", "be brief"}, {"user", "k=3;?k="}};
        int32_t *ids = NULL;
        int64_t n = 0;
        if (hg_chat_encode(tok, msgs, 2, true, &ids, &n, &err) == HG_OK) hg_tokenizer_mem_free(ids);
    }
    hg_tokenizer_free(tok);
    return 0;
}
