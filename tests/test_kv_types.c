/*
 * test_kv_types.c — the KV cache stored as f32, f16 or bf16 (hg_ctx_params.kv_type).
 *
 * 1. Kernels: dot_kv / axpy_kv of every level this CPU runs, for f16 and bf16 operands, at odd
 *    lengths. Each must equal, bit for bit, the same level's f32 dot / axpy on the widened operand
 *    (widening is exact, and the variants run the same operation sequence), and be within the
 *    classic bound γ_n·Σ|a·b| (γ_n = n·2⁻²⁴/(1 - n·2⁻²⁴)) of a double reference.
 * 2. Engine, on every `forward` and `kv_cache_decode` case of the golden checkpoints:
 *    f32 entries keep the goldens (1e-4, as test_engine_golden); f16 and bf16 entries stay within
 *    KV_TOL_F16 / KV_TOL_BF16 of the f32-cache logits (derivation at the constants).
 * 3. Sizes and arguments: bytes per token halve, bad types are refused, names parse.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"
#include "kernels/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4
/* Logit bounds of the 16-bit caches against the f32 cache. Rounding a K or V entry moves it by at
 * most u·|x| (u = 2⁻¹¹ f16, 2⁻⁸ bf16, relative); a score q·k moves by ≤ u·Σ|q·k|, the attention
 * output by ≤ u·max|v| plus the softmax's response to the score errors, and the random golden
 * models amplify that through 2 + 4r + 2 layers and the lm_head (logits up to ≈ 10). Measured max
 * |Δlogit| over the 27 runs per format below: f16 5.1e-3, bf16 3.5e-2 (ratio ≈ 7, near the 8 of the
 * unit roundoffs). The bounds leave a factor of about 2.5-3 and keep the ratio 8. */
#define KV_TOL_F16 1.25e-2
#define KV_TOL_BF16 1.0e-1

static uint64_t rng_state = 0x1234567;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static uint16_t to16(hg_dtype dt, float f) { return dt == HG_DTYPE_BF16 ? hg_f32_to_bf16(f) : hg_f32_to_f16(f); }
static float from16(hg_dtype dt, uint16_t u) { return dt == HG_DTYPE_BF16 ? hg_bf16_to_f32(u) : hg_f16_to_f32(u); }

static void test_kernels(void) {
    static const int64_t lens[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 127, 128, 129, 255, 1023};
    enum { NMAX = 1023 };
    float a[NMAX], wide[NMAX], y0[NMAX], y_kv[NMAX], y_f[NMAX];
    uint16_t b[NMAX];
    int levels = 0;
    for (int l = 0; l < HG_CPU_LEVEL_COUNT; l++) {
        const hg_vec_ops *ops = hg_vec_level((hg_cpu_level)l);
        if (!ops) continue;
        levels++;
        for (int di = 0; di < 2; di++) {
            const hg_dtype dt = di ? HG_DTYPE_BF16 : HG_DTYPE_F16;
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                const int64_t n = lens[li];
                for (int64_t i = 0; i < n; i++) {
                    a[i] = frand();
                    b[i] = to16(dt, frand() * 4.0f);
                    wide[i] = from16(dt, b[i]);
                    y0[i] = frand();
                }
                double ref = 0, mag = 0;
                for (int64_t i = 0; i < n; i++) ref += (double)a[i] * (double)wide[i], mag += fabs((double)a[i] * (double)wide[i]);
                const double u = ldexp(1.0, -24), gamma = (double)n * u / (1.0 - (double)n * u);
                const float got = ops->dot_kv[dt](a, b, n), same = ops->dot(a, wide, n);
                CHECK_MSG(!(fabs((double)got - ref) > gamma * mag + 1e-30) && !isnan(got),
                          "level %s %s dot n=%lld: %g vs %g (bound %g)", hg_cpu_level_name((hg_cpu_level)l),
                          hg_dtype_name(dt), (long long)n, (double)got, ref, gamma * mag);
                CHECK_MSG(memcmp(&got, &same, sizeof got) == 0, "level %s %s dot n=%lld differs from the f32 dot",
                          hg_cpu_level_name((hg_cpu_level)l), hg_dtype_name(dt), (long long)n);
                /* axpy: poison past n so writes beyond the length would show */
                memcpy(y_kv, y0, (size_t)n * sizeof(float));
                memcpy(y_f, y0, (size_t)n * sizeof(float));
                if (n < NMAX) y_kv[n] = NAN;
                const float alpha = frand();
                ops->axpy_kv[dt](y_kv, alpha, b, n);
                ops->axpy(y_f, alpha, wide, n);
                CHECK_MSG(memcmp(y_kv, y_f, (size_t)n * sizeof(float)) == 0, "level %s %s axpy n=%lld differs",
                          hg_cpu_level_name((hg_cpu_level)l), hg_dtype_name(dt), (long long)n);
                double worst = 0;
                for (int64_t i = 0; i < n; i++) {
                    const double want = (double)y0[i] + (double)alpha * (double)wide[i];
                    const double e = fabs((double)y_kv[i] - want) / (fabs(want) + fabs((double)alpha * (double)wide[i]) + 1e-30);
                    worst = isnan(e) ? (double)INFINITY : fmax(worst, e);
                }
                CHECK_MSG(worst <= 2.0 * ldexp(1.0, -24), "level %s %s axpy n=%lld: relative error %g",
                          hg_cpu_level_name((hg_cpu_level)l), hg_dtype_name(dt), (long long)n, worst);
                if (n < NMAX) CHECK_MSG(isnan(y_kv[n]), "axpy wrote past n=%lld", (long long)n);
                /* the f32 entry of the table is the f32 kernel itself */
                const float f32v = ops->dot_kv[HG_DTYPE_F32](a, wide, n);
                CHECK(memcmp(&f32v, &same, sizeof f32v) == 0);
            }
        }
    }
    CHECK(levels >= 1);
}

/* ---- the engine on the goldens ------------------------------------------------------------------ */

static const cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* Run a case (forward: one call; kv_cache_decode: its chunks) with entries of `type`; logits [T, V]. */
static bool run_case(hg_model *m, const cJSON *cs, hg_dtype type, float *logits, hg_ctx **keep) {
    const cJSON *in = item(cs, "inputs");
    const bool decode = !strcmp(item(cs, "kind")->valuestring, "kv_cache_decode");
    int64_t T;
    int32_t *ids = golden_ints(item(in, "input_ids"), &T);
    const int64_t V = hg_model_config(m)->vocab_size, r = (int64_t)item(in, "num_steps")->valuedouble;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 64;
    cp.max_steps = r > 0 ? r : 1;
    cp.kv_cache = decode ? item(in, "lookup_strategy")->valuestring : "full";
    cp.kv_type = type;
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    bool ok = hg_ctx_init(m, &cp, &ctx, &err) == HG_OK;
    CHECK_MSG(ok, "ctx: %s", err.msg);
    for (int64_t i = 0; i < T * V; i++) logits[i] = NAN;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = r;
    fp.init_scale = 0;
    if (ok && decode) {
        for (const cJSON *ch = item(in, "chunks")->child; ok && ch; ch = ch->next) {
            int64_t a = (int64_t)ch->child->valuedouble, b = (int64_t)ch->child->next->valuedouble;
            ok = hg_ctx_forward(ctx, ids + a, b - a, a, &fp, NULL, logits + a * V, &err) == HG_OK;
        }
    } else if (ok) {
        ok = hg_ctx_forward(ctx, ids, T, 0, &fp, NULL, logits, &err) == HG_OK;
    }
    CHECK_MSG(ok, "forward: %s", err.msg);
    free(ids);
    if (keep) *keep = ctx;
    else hg_ctx_free(ctx);
    return ok;
}

static void test_engine(void) {
    int n_cases = 0;
    for (int mi = 0; mi < HG_GOLDEN_MODELS; mi++) {
        const char *model = hg_golden_models[mi];
        cJSON *man = golden_manifest(model);
        hg_model *m = NULL;
        hg_error err = {0};
        CHECK_MSG(man && hg_model_load(golden_model_dir(model), NULL, &m, &err) == HG_OK, "%s: %s", model, err.msg);
        if (!man || !m) {
            cJSON_Delete(man);
            hg_model_free(m);
            continue;
        }
        const int64_t V = hg_model_config(m)->vocab_size;
        for (const cJSON *cs = item(man, "cases")->child; cs; cs = cs->next) {
            const char *kind = item(cs, "kind")->valuestring, *name = item(cs, "name")->valuestring;
            if (strcmp(kind, "forward") && strcmp(kind, "kv_cache_decode")) continue;
            if (item(item(cs, "inputs"), "input_states")) continue; /* explicit states: engine test covers them */
            int64_t T;
            int32_t *ids = golden_ints(item(item(cs, "inputs"), "input_ids"), &T);
            free(ids);
            const size_t n = (size_t)(T * V);
            float *l32 = malloc(n * sizeof(float)), *l16 = malloc(n * sizeof(float));
            char label[256];
            hg_ctx *ctx = NULL;
            if (run_case(m, cs, HG_DTYPE_F32, l32, NULL)) {
                size_t nw;
                float *want = golden_floats(model, item(item(cs, "outputs"), "logits"), &nw);
                snprintf(label, sizeof label, "%s/%s f32 cache vs golden", model, name);
                CHECK(nw == n);
                if (nw == n) hg_check_close(label, l32, want, n, TOL);
                free(want);
                for (int di = 0; di < 2; di++) {
                    const hg_dtype dt = di ? HG_DTYPE_BF16 : HG_DTYPE_F16;
                    if (!run_case(m, cs, dt, l16, &ctx)) continue;
                    snprintf(label, sizeof label, "%s/%s %s cache vs f32 cache", model, name, hg_dtype_name(dt));
                    const double d = hg_check_close(label, l16, l32, n, di ? KV_TOL_BF16 : KV_TOL_F16);
                    fprintf(stderr, "  %-48s max |dlogit| %.3g\n", label, d);
                    /* the 16-bit cache really holds rounded values: some logit moved (except at r = 0,
                     * where the coda sees a zero state, so every K/V entry is exactly representable) */
                    if (item(item(cs, "inputs"), "num_steps")->valuedouble > 0)
                        CHECK_MSG(d > 0, "%s: identical to the f32 cache", label);
                    hg_ctx_free(ctx);
                }
                n_cases++;
            }
            free(l32), free(l16);
        }
        hg_model_free(m);
        cJSON_Delete(man);
    }
    CHECK_MSG(n_cases >= 6, "only %d golden cases ran", n_cases);
}

/* ---- sizes and arguments ------------------------------------------------------------------------ */

static void test_sizes(void) {
    hg_model *m = NULL;
    hg_error err = {0};
    CHECK(hg_model_load(golden_model_dir("tiny"), NULL, &m, &err) == HG_OK);
    if (!m) return;
    int64_t b32 = 0, b16 = 0, bb = 0, plain = 0;
    CHECK(hg_model_kv_bytes_per_token_typed(m, "full", 4, HG_DTYPE_F32, &b32, &err) == HG_OK);
    CHECK(hg_model_kv_bytes_per_token_typed(m, "full", 4, HG_DTYPE_F16, &b16, &err) == HG_OK);
    CHECK(hg_model_kv_bytes_per_token_typed(m, "full", 4, HG_DTYPE_BF16, &bb, &err) == HG_OK);
    CHECK(hg_model_kv_bytes_per_token(m, "full", 4, &plain, &err) == HG_OK);
    CHECK(b32 > 0 && b32 == plain && b16 * 2 == b32 && bb == b16);
    CHECK(hg_model_kv_bytes_per_token_typed(m, "full", 4, HG_DTYPE_Q8_0, &b16, &err) == HG_STATUS_BAD_ARG);
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = 8;
    cp.max_steps = 4;
    for (int t = 0; t < HG_DTYPE_COUNT; t++) {
        cp.kv_type = (hg_dtype)t;
        hg_ctx *ctx = NULL;
        hg_status st = hg_ctx_init(m, &cp, &ctx, &err);
        if (t <= HG_DTYPE_BF16) {
            CHECK_MSG(st == HG_OK && hg_ctx_kv_bytes_per_token(ctx) == (t == HG_DTYPE_F32 ? b32 : bb), "type %d", t);
        } else {
            CHECK_MSG(st == HG_STATUS_BAD_ARG && ctx == NULL && strstr(err.msg, "bf16"), "type %d: %s", t, err.msg);
        }
        hg_ctx_free(ctx);
    }
    hg_dtype d = HG_DTYPE_Q4_0;
    CHECK(hg_kv_type_parse("bf16", &d, &err) == HG_OK && d == HG_DTYPE_BF16);
    CHECK(hg_kv_type_parse("f16", &d, &err) == HG_OK && d == HG_DTYPE_F16);
    CHECK(hg_kv_type_parse("f32", &d, &err) == HG_OK && d == HG_DTYPE_F32);
    CHECK(hg_kv_type_parse("q8_0", &d, &err) == HG_STATUS_BAD_ARG && d == HG_DTYPE_F32);
    CHECK(hg_kv_type_parse(NULL, &d, &err) == HG_STATUS_BAD_ARG);
    hg_model_free(m);
}

int main(void) {
    test_kernels();
    test_sizes();
    test_engine();
    return hg_test_finish("test_kv_types");
}
