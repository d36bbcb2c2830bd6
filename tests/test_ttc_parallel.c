/*
 * test_ttc_parallel.c — the diffusion-style parallel sampler (src/generate/diffusion.c), which has no
 * golden yet:
 *   1. reduction: with max_wavefront 1 and inner_steps = n_steps (ema 0: the reference's EMA scales a
 *      new position's embedding by 1-η) it is ordinary greedy generation — same tokens as hg_generate
 *      with the same cache strategy (full, and the sampler's default latest-m4-compress-s4), and every
 *      token reports n_steps iterations; with init_scale 0 the noise mixer is a no-op on fresh states.
 *   2. hand-checked bookkeeping traces (per outer step: first active position, active count, frozen
 *      count, KV positions kept, states carried), derived by hand in the comments below from the rules
 *      of docs/test-time.md "Parallel sampler", for latent-diff (always / never converging), fixed, and the
 *      standing wave with and without the mature-front commit.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"

#include <stdlib.h>
#include <string.h>

static hg_ctx *make_ctx(hg_model *m, int64_t max_steps, const char *kv) {
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 96;
    cp.max_steps = max_steps;
    cp.kv_cache = kv;
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    if (hg_ctx_init(m, &cp, &ctx, &err)) fprintf(stderr, "ctx: %s\n", err.msg);
    return ctx;
}

#define MAX_TRACE 64
typedef struct {
    hg_parallel_step s[MAX_TRACE];
    int64_t n;
} trace;

static void on_step(void *user, const hg_parallel_step *s) {
    trace *t = user;
    if (t->n < MAX_TRACE) t->s[t->n] = *s;
    t->n++;
}

static const int32_t k_prompt[] = {396, 348, 154, 121, 111, 23, 52, 386, 164, 131, 44, 166, 201, 367, 99, 151, 14};
enum { N_PROMPT = sizeof k_prompt / sizeof k_prompt[0] };

static void test_reduction(hg_model *m, const char *kv) {
    const int64_t r = 8, n_new = 12;
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = r;
    gp.max_new_tokens = n_new;
    gp.init_scale = 0;
    int32_t plain[32], par[64];
    int64_t n_plain = 0, n_par = 0, steps[64];
    hg_error err = {0};
    hg_ctx *ctx = make_ctx(m, r, kv);
    CHECK_MSG(hg_generate(ctx, k_prompt, N_PROMPT, &gp, NULL, NULL, plain, &n_plain, &err) == HG_OK, "%s", err.msg);
    hg_parallel_params pp = hg_parallel_default_params();
    pp.max_wavefront = 1;
    pp.inner_steps = r;
    pp.ema_embeds = 0;
    hg_ttc_report rep = {.steps = steps};
    hg_status st = hg_generate_parallel(ctx, k_prompt, N_PROMPT, &gp, &pp, NULL, NULL, par, &n_par, &rep, &err);
    CHECK_MSG(st == HG_OK, "parallel (%s): %s", kv, err.msg);
    CHECK_MSG(n_par == n_plain && n_par == n_new, "%s: %lld parallel tokens vs %lld", kv, (long long)n_par, (long long)n_plain);
    bool same = n_par == n_plain;
    for (int64_t i = 0; same && i < n_par; i++) same = par[i] == plain[i];
    CHECK_MSG(same, "%s: max_wavefront 1, inner = n_steps differs from greedy decoding", kv);
    for (int64_t i = 0; i < n_par; i++) CHECK_MSG(steps[i] == r, "%s: token %lld had %lld iterations", kv, (long long)i, (long long)steps[i]);
    /* one position per outer step, r iterations each: the work of plain decoding */
    CHECK_MSG(rep.outer_steps == n_new - 1 && rep.tokens_processed == (n_new - 1) * r && rep.standing_waves == n_new - 1,
              "%s: %lld outer steps, %lld tokens processed, %lld standing waves", kv, (long long)rep.outer_steps,
              (long long)rep.tokens_processed, (long long)rep.standing_waves);
    hg_ctx_free(ctx);
}

typedef struct {
    int64_t ci, W, nf, n_past, next;
    bool froze;
} expect;

static void check_trace(const char *label, const trace *t, const expect *e, int64_t n) {
    CHECK_MSG(t->n >= n, "%s: %lld outer steps, want at least %lld", label, (long long)t->n, (long long)n);
    for (int64_t i = 0; i < n && i < t->n; i++) {
        const hg_parallel_step *s = &t->s[i];
        const bool ok = s->cache_index == e[i].ci && s->n_active == e[i].W && s->n_frozen == e[i].nf &&
                        s->n_past == e[i].n_past && s->n_active_next == e[i].next && s->froze == e[i].froze;
        CHECK_MSG(ok,
                  "%s step %lld: (ci %lld, W %lld, frozen %lld, kv %lld, next %lld, froze %d), want (%lld, %lld, %lld, "
                  "%lld, %lld, %d)",
                  label, (long long)i, (long long)s->cache_index, (long long)s->n_active, (long long)s->n_frozen,
                  (long long)s->n_past, (long long)s->n_active_next, s->froze, (long long)e[i].ci, (long long)e[i].W,
                  (long long)e[i].nf, (long long)e[i].n_past, (long long)e[i].next, e[i].froze);
    }
}

static int64_t run_trace(hg_model *m, hg_parallel_params pp, int64_t n_new, trace *t, hg_ttc_report *rep) {
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = 8;
    gp.max_new_tokens = n_new;
    gp.init_scale = 0;
    int32_t out[96];
    int64_t n_out = 0;
    hg_error err = {0};
    hg_ctx *ctx = make_ctx(m, 8, "latest-m4-compress-s4");
    pp.on_step = on_step;
    pp.on_step_user = t;
    hg_status st = hg_generate_parallel(ctx, k_prompt, N_PROMPT, &gp, &pp, NULL, NULL, out, &n_out, rep, &err);
    CHECK_MSG(st == HG_OK, "trace: %s", err.msg);
    /* what stays in the cache is exactly the frozen prefix minus the first active position */
    if (t->n > 0 && t->n <= MAX_TRACE) CHECK(hg_ctx_n_past(ctx) == t->s[t->n - 1].n_past);
    hg_ctx_free(ctx);
    return n_out;
}

static void test_traces(hg_model *m) {
    const int64_t n = N_PROMPT; /* the prefill keeps KV [0, n) and freezes y0 at position n */
    hg_ttc_report rep = {0};
    /* (a) latent-diff with exit_t huge: every compared position "converged". Step 0 compares the one
     * state at n with its initial value: freezing at q = n is a no-op (y0 is already frozen), KV cut to
     * n, window {n, n+1}. Step s >= 1: window {ci, ci+1}, ci = n+s-1; the appended position is not
     * compared, so q = ci+1: the guess at ci+1 freezes, KV kept < ci+1, window {ci+1, ci+2}. */
    {
        hg_parallel_params pp = hg_parallel_default_params();
        pp.exit_t = 1e9f;
        trace t = {.n = 0};
        expect e[6] = {{n, 1, n + 1, n, 2, false}};
        for (int64_t s = 1; s < 6; s++) e[s] = (expect){n + s - 1, 2, n + 1 + s, n + s, 2, true};
        int64_t got = run_trace(m, pp, 6, &t, &rep);
        check_trace("latent-diff always", &t, e, 6);
        CHECK_MSG(got == 6 && rep.outer_steps == 6, "latent-diff always: %lld tokens in %lld steps", (long long)got,
                  (long long)rep.outer_steps);
    }
    /* (b) latent-diff never converging, max_wavefront 3, r' = 4, n_steps 8. The window grows 1, 2, 3;
     * at 3 it is full (standing). Without the mature-front commit nothing ever freezes: KV is cut back
     * to n every step and only y0 comes out after max_outer_steps. With it: at step 2 position n has
     * 12 >= 8 iterations: commit it and its guess (frozen n+2, KV n+1, window {n+1, n+2}); step 3 grows
     * to 3 (not standing); step 4 standing again, position n+1 has 12: commit; and so on. */
    {
        hg_parallel_params pp = hg_parallel_default_params();
        pp.exit_t = 0;
        pp.max_wavefront = 3;
        pp.commit_mature_front = false;
        pp.max_outer_steps = 7;
        trace t = {.n = 0};
        expect e[8];
        for (int64_t s = 0; s < 8; s++) e[s] = (expect){n, s < 3 ? s + 1 : 3, n + 1, n, s < 2 ? s + 2 : 3, false};
        int64_t got = run_trace(m, pp, 4, &t, &rep);
        check_trace("standing wave, no commit", &t, e, 8);
        CHECK_MSG(got == 1 && t.n == 8 && rep.standing_waves == 6, "standing wave: %lld tokens, %lld steps, %lld waves",
                  (long long)got, (long long)t.n, (long long)rep.standing_waves);
        pp.commit_mature_front = true;
        t.n = 0;
        expect f[6] = {{n, 1, n + 1, n, 2, false},     {n, 2, n + 1, n, 3, false},
                       {n, 3, n + 2, n + 1, 2, true},  {n + 1, 2, n + 2, n + 1, 3, false},
                       {n + 1, 3, n + 3, n + 2, 2, true}, {n + 2, 2, n + 3, n + 2, 3, false}};
        got = run_trace(m, pp, 4, &t, &rep);
        check_trace("standing wave, mature commit", &t, f, 6);
        CHECK(got == 4);
    }
    /* (c) fixed: lag = n_steps / r' = 2; steps 0..2 only grow the window (1, 2, 3 -> next 2, 3, 4) with
     * KV cut to n; from step 3 every step freezes the oldest guess: KV kept < ci + 1, window stays 4. */
    {
        hg_parallel_params pp = hg_parallel_default_params();
        pp.freeze = HG_FREEZE_FIXED;
        pp.max_wavefront = 0;
        trace t = {.n = 0};
        expect e[7] = {{n, 1, n + 1, n, 2, false}, {n, 2, n + 1, n, 3, false}, {n, 3, n + 1, n, 4, false}};
        for (int64_t s = 3; s < 7; s++) e[s] = (expect){n + s - 3, 4, n + s - 1, n + s - 2, 4, true};
        int64_t got = run_trace(m, pp, 5, &t, &rep);
        check_trace("fixed", &t, e, 7);
        CHECK(got == 5);
    }
}

static void test_errors(hg_model *m) {
    hg_ctx *ctx = make_ctx(m, 8, NULL);
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = 8;
    gp.max_new_tokens = 4;
    int32_t out[64];
    int64_t n = 0;
    hg_error err = {0};
    hg_parallel_params pp = hg_parallel_default_params();
    pp.inner_steps = 0;
    CHECK(hg_generate_parallel(ctx, k_prompt, N_PROMPT, &gp, &pp, NULL, NULL, out, &n, NULL, &err) == HG_STATUS_BAD_ARG);
    pp = hg_parallel_default_params();
    pp.full_prefill = false;
    pp.max_wavefront = 4;
    CHECK(hg_generate_parallel(ctx, k_prompt, N_PROMPT, &gp, &pp, NULL, NULL, out, &n, NULL, &err) == HG_STATUS_BAD_ARG);
    CHECK(strstr(err.msg, "wavefront") != NULL);
    hg_freeze_rule fr;
    CHECK(hg_freeze_rule_parse("token-stability", &fr, &err) == HG_OK && fr == HG_FREEZE_TOKEN_STABILITY);
    CHECK(hg_freeze_rule_parse("latent", &fr, &err) == HG_STATUS_BAD_ARG);
    /* every freeze rule runs to completion and returns only tokens of the vocabulary */
    for (int f = 0; f < HG_FREEZE_COUNT; f++) {
        pp = hg_parallel_default_params();
        pp.freeze = (hg_freeze_rule)f;
        pp.max_wavefront = 8;
        pp.headway = 2;
        gp.init_scale = 1;
        CHECK_MSG(hg_generate_parallel(ctx, k_prompt, N_PROMPT, &gp, &pp, NULL, NULL, out, &n, NULL, &err) == HG_OK,
                  "%s: %s", hg_freeze_rule_name(pp.freeze), err.msg);
        CHECK(n >= 1);
        for (int64_t i = 0; i < n; i++) CHECK(out[i] >= 0 && out[i] < hg_model_config(m)->vocab_size);
    }
    hg_ctx_free(ctx);
}

int main(void) {
    hg_model *m = NULL;
    hg_error err = {0};
    hg_status st = hg_model_load(golden_model_dir("tiny"), NULL, &m, &err);
    CHECK_MSG(st == HG_OK, "load tiny: %s", err.msg);
    if (st) return hg_test_finish("test_ttc_parallel");
    test_reduction(m, "full");
    test_reduction(m, "latest-m4-compress-s4");
    test_traces(m);
    test_errors(m);
    hg_model_free(m);
    return hg_test_finish("test_ttc_parallel");
}
