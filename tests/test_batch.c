/*
 * test_batch.c — several sequences decoded together (hg_batch) against each decoded alone.
 *
 * For B = 1..8 sequences with different prompt lengths (1..13), a batch of B contexts is prefilled
 * with hg_ctx_forward and then advanced G tokens with hg_batch_decode; the same prompts and tokens go
 * through single contexts with hg_ctx_forward one position at a time. The matrix-vector kernels
 * compute each row independently of the rows sharing the call (dispatch.h), so logits and latents
 * must be bit-identical (memcmp), at every kernel level, with f32 and bf16 KV caches. B = 10 takes
 * the blocked kernel (T > 8) on AVX-512, which sums in another order: within 1e-4 (the golden
 * tolerance; f32 roundoff through ~40 layers). Also: idle sequences (ids < 0) stay untouched,
 * failures change nothing, and hg_generate_batch returns hg_generate's tokens per sequence.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { G = 5, R_STEPS = 4, NMAX = 10, LMAX = 16 };

static int32_t prompt_tok(int64_t seq, int64_t j) { return (int32_t)((seq * 131 + j * 17 + 7) % 512); }
static int64_t prompt_len(int64_t seq) { return 1 + (seq * 5) % 13; }
static int32_t gen_tok(int64_t seq, int64_t g) { return (int32_t)((seq * 37 + g * 101 + 3) % 512); }

static hg_ctx_params ctx_params(hg_dtype kv_type) {
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 32;
    cp.max_steps = R_STEPS;
    cp.kv_type = kv_type;
    return cp;
}

/* sequence `seq` alone: prefill, then G single-position steps; logits [G, V], latents [G, h] */
static void solo(hg_model *m, int64_t seq, hg_dtype kv_type, const hg_forward_params *fp, float *logits,
                 float *latents) {
    const int64_t V = hg_model_config(m)->vocab_size, h = hg_model_config(m)->n_embd, L = prompt_len(seq);
    hg_ctx_params cp = ctx_params(kv_type);
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK, "%s", err.msg);
    if (!ctx) return;
    int32_t ids[LMAX];
    for (int64_t j = 0; j < L; j++) ids[j] = prompt_tok(seq, j);
    CHECK(hg_ctx_forward(ctx, ids, L, 0, fp, NULL, NULL, &err) == HG_OK);
    for (int64_t g = 0; g < G; g++) {
        const int32_t id = gen_tok(seq, g);
        CHECK(hg_ctx_forward(ctx, &id, 1, L + g, fp, latents + g * h, logits + g * V, &err) == HG_OK);
    }
    hg_ctx_free(ctx);
}

static void test_equal_to_solo(hg_model *m, int64_t B, hg_dtype kv_type, double tol) {
    const int64_t V = hg_model_config(m)->vocab_size, h = hg_model_config(m)->n_embd;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = R_STEPS;
    fp.init_scale = 1.0f; /* random initial states: the batch must draw each as the solo call does */
    fp.seed = 42;
    float *want_l = malloc((size_t)(B * G * V) * sizeof(float)), *want_a = malloc((size_t)(B * G * h) * sizeof(float));
    float *got_l = malloc((size_t)(B * V) * sizeof(float)), *got_a = malloc((size_t)(B * h) * sizeof(float));
    for (int64_t i = 0; i < B; i++) solo(m, i, kv_type, &fp, want_l + i * G * V, want_a + i * G * h);

    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = B;
    bp.ctx = ctx_params(kv_type);
    hg_batch *b = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_batch_init(m, &bp, &b, &err) == HG_OK, "%s", err.msg);
    if (!b) goto out;
    CHECK(hg_batch_n_seq(b) == B && hg_batch_ctx(b, B) == NULL && hg_batch_ctx(b, -1) == NULL);
    for (int64_t i = 0; i < B; i++) {
        int32_t ids[LMAX];
        for (int64_t j = 0; j < prompt_len(i); j++) ids[j] = prompt_tok(i, j);
        CHECK(hg_ctx_forward(hg_batch_ctx(b, i), ids, prompt_len(i), 0, &fp, NULL, NULL, &err) == HG_OK);
    }
    for (int64_t g = 0; g < G; g++) {
        int32_t ids[NMAX];
        for (int64_t i = 0; i < B; i++) ids[i] = gen_tok(i, g);
        for (int64_t i = 0; i < B * V; i++) got_l[i] = NAN; /* poison */
        for (int64_t i = 0; i < B * h; i++) got_a[i] = NAN;
        CHECK_MSG(hg_batch_decode(b, ids, &fp, got_a, got_l, &err) == HG_OK, "%s", err.msg);
        for (int64_t i = 0; i < B; i++) {
            char label[160];
            snprintf(label, sizeof label, "B=%lld %s seq %lld token %lld logits", (long long)B, hg_dtype_name(kv_type),
                     (long long)i, (long long)g);
            const float *wl = want_l + (i * G + g) * V, *wa = want_a + (i * G + g) * h;
            if (tol == 0) {
                CHECK_MSG(memcmp(got_l + i * V, wl, (size_t)V * sizeof(float)) == 0, "%s not bit-identical", label);
                CHECK_MSG(memcmp(got_a + i * h, wa, (size_t)h * sizeof(float)) == 0, "%s: latents differ", label);
            } else {
                hg_check_close(label, got_l + i * V, wl, (size_t)V, tol);
                hg_check_close(label, got_a + i * h, wa, (size_t)h, tol);
            }
            CHECK(hg_ctx_n_past(hg_batch_ctx(b, i)) == prompt_len(i) + g + 1);
        }
    }
out:
    hg_batch_free(b);
    free(want_l), free(want_a), free(got_l), free(got_a);
}

/* Idle sequences are untouched; failures leave every sequence as it was. */
static void test_idle_and_errors(hg_model *m) {
    const int64_t V = hg_model_config(m)->vocab_size;
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = 3;
    bp.ctx = ctx_params(HG_DTYPE_F32);
    hg_batch *b = NULL;
    hg_error err = {0};
    CHECK(hg_batch_init(m, &bp, &b, &err) == HG_OK);
    if (!b) return;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = R_STEPS;
    fp.init_scale = 0;
    float *logits = malloc((size_t)(3 * V) * sizeof(float));
    for (int64_t i = 0; i < 3 * V; i++) logits[i] = NAN;
    const int32_t ids[3] = {5, -1, 9};
    CHECK(hg_batch_decode(b, ids, &fp, NULL, logits, &err) == HG_OK);
    CHECK(hg_ctx_n_past(hg_batch_ctx(b, 0)) == 1 && hg_ctx_n_past(hg_batch_ctx(b, 1)) == 0 &&
          hg_ctx_n_past(hg_batch_ctx(b, 2)) == 1);
    for (int64_t v = 0; v < V; v++) CHECK(isnan(logits[V + v])); /* the idle row is untouched */
    CHECK(!isnan(logits[0]) && !isnan(logits[2 * V + V - 1]));
    /* sequence 2 alone through its own context: same logits as in the batch */
    hg_ctx_params cp = ctx_params(HG_DTYPE_F32);
    hg_ctx *ctx = NULL;
    float *solo_l = malloc((size_t)V * sizeof(float));
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK);
    CHECK(ctx && hg_ctx_forward(ctx, &ids[2], 1, 0, &fp, NULL, solo_l, &err) == HG_OK);
    CHECK(memcmp(solo_l, logits + 2 * V, (size_t)V * sizeof(float)) == 0);
    hg_ctx_free(ctx);

    const int32_t bad[3] = {1, 2, 512}; /* 512 = vocab_size */
    CHECK(hg_batch_decode(b, bad, &fp, NULL, logits, &err) == HG_STATUS_BAD_INPUT);
    fp.n_steps = R_STEPS + 1; /* more iterations than the caches have slots for */
    CHECK(hg_batch_decode(b, ids, &fp, NULL, logits, &err) == HG_STATUS_LIMIT);
    CHECK(hg_ctx_n_past(hg_batch_ctx(b, 0)) == 1 && hg_ctx_n_past(hg_batch_ctx(b, 1)) == 0 &&
          hg_ctx_n_past(hg_batch_ctx(b, 2)) == 1);
    const int32_t none[3] = {-1, -1, -1};
    fp.n_steps = R_STEPS;
    CHECK(hg_batch_decode(b, none, &fp, NULL, NULL, &err) == HG_OK);
    hg_batch_free(b);
    hg_batch_free(NULL);
    bp.n_seq = 0;
    b = NULL;
    CHECK(hg_batch_init(m, &bp, &b, &err) == HG_STATUS_BAD_ARG && b == NULL);
    bp.n_seq = 65;
    CHECK(hg_batch_init(m, &bp, &b, &err) == HG_STATUS_BAD_ARG && b == NULL);
    free(logits), free(solo_l);
}

/* hg_generate_batch = hg_generate per sequence (sampling at temperature 0.8, random states). */
static void test_generate(hg_model *m, int64_t B) {
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = R_STEPS;
    gp.max_new_tokens = 6;
    gp.init_scale = 1.0f;
    gp.seed = 7;
    gp.sampler.temperature = 0.8f;
    gp.sampler.seed = 11;
    int32_t eos = 0;
    int32_t prompts[NMAX][LMAX];
    const int32_t *pp[NMAX];
    int64_t lens[NMAX], n_out[NMAX];
    int32_t out[NMAX * 6];
    for (int64_t i = 0; i < B; i++) {
        lens[i] = 2 + (i * 5) % 11; /* every prompt longer than one token (the seeds of hg_generate) */
        for (int64_t j = 0; j < lens[i]; j++) prompts[i][j] = prompt_tok(i, j);
        pp[i] = prompts[i];
    }
    /* a stop id that one sequence produces, so sequences end at different times */
    hg_ctx_params cp = ctx_params(HG_DTYPE_F32);
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK);
    if (!ctx) return;
    int32_t want[NMAX][6];
    int64_t n_want[NMAX];
    CHECK(hg_generate(ctx, pp[0], lens[0], &gp, NULL, NULL, want[0], &n_want[0], &err) == HG_OK);
    eos = want[0][2];
    gp.eos_ids = &eos;
    gp.n_eos = 1;
    for (int64_t i = 0; i < B; i++)
        CHECK(hg_generate(ctx, pp[i], lens[i], &gp, NULL, NULL, want[i], &n_want[i], &err) == HG_OK);
    hg_ctx_free(ctx);
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = B;
    bp.ctx = cp;
    hg_batch *b = NULL;
    CHECK(hg_batch_init(m, &bp, &b, &err) == HG_OK);
    if (!b) return;
    CHECK_MSG(hg_generate_batch(b, pp, lens, &gp, out, n_out, &err) == HG_OK, "%s", err.msg);
    bool differ = false;
    for (int64_t i = 0; i < B; i++) {
        CHECK_MSG(n_out[i] == n_want[i], "B=%lld seq %lld: %lld tokens, want %lld", (long long)B, (long long)i,
                  (long long)n_out[i], (long long)n_want[i]);
        for (int64_t j = 0; j < n_want[i] && j < n_out[i]; j++)
            CHECK_MSG(out[i * gp.max_new_tokens + j] == want[i][j], "B=%lld seq %lld token %lld", (long long)B,
                      (long long)i, (long long)j);
        differ |= n_want[i] != n_want[0];
    }
    if (B >= 4) CHECK_MSG(differ, "every sequence stopped at the same length: the stop path is untested");
    hg_batch_free(b);
}

int main(void) {
    hg_model *m = NULL;
    hg_error err = {0};
    CHECK_MSG(hg_model_load(golden_model_dir("tiny"), NULL, &m, &err) == HG_OK, "%s", err.msg);
    if (!m) return hg_test_finish("test_batch");
    for (int64_t B = 1; B <= 8; B++) test_equal_to_solo(m, B, HG_DTYPE_F32, 0);
    test_equal_to_solo(m, 5, HG_DTYPE_BF16, 0);
    test_equal_to_solo(m, 8, HG_DTYPE_F16, 0);
    test_equal_to_solo(m, 10, HG_DTYPE_F32, 1e-4);
    test_idle_and_errors(m);
    test_generate(m, 1);
    test_generate(m, 6);
    hg_model_free(m);
    return hg_test_finish("test_batch");
}
