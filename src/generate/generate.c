/*
 * generate.c — fixed-depth generation as the reference's generate_minimal does it: prefill the prompt
 * in one pass, then one token per call through the KV cache, each call drawing a fresh initial state
 * (init_scale) or, with `continuous`, starting from the previous token's latent output
 * (ln_f of its final state: the normalised state, generate_minimal's warm start;
 * docs/test-time.md "Warm start"). Stops on 65504/65505/65508 and the configured EOS ids, keeping the stop
 * token in the output. Every buffer is allocated once per call, none per token.
 */
#include "model/ctx.h"

#include <math.h>

static const int32_t k_stop_ids[] = {65504, 65505, 65508};

hg_generate_params hg_generate_default_params(void) {
    hg_generate_params p = {0};
    p.n_steps = 32;
    p.max_new_tokens = 64;
    p.init_scale = 1.0f;
    p.sampler = hg_sampler_default_params();
    return p;
}

static bool is_stop(const hg_generate_params *p, int32_t id) {
    for (size_t i = 0; i < sizeof k_stop_ids / sizeof k_stop_ids[0]; i++)
        if (id == k_stop_ids[i]) return true;
    for (int64_t i = 0; i < p->n_eos; i++)
        if (id == p->eos_ids[i]) return true;
    return false;
}

hg_status hg_generate(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                      hg_token_callback cb, void *user, int32_t *out_ids, int64_t *n_out, hg_error *err) {
    const hg_config *c = &ctx->model->cfg;
    const int64_t h = c->n_embd, V = c->vocab_size;
    hg_generate_params p = gp ? *gp : hg_generate_default_params();
    if (n_prompt <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "generate: the prompt is empty");
    if (p.max_new_tokens < 0 || p.n_steps < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "generate: max_new_tokens and n_steps must be >= 0");
    if (n_prompt + p.max_new_tokens > ctx->n_ctx)
        return hg_err(err, HG_STATUS_LIMIT, "generate: prompt (%lld) + new tokens (%lld) exceed the context (%lld)",
                      (long long)n_prompt, (long long)p.max_new_tokens, (long long)ctx->n_ctx);
    hg_status st;
    hg_sampler *smp = NULL;
    int32_t *hist = NULL;
    float *buf = NULL;
    if ((st = hg_sampler_init(&p.sampler, V, &smp, err))) return st;
    hist = hg_malloc((size_t)(n_prompt + p.max_new_tokens) * sizeof *hist);
    buf = hg_malloc((size_t)(V + 2 * h) * sizeof *buf);
    if (!hist || !buf) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto out;
    }
    float *logits = buf, *latent = buf + V, *state = buf + V + h;
    memcpy(hist, prompt, (size_t)n_prompt * sizeof *hist);
    int64_t n_hist = n_prompt, n_gen = 0;
    /* prefix reuse: positions the context already holds with the same ids stay (a chat's earlier
     * turns); the last prompt position is always recomputed, since its logits are needed */
    int64_t keep = 0;
    if (p.reuse_prefix && !p.init_state) {
        const int64_t lim = hg_min_i64(ctx->n_past, n_prompt - 1);
        while (keep < lim && ctx->ids[keep] == prompt[keep]) keep++;
    }
    if ((st = hg_ctx_truncate(ctx, keep, err))) goto out;

    hg_forward_params fp = {.n_steps = p.n_steps, .init_scale = p.init_scale, .seed = p.seed, .init_state = NULL};
    /* prompt: all but the last position without logits, then the last one (chunked = exact) */
    if (n_prompt - 1 > keep) {
        fp.init_state = p.init_state;
        if ((st = hg_ctx_forward(ctx, prompt + keep, n_prompt - 1 - keep, keep, &fp, NULL, NULL, err))) goto out;
        fp.seed = p.seed ^ 0x9e3779b97f4a7c15ull; /* a different stream for the last prompt row */
    }
    fp.init_state = p.init_state ? p.init_state + (n_prompt - 1) * h : NULL;
    if ((st = hg_ctx_forward(ctx, prompt + n_prompt - 1, 1, n_prompt - 1, &fp, latent, logits, err))) goto out;

    while (n_gen < p.max_new_tokens) {
        int32_t id = hg_sampler_sample(smp, logits, hist, n_hist);
        hist[n_hist++] = id;
        out_ids[n_gen++] = id;
        bool go_on = cb ? cb(user, id, p.n_steps, logits) : true;
        if (!go_on || is_stop(&p, id) || n_gen >= p.max_new_tokens) break;
        fp.seed = p.seed + 0x632be59bd9b4e019ull * (uint64_t)n_gen;
        if (p.continuous) {
            memcpy(state, latent, (size_t)h * sizeof(float));
            fp.init_state = state;
        } else {
            fp.init_state = NULL;
        }
        if ((st = hg_ctx_forward(ctx, &id, 1, n_hist - 1, &fp, latent, logits, err))) goto out;
    }
    *n_out = n_gen;
out:
    hg_free(buf);
    hg_free(hist);
    hg_sampler_free(smp);
    return st;
}
