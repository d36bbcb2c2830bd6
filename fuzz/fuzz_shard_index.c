/*
 * fuzz_shard_index.c — libFuzzer target: model.safetensors.index.json (src/model/load_hf.c). Once per
 * process a tiny valid model is written (hg_checkpoint_init) and its weights renamed to a shard; each
 * input is the index beside it, and the directory is loaded as a model.
 */
#include "fuzz_util.h"

static const char *model_dir(void) {
    static char dir[700];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s", fz_path(1, "sharded"));
    hg_config c = hg_config_huginn_0125();
    c.n_embd = 16, c.n_head = 2, c.n_kv_head = 2, c.head_dim = 8, c.intermediate_size = 32, c.vocab_size = 40;
    c.n_layers_prelude = 1, c.n_layers_core = 1, c.n_layers_coda = 1, c.block_size = 16;
    hg_error err = {0};
    FZ_CHECK(hg_checkpoint_init(&c, dir, HG_DTYPE_F32, 1, &err) == HG_OK);
    char a[800], b[800];
    snprintf(a, sizeof a, "%s/model.safetensors", dir);
    snprintf(b, sizeof b, "%s/model-00001-of-00001.safetensors", dir);
    FZ_CHECK(rename(a, b) == 0);
    return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = model_dir();
    char p[800];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    if (!fz_write(p, data, size)) return 0;
    hg_model *m = NULL;
    hg_error err = {0};
    if (hg_model_load(dir, NULL, &m, &err) != HG_OK) FZ_CHECK(err.msg[0] && !m);
    hg_model_free(m);
    return 0;
}
