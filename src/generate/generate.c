/*
 * generate.c — fixed-depth generation as the reference's generate_minimal does it (prefill the prompt,
 * then one token per call through the KV cache, each call drawing a fresh initial state or, with
 * `continuous`, starting from ln_f of the previous token's final state). The loop is the scheduler's
 * (sched.c) with one request, so a request batched with others gives the same tokens.
 */
#include "generate/generate.h"

hg_generate_params hg_generate_default_params(void) {
    hg_generate_params p = {0};
    p.n_steps = 32;
    p.max_new_tokens = 64;
    p.init_scale = 1.0f;
    p.sampler = hg_sampler_default_params();
    return p;
}

hg_status hg_generate(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                      hg_token_callback cb, void *user, int32_t *out_ids, int64_t *n_out, hg_error *err) {
    return hg_gen_run_one(ctx, prompt, n_prompt, gp, false, NULL, cb, user, out_ids, n_out, NULL, err);
}
