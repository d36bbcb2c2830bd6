/*
 * speculative.c — self-speculative decoding (docs/test-time.md "Self-speculative decoding"), the reference's
 * generate_speculative for one sequence: the same model drafts with few iterations and verifies
 * with the full depth.
 *
 *   prefill the prompt at n_steps; sample y (the first new token)
 *   loop: draft L tokens one by one at draft_steps (the normal sampler), extending the cache
 *         truncate to the accepted length - 1                   (clear_last(L): drop the drafts' KV)
 *         verify [last accepted, d1 .. d_{L-1}] in ONE call at n_steps -> logits for d1 .. d_L
 *         accept the longest passing prefix; on a failure at j keep d_<j, sample the verifier's token
 *         at j and truncate the rejected positions (clear_last(L - j - 1)); if all pass keep all L
 *         (no bonus token) — the verified KV of accepted positions is what stays in the cache.
 * Pass rule: threshold >= 1: the draft is the verifier's argmax (even when sampling); threshold τ < 1:
 * p_verify(draft) >= τ · max p_verify. With greedy sampling the output equals hg_generate at n_steps.
 * Like the reference, a round can overshoot max_new_tokens (up to max_new_tokens + L - 1 tokens); the
 * output is cut after the first stop token.
 * Buffers are allocated once per call ([L, V] verifier logits); none per token.
 */
#include "generate/generate.h"

#include <math.h>

hg_speculative_params hg_speculative_default_params(void) {
    hg_speculative_params p = {.draft_steps = 32, .lookahead = 8, .verify_threshold = 1.0f};
    return p;
}

/* does draft token d pass under the verifier's logits row? */
static bool passes(const float *logits, int64_t V, int32_t d, float thr) {
    if (thr >= 1.0f) return hg_gen_argmax(logits, V) == d;
    double mx = (double)logits[0];
    for (int64_t i = 1; i < V; i++) mx = (double)logits[i] > mx ? (double)logits[i] : mx;
    /* p(d) >= thr * max p  <=>  exp(l_d - max) >= thr (the softmax normaliser cancels) */
    return exp((double)logits[d] - mx) >= (double)thr;
}

hg_status hg_generate_speculative(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                                  const hg_speculative_params *spp, hg_token_callback cb, void *user,
                                  int32_t *out_ids, int64_t *n_out, hg_ttc_report *rep, hg_error *err) {
    if (!ctx || !prompt || !out_ids || !n_out)
        return hg_err(err, HG_STATUS_BAD_ARG, "generate_speculative: NULL argument");
    const hg_config *c = hg_model_config(hg_gen_model(ctx));
    const int64_t V = c->vocab_size;
    hg_generate_params p = gp ? *gp : hg_generate_default_params();
    hg_speculative_params sp = spp ? *spp : hg_speculative_default_params();
    if (n_prompt <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "generate_speculative: the prompt is empty");
    if (p.max_new_tokens < 0 || p.n_steps < 0 || sp.draft_steps < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "speculative: max_new_tokens, n_steps and draft_steps must be >= 0");
    if (sp.lookahead < 1) return hg_err(err, HG_STATUS_BAD_ARG, "speculative: lookahead must be >= 1");
    if (!(sp.verify_threshold > 0) || !isfinite(sp.verify_threshold))
        return hg_err(err, HG_STATUS_BAD_ARG, "speculative: verify threshold must be a finite number > 0");
    if (p.continuous)
        return hg_err(err, HG_STATUS_UNSUPPORTED,
                      "speculative decoding does not compose with a warm start: the reference carries one "
                      "position's state, which cannot start the multi-position verifying call");
    const int64_t L = sp.lookahead;
    if (n_prompt + p.max_new_tokens + L > hg_ctx_n_ctx(ctx))
        return hg_err(err, HG_STATUS_LIMIT,
                      "speculative: prompt (%lld) + new tokens (%lld) + lookahead (%lld) exceed the context (%lld)",
                      (long long)n_prompt, (long long)p.max_new_tokens, (long long)L, (long long)hg_ctx_n_ctx(ctx));
    if (rep) rep->n_tokens = rep->n_trace = 0;
    *n_out = 0;
    if (p.max_new_tokens == 0) return hg_ctx_truncate(ctx, 0, err);

    hg_status st;
    hg_sampler *smp = NULL;
    int32_t *seq = NULL;  /* [n_prompt + max_new + L] accepted tokens, then drafts */
    float *logits = NULL; /* [L, V] verifier logits (row 0 also serves the prefill and the drafts) */
    if ((st = hg_sampler_init(&p.sampler, V, &smp, err))) return st;
    seq = hg_malloc((size_t)(n_prompt + p.max_new_tokens + L) * sizeof *seq);
    logits = hg_malloc((size_t)(L * V) * sizeof *logits);
    if (!seq || !logits) {
        st = hg_err(err, HG_STATUS_NOMEM, "out of memory");
        goto out;
    }
    memcpy(seq, prompt, (size_t)n_prompt * sizeof *seq);
    if ((st = hg_ctx_truncate(ctx, 0, err))) goto out;

    hg_forward_params fp = {.n_steps = p.n_steps, .init_scale = p.init_scale, .seed = p.seed, .init_state = NULL};
    uint64_t calls = 0;
#define NEXT_SEED() hg_gen_token_seed(p.seed, ++calls) /* a fresh s0 stream per call */
    /* prefill: all but the last position without logits, then the last one (chunking is exact) */
    if (n_prompt > 1) {
        fp.init_state = p.init_state;
        if ((st = hg_ctx_forward(ctx, prompt, n_prompt - 1, 0, &fp, NULL, NULL, err))) goto out;
    }
    fp.init_state = p.init_state ? p.init_state + (n_prompt - 1) * c->n_embd : NULL;
    fp.seed = NEXT_SEED();
    if ((st = hg_ctx_forward(ctx, prompt + n_prompt - 1, 1, n_prompt - 1, &fp, NULL, logits, err))) goto out;
    if (rep) rep->core_passes += p.n_steps, rep->core_iterations += p.n_steps * n_prompt, rep->coda_calls++;
    fp.init_state = NULL;

    int64_t n_seq = n_prompt, n_gen = 0;
    bool stop = false;
    {
        const int32_t id = hg_sampler_sample(smp, logits, seq, n_seq);
        seq[n_seq++] = id;
        out_ids[n_gen] = id;
        hg_gen_report_token(rep, n_gen++, p.n_steps, NAN);
        stop = hg_gen_is_stop(ctx->model, &p, id) || (cb && !cb(user, id, p.n_steps, logits));
    }
    while (!stop && n_gen < p.max_new_tokens) {
        const int64_t cur = n_seq; /* accepted length; seq[cur-1] is not in the cache yet */
        /* ---- draft L tokens at draft_steps ---- */
        fp.n_steps = sp.draft_steps;
        for (int64_t i = 0; i < L; i++) {
            fp.seed = NEXT_SEED();
            if ((st = hg_ctx_forward(ctx, seq + cur - 1 + i, 1, cur - 1 + i, &fp, NULL, logits, err))) goto out;
            seq[cur + i] = hg_sampler_sample(smp, logits, seq, cur + i);
        }
        if (rep) rep->draft_tokens += L, rep->core_passes += L * sp.draft_steps, rep->core_iterations += L * sp.draft_steps,
                 rep->coda_calls += L;
        if ((st = hg_ctx_truncate(ctx, cur - 1, err))) goto out; /* clear_last(L) */
        /* ---- verify [seq[cur-1], d_0 .. d_{L-2}] at n_steps in one call ---- */
        fp.n_steps = p.n_steps;
        fp.seed = NEXT_SEED();
        if ((st = hg_ctx_forward(ctx, seq + cur - 1, L, cur - 1, &fp, NULL, logits, err))) goto out;
        if (rep) rep->verify_calls++, rep->core_passes += p.n_steps, rep->core_iterations += p.n_steps * L, rep->coda_calls++;
        int64_t j = 0;
        while (j < L && passes(logits + j * V, V, seq[cur + j], sp.verify_threshold)) j++;
        int64_t n_acc = j;
        if (j < L) { /* keep d_<j, take the verifier's token at j, drop the KV of positions > cur-1+j */
            seq[cur + j] = hg_sampler_sample(smp, logits + j * V, seq, cur);
            n_acc = j + 1;
            if ((st = hg_ctx_truncate(ctx, cur + j, err))) goto out;
        }
        if (rep) rep->accepted_tokens += j;
        for (int64_t i = 0; i < n_acc && !stop; i++) {
            const int32_t id = seq[cur + i];
            /* a draft that passed a threshold test without being the verifier's argmax came from the draft */
            const int64_t steps = hg_gen_argmax(logits + i * V, V) == id ? p.n_steps : sp.draft_steps;
            out_ids[n_gen] = id;
            hg_gen_report_token(rep, n_gen++, steps, NAN);
            stop = hg_gen_is_stop(ctx->model, &p, id) || (cb && !cb(user, id, steps, logits + i * V));
        }
        n_seq = cur + n_acc;
    }
#undef NEXT_SEED
    *n_out = n_gen;
out:
    hg_free(seq);
    hg_free(logits);
    hg_sampler_free(smp);
    return st;
}
