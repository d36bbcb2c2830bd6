/*
 * test_sched.c — the scheduler (continuous batching with per-request parameters) against every
 * request run alone.
 *
 * Ten requests mix both generation loops, depths 0..12, seeds, init scales 0 and 1, greedy and
 * sampled tokens, warm starts, and all six adaptive-exit criteria with thresholds that make tokens
 * leave at different iterations. Alone, each runs with hg_generate / hg_generate_adaptive on a fresh
 * context. Batched, they go through a scheduler of 4 slots: the first four join at once, the rest join
 * as slots free up between steps (so rows join and leave mid-run). Ids, per-token steps, exit values
 * (bit patterns, NaN included) and the check traces must be identical. Then the work of an exited
 * row: the context's core-layer counter must equal R x (prompt x prefill steps + the steps of every
 * later token), i.e. a token that left at iteration t did no core work after it, and some tokens did
 * leave early. CTest runs this at every kernel level (HG_CPU). Then the mix again on the model exported
 * to Q8_0, with all ten requests in one batch where the kernels pack Q8_0 weights (any batch size is
 * bit-identical to each request alone there). And the plain loop's initial-state streams, pinned by
 * hand with hg_ctx_forward: batch and alone share the scheduler, so only this sees a wrong stream.
 * Last, hg_sched_add_many: a burst admitted together (prompts prefilled in shared calls when the weights
 * are packed) against each request alone through hg_sched_add, logits bit for bit.
 */
#include "golden.h"
#include "harness.h"
#include "generate/generate.h"
#include "huginn.h"
#include "kernels/kernels.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>

#include <math.h>
#include <string.h>

enum { NREQ = 10, SLOTS = 4, MAXNEW = 7, PLEN = 12, MAXSTEPS = 12 };

typedef struct result {
    int32_t ids[MAXNEW];
    int64_t n;
    int64_t steps[MAXNEW];
    float values[MAXNEW];
    float trace[256];
    hg_ttc_report rep;
} result;

static int32_t prompt_tok(int i, int j) { return (int32_t)((i * 131 + j * 17 + 7) % 512); }

/* Request i of the mix (its prompt in `prompt`, outputs into res). */
static hg_request make_request(int i, int32_t *prompt, result *res) {
    static const hg_exit_criterion crit[] = {HG_EXIT_NONE,          HG_EXIT_ENTROPY_DIFF, HG_EXIT_LATENT_DIFF,
                                             HG_EXIT_KL,            HG_EXIT_MINP_KL,      HG_EXIT_ARGMAX_STABILITY,
                                             HG_EXIT_COSINE,        HG_EXIT_LATENT_DIFF,  HG_EXIT_KL,
                                             HG_EXIT_NONE};
    /* thresholds loose enough that tokens exit after a few iterations on the tiny golden model */
    static const double thr[] = {(double)NAN, 0.05, 0.3, 0.05, 1e-3, 2, 0.05, 0.2, 0.5, (double)NAN};
    hg_request r = hg_request_default();
    const int n_prompt = 1 + (i * 5) % PLEN;
    for (int j = 0; j < n_prompt; j++) prompt[j] = prompt_tok(i, j);
    r.prompt = prompt;
    r.n_prompt = n_prompt;
    r.gen.n_steps = (int64_t[]){4, 12, 8, 10, 6, 12, 9, 1, 0, 5}[i];
    r.gen.max_new_tokens = 3 + i % 5;
    r.gen.init_scale = i % 3 == 0 ? 0.0f : 1.0f;
    r.gen.seed = 100 + (uint64_t)i;
    r.gen.continuous = i == 2 || i == 6 || i == 9;
    r.gen.sampler.temperature = i % 4 == 1 ? 0.9f : 0.0f;
    r.gen.sampler.seed = 7 + (uint64_t)i;
    r.adaptive = i != 0 && i != 9; /* requests 0 and 9 follow hg_generate's loop */
    r.exit.criterion = crit[i];
    r.exit.threshold = thr[i];
    r.exit.min_steps = i == 4 ? 2 : 0;
    r.exit.check_every = i == 5 ? 2 : 1;
    r.exit.warm_state = i == 6 ? HG_WARM_STATE_NORMALIZED : HG_WARM_STATE_DEFAULT;
    memset(res, 0, sizeof *res);
    res->rep.steps = res->steps;
    res->rep.exit_values = res->values;
    res->rep.trace = res->trace;
    res->rep.trace_cap = 256;
    r.out_ids = res->ids;
    r.n_out = &res->n;
    r.rep = r.adaptive ? &res->rep : NULL;
    return r;
}

static hg_ctx_params ctx_params(void) {
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 32;
    cp.max_steps = MAXSTEPS;
    return cp;
}

static void run_alone(hg_model *m, int i, result *res) {
    int32_t prompt[PLEN];
    hg_request r = make_request(i, prompt, res);
    hg_ctx_params cp = ctx_params();
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK, "%s", err.msg);
    if (!ctx) return;
    hg_status st = r.adaptive ? hg_generate_adaptive(ctx, r.prompt, r.n_prompt, &r.gen, &r.exit, NULL, NULL, res->ids,
                                                     &res->n, r.rep, &err)
                              : hg_generate(ctx, r.prompt, r.n_prompt, &r.gen, NULL, NULL, res->ids, &res->n, &err);
    CHECK_MSG(st == HG_OK, "request %d alone: %s", i, err.msg);
    hg_ctx_free(ctx);
}

static bool same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

typedef struct captured {
    float *logits; /* [max, V] */
    int64_t n, V, max;
} captured;

static bool capture(void *user, int32_t id, int64_t steps, const float *logits) {
    (void)id, (void)steps;
    captured *c = user;
    if (c->n < c->max) memcpy(c->logits + c->n * c->V, logits, (size_t)c->V * sizeof(float));
    c->n++;
    return true;
}

/* hg_generate's plain loop (generate_minimal) against the same computation by hand: the prompt but its
 * last position on `seed`, the last position on hg_gen_last_prompt_seed(seed) (on `seed` when it is
 * the only position computed), each later token on hg_gen_token_seed(seed, tokens so far); the logits
 * that chose every token must be equal bit for bit. */
static void test_plain_seed_streams(hg_model *m) {
    const int64_t V = hg_model_config(m)->vocab_size;
    hg_error err = {0};
    const hg_ctx_params cp = ctx_params();
    for (int n_prompt = 1; n_prompt <= 6; n_prompt += 5) {
        int32_t prompt[6];
        for (int j = 0; j < n_prompt; j++) prompt[j] = prompt_tok(3, j);
        hg_generate_params gp = hg_generate_default_params();
        gp.n_steps = 4;
        gp.max_new_tokens = MAXNEW;
        gp.init_scale = 1.0f;
        gp.seed = 1234;
        gp.sampler.temperature = 0.0f;
        float *got = malloc((size_t)(MAXNEW * V) * sizeof(float)), *want = malloc((size_t)V * sizeof(float));
        hg_ctx *a = NULL, *b = NULL;
        CHECK(got && want && hg_ctx_init(m, &cp, &a, &err) == HG_OK && hg_ctx_init(m, &cp, &b, &err) == HG_OK);
        if (!got || !want || !a || !b) {
            free(got), free(want), hg_ctx_free(a), hg_ctx_free(b);
            continue;
        }
        captured cap = {got, 0, V, MAXNEW};
        int32_t ids[MAXNEW];
        int64_t n_out = 0;
        CHECK_MSG(hg_generate(a, prompt, n_prompt, &gp, capture, &cap, ids, &n_out, &err) == HG_OK, "%s", err.msg);
        CHECK(n_out >= 1 && cap.n == n_out);
        hg_forward_params fp = {.n_steps = gp.n_steps, .init_scale = gp.init_scale, .seed = gp.seed, .init_state = NULL};
        if (n_prompt > 1) {
            CHECK(hg_ctx_forward(b, prompt, n_prompt - 1, 0, &fp, NULL, NULL, &err) == HG_OK);
            fp.seed = hg_gen_last_prompt_seed(gp.seed);
        }
        CHECK(hg_ctx_forward(b, prompt + n_prompt - 1, 1, n_prompt - 1, &fp, NULL, want, &err) == HG_OK);
        for (int64_t t = 0; t < n_out && t < MAXNEW; t++) {
            CHECK_MSG(!memcmp(got + t * V, want, (size_t)V * sizeof(float)),
                      "prompt of %d: the logits of token %lld differ from the hand-made loop's", n_prompt, (long long)t);
            fp.seed = hg_gen_token_seed(gp.seed, t + 1);
            if (t + 1 < n_out) CHECK(hg_ctx_forward(b, &ids[t], 1, n_prompt + t, &fp, NULL, want, &err) == HG_OK);
        }
        free(got), free(want), hg_ctx_free(a), hg_ctx_free(b);
    }
}

static void test_mixed_batch(hg_model *m, int slots) {
    static result alone[NREQ], batched[NREQ];
    for (int i = 0; i < NREQ; i++) run_alone(m, i, &alone[i]);

    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = slots;
    bp.ctx = ctx_params();
    hg_sched *s = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_sched_init(m, &bp, &s, &err) == HG_OK, "%s", err.msg);
    if (!s) return;
    int32_t prompts[NREQ][PLEN];
    int next = 0, joined_late = 0, steps = 0;
    while (next < NREQ || hg_sched_n_running(s) > 0) {
        /* join between steps while a slot is free */
        while (next < NREQ && hg_sched_n_running(s) < slots) {
            hg_request r = make_request(next, prompts[next], &batched[next]);
            CHECK_MSG(hg_sched_add(s, &r, NULL, &err) == HG_OK, "add %d: %s", next, err.msg);
            joined_late += steps > 0;
            next++;
        }
        if (hg_sched_step(s, &err) != HG_OK || ++steps > 1000) {
            CHECK_MSG(false, "step %d: %s", steps, err.msg);
            break;
        }
    }
    CHECK_MSG(slots >= NREQ || joined_late >= 3, "only %d requests joined a running batch", joined_late);
    int early = 0;
    for (int i = 0; i < NREQ; i++) {
        const result *a = &alone[i], *b = &batched[i];
        CHECK_MSG(a->n == b->n && a->n > 0, "request %d: %lld tokens batched, %lld alone", i, (long long)b->n,
                  (long long)a->n);
        for (int64_t k = 0; k < a->n && k < b->n; k++) {
            CHECK_MSG(a->ids[k] == b->ids[k], "request %d token %lld: id %d batched, %d alone", i, (long long)k,
                      b->ids[k], a->ids[k]);
            CHECK_MSG(a->steps[k] == b->steps[k], "request %d token %lld: %lld steps batched, %lld alone", i,
                      (long long)k, (long long)b->steps[k], (long long)a->steps[k]);
            CHECK_MSG(same_float(a->values[k], b->values[k]), "request %d token %lld: exit value %g vs %g", i,
                      (long long)k, (double)b->values[k], (double)a->values[k]);
        }
        CHECK_MSG(a->rep.n_trace == b->rep.n_trace, "request %d: %lld checks batched, %lld alone", i,
                  (long long)b->rep.n_trace, (long long)a->rep.n_trace);
        for (int64_t k = 0; k < a->rep.n_trace && k < 256; k++)
            CHECK_MSG(same_float(a->trace[k], b->trace[k]), "request %d check %lld differs", i, (long long)k);
        CHECK(a->rep.core_passes == b->rep.core_passes && a->rep.coda_calls == b->rep.coda_calls);
        for (int64_t k = 1; k < a->n; k++) early += a->steps[k] < make_request(i, prompts[i], &batched[i]).gen.n_steps;
    }
    CHECK_MSG(early >= 5, "only %d tokens exited early: the exit paths are not exercised", early);
    hg_sched_free(s);
}

/* A row that exits early does no further core work for that token: count the layer applications. */
static void test_exit_skips_work(hg_model *m) {
    const int64_t R = hg_model_config(m)->n_layers_core;
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = 2;
    bp.ctx = ctx_params();
    hg_sched *s = NULL;
    hg_error err = {0};
    CHECK(hg_sched_init(m, &bp, &s, &err) == HG_OK);
    if (!s) return;
    int32_t p0[PLEN], p1[PLEN];
    result r0, r1;
    hg_request a = make_request(2, p0, &r0); /* latent-diff, exits early */
    hg_request b = make_request(0, p1, &r1); /* fixed depth beside it */
    a.gen.max_new_tokens = b.gen.max_new_tokens = 6;
    int64_t slot_a = -1, slot_b = -1;
    CHECK(hg_sched_add(s, &a, &slot_a, &err) == HG_OK && hg_sched_add(s, &b, &slot_b, &err) == HG_OK);
    for (int k = 0; k < 100 && hg_sched_n_running(s) > 0; k++)
        if (hg_sched_step(s, &err) != HG_OK) {
            CHECK_MSG(false, "step: %s", err.msg);
            break;
        }
    const hg_ctx_counters ca = hg_ctx_get_counters(hg_sched_ctx(s, slot_a));
    const hg_ctx_counters cb = hg_ctx_get_counters(hg_sched_ctx(s, slot_b));
    int64_t want = R * a.n_prompt * r0.steps[0], early = 0;
    for (int64_t k = 1; k < r0.n; k++) want += R * r0.steps[k], early += r0.steps[k] < a.gen.n_steps;
    CHECK_MSG(ca.core == want, "exiting row: %lld core layer applications, want %lld", (long long)ca.core,
              (long long)want);
    CHECK_MSG(early > 0, "no token of the exiting row exited early");
    CHECK_MSG(cb.core == R * b.gen.n_steps * (b.n_prompt + r1.n - 1), "fixed row: %lld core layer applications",
              (long long)cb.core);
    /* argument errors: a full scheduler, a bad request */
    CHECK(hg_sched_n_running(s) == 0);
    hg_request bad = make_request(3, p0, &r0);
    bad.n_prompt = 0;
    CHECK(hg_sched_add(s, &bad, NULL, &err) == HG_STATUS_BAD_ARG);
    bad = make_request(3, p0, &r0);
    bad.gen.max_new_tokens = 40; /* prompt + new tokens beyond the 32 positions */
    CHECK(hg_sched_add(s, &bad, NULL, &err) == HG_STATUS_LIMIT);
    bad = make_request(3, p0, &r0);
    bad.gen.n_steps = MAXSTEPS + 1; /* deeper than the slots' caches: refused before it can fail a shared step */
    CHECK(hg_sched_add(s, &bad, NULL, &err) == HG_STATUS_LIMIT && hg_sched_n_running(s) == 0);
    hg_request ok = make_request(1, p0, &r0), ok2 = make_request(3, p1, &r1);
    ok.gen.max_new_tokens = ok2.gen.max_new_tokens = 20;
    ok.gen.eos_ids = ok2.gen.eos_ids = NULL;
    CHECK(hg_sched_add(s, &ok, &slot_a, &err) == HG_OK && hg_sched_add(s, &ok2, &slot_b, &err) == HG_OK);
    int32_t p2[PLEN];
    result r2;
    hg_request third = make_request(4, p2, &r2);
    CHECK(hg_sched_add(s, &third, NULL, &err) == HG_STATUS_LIMIT);
    /* cancelling frees the slot at once */
    hg_sched_cancel(s, slot_a);
    CHECK(!hg_sched_running(s, slot_a) && hg_sched_n_running(s) == (hg_sched_running(s, slot_b) ? 1 : 0));
    hg_sched_free(s);
}

/* ---- hg_sched_add_many ----------------------------------------------------------------------------- */

enum { NMANY = 9, MANY_NEW = 4 };

typedef struct many_req {
    hg_request r;
    int32_t *prompt, ids[MANY_NEW];
    int64_t n;
    captured cap;
} many_req;

/* Request k of the burst on a context of n_ctx positions (round 1: the same prompts grown by a few
 * tokens, with reuse_prefix, so a held prefix is kept): plain ones of every prompt length from one
 * position to past the context's chunk (two chunks, each a call of its own), depths 0..12, both init
 * scales, an init_state, a warm start, sampling, a request done at its first token and one that only
 * prefills; one adaptive; one the cache cannot hold, then one with an id outside the vocabulary (each
 * refused alone, the others go on). Past the chunk
 * go a drawn initial state (its stream continues across chunks) and a given one (read at each chunk's
 * offset). */
static void many_make(many_req *q, int k, int round, int64_t n_ctx, int64_t V, const float *init_state) {
    const int64_t len[NMANY] = {1, 2, n_ctx - MANY_NEW - 6, 30, 5, n_ctx > 128 ? 140 : 9, 20, 3, 7};
    hg_request r = hg_request_default();
    r.n_prompt = len[k] + (round && k != 2 ? 3 : 0);
    for (int64_t j = 0; j < r.n_prompt; j++) q->prompt[j] = prompt_tok(k, (int)j);
    r.prompt = q->prompt;
    r.gen.n_steps = (int64_t[]){4, 0, 6, 12, 8, 3, 5, 1, round ? 2 : MAXSTEPS + 1}[k];
    if (k == 8 && round) q->prompt[2] = (int32_t)V; /* outside the vocabulary: refused alone */
    r.gen.max_new_tokens = k == 6 ? 0 : k == 7 ? 1 : MANY_NEW;
    r.gen.init_scale = k == 1 ? 0.0f : 1.0f;
    r.gen.seed = 40 + (uint64_t)k + (uint64_t)round;
    r.gen.continuous = k == 3;
    r.gen.init_state = k == 5 ? init_state : NULL;
    r.gen.reuse_prefix = round > 0;
    r.gen.sampler.temperature = k == 2 ? 0.9f : 0.0f;
    r.gen.sampler.seed = 3 + (uint64_t)k;
    r.adaptive = k == 4;
    r.exit.criterion = HG_EXIT_KL;
    r.exit.threshold = 0.05;
    q->n = 0;
    q->cap.n = 0;
    q->cap.V = V;
    q->cap.max = MANY_NEW;
    r.out_ids = q->ids;
    r.n_out = &q->n;
    r.cb = capture;
    r.user = &q->cap;
    q->r = r;
}

static void test_add_many(hg_model *m, int64_t n_ctx, const char *what) {
    const hg_config *c = hg_model_config(m);
    const int64_t V = c->vocab_size, h = c->n_embd;
    hg_ctx_params cp = ctx_params();
    cp.n_ctx = n_ctx;
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = NMANY;
    bp.ctx = cp;
    float *init_state = malloc((size_t)(n_ctx * h) * sizeof(float)), *logits = NULL;
    static many_req alone[NMANY], many[NMANY + 1];
    int32_t *prompts = malloc((size_t)(2 * (NMANY + 1) * n_ctx) * sizeof(int32_t));
    logits = malloc((size_t)(2 * (NMANY + 1) * MANY_NEW * V) * sizeof(float));
    hg_ctx *ctx[NMANY] = {0};
    hg_sched *s = NULL;
    hg_error err = {0}, errs[NMANY + 1];
    CHECK(init_state && prompts && logits && hg_sched_init(m, &bp, &s, &err) == HG_OK);
    for (int k = 0; k < NMANY; k++) CHECK(hg_ctx_init(m, &cp, &ctx[k], &err) == HG_OK);
    if (!init_state || !prompts || !logits || !s) goto out;
    for (int64_t i = 0; i < n_ctx * h; i++) init_state[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int k = 0; k <= NMANY; k++) {
        alone[k % NMANY].cap.logits = logits + (size_t)k * MANY_NEW * V;
        many[k].cap.logits = logits + (size_t)(NMANY + 1 + k) * MANY_NEW * V;
        alone[k % NMANY].prompt = prompts + k * n_ctx;
        many[k].prompt = prompts + (NMANY + 1 + k) * n_ctx;
    }
    for (int round = 0; round < 2; round++) {
        hg_request reqs[NMANY + 1];
        int64_t slots[NMANY + 1];
        for (int k = 0; k <= NMANY; k++) {
            many_make(&many[k], k % NMANY, round, n_ctx, V, init_state); /* the tenth: no slot left */
            reqs[k] = many[k].r;
        }
        CHECK(hg_sched_add_many(s, reqs, NMANY + 1, slots, errs) == (round ? HG_STATUS_BAD_INPUT : HG_STATUS_LIMIT));
        for (int k = 0; k <= NMANY; k++) {
            const bool refused = k == 8 || k == NMANY;
            const hg_status why = k == 8 && round ? HG_STATUS_BAD_INPUT : HG_STATUS_LIMIT;
            CHECK_MSG(refused ? errs[k].status == why && slots[k] == -1 : errs[k].status == HG_OK && slots[k] == k,
                      "%s, round %d, request %d: status %d, slot %lld: %s", what, round, k, (int)errs[k].status,
                      (long long)slots[k], errs[k].msg);
        }
        CHECK(!hg_sched_running(s, 6) && !hg_sched_running(s, 7)); /* prefill only; done at its first token */
        for (int steps = 0; hg_sched_n_running(s) > 0 && steps < 100; steps++)
            CHECK_MSG(hg_sched_step(s, &err) == HG_OK, "%s", err.msg);
        for (int k = 0; k < NMANY - 1; k++) { /* alone: hg_sched_add on a context that ran round 0 alone */
            many_make(&alone[k], k, round, n_ctx, V, init_state);
            many_req *a = &alone[k];
            hg_status st = a->r.adaptive ? hg_generate_adaptive(ctx[k], a->r.prompt, a->r.n_prompt, &a->r.gen, &a->r.exit,
                                                                capture, &a->cap, a->ids, &a->n, NULL, &err)
                                         : hg_generate(ctx[k], a->r.prompt, a->r.n_prompt, &a->r.gen, capture, &a->cap,
                                                       a->ids, &a->n, &err);
            CHECK_MSG(st == HG_OK, "%s alone %d: %s", what, k, err.msg);
            const many_req *g = &many[k];
            CHECK_MSG(a->n == g->n && a->cap.n == g->cap.n && (a->n > 0 || k == 6),
                      "%s, round %d, request %d: %lld tokens together, %lld alone", what, round, k, (long long)g->n,
                      (long long)a->n);
            for (int64_t t = 0; t < a->n && t < g->n; t++)
                CHECK_MSG(a->ids[t] == g->ids[t] && !memcmp(a->cap.logits + t * V, g->cap.logits + t * V, (size_t)V * sizeof(float)),
                          "%s, round %d, request %d, token %lld: differs from the request alone", what, round, k, (long long)t);
        }
    }
out:
    for (int k = 0; k < NMANY; k++) hg_ctx_free(ctx[k]);
    hg_sched_free(s);
    free(init_state), free(prompts), free(logits);
}

int main(void) {
    hg_model *m = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_model_load(golden_model_dir("tiny"), NULL, &m, &err) == HG_OK, "%s", err.msg);
    if (!m) return hg_test_finish("test_sched");
    test_mixed_batch(m, SLOTS);
    test_exit_skips_work(m);
    test_plain_seed_streams(m);
    test_add_many(m, 48, "f32");
    /* prompts past the context's chunk (128 positions): a random checkpoint of the tiny shape with a
     * longer block_size, in bf16, packed where the kernels lay bf16 out (the prompts then share calls) */
    {
        hg_config cfg = *hg_model_config(m);
        cfg.block_size = 320;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/long", hg_tmp_dir("test_sched"));
        hg_model_params mp = hg_model_default_params();
        mp.prepack = true;
        hg_model *lm = NULL;
        CHECK_MSG(hg_checkpoint_init(&cfg, dir, HG_DTYPE_BF16, 5, &err) == HG_OK && hg_model_load(dir, &mp, &lm, &err) == HG_OK,
                  "%s", err.msg);
        if (lm) {
            fprintf(stderr, "bf16, block_size 320: %s\n", lm->all_packed ? "prompts prefilled together" : "one after another");
            test_add_many(lm, 300, "bf16, 300 positions");
        }
        hg_model_free(lm);
    }
    /* Q8_0 and bf16, whose weights the VNNI / AVX-512 kernels lay out once (hg_matmul_prepack): every
     * product then runs one kernel at any number of rows, so all ten requests at once (T = 10, past the
     * matrix-vector range) still equal each alone; elsewhere the four slots of above */
    const hg_dtype dts[2] = {HG_DTYPE_Q8_0, HG_DTYPE_BF16};
    const char *tiny_dir = golden_model_dir("tiny");
    for (int d = 0; d < 2; d++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tiny-%s.gguf", hg_tmp_dir("test_sched"), hg_dtype_name(dts[d]));
        hg_gguf_export_params xp = {.out_dtype = dts[d]};
        if (!m) CHECK_MSG(hg_model_load(tiny_dir, NULL, &m, &err) == HG_OK, "%s", err.msg);
        CHECK_MSG(m && hg_model_export_gguf(m, path, &xp, &err) == HG_OK, "export: %s", err.msg);
        hg_model_free(m);
        m = NULL;
        hg_model_params mp = hg_model_default_params();
        mp.prepack = true;
        CHECK_MSG(hg_model_load(path, &mp, &m, &err) == HG_OK, "%s", err.msg);
        if (m) {
            static const uint8_t zero_row[64]; /* one Q8_0 block (34 bytes) or 32 bf16 */
            const hg_tensor probe = {.dtype = dts[d], .n_dims = 2, .ne = {1, 32}, .data = zero_row,
                                     .nbytes = hg_dtype_row_bytes(dts[d], 32)};
            void *pk = hg_matmul_prepack(&probe);
            fprintf(stderr, "%s model, weights %s: %d slots\n", hg_dtype_name(dts[d]), pk ? "packed" : "as stored",
                    pk ? NREQ : SLOTS);
            test_mixed_batch(m, pk ? NREQ : SLOTS);
            test_add_many(m, 48, hg_dtype_name(dts[d]));
            hg_free(pk);
        }
        hg_model_free(m);
        m = NULL;
    }
    return hg_test_finish("test_sched");
}
