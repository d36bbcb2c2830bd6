/*
 * test_ttc_golden.c — the test-time loops against the authors' own outputs (tests/data/golden_model,
 * README.md there), for all three golden checkpoints:
 *   adaptive_generate     hg_generate_adaptive: tokens, steps per token, every exit value, final logits
 *   speculative_generate  hg_generate_speculative: tokens, and the trace of forward calls (draft and
 *                         verify positions, inputs, depth, argmax) replayed call by call
 *   generate (continuous) the warm-start goldens through the adaptive loop with criterion none and the
 *                         NORMALISED state (generate_minimal's behaviour), which must equal them; plus
 *                         the raw-state variant, which must differ from the normalised one (and from
 *                         plain generation) while staying deterministic.
 * Tolerances: logits 1e-4 absolute (as test_engine_golden.c: the reference's round-off is ~1e-5 and our
 * f32 accumulation order adds the same order). Exit values: 1e-4 absolute + 1e-3 relative — they are
 * differences/ratios of such quantities (entropy differences of ~1e-3, KL of ~1e-4..1, state ratios),
 * the README's min_relative_margin_to_threshold (≥ 2.4 %) says how much a step decision can absorb,
 * and the first values are large (|H - 100| ≈ 94), hence the relative part. Token ids and steps exact.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4




static bool same_ids(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    if (na != nb) return false;
    for (int64_t i = 0; i < na; i++)
        if (a[i] != b[i]) return false;
    return true;
}

/* ---- adaptive_generate ------------------------------------------------------------------------ */

static void run_adaptive(const char *model, hg_model *m, const cJSON *cs) {
    const char *name = golden_item(cs, "name")->valuestring;
    const cJSON *in = golden_item(cs, "inputs"), *out = golden_item(cs, "outputs");
    int64_t T, n_want, n_steps_want;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    int32_t *want = golden_ints(golden_item(cs, "generated"), &n_want);
    int32_t *want_steps = golden_ints(golden_item(cs, "steps_per_token"), &n_steps_want);
    const int64_t r = golden_num(in, "max_steps"), V = hg_model_config(m)->vocab_size, n_new = golden_num(in, "max_new_tokens");
    hg_ctx *ctx = golden_ctx(m, r, golden_item(in, "cache_lookup_strategy")->valuestring);
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = r;
    gp.max_new_tokens = n_new;
    gp.init_scale = (float)golden_item(in, "init_scale")->valuedouble;
    hg_adaptive_params ap = hg_adaptive_default_params();
    hg_error err = {0};
    CHECK(hg_exit_criterion_parse(golden_item(in, "criterion")->valuestring, &ap.criterion, &err) == HG_OK);
    ap.threshold = golden_item(in, "exit_threshold")->valuedouble;
    ap.min_steps = golden_num(in, "min_steps");
    ap.check_every = golden_num(in, "check_criterion_every_n_steps");
    ap.no_exit_in_prefill = cJSON_IsTrue(golden_item(in, "do_not_exit_in_prefill"));

    size_t n_vals;
    float *want_vals = golden_floats(model, golden_item(cs, "exit_values"), &n_vals);
    golden_collect col = {malloc((size_t)(n_new * V) * sizeof(float)), 0, V, n_new};
    int32_t *got = malloc((size_t)n_new * sizeof *got);
    int64_t *steps = malloc((size_t)n_new * sizeof *steps);
    float *last_vals = malloc((size_t)n_new * sizeof *last_vals);
    float *trace = malloc((n_vals + 64) * sizeof *trace);
    for (size_t i = 0; i < n_vals + 64; i++) trace[i] = INFINITY; /* poison */
    hg_ttc_report rep = {.steps = steps, .exit_values = last_vals, .trace = trace, .trace_cap = (int64_t)n_vals + 64};
    int64_t n_got = 0;
    hg_status st = hg_generate_adaptive(ctx, ids, T, &gp, &ap, golden_collect_token, &col, got, &n_got, &rep, &err);
    CHECK_MSG(st == HG_OK, "%s/%s: %s", model, name, err.msg);
    CHECK_MSG(same_ids(got, n_got, want, n_want), "%s/%s: generated ids differ", model, name);
    bool steps_ok = n_got == n_steps_want && rep.n_tokens == n_got;
    for (int64_t i = 0; steps_ok && i < n_got; i++) steps_ok = steps[i] == want_steps[i];
    CHECK_MSG(steps_ok, "%s/%s: steps per token differ", model, name);
    if (!steps_ok)
        for (int64_t i = 0; i < n_got && i < n_steps_want; i++)
            fprintf(stderr, "  token %lld: steps %lld want %d\n", (long long)i, (long long)steps[i], want_steps[i]);
    /* every exit value, token after token */
    CHECK_MSG(rep.n_trace == (int64_t)n_vals, "%s/%s: %lld checks, want %zu", model, name, (long long)rep.n_trace, n_vals);
    double worst = 0;
    size_t where = 0;
    bool vals_ok = true;
    for (size_t i = 0; i < n_vals && (int64_t)i < rep.n_trace; i++) {
        const double g = (double)trace[i], w = (double)want_vals[i];
        if (isnan(w) || isnan(g)) {
            if (isnan(w) != isnan(g)) vals_ok = false, where = i;
            continue;
        }
        const double d = fabs(g - w) - 1e-3 * fabs(w);
        if (!(d <= 1e-4)) vals_ok = false, where = i;
        if (d > worst) worst = d;
    }
    CHECK_MSG(vals_ok, "%s/%s: exit value %zu is %g, want %g", model, name, where, (double)trace[where],
              (double)want_vals[where]);
    /* the per-token exit value is the last value of that token's checks */
    size_t off = 0;
    for (int64_t i = 0; vals_ok && steps_ok && i < n_got; i++) {
        off += (size_t)want_steps[i];
        const float w = want_vals[off - 1], g = last_vals[i];
        CHECK_MSG((isnan(w) && isnan(g)) || fabsf(g - w) <= 1e-4f + 1e-3f * fabsf(w), "%s/%s: token %lld exit value",
                  model, name, (long long)i);
    }
    size_t n;
    float *wl = golden_floats(model, golden_item(out, "final_logits"), &n);
    char label[256];
    snprintf(label, sizeof label, "%s/%s final_logits", model, name);
    if (n == (size_t)(n_got * V)) hg_check_close(label, col.logits, wl, n, TOL);
    else CHECK_MSG(0, "%s: %zu golden values vs %lld tokens", label, n, (long long)n_got);
    free(wl), free(want_vals), free(col.logits), free(got), free(steps), free(last_vals), free(trace);
    free(want), free(want_steps), free(ids);
    hg_ctx_free(ctx);
}

/* ---- warm start: the continuous generate goldens through the adaptive loop ----------------------- */

static void run_warm(const char *model, hg_model *m, const cJSON *cs) {
    const char *name = golden_item(cs, "name")->valuestring;
    const cJSON *in = golden_item(cs, "inputs"), *out = golden_item(cs, "outputs");
    if (!cJSON_IsTrue(golden_item(in, "continuous_compute"))) return;
    int64_t T, n_want;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    int32_t *want = golden_ints(golden_item(cs, "generated"), &n_want);
    const int64_t r = golden_num(in, "num_steps"), V = hg_model_config(m)->vocab_size, n_new = golden_num(in, "max_new_tokens");
    size_t n;
    float *init = golden_floats(model, golden_item(in, "initial_state"), &n);
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = r;
    gp.max_new_tokens = n_new;
    gp.init_scale = 0;
    gp.init_state = init;
    gp.continuous = true;
    hg_adaptive_params ap = hg_adaptive_default_params();
    ap.warm_state = HG_WARM_STATE_NORMALIZED;
    float *wl = golden_floats(model, golden_item(out, "step_logits"), &n);
    char label[256];

    golden_collect col = {malloc((size_t)(n_new * V) * sizeof(float)), 0, V, n_new};
    int32_t *got = malloc((size_t)n_new * sizeof *got), *got_raw = malloc((size_t)n_new * sizeof *got);
    int64_t *steps = malloc((size_t)n_new * sizeof *steps), n_got = 0, n_raw = 0;
    hg_ttc_report rep = {.steps = steps};
    hg_error err = {0};
    hg_ctx *ctx = golden_ctx(m, r, "full");
    hg_status st = hg_generate_adaptive(ctx, ids, T, &gp, &ap, golden_collect_token, &col, got, &n_got, &rep, &err);
    CHECK_MSG(st == HG_OK, "%s/%s: %s", model, name, err.msg);
    CHECK_MSG(same_ids(got, n_got, want, n_want), "%s/%s (normalized warm start): ids differ", model, name);
    for (int64_t i = 0; i < n_got; i++) CHECK(steps[i] == r);
    snprintf(label, sizeof label, "%s/%s normalized-warm step_logits", model, name);
    if (n == (size_t)(n_got * V)) hg_check_close(label, col.logits, wl, n, TOL);
    else CHECK_MSG(0, "%s: %zu golden values vs %lld tokens", label, n, (long long)n_got);

    /* raw state (the adaptive loop's default): not covered by a golden; it must run, be deterministic
     * and give logits different from the normalised variant after the first token */
    ap.warm_state = HG_WARM_STATE_DEFAULT;
    col.n = 0;
    st = hg_generate_adaptive(ctx, ids, T, &gp, &ap, golden_collect_token, &col, got_raw, &n_raw, NULL, &err);
    CHECK_MSG(st == HG_OK, "%s/%s raw: %s", model, name, err.msg);
    CHECK(n_raw == n_new);
    if (n_raw >= 2) {
        double d = 0;
        for (int64_t v = 0; v < V; v++) d = fmax(d, fabs((double)col.logits[V + v] - (double)wl[V + v]));
        CHECK_MSG(d > 1e-3, "%s/%s: raw warm start gave the normalised logits (max diff %g)", model, name, d);
        /* first token: both start from the same prompt state */
        hg_check_close("raw warm start, first token", col.logits, wl, (size_t)V, TOL);
    }
    free(wl), free(init), free(col.logits), free(got), free(got_raw), free(steps), free(want), free(ids);
    hg_ctx_free(ctx);
}

/* ---- speculative_generate ---------------------------------------------------------------------- */

static void run_speculative(const char *model, hg_model *m, const cJSON *cs) {
    const char *name = golden_item(cs, "name")->valuestring;
    const cJSON *in = golden_item(cs, "inputs");
    int64_t T, n_want;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    int32_t *want = golden_ints(golden_item(cs, "generated"), &n_want);
    const int64_t r = golden_num(in, "num_steps");
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = r;
    gp.max_new_tokens = golden_num(in, "max_new_tokens");
    gp.init_scale = 0;
    hg_speculative_params sp = hg_speculative_default_params();
    sp.draft_steps = golden_num(in, "draft_steps");
    sp.lookahead = golden_num(in, "lookahead_for_draft");
    sp.verify_threshold = (float)golden_item(in, "verification_threshold")->valuedouble;
    const int64_t cap = gp.max_new_tokens + sp.lookahead;
    int32_t *got = malloc((size_t)cap * sizeof *got);
    int64_t *steps = malloc((size_t)cap * sizeof *steps), n_got = 0;
    hg_ttc_report rep = {.steps = steps};
    hg_error err = {0};
    hg_ctx *ctx = golden_ctx(m, r, golden_item(in, "cache_lookup_strategy")->valuestring);
    hg_status st = hg_generate_speculative(ctx, ids, T, &gp, &sp, NULL, NULL, got, &n_got, &rep, &err);
    CHECK_MSG(st == HG_OK, "%s/%s: %s", model, name, err.msg);
    CHECK_MSG(same_ids(got, n_got, want, n_want), "%s/%s: generated ids differ (%lld vs %lld tokens)", model, name,
              (long long)n_got, (long long)n_want);
    /* the call trace: draft calls have num_steps = draft_steps and one position, verify calls L positions */
    int64_t n_draft = 0, n_verify = 0;
    for (const cJSON *fc = golden_item(cs, "forward_calls")->child; fc; fc = fc->next) {
        if (fc == golden_item(cs, "forward_calls")->child) continue; /* the prefill */
        if (golden_num(fc, "num_steps") == sp.draft_steps && cJSON_GetArraySize(golden_item(fc, "input_ids")) == 1) n_draft++;
        else n_verify++;
    }
    CHECK_MSG(rep.draft_tokens == n_draft && rep.verify_calls == n_verify,
              "%s/%s: %lld drafts / %lld verify calls, the reference made %lld / %lld", model, name,
              (long long)rep.draft_tokens, (long long)rep.verify_calls, (long long)n_draft, (long long)n_verify);
    /* greedy speculative output equals plain greedy decoding at num_steps (README: checked) */
    hg_generate_params g2 = gp;
    g2.max_new_tokens = n_got;
    int32_t *plain = malloc((size_t)n_got * sizeof *plain);
    int64_t n_plain = 0;
    hg_ctx *ctx2 = golden_ctx(m, r, "full");
    CHECK(hg_generate(ctx2, ids, T, &g2, NULL, NULL, plain, &n_plain, &err) == HG_OK);
    CHECK_MSG(same_ids(got, n_got, plain, n_plain), "%s/%s: differs from plain greedy decoding", model, name);
    free(plain), free(got), free(steps), free(want), free(ids);
    hg_ctx_free(ctx2);
    hg_ctx_free(ctx);
}

int main(void) {
    int n_adaptive = 0, n_spec = 0, n_warm = 0;
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
        for (const cJSON *cs = golden_item(man, "cases")->child; cs; cs = cs->next) {
            const char *kind = golden_item(cs, "kind")->valuestring;
            if (!strcmp(kind, "adaptive_generate")) run_adaptive(model, m, cs), n_adaptive++;
            else if (!strcmp(kind, "speculative_generate")) run_speculative(model, m, cs), n_spec++;
            else if (!strcmp(kind, "generate") && cJSON_IsTrue(golden_item(golden_item(cs, "inputs"), "continuous_compute")))
                run_warm(model, m, cs), n_warm++;
        }
        hg_model_free(m);
        cJSON_Delete(man);
    }
    CHECK_MSG(n_adaptive == 18 && n_spec == 3 && n_warm == 6, "cases run: %d adaptive, %d speculative, %d warm", n_adaptive,
              n_spec, n_warm);
    return hg_test_finish("test_ttc_golden");
}
