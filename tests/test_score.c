/*
 * test_score.c — the scoring library (src/generate/score.c) against the authors' code and against itself:
 *   - per-token log-probabilities (hg_score_tokens) equal the log-softmax of the golden forward logits of
 *     the three tiny checkpoints (computed by the reference; tolerance 1e-4 as every golden test,
 *     docs/conventions.md rule 16);
 *   - a multiple-choice question scored with the shared prefix (hg_score_batch) equals the sum of those
 *     golden log-probabilities over the continuation, and equals scoring context + continuation as one
 *     window (hg_score_tokens) within f32 rounding;
 *   - batched scoring is independent of the batch size bit for bit (1, 3 and 8 slots: within the
 *     matrix-vector kernels' exact range), with a random initial state too;
 *   - questions that share a prefix (a few-shot header) reuse it across questions on a slot or copy it
 *     from another slot (hg_ctx_copy_prefix), and their scores equal each question scored alone on a
 *     fresh batch bit for bit, at batch 1 and 3, with prefixes that end inside a chunk; the prelude
 *     layer count shows the reuse happened; copies between unlike caches are refused;
 *   - rolling windows score every token once; a window covering the text equals one hg_score_tokens;
 *   - bad ids and empty continuations are refused.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4
/* context + continuation as one window vs prefix then one position at a time: the same math through
 * different kernel shapes (blocked prefill vs matrix-vector), so f32 rounding differs; measured ~1e-6
 * on these models */
#define SHAPE_TOL 2e-5

static double golden_logprob(const float *z, int64_t V, int32_t t) {
    double mx = (double)z[0], sum = 0;
    for (int64_t j = 1; j < V; j++) mx = (double)z[j] > mx ? (double)z[j] : mx;
    for (int64_t j = 0; j < V; j++) sum += exp((double)z[j] - mx);
    return (double)z[t] - mx - log(sum);
}

/* Scores reqs on a fresh batch of n_seq slots; returns 0 on success. *prelude (may be NULL) receives
 * the prelude layer applications of all slots (the work the prefix reuse saves). */
static int score_on_batch(hg_model *m, int64_t n_seq, int64_t r, hg_score_request *reqs, int64_t n,
                          const hg_score_params *sp, int64_t *prelude) {
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = n_seq, bp.ctx.n_ctx = 64, bp.ctx.max_steps = r, bp.ctx.n_threads = 1;
    hg_batch *b = NULL;
    hg_error err = {0};
    hg_status st = hg_batch_init(m, &bp, &b, &err);
    if (!st) st = hg_score_batch(b, reqs, n, sp, NULL, NULL, &err);
    CHECK_MSG(st == HG_OK, "score_batch n_seq %lld: %s", (long long)n_seq, err.msg);
    if (prelude) *prelude = 0;
    for (int64_t i = 0; prelude && !st && i < n_seq; i++) *prelude += hg_ctx_get_counters(hg_batch_ctx(b, i)).prelude;
    hg_batch_free(b);
    return st != HG_OK;
}

enum { NQ = 5, NC = 3 };

static void run_case(const char *model, hg_model *m, const cJSON *cs) {
    const cJSON *in = golden_item(cs, "inputs"), *out = golden_item(cs, "outputs");
    if (golden_item(in, "input_states")) return;
    int64_t T;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    const int64_t r = golden_num(in, "num_steps"), V = hg_model_config(m)->vocab_size;
    size_t n;
    float *wl = golden_floats(model, golden_item(out, "logits"), &n);
    const char *name = golden_item(cs, "name")->valuestring;
    hg_ctx *ctx = golden_ctx(m, r, "full");
    hg_score_params sp = hg_score_default_params();
    sp.n_steps = r, sp.chunk = 3; /* chunks that split the prompt, so the chunk seams are tested */
    double *lp = malloc((size_t)T * sizeof *lp), *want = malloc((size_t)T * sizeof *want);
    hg_error err = {0};
    /* 1. per-token log-probabilities vs the golden logits */
    hg_status st = hg_score_tokens(ctx, ids, T, 1, &sp, lp, NULL, &err);
    CHECK_MSG(st == HG_OK, "%s/%s: %s", model, name, err.msg);
    double worst = 0;
    CHECK(isnan(lp[0]));
    for (int64_t i = 1; i < T; i++) {
        want[i] = golden_logprob(wl + (i - 1) * V, V, ids[i]);
        const double d = fabs(lp[i] - want[i]);
        CHECK_MSG(d <= TOL, "%s/%s token %lld: %.8f vs golden %.8f", model, name, (long long)i, lp[i], want[i]);
        worst = d > worst || isnan(d) ? d : worst;
    }
    printf("%s/%s: per-token logprob vs golden log-softmax, max |diff| %.3g\n", model, name, worst);
    /* 2. multiple choice with a shared prefix: context ids[0..k), the true continuation and two others */
    const int64_t k = T / 2, L = T - k;
    int32_t other1[3] = {ids[0], ids[1] % (int32_t)V, 7 % (int32_t)V}, other2[1] = {ids[T - 1]};
    const int32_t *conts[NC] = {ids + k, other1, other2};
    const int64_t lens[NC] = {L, 3, 1};
    double got[4][NQ][NC];
    bool greedy[4][NQ][NC];
    const int64_t sizes[4] = {1, 3, 8, 1};
    for (int bi = 0; bi < 4; bi++) {
        hg_score_params p2 = sp;
        if (bi == 3) p2.init_scale = 1.0f, p2.seed = 11; /* random state: compared with one window below */
        hg_score_request reqs[NQ];
        for (int q = 0; q < NQ; q++) /* the same question NQ times, so several slots run it at once */
            reqs[q] = (hg_score_request){.context = ids, .n_context = k, .conts = conts, .cont_len = lens,
                                         .n_conts = NC, .logprob = got[bi][q], .greedy = greedy[bi][q]};
        if (score_on_batch(m, sizes[bi], r, reqs, NQ, &p2, NULL)) goto done;
    }
    double sum_golden = 0;
    for (int64_t i = k; i < T; i++) sum_golden += want[i];
    CHECK_MSG(fabs(got[0][0][0] - sum_golden) <= TOL * (double)L, "%s/%s: shared-prefix %.8f vs golden %.8f", model,
              name, got[0][0][0], sum_golden);
    printf("%s/%s: shared-prefix continuation logprob %.6f, golden %.6f\n", model, name, got[0][0][0], sum_golden);
    for (int q = 0; q < NQ; q++)
        for (int j = 0; j < NC; j++)
            for (int bi = 1; bi < 3; bi++)
                CHECK_MSG(got[bi][q][j] == got[0][0][j] && greedy[bi][q][j] == greedy[0][0][j],
                          "%s/%s: batch %lld question %d choice %d: %.17g vs alone %.17g", model, name,
                          (long long)sizes[bi], q, j, got[bi][q][j], got[0][0][j]);
    /* 3. each choice as one window (what scoring a choice alone does) */
    for (int j = 0; j < NC; j++)
        for (int rs = 0; rs < 2; rs++) {
            int32_t full[64];
            memcpy(full, ids, (size_t)k * sizeof *full);
            memcpy(full + k, conts[j], (size_t)lens[j] * sizeof *full);
            hg_score_params p2 = sp;
            if (rs) p2.init_scale = 1.0f, p2.seed = 11;
            double lw[64], sum = 0;
            bool gw[64], all = true;
            st = hg_score_tokens(ctx, full, k + lens[j], k, &p2, lw, gw, &err);
            CHECK_MSG(st == HG_OK, "%s", err.msg);
            for (int64_t i = k; i < k + lens[j]; i++) sum += lw[i], all = all && gw[i];
            const double g = rs ? got[3][0][j] : got[0][0][j];
            CHECK_MSG(fabs(g - sum) <= SHAPE_TOL * (double)lens[j], "%s/%s choice %d init %d: %.9f vs window %.9f",
                      model, name, j, rs, g, sum);
            if (!rs) CHECK(all == greedy[0][0][j]);
        }
    /* 4. rolling windows: every token but the first once; a window over everything = one window */
    double roll[64];
    st = hg_score_rolling(ctx, ids, T, 5, 2, &sp, roll, NULL, NULL, &err);
    CHECK_MSG(st == HG_OK, "%s", err.msg);
    CHECK(isnan(roll[0]));
    for (int64_t i = 1; i < T; i++) CHECK_MSG(fabs(roll[i] - want[i]) < 5.0 && !isnan(roll[i]), "token %lld", (long long)i);
    st = hg_score_rolling(ctx, ids, T, T, T, &sp, roll, NULL, NULL, &err);
    for (int64_t i = 1; i < T; i++) CHECK(roll[i] == lp[i]);
    /* 5. bad input */
    int32_t bad[2] = {ids[0], (int32_t)V};
    CHECK(hg_score_tokens(ctx, bad, 2, 1, &sp, roll, NULL, &err) == HG_STATUS_BAD_ARG);
    const int64_t zero = 0;
    const int32_t *bc[1] = {ids};
    hg_score_request br = {.context = ids, .n_context = k, .conts = bc, .cont_len = &zero, .n_conts = 1,
                           .logprob = roll};
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = 1, bp.ctx.n_ctx = 64, bp.ctx.max_steps = r;
    hg_batch *b = NULL;
    if (!hg_batch_init(m, &bp, &b, &err)) CHECK(hg_score_batch(b, &br, 1, &sp, NULL, NULL, &err) == HG_STATUS_BAD_ARG);
    hg_batch_free(b);
done:
    free(lp), free(want), free(wl), free(ids);
    hg_ctx_free(ctx);
}

/* hg_ctx_copy_prefix refuses contexts whose caches differ and positions the source does not hold. */
static void copy_prefix_errors(hg_model *m) {
    hg_ctx_params a = hg_ctx_default_params(), b = a;
    a.n_ctx = 16, a.max_steps = 2, b.n_ctx = 16, b.max_steps = 3;
    hg_ctx *x = NULL, *y = NULL, *z = NULL;
    hg_error err = {0};
    CHECK(hg_ctx_init(m, &a, &x, &err) == HG_OK && hg_ctx_init(m, &b, &y, &err) == HG_OK &&
          hg_ctx_init(m, &a, &z, &err) == HG_OK);
    const int32_t ids[3] = {1, 2, 3};
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = 2, fp.init_scale = 0;
    if (x && y && z && hg_ctx_forward(x, ids, 3, 0, &fp, NULL, NULL, &err) == HG_OK) {
        CHECK(hg_ctx_copy_prefix(y, x, 2, &err) == HG_STATUS_BAD_ARG); /* other depth: other slots */
        CHECK(hg_ctx_copy_prefix(z, x, 4, &err) == HG_STATUS_BAD_ARG); /* x holds 3 */
        CHECK(hg_ctx_copy_prefix(z, x, 2, &err) == HG_OK && hg_ctx_n_past(z) == 2);
    }
    hg_ctx_free(x), hg_ctx_free(y), hg_ctx_free(z);
}

/* 6. Questions behind a shared few-shot header: header ids[0..H) then a question tail of its own. */
enum { FQ = 6 };
static void few_shot(hg_model *m) {
    const int64_t V = hg_model_config(m)->vocab_size, r = 3, Hd = 23;
    int32_t ctxs[FQ][40], c0[1] = {5 % (int32_t)V}, c1[2] = {9 % (int32_t)V, 2}, c2[1] = {11 % (int32_t)V};
    const int32_t *conts[3] = {c0, c1, c2};
    const int64_t lens[3] = {1, 2, 1};
    int64_t nctx[FQ];
    for (int q = 0; q < FQ; q++) {
        nctx[q] = Hd + 3 + q % 4 + (q == 4 ? -Hd + 2 : 0); /* question 4 shares only 2 header ids */
        for (int64_t i = 0; i < nctx[q]; i++)
            ctxs[q][i] = (int32_t)((i < Hd && (q != 4 || i < 2) ? 31 * i + 7 : 13 * i + 17 * q + 3) % V);
    }
    hg_score_params sp = hg_score_default_params();
    sp.n_steps = r, sp.chunk = 8; /* the header ends inside the third chunk */
    for (int rs = 0; rs < 2; rs++) {
        if (rs) sp.init_scale = 1.0f, sp.seed = 5;
        double alone[FQ][3], got[2][FQ][3];
        int64_t work_alone = 0, work[2];
        hg_score_request reqs[FQ];
        for (int q = 0; q < FQ; q++) {
            reqs[q] = (hg_score_request){.context = ctxs[q], .n_context = nctx[q], .conts = conts, .cont_len = lens,
                                         .n_conts = 3, .logprob = alone[q]};
            int64_t w1 = 0;
            score_on_batch(m, 1, r, &reqs[q], 1, &sp, &w1);
            work_alone += w1;
        }
        const int64_t sizes[2] = {1, 3};
        for (int bi = 0; bi < 2; bi++) {
            for (int q = 0; q < FQ; q++) reqs[q].logprob = got[bi][q];
            work[bi] = 0;
            score_on_batch(m, sizes[bi], r, reqs, FQ, &sp, &work[bi]);
        }
        bool same = true;
        for (int bi = 0; bi < 2; bi++)
            for (int q = 0; q < FQ; q++)
                for (int j = 0; j < 3; j++) same &= got[bi][q][j] == alone[q][j];
        CHECK_MSG(same, "few-shot questions (init %d): batched scores with prefix reuse differ from each alone", rs);
        CHECK_MSG(work[0] < work_alone && work[1] < work_alone,
                  "few-shot (init %d): no prefix reuse seen (prelude work %lld and %lld vs %lld alone)", rs,
                  (long long)work[0], (long long)work[1], (long long)work_alone);
        printf("few-shot header reuse (init %d): prelude rows %lld (batch 1), %lld (batch 3) vs %lld alone\n", rs,
               (long long)work[0], (long long)work[1], (long long)work_alone);
    }
}

int main(void) {
    for (int mi = 0; mi < HG_GOLDEN_MODELS; mi++) {
        const char *model = hg_golden_models[mi];
        cJSON *man = golden_manifest(model);
        CHECK_MSG(man != NULL, "manifest of %s", model);
        if (!man) continue;
        hg_model *m = NULL;
        hg_error err = {0};
        hg_status st = hg_model_load(golden_model_dir(model), NULL, &m, &err);
        CHECK_MSG(st == HG_OK, "load %s: %s", model, err.msg);
        int n_cases = 0;
        for (const cJSON *cs = golden_item(man, "cases")->child; !st && cs; cs = cs->next)
            if (!strcmp(golden_item(cs, "kind")->valuestring, "forward") && golden_num(golden_item(cs, "inputs"), "num_steps") > 0)
                run_case(model, m, cs), n_cases++;
        CHECK_MSG(n_cases >= 4, "%s: only %d cases ran", model, n_cases);
        if (!st) few_shot(m), copy_prefix_errors(m);
        hg_model_free(m);
        cJSON_Delete(man);
    }
    return hg_test_finish("test_score");
}
