/*
 * fuzz_trainer_state.c — libFuzzer target: trainer_state.json of a checkpoint, read by `huginn train
 * --resume` (src/train/checkpoint.c). Once per process a tiny trainer is created and saved; each
 * input replaces its trainer_state.json and the checkpoint is loaded. An accepted state must hold
 * usable ranges (a huge depth would make the next step run practically forever).
 */
#include "fuzz_util.h"

static char g_ckpt[800];

static void make_checkpoint(void) {
    hg_config c = hg_config_huginn_0125();
    c.n_embd = 16, c.n_head = 2, c.n_kv_head = 2, c.head_dim = 8, c.intermediate_size = 32, c.vocab_size = 40;
    c.n_layers_prelude = 1, c.n_layers_core = 1, c.n_layers_coda = 1, c.block_size = 16;
    hg_train_params p = hg_train_default_params();
    p.rows = 1, p.seq_len = 4, p.max_steps = 10;
    hg_trainer *tr = NULL;
    hg_error err = {0};
    FZ_CHECK(hg_trainer_init_random(&c, &p, 1, &tr, &err) == HG_OK);
    const char *out = fz_path(1, "train_out");
    FZ_CHECK(hg_trainer_save(tr, out, NULL, 1, &err) == HG_OK);
    hg_trainer_free(tr);
    snprintf(g_ckpt, sizeof g_ckpt, "%s/latest", out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_ckpt[0]) make_checkpoint();
    char p[900];
    snprintf(p, sizeof p, "%s/trainer_state.json", g_ckpt);
    if (!fz_write(p, data, size)) return 0;
    hg_train_params q = hg_train_default_params();
    q.rows = 1, q.seq_len = 4;
    hg_trainer *tr = NULL;
    hg_error err = {0};
    if (hg_trainer_load(g_ckpt, &q, &tr, &err) != HG_OK) {
        FZ_CHECK(err.msg[0] && !tr);
        return 0;
    }
    FZ_CHECK(hg_trainer_step_count(tr) >= 0);
    hg_trainer_free(tr);
    return 0;
}
