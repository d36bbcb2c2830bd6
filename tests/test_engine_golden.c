/*
 * test_engine_golden.c — the engine against the authors' own outputs (tests/data/golden_model, see its
 * README.md): every `forward`, `kv_cache_decode`, `generate` and `train_step` (forward part) case of
 * all three golden checkpoints (F32, BF16, sharded without lm_head).
 *
 * Tolerance 1e-4 absolute on logits and latents: the README measures the reference's own round-off at
 * ≈1e-5 (float64 NumPy vs official f32 ≤ 8e-6); our f32 accumulation order differs from torch's, which
 * adds the same order of error. Token ids must be equal (min_top2_gap ≥ 0.16 gives that slack).
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4



static void run_forward(const char *model, hg_model *m, const cJSON *cs) {
    const char *name = golden_item(cs, "name")->valuestring;
    const cJSON *in = golden_item(cs, "inputs"), *out = golden_item(cs, "outputs");
    int64_t T;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    const int64_t r = golden_num(in, "num_steps"), h = hg_model_config(m)->n_embd, V = hg_model_config(m)->vocab_size;
    float *init = NULL;
    size_t n;
    if (golden_item(in, "input_states")) init = golden_floats(model, golden_item(in, "input_states"), &n);
    hg_ctx *ctx = golden_ctx(m, r, "full");
    float *logits = malloc((size_t)(T * V) * sizeof(float)), *lat = malloc((size_t)(T * h) * sizeof(float));
    for (int64_t i = 0; i < T * V; i++) logits[i] = NAN; /* poison: unwritten rows fail */
    for (int64_t i = 0; i < T * h; i++) lat[i] = NAN;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = r;
    fp.init_scale = 0;
    fp.init_state = init;
    hg_error err = {0};
    hg_status st = hg_ctx_forward(ctx, ids, T, 0, &fp, lat, logits, &err);
    CHECK_MSG(st == HG_OK, "%s/%s: %s", model, name, err.msg);
    float *wl = golden_floats(model, golden_item(out, "logits"), &n);
    char label[256];
    snprintf(label, sizeof label, "%s/%s logits", model, name);
    CHECK(n == (size_t)(T * V));
    hg_check_close(label, logits, wl, n, TOL);
    float *wa = golden_floats(model, golden_item(out, "latent_states"), &n);
    snprintf(label, sizeof label, "%s/%s latents", model, name);
    hg_check_close(label, lat, wa, n, TOL);
    free(wl), free(wa), free(logits), free(lat), free(ids), free(init);
    hg_ctx_free(ctx);
}

static void run_decode(const char *model, hg_model *m, const cJSON *cs) {
    const char *name = golden_item(cs, "name")->valuestring;
    const cJSON *in = golden_item(cs, "inputs"), *out = golden_item(cs, "outputs");
    int64_t T;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    const int64_t r = golden_num(in, "num_steps"), h = hg_model_config(m)->n_embd, V = hg_model_config(m)->vocab_size;
    hg_ctx *ctx = golden_ctx(m, r, golden_item(in, "lookup_strategy")->valuestring);
    CHECK_MSG(ctx != NULL, "%s/%s: no context", model, name);
    if (!ctx) return;
    float *logits = malloc((size_t)(T * V) * sizeof(float)), *lat = malloc((size_t)(T * h) * sizeof(float));
    for (int64_t i = 0; i < T * V; i++) logits[i] = NAN;
    for (int64_t i = 0; i < T * h; i++) lat[i] = NAN;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = r;
    for (const cJSON *ch = golden_item(in, "chunks")->child; ch; ch = ch->next) {
        int64_t a = (int64_t)ch->child->valuedouble, b = (int64_t)ch->child->next->valuedouble;
        hg_error err = {0};
        hg_status st = hg_ctx_forward(ctx, ids + a, b - a, a, &fp, lat + a * h, logits + a * V, &err);
        CHECK_MSG(st == HG_OK, "%s/%s chunk %lld: %s", model, name, (long long)a, err.msg);
    }
    size_t n;
    char label[256];
    float *wl = golden_floats(model, golden_item(out, "logits"), &n);
    snprintf(label, sizeof label, "%s/%s logits", model, name);
    hg_check_close(label, logits, wl, n, TOL);
    float *wa = golden_floats(model, golden_item(out, "latent_states"), &n);
    snprintf(label, sizeof label, "%s/%s latents", model, name);
    hg_check_close(label, lat, wa, n, TOL);
    free(wl), free(wa), free(logits), free(lat), free(ids);
    hg_ctx_free(ctx);
}


static void run_generate(const char *model, hg_model *m, const cJSON *cs) {
    const char *name = golden_item(cs, "name")->valuestring;
    const cJSON *in = golden_item(cs, "inputs"), *out = golden_item(cs, "outputs");
    int64_t T, n_want;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    int32_t *want = golden_ints(golden_item(cs, "generated"), &n_want);
    const int64_t r = golden_num(in, "num_steps"), V = hg_model_config(m)->vocab_size;
    hg_ctx *ctx = golden_ctx(m, r, "full");
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = r;
    gp.max_new_tokens = golden_num(in, "max_new_tokens");
    gp.init_scale = 0;
    gp.continuous = cJSON_IsTrue(golden_item(in, "continuous_compute"));
    size_t n;
    float *init = NULL;
    if (golden_item(in, "initial_state")) {
        init = golden_floats(model, golden_item(in, "initial_state"), &n);
        gp.init_state = init;
    }
    int32_t eos = 0;
    if (cJSON_IsNumber(golden_item(in, "eos_token_id"))) {
        eos = (int32_t)golden_num(in, "eos_token_id");
        gp.eos_ids = &eos;
        gp.n_eos = 1;
    }
    golden_collect col = {malloc((size_t)(gp.max_new_tokens * V) * sizeof(float)), 0, V, gp.max_new_tokens};
    int32_t *got = malloc((size_t)gp.max_new_tokens * sizeof *got);
    int64_t n_got = 0;
    hg_error err = {0};
    hg_status st = hg_generate(ctx, ids, T, &gp, golden_collect_token, &col, got, &n_got, &err);
    CHECK_MSG(st == HG_OK, "%s/%s: %s", model, name, err.msg);
    CHECK_MSG(n_got == n_want, "%s/%s: %lld tokens, want %lld", model, name, (long long)n_got, (long long)n_want);
    bool same = n_got == n_want;
    for (int64_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
    CHECK_MSG(same, "%s/%s: generated ids differ", model, name);
    float *wl = golden_floats(model, golden_item(out, "step_logits"), &n);
    char label[256];
    snprintf(label, sizeof label, "%s/%s step_logits", model, name);
    if (n == (size_t)(n_got * V)) hg_check_close(label, col.logits, wl, n, TOL);
    else CHECK_MSG(0, "%s: %zu golden values vs %lld tokens", label, n, (long long)n_got);
    free(wl), free(col.logits), free(got), free(want), free(ids), free(init);
    hg_ctx_free(ctx);
}

/* train_step: the forward of (n, k) = (3, 2) computes the same values as 5 steps; the loss is the
 * mean cross-entropy over labelled positions (no shift inside, -100 ignored). */
static void run_train_forward(const char *model, hg_model *m, const cJSON *cs) {
    const char *name = golden_item(cs, "name")->valuestring;
    const cJSON *in = golden_item(cs, "inputs"), *out = golden_item(cs, "outputs");
    int64_t T, nl;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    int32_t *labels = golden_ints(golden_item(in, "labels"), &nl);
    const int64_t r = golden_num(in, "num_steps_no_grad") + golden_num(in, "num_steps_with_grad");
    const int64_t V = hg_model_config(m)->vocab_size;
    hg_ctx *ctx = golden_ctx(m, r, "full");
    float *logits = malloc((size_t)(T * V) * sizeof(float));
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = r;
    hg_error err = {0};
    CHECK(hg_ctx_forward(ctx, ids, T, 0, &fp, NULL, logits, &err) == HG_OK);
    size_t n;
    float *wl = golden_floats(model, golden_item(out, "logits"), &n);
    char label[256];
    snprintf(label, sizeof label, "%s/%s logits", model, name);
    hg_check_close(label, logits, wl, n, TOL);
    double loss = 0;
    int64_t cnt = 0;
    for (int64_t t = 0; t < T; t++) {
        if (labels[t] < 0) continue;
        const float *l = logits + t * V;
        double mx = (double)l[0], s = 0;
        for (int64_t v = 1; v < V; v++) mx = (double)l[v] > mx ? (double)l[v] : mx;
        for (int64_t v = 0; v < V; v++) s += exp((double)l[v] - mx);
        loss += (mx + log(s)) - (double)l[labels[t]];
        cnt++;
    }
    float got = (float)(loss / (double)cnt), want = (float)golden_item(cs, "loss")->valuedouble;
    snprintf(label, sizeof label, "%s/%s loss", model, name);
    hg_check_close(label, &got, &want, 1, TOL);
    free(wl), free(logits), free(ids), free(labels);
    hg_ctx_free(ctx);
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
        if (st) {
            cJSON_Delete(man);
            continue;
        }
        int n_cases = 0;
        for (const cJSON *cs = golden_item(man, "cases")->child; cs; cs = cs->next) {
            const char *kind = golden_item(cs, "kind")->valuestring;
            if (!strcmp(kind, "forward")) run_forward(model, m, cs), n_cases++;
            else if (!strcmp(kind, "kv_cache_decode")) run_decode(model, m, cs), n_cases++;
            else if (!strcmp(kind, "generate")) run_generate(model, m, cs), n_cases++;
            else if (!strcmp(kind, "train_step")) run_train_forward(model, m, cs), n_cases++;
        }
        CHECK_MSG(n_cases >= 13, "%s: only %d cases ran", model, n_cases);
        hg_model_free(m);
        cJSON_Delete(man);
    }
    return hg_test_finish("test_engine_golden");
}
