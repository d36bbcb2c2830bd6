/*
 * fuzz_config.c — libFuzzer target: a model's config.json (src/model/config.c). Parsed from memory;
 * an accepted config is checked for the sizes the loaders compute from it.
 */
#include "fuzz_util.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hg_config c;
    hg_error err = {0};
    if (hg_config_parse((const char *)data, size, "config.json", &c, &err) != HG_OK) {
        FZ_CHECK(err.msg[0]);
        return 0;
    }
    FZ_CHECK(c.n_embd > 0 && c.n_head > 0 && c.vocab_size > 0);
    (void)hg_config_n_params(&c);
    return 0;
}
