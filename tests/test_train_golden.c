/*
 * test_train_golden.c — the trainer against the authors' own training step: golden case
 * `train_nograd3_grad2` of all three golden checkpoints (tests/data/golden_model/README.md): 3
 * iterations without gradient, 2 with, zero initial state, labels = ids shifted with -100 last.
 * Loss, logits and the gradients of the 8 named tensors must agree within 1e-4 absolute (the README's
 * suggested f32 tolerance: the reference's own round-off is ≈1e-5; ours differs in accumulation order).
 *
 * Also checked here, on the same checkpoints:
 *   - split equivalence (docs/training.md "Truncated backpropagation"): the loss of (3, 2) equals, bit for bit, that of (5, 0)
 *     and (0, 5) — the no-grad iterations run the same code;
 *   - the trainer's logits equal the inference engine's hg_ctx_forward at r = 5 within 1e-5;
 *   - an hg_model view of the trainer's parameters runs in the inference engine with the same result.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static double run_split(hg_tstep *ts, const float *params, float *grads, const int32_t *ids, const int32_t *labels,
                        int64_t T, int64_t n, int64_t k, float *logits, bool backward) {
    hg_tstep_args a = {.ids = ids, .labels = labels, .B = 1, .T = T, .n_nograd = n, .k_grad = k, .s0 = NULL,
                       .grad_scale = 1.0f / 16.0f, .backward = backward, .logits_out = logits};
    double loss = NAN;
    int64_t cnt = 0;
    hg_error err = {0};
    hg_status st = hg_tstep_run(ts, params, grads, &a, &loss, &cnt, &err);
    CHECK_MSG(st == HG_OK, "%s", err.msg);
    CHECK(cnt == 16);
    return cnt ? loss / (double)cnt : (double)NAN;
}

static void check_model(const char *model) {
    fprintf(stderr, "== %s\n", model);
    hg_error err = {0};
    hg_model *m = NULL;
    hg_status st = hg_model_load(golden_model_dir(model), NULL, &m, &err);
    CHECK_MSG(st == HG_OK, "%s: %s", model, err.msg);
    if (st) return;
    cJSON *man = golden_manifest(model);
    const cJSON *cs = man ? golden_case(man, "train_nograd3_grad2") : NULL;
    CHECK_MSG(cs != NULL, "%s: no train_nograd3_grad2 case", model);
    if (!cs) {
        hg_model_free(m);
        cJSON_Delete(man);
        return;
    }
    const cJSON *in = item(cs, "inputs");
    int64_t T, TL;
    int32_t *ids = golden_ints(item(in, "input_ids"), &T);
    int32_t *labels = golden_ints(item(in, "labels"), &TL);
    CHECK(T == TL);
    const int64_t n = (int64_t)item(in, "num_steps_no_grad")->valuedouble;
    const int64_t k = (int64_t)item(in, "num_steps_with_grad")->valuedouble;
    CHECK(n == 3 && k == 2);

    hg_tlayout L;
    st = hg_tlayout_init(&L, hg_model_config(m), &err);
    CHECK_MSG(st == HG_OK, "%s", err.msg);
    const int64_t V = L.cfg.vocab_size, h = L.cfg.n_embd;
    float *params = malloc((size_t)L.n_params * sizeof(float));
    float *grads = calloc((size_t)L.n_params, sizeof(float));
    float *logits = malloc((size_t)(T * V) * sizeof(float));
    for (int64_t i = 0; i < T * V; i++) logits[i] = NAN;
    CHECK(hg_tparams_from_model(&L, m, params, &err) == HG_OK);
    hg_tstep *ts = NULL;
    st = hg_tstep_init(&L, 1, T, n + k, &ts, &err);
    CHECK_MSG(st == HG_OK, "%s", err.msg);

    /* the golden step */
    const double loss = run_split(ts, params, grads, ids, labels, T, n, k, logits, true);
    size_t cnt;
    float *want = golden_floats(model, item(item(cs, "outputs"), "loss"), &cnt);
    const float lf = (float)loss;
    char label[256];
    snprintf(label, sizeof label, "%s loss", model);
    hg_check_close(label, &lf, want, 1, TOL);
    free(want);
    want = golden_floats(model, item(item(cs, "outputs"), "logits"), &cnt);
    snprintf(label, sizeof label, "%s logits", model);
    CHECK(cnt == (size_t)(T * V));
    hg_check_close(label, logits, want, cnt, TOL);
    free(want);
    int n_grads = 0;
    for (const cJSON *g = item(cs, "gradients")->child; g; g = g->next, n_grads++) {
        int64_t ti = hg_tlayout_find(&L, g->string);
        CHECK_MSG(ti >= 0, "%s: no tensor %s in the layout", model, g->string);
        if (ti < 0) continue;
        want = golden_floats(model, g, &cnt);
        CHECK_MSG(want && cnt == (size_t)L.t[ti].n, "%s: %s has %zu values, layout %lld", model, g->string, cnt,
                  (long long)L.t[ti].n);
        snprintf(label, sizeof label, "%s grad %s", model, g->string);
        if (want && cnt == (size_t)L.t[ti].n) hg_check_close(label, grads + L.t[ti].offset, want, cnt, TOL);
        free(want);
    }
    CHECK(n_grads == 8);

    /* split equivalence: same code for both kinds of iterations ⇒ identical bits */
    float *lg2 = malloc((size_t)(T * V) * sizeof(float));
    const double l50 = run_split(ts, params, NULL, ids, labels, T, 5, 0, lg2, false);
    CHECK_MSG(l50 == loss, "%s: loss (5,0) %.9g != (3,2) %.9g", model, l50, loss);
    CHECK(memcmp(lg2, logits, (size_t)(T * V) * sizeof(float)) == 0);
    hg_tstep_free(ts);
    ts = NULL;
    CHECK(hg_tstep_init(&L, 1, T, 5, &ts, &err) == HG_OK);
    const double l05b = run_split(ts, params, NULL, ids, labels, T, 0, 5, NULL, false);
    CHECK_MSG(l05b == loss, "%s: loss (0,5) %.9g != (3,2) %.9g", model, l05b, loss);

    /* the inference engine at r = 5 on the loaded model and on a view of the trainer's parameters */
    hg_model *views[2] = {m, NULL};
    CHECK(hg_tparams_model_view(&L, params, &views[1], &err) == HG_OK);
    for (int vi = 0; vi < 2; vi++) {
        hg_ctx_params cp = hg_ctx_default_params();
        cp.n_ctx = 64;
        cp.max_steps = 5;
        hg_ctx *ctx = NULL;
        CHECK(hg_ctx_init(views[vi], &cp, &ctx, &err) == HG_OK);
        hg_forward_params fp = hg_forward_default_params();
        fp.n_steps = 5;
        float *lat = malloc((size_t)(T * h) * sizeof(float));
        for (int64_t i = 0; i < T * V; i++) lg2[i] = NAN;
        CHECK(ctx && hg_ctx_forward(ctx, ids, T, 0, &fp, lat, lg2, &err) == HG_OK);
        snprintf(label, sizeof label, "%s trainer logits vs hg_ctx_forward (%s)", model, vi ? "view" : "loaded");
        hg_check_close(label, logits, lg2, (size_t)(T * V), 1e-5);
        free(lat);
        hg_ctx_free(ctx);
    }
    hg_model_free(views[1]);

    free(lg2);
    hg_tstep_free(ts);
    free(params), free(grads), free(logits), free(ids), free(labels);
    hg_tlayout_free(&L);
    cJSON_Delete(man);
    hg_model_free(m);
}

int main(void) {
    for (int i = 0; i < HG_GOLDEN_MODELS; i++) check_model(hg_golden_models[i]);
    return hg_test_finish("test_train_golden");
}
