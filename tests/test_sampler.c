/*
 * test_sampler.c — the sampler follows the reference's order and rules (docs/test-time.md "Sampler") on
 * hand-made distributions whose answers are known: greedy argmax (first of ties), the repetition
 * penalty's two branches, top-k keeping ties, top-p dropping the token that crosses p (the
 * reference's rule) but always keeping the top one, min-p relative to the largest probability,
 * temperature flattening, and same seed -> same draws.
 */
#include "harness.h"
#include "huginn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Draw `n` tokens and count how often each id came up. */
static void histogram(hg_sampler_params p, const float *logits, int64_t V, int n, int *count) {
    hg_sampler *s = NULL;
    hg_error err = {0};
    CHECK(hg_sampler_init(&p, V, &s, &err) == HG_OK);
    memset(count, 0, (size_t)V * sizeof *count);
    for (int i = 0; i < n; i++) count[hg_sampler_sample(s, logits, NULL, 0)]++;
    hg_sampler_free(s);
}

int main(void) {
    const int64_t V = 6;
    /* probabilities at T=1: softmax of log(p) = p */
    const float p[6] = {0.40f, 0.25f, 0.15f, 0.10f, 0.06f, 0.04f};
    float logits[6];
    for (int i = 0; i < V; i++) logits[i] = logf(p[i]);
    int count[6];
    hg_error err = {0};

    hg_sampler_params sp = hg_sampler_default_params();
    hg_sampler *s = NULL;
    CHECK(hg_sampler_init(&sp, V, &s, &err) == HG_OK);
    CHECK(hg_sampler_sample(s, logits, NULL, 0) == 0);
    const float tie[6] = {1, 3, 3, 0, -1, 2};
    CHECK(hg_sampler_sample(s, tie, NULL, 0) == 1); /* first maximum, as torch.argmax */
    hg_sampler_free(s);

    /* repetition penalty: positive logits divided, negative multiplied, each id once */
    sp.repetition_penalty = 2.0f;
    CHECK(hg_sampler_init(&sp, V, &s, &err) == HG_OK);
    const float rp[6] = {3.0f, 2.5f, -1.0f, 0.0f, 1.0f, 1.2f};
    int32_t hist[4] = {0, 0, 0, 2};
    CHECK(hg_sampler_sample(s, rp, hist, 4) == 1); /* 3.0 -> 1.5 < 2.5 */
    const float rp2[6] = {1.0f, 1.4f, 0.9f, 0.0f, 0.7f, 0.3f};
    int32_t hist2[1] = {1};
    CHECK(hg_sampler_sample(s, rp2, hist2, 1) == 0); /* 1.4 -> 0.7 < 1.0 */
    hg_sampler_free(s);

    /* sampling at T = 1 follows p (40000 draws: 4 sigma of a binomial is < 0.01) */
    sp = hg_sampler_default_params();
    sp.temperature = 1.0f;
    sp.seed = 1;
    histogram(sp, logits, V, 40000, count);
    for (int i = 0; i < V; i++)
        CHECK_MSG(fabs(count[i] / 40000.0 - (double)p[i]) < 0.01, "T=1 id %d: %d draws", i, count[i]);

    /* top-k = 2: only ids 0 and 1, in ratio 0.40 : 0.25 */
    sp.top_k = 2;
    histogram(sp, logits, V, 20000, count);
    CHECK(count[2] + count[3] + count[4] + count[5] == 0);
    CHECK(fabs(count[0] / 20000.0 - 0.40 / 0.65) < 0.02);
    sp.top_k = 0;

    /* top-p = 0.6: cumulative 0.40, 0.65 > 0.6 -> id 1 is dropped (the reference drops the token that
     * crosses p); only id 0 remains */
    sp.top_p = 0.6f;
    histogram(sp, logits, V, 2000, count);
    CHECK_MSG(count[0] == 2000, "top-p 0.6 kept more than the top token: %d", count[0]);
    /* top-p = 0.3 < p(top): the top token is always kept */
    sp.top_p = 0.3f;
    histogram(sp, logits, V, 2000, count);
    CHECK(count[0] == 2000);
    /* top-p = 0.81: 0.40 + 0.25 + 0.15 = 0.80 <= 0.81, +0.10 crosses -> ids 0..2 */
    sp.top_p = 0.81f;
    histogram(sp, logits, V, 20000, count);
    CHECK(count[3] + count[4] + count[5] == 0 && count[2] > 0);
    sp.top_p = 0;

    /* min-p = 0.3: threshold 0.3 * 0.40 = 0.12 -> ids 0..2 survive */
    sp.min_p = 0.3f;
    histogram(sp, logits, V, 20000, count);
    CHECK(count[3] + count[4] + count[5] == 0 && count[2] > 0);
    sp.min_p = 0;

    /* temperature: T = 100 makes it nearly uniform, T = 0.01 nearly greedy */
    sp.temperature = 100.0f;
    histogram(sp, logits, V, 30000, count);
    for (int i = 0; i < V; i++) CHECK_MSG(fabs(count[i] / 30000.0 - 1.0 / 6) < 0.02, "T=100 id %d: %d", i, count[i]);
    sp.temperature = 0.01f;
    histogram(sp, logits, V, 1000, count);
    CHECK(count[0] == 1000);

    /* same seed, same draws; another seed, other draws */
    sp.temperature = 1.0f;
    int a[64], b[64], c[64];
    for (int rep = 0; rep < 3; rep++) {
        sp.seed = rep == 2 ? 99 : 5;
        CHECK(hg_sampler_init(&sp, V, &s, &err) == HG_OK);
        for (int i = 0; i < 64; i++) (rep == 0 ? a : rep == 1 ? b : c)[i] = hg_sampler_sample(s, logits, NULL, 0);
        hg_sampler_free(s);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);

    /* bad parameters are refused */
    sp = hg_sampler_default_params();
    sp.temperature = -1;
    CHECK(hg_sampler_init(&sp, V, &s, &err) == HG_STATUS_BAD_ARG);
    sp = hg_sampler_default_params();
    sp.min_p = 2;
    CHECK(hg_sampler_init(&sp, V, &s, &err) == HG_STATUS_BAD_ARG);
    sp = hg_sampler_default_params();
    sp.repetition_penalty = NAN;
    CHECK(hg_sampler_init(&sp, V, &s, &err) == HG_STATUS_BAD_ARG);
    return hg_test_finish("test_sampler");
}
