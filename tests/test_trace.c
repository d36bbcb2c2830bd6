/*
 * test_trace.c — `huginn trace` (tools/cmd_trace.c over hg_generate_traced, src/generate/trace.c) and
 * the pieces under its plots:
 *   1. .npy files: our writer's bytes are the format's (magic, version 1.0, a header padded to a
 *      multiple of 64 bytes and ended by '\n', the dict numpy writes), the reader gets them back;
 *   2. PCA (tools/pca.c) on hand-computable data: a rotated axis-aligned set whose covariance
 *      eigenvectors and eigenvalues are known in closed form, with a mean offset, in 2-D and 3-D;
 *   3. every iteration of a trace equals a fixed-depth forward pass at that depth, computed by the
 *      command `huginn forward --steps t` for t = 0 .. 8 on a golden model: latents ≤ 1e-6, the lens
 *      log-probabilities (K = V, so the whole distribution) ≤ 1e-5 against log-softmax of the forward
 *      logits, with the lens coda cut into chunks of 5 positions (chunking must not change a bit of
 *      meaning: each chunk attends to the coda K/V the previous ones just wrote);
 *   4. a trace at r = 32 against the goldens (the authors' code): latents and lens at t = 0, 1, 2, 4, 8,
 *      32 equal forward_r* within 1e-4 (the goldens' tolerance, tests/test_engine_golden.c);
 *   5. a warm-started trace (generate_r8_continuous_zero: normalised warm start): its tokens are the
 *      golden's, and the lens at the final iteration of the position that chose token i equals the
 *      golden step_logits[i] (log-softmax, 1e-4), so the lens's extra codas did not disturb the
 *      coda K/V that later tokens read;
 *   6. adaptive exit traced (latent-diff and kl goldens): tokens, steps per token and every exit value
 *      equal the golden's, and a position that exited carries its last row forward;
 *   7. --positions A:B writes exactly that slice of the full run;
 *   8. hg_ctx_coda_lens (the deferred lens of generated tokens): each of n alternative states of one
 *      position gets exactly the logits and latents hg_ctx_coda gives it alone (bit for bit, n larger
 *      than the context's chunk), and it leaves the cache as it was (the next position's logits equal
 *      those of a run without the lens call); a traced generation's tokens equal `huginn run`'s.
 * Tolerances: 1e-6 / 1e-5 where the same f32 computation runs in the same order (differences are only
 * the f32 rounding of a double log-softmax); 1e-4 against the reference, as every golden test.
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"
#include "npy.h"
#include "pca.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *k_model = "small-sharded";

static void *load(const char *dir, const char *name, int nd_want, int64_t *shape) {
    char path[4096], descr[4];
    int nd = 0;
    void *data = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    bool ok = npy_load(path, descr, &nd, shape, &data);
    CHECK_MSG(ok && nd == nd_want, "%s: loaded %d, rank %d", path, ok, nd);
    return ok && nd == nd_want ? data : (free(data), NULL);
}

static void log_softmax(const float *l, int64_t V, float *out) {
    double mx = (double)l[0], s = 0;
    for (int64_t v = 1; v < V; v++) mx = (double)l[v] > mx ? (double)l[v] : mx;
    for (int64_t v = 0; v < V; v++) s += exp((double)l[v] - mx);
    for (int64_t v = 0; v < V; v++) out[v] = (float)((double)l[v] - mx - log(s));
}

/* The full lens distribution of (position p, iteration t) from top-k arrays with K = V. */
static void lens_full(const int32_t *ids, const float *lp, int64_t R1, int64_t V, int64_t p, int64_t t, float *out) {
    for (int64_t v = 0; v < V; v++) out[v] = NAN;
    for (int64_t k = 0; k < V; k++) {
        const int32_t id = ids[(p * R1 + t) * V + k];
        if (id >= 0 && id < V) out[id] = lp[(p * R1 + t) * V + k];
    }
}

static char *ids_arg(const int32_t *ids, int64_t n) {
    char *s = malloc((size_t)n * 12 + 1);
    size_t o = 0;
    for (int64_t i = 0; i < n; i++) o += (size_t)sprintf(s + o, "%s%d", i ? "," : "", ids[i]);
    s[o] = 0;
    return s;
}

static int run(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static int run(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    const int rc = hg_run_capture(cmd, NULL);
    CHECK_MSG(rc == 0, "`%s` exited %d", cmd, rc);
    return rc;
}

/* ---- 1. npy ---------------------------------------------------------------------------------------- */

static void test_npy(void) {
    const char *dir = hg_tmp_dir("trace_npy");
    char path[4096];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    npy_file f;
    const int64_t big[2] = {5, 3}, fin[2] = {2, 3};
    const float x[6] = {1, 2, 3, 4, 5, 6};
    CHECK(npy_create(&f, path, "<f4", 2, big));
    CHECK(npy_write_at(&f, 3, x + 3, 3) && npy_write_at(&f, 0, x, 3)); /* out of order, as the trace writes */
    CHECK(npy_close(&f, fin));
    size_t len = 0;
    unsigned char *b = hg_read_file(path, &len);
    CHECK_MSG(b && len == 128 + 24, "npy size %zu", len);
    if (!b || len != 128 + 24) {
        free(b);
        return;
    }
    CHECK(!memcmp(b, "\x93NUMPY\x01\x00", 8));
    const size_t hl = (size_t)b[8] | (size_t)b[9] << 8;
    CHECK_MSG((10 + hl) % 64 == 0 && b[10 + hl - 1] == '\n', "header length %zu", hl);
    CHECK(!memcmp(b + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 59));
    float y[6];
    memcpy(y, b + 128, sizeof y);
    hg_check_close("npy data", y, x, 6, 0);
    free(b);
    char d[4];
    int nd;
    int64_t sh[NPY_MAX_DIM];
    void *data = NULL;
    CHECK(npy_load(path, d, &nd, sh, &data) && nd == 2 && sh[0] == 2 && sh[1] == 3 && !strcmp(d, "<f4"));
    if (data) hg_check_close("npy read back", data, x, 6, 0);
    free(data);
}

/* ---- 2. PCA ---------------------------------------------------------------------------------------- */

static void test_pca(void) {
    /* 2-D: (±2, 0) and (0, ±1) rotated by 30°, shifted by (5, -3). Covariance (1/n) = R diag(2, 0.5) Rᵀ:
     * PC1 = (cos 30°, sin 30°) with variance 2, PC2 = (−sin 30°, cos 30°) with 0.5 (signed so the
     * largest entry is positive). */
    const double c = cos(M_PI / 6), s = sin(M_PI / 6);
    const double pts[4][2] = {{2, 0}, {-2, 0}, {0, 1}, {0, -1}};
    float X[8];
    for (int i = 0; i < 4; i++) {
        X[2 * i] = (float)(5 + c * pts[i][0] - s * pts[i][1]);
        X[2 * i + 1] = (float)(-3 + s * pts[i][0] + c * pts[i][1]);
    }
    double mean[2], comp[4], var[2];
    CHECK(pca_fit(X, 4, 2, 2, mean, comp, var) == 0);
    CHECK_MSG(fabs(mean[0] - 5) < 1e-6 && fabs(mean[1] + 3) < 1e-6, "mean %g %g", mean[0], mean[1]);
    CHECK_MSG(fabs(var[0] - 2) < 1e-6 && fabs(var[1] - 0.5) < 1e-6, "variances %g %g", var[0], var[1]);
    CHECK_MSG(fabs(comp[0] - c) < 1e-6 && fabs(comp[1] - s) < 1e-6, "PC1 %g %g", comp[0], comp[1]);
    CHECK_MSG(fabs(comp[2] + s) < 1e-6 && fabs(comp[3] - c) < 1e-6, "PC2 %g %g", comp[2], comp[3]);
    double p[2];
    pca_project(X, 2, 2, mean, comp, p); /* the first point projects to (2, 0) */
    CHECK_MSG(fabs(p[0] - 2) < 1e-5 && fabs(p[1]) < 1e-5, "projection %g %g", p[0], p[1]);
    /* 3-D: ±3 e_z, ±1 e_x, 0 · e_y (six points): variances 3, 1/3, 0 → PC1 = e_z (var 9·2/6 = 3), PC2 = e_x */
    const float Y[18] = {0, 0, 3, 0, 0, -3, 1, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    double m3[3], c3[6], v3[2];
    CHECK(pca_fit(Y, 6, 3, 2, m3, c3, v3) == 0);
    CHECK_MSG(fabs(v3[0] - 3) < 1e-6 && fabs(v3[1] - 1.0 / 3) < 1e-6, "3-D variances %g %g", v3[0], v3[1]);
    CHECK_MSG(fabs(c3[2] - 1) < 1e-6 && fabs(c3[3] - 1) < 1e-6, "3-D components (%g %g %g) (%g %g %g)", c3[0], c3[1],
              c3[2], c3[3], c3[4], c3[5]);
}

/* ---- 3. and 4. against forward --------------------------------------------------------------------- */

static void test_forward(const cJSON *man, hg_model *m) {
    const int64_t h = hg_model_config(m)->n_embd, V = hg_model_config(m)->vocab_size;
    int64_t T;
    int32_t *ids = golden_ints(golden_item(golden_item(golden_case(man, "forward_r1"), "inputs"), "input_ids"), &T);
    char *ia = ids_arg(ids, T);
    const char *dir = hg_tmp_dir("trace_fwd"), *mdir = golden_model_dir(k_model);
    float *want = malloc((size_t)(T * V) * sizeof(float)), *lens = malloc((size_t)V * sizeof(float)),
          *wl = malloc((size_t)V * sizeof(float)), *glat = malloc((size_t)(T * h) * sizeof(float));
    char out[4096], lat_p[4096], log_p[4096];
    snprintf(out, sizeof out, "%s/r8", dir);
    snprintf(lat_p, sizeof lat_p, "%s/lat.bin", dir);
    snprintf(log_p, sizeof log_p, "%s/log.bin", dir);
    /* 3: every t of an r = 8 run against `huginn forward --steps t` */
    if (!run("%s trace -m %s --ids %s --steps 8 -n 0 --init-scale 0 --top-k %lld --lens-chunk 5 --out %s", hg_huginn(),
             mdir, ia, (long long)V, out)) {
        int64_t sl[4], si[4], sp[4];
        float *lat = load(out, "latents.npy", 3, sl), *lp = load(out, "topk_logprobs.npy", 3, sp);
        int32_t *ti = load(out, "topk_ids.npy", 3, si);
        CHECK_MSG(lat && sl[0] == T && sl[1] == 9 && sl[2] == h, "latents shape");
        for (int64_t t = 0; lat && lp && ti && sl[0] == T && sl[1] == 9 && t <= 8; t++) {
            if (run("%s forward -m %s --ids %s --steps %lld --latents %s --logits %s", hg_huginn(), mdir, ia, (long long)t,
                    lat_p, log_p))
                break;
            size_t n = 0;
            float *fl = hg_read_file(lat_p, &n), *fg = hg_read_file(log_p, NULL);
            char label[128];
            for (int64_t p = 0; p < T; p++) memcpy(glat + p * h, lat + (p * 9 + t) * h, (size_t)h * sizeof(float));
            snprintf(label, sizeof label, "trace latents[:, %lld] vs forward --steps %lld", (long long)t, (long long)t);
            if (fl && n == (size_t)(T * h) * 4) hg_check_close(label, glat, fl, (size_t)(T * h), 1e-6);
            else CHECK_MSG(0, "forward latents missing");
            for (int64_t p = 0; fg && p < T; p++) {
                lens_full(ti, lp, 9, V, p, t, lens);
                log_softmax(fg + p * V, V, wl);
                snprintf(label, sizeof label, "lens pos %lld t %lld vs forward logits", (long long)p, (long long)t);
                hg_check_close(label, lens, wl, (size_t)V, 1e-5);
            }
            free(fl), free(fg);
        }
        free(lat), free(lp), free(ti);
    }
    /* 4: r = 32 against the goldens */
    snprintf(out, sizeof out, "%s/r32", dir);
    if (!run("%s trace -m %s --ids %s --steps 32 -n 0 --init-scale 0 --top-k %lld --out %s", hg_huginn(), mdir, ia,
             (long long)V, out)) {
        int64_t sl[4], si[4], sp[4];
        float *lat = load(out, "latents.npy", 3, sl), *lp = load(out, "topk_logprobs.npy", 3, sp);
        int32_t *ti = load(out, "topk_ids.npy", 3, si);
        const int rs[6] = {0, 1, 2, 4, 8, 32};
        for (int k = 0; lat && lp && ti && sl[0] == T && sl[1] == 33 && k < 6; k++) {
            char name[64], label[128];
            snprintf(name, sizeof name, "forward_r%d", rs[k]);
            const cJSON *cs = golden_case(man, name);
            CHECK_MSG(cs != NULL, "golden %s", name);
            if (!cs) continue;
            size_t n = 0, nl = 0;
            float *gl = golden_floats(k_model, golden_item(golden_item(cs, "outputs"), "latent_states"), &n);
            float *gg = golden_floats(k_model, golden_item(golden_item(cs, "outputs"), "logits"), &nl);
            for (int64_t p = 0; p < T; p++) memcpy(glat + p * h, lat + (p * 33 + rs[k]) * h, (size_t)h * sizeof(float));
            snprintf(label, sizeof label, "trace latents[:, %d] vs golden %s", rs[k], name);
            if (gl && n == (size_t)(T * h)) hg_check_close(label, glat, gl, n, 1e-4);
            else CHECK_MSG(0, "%s latents", name);
            for (int64_t p = 0; gg && nl == (size_t)(T * V) && p < T; p++) {
                lens_full(ti, lp, 33, V, p, rs[k], lens);
                log_softmax(gg + p * V, V, wl);
                snprintf(label, sizeof label, "lens pos %lld vs golden %s", (long long)p, name);
                hg_check_close(label, lens, wl, (size_t)V, 1e-4);
            }
            free(gl), free(gg);
        }
        free(lat), free(lp), free(ti);
    }
    /* 7: a slice equals the same rows of the full run */
    char sl_out[4096];
    snprintf(sl_out, sizeof sl_out, "%s/slice", dir);
    if (!run("%s trace -m %s --ids %s --steps 32 -n 0 --init-scale 0 --top-k 3 --positions 3:9 --out %s", hg_huginn(), mdir,
             ia, sl_out)) {
        int64_t a[4], b[4];
        float *full = load(out, "states.npy", 3, a), *part = load(sl_out, "states.npy", 3, b);
        CHECK_MSG(part && b[0] == 6 && b[1] == 33 && b[2] == h, "slice shape");
        if (full && part && b[0] == 6) hg_check_close("--positions 3:9 states", part, full + 3 * 33 * h, (size_t)(6 * 33 * h), 0);
        free(full), free(part);
    }
    free(ids), free(ia), free(want), free(lens), free(wl), free(glat);
}

/* Generated ids and per-position fields from index.json. */
static cJSON *index_json(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", dir);
    size_t n = 0;
    char *s = hg_read_file(path, &n);
    cJSON *o = s ? cJSON_ParseWithLength(s, n) : NULL;
    free(s);
    CHECK_MSG(o != NULL, "%s parses", path);
    return o;
}

/* ---- 5. warm start ------------------------------------------------------------------------------- */

static void test_warm(const cJSON *man, hg_model *m) {
    const int64_t V = hg_model_config(m)->vocab_size;
    const cJSON *cs = golden_case(man, "generate_r8_continuous_zero");
    CHECK(cs != NULL);
    if (!cs) return;
    int64_t T, n_want;
    int32_t *ids = golden_ints(golden_item(golden_item(cs, "inputs"), "input_ids"), &T);
    int32_t *want = golden_ints(golden_item(cs, "generated"), &n_want);
    char *ia = ids_arg(ids, T);
    const char *dir = hg_tmp_dir("trace_warm");
    if (!run("%s trace -m %s --ids %s --steps 8 -n %lld --warm-start --init-scale 0 --temp 0 --top-k %lld --out %s",
             hg_huginn(), golden_model_dir(k_model), ia, (long long)n_want, (long long)V, dir)) {
        cJSON *o = index_json(dir);
        const cJSON *toks = cJSON_GetObjectItem(o, "tokens");
        CHECK_MSG(cJSON_GetArraySize(toks) == T + n_want, "%d positions", cJSON_GetArraySize(toks));
        bool same = cJSON_GetArraySize(toks) == T + n_want;
        for (int64_t i = 0; same && i < n_want; i++)
            same = (int32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(toks, (int)(T + i)), "id")) == want[i];
        CHECK_MSG(same, "warm-started trace: generated ids differ from the golden's");
        size_t n = 0;
        float *sl = golden_floats(k_model, golden_item(golden_item(cs, "outputs"), "step_logits"), &n);
        int64_t si[4], sp[4];
        int32_t *ti = load(dir, "topk_ids.npy", 3, si);
        float *lp = load(dir, "topk_logprobs.npy", 3, sp), *lens = malloc((size_t)V * 4), *wl = malloc((size_t)V * 4);
        for (int64_t i = 0; same && ti && lp && sl && n == (size_t)(n_want * V) && i < n_want; i++) {
            char label[128];
            lens_full(ti, lp, 9, V, T - 1 + i, 8, lens);
            log_softmax(sl + i * V, V, wl);
            snprintf(label, sizeof label, "warm-start lens at t = 8, token %lld vs golden step_logits", (long long)i);
            hg_check_close(label, lens, wl, (size_t)V, 1e-4);
        }
        free(sl), free(ti), free(lp), free(lens), free(wl);
        cJSON_Delete(o);
    }
    free(ids), free(want), free(ia);
}

/* ---- 6. adaptive exit ------------------------------------------------------------------------------ */

static void test_adaptive(const cJSON *man, const char *case_name) {
    const cJSON *cs = golden_case(man, case_name), *in = golden_item(cs, "inputs");
    CHECK_MSG(cs != NULL, "golden %s", case_name);
    if (!cs) return;
    int64_t T, n_want, n_st;
    int32_t *ids = golden_ints(golden_item(in, "input_ids"), &T);
    int32_t *want = golden_ints(golden_item(cs, "generated"), &n_want);
    int32_t *wsteps = golden_ints(golden_item(cs, "steps_per_token"), &n_st);
    size_t n_vals = 0;
    float *wvals = golden_floats(k_model, golden_item(cs, "exit_values"), &n_vals);
    char *ia = ids_arg(ids, T);
    const char *dir = hg_tmp_dir(case_name);
    const int64_t R = golden_num(in, "max_steps");
    if (!run("%s trace -m %s --ids %s --steps %lld -n %lld --exit %s --exit-threshold %.9g --init-scale 0 --temp 0 --out %s",
             hg_huginn(), golden_model_dir(k_model), ia, (long long)R, (long long)n_want,
             golden_item(in, "criterion")->valuestring, golden_item(in, "exit_threshold")->valuedouble, dir)) {
        cJSON *o = index_json(dir);
        const cJSON *toks = cJSON_GetObjectItem(o, "tokens");
        bool same = cJSON_GetArraySize(toks) == T + n_want, steps_ok = same;
        for (int64_t i = 0; same && i < n_want; i++) {
            const cJSON *t = cJSON_GetArrayItem(toks, (int)(T + i));
            same = (int32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "id")) == want[i];
            steps_ok = steps_ok && (int32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "produced_by_steps")) == wsteps[i];
        }
        CHECK_MSG(same, "%s: traced ids differ from the golden's", case_name);
        CHECK_MSG(steps_ok, "%s: traced steps differ from the golden's", case_name);
        int64_t se[4], sl[4];
        float *ev = load(dir, "exit_values.npy", 2, se), *lat = load(dir, "latents.npy", 3, sl);
        size_t off = 0;
        bool vals_ok = ev != NULL, carry_ok = lat != NULL;
        for (int64_t i = 0; same && steps_ok && ev && lat && i < n_want; i++) {
            const int64_t q = T - 1 + i, h = sl[2]; /* the position whose iterations chose token i */
            for (int64_t t = 1; t <= wsteps[i] && off < n_vals; t++, off++) {
                const double g = (double)ev[q * (R + 1) + t], w = (double)wvals[off];
                if (isnan(w) || isnan(g)) vals_ok &= isnan(w) == isnan(g);
                else vals_ok &= fabs(g - w) - 1e-3 * fabs(w) <= 1e-4; /* test_ttc_golden's tolerance */
            }
            for (int64_t t = wsteps[i] + 1; t <= R; t++) /* carried forward: rows repeat the exit row */
                carry_ok &= !memcmp(lat + (q * (R + 1) + t) * h, lat + (q * (R + 1) + wsteps[i]) * h, (size_t)h * 4);
        }
        CHECK_MSG(vals_ok && off == n_vals, "%s: exit values differ from the golden's (%zu of %zu compared)", case_name, off, n_vals);
        CHECK_MSG(carry_ok, "%s: an exited position does not carry its last row", case_name);
        free(ev), free(lat);
        cJSON_Delete(o);
    }
    free(ids), free(want), free(wsteps), free(wvals), free(ia);
}

/* ---- 8. the lens of many states of one position in one call ------------------------------------- */

static void next_logits(hg_model *m, const int32_t *ids, int64_t T, const float *alt, int64_t n_alt, float *out) {
    const int64_t h = hg_model_config(m)->n_embd, V = hg_model_config(m)->vocab_size;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = T + 1, cp.max_steps = 4;
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK);
    if (!ctx) return;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = 4, fp.init_scale = 0;
    float *lg = malloc((size_t)((n_alt + 1) * V) * sizeof(float)), *lat = malloc((size_t)(n_alt * h) * sizeof(float));
    CHECK(hg_ctx_forward(ctx, ids, T, 0, &fp, NULL, NULL, &err) == HG_OK);
    if (alt) CHECK_MSG(hg_ctx_coda_lens(ctx, alt, n_alt, T - 1, lat, lg, &err) == HG_OK, "coda_lens: %s", err.msg);
    CHECK(hg_ctx_forward(ctx, ids + T, 1, T, &fp, NULL, out, &err) == HG_OK);
    free(lg), free(lat);
    hg_ctx_free(ctx);
}

static void test_coda_lens(const cJSON *man, hg_model *m) {
    const int64_t h = hg_model_config(m)->n_embd, V = hg_model_config(m)->vocab_size;
    int64_t T;
    int32_t *ids = golden_ints(golden_item(golden_item(golden_case(man, "forward_r1"), "inputs"), "input_ids"), &T);
    const int64_t n = 2 * T + 3; /* a context's chunk is at most its n_ctx (T here): three lens chunks */
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = T, cp.max_steps = 4;
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK);
    float *alt = malloc((size_t)(n * h) * sizeof(float)), *lat = malloc((size_t)(n * h) * sizeof(float)),
          *lg = malloc((size_t)(n * V) * sizeof(float)), *lat1 = malloc((size_t)h * sizeof(float)),
          *lg1 = malloc((size_t)V * sizeof(float)), *a = malloc((size_t)V * sizeof(float)),
          *b = malloc((size_t)V * sizeof(float));
    uint64_t seed = 7;
    hg_init_state(m, alt, n, 1.0f, &seed);
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = 4, fp.init_scale = 0;
    if (ctx && hg_ctx_forward(ctx, ids, T - 1, 0, &fp, NULL, NULL, &err) == HG_OK) {
        CHECK(hg_ctx_forward(ctx, ids + T - 1, 1, T - 1, &fp, NULL, NULL, &err) == HG_OK);
        CHECK_MSG(hg_ctx_coda_lens(ctx, alt, n, T - 1, lat, lg, &err) == HG_OK, "coda_lens: %s", err.msg);
        bool same = true;
        for (int64_t i = 0; i < n; i++) {
            CHECK(hg_ctx_coda(ctx, alt + i * h, 1, T - 1, lat1, lg1, &err) == HG_OK);
            same &= !memcmp(lg1, lg + i * V, (size_t)V * 4) && !memcmp(lat1, lat + i * h, (size_t)h * 4);
        }
        CHECK_MSG(same, "coda_lens rows differ from hg_ctx_coda of each state alone");
        CHECK_MSG(hg_ctx_coda_lens(ctx, alt, n, T, lat, lg, &err) != HG_OK, "coda_lens past n_past must fail");
    }
    /* the cache is untouched: the next position after a lens call equals a run without it */
    next_logits(m, ids, T - 1, NULL, 0, a);
    next_logits(m, ids, T - 1, alt, n, b);
    CHECK_MSG(!memcmp(a, b, (size_t)V * 4), "a coda_lens call changed what the next position computes");
    hg_ctx_free(ctx);
    free(ids), free(alt), free(lat), free(lg), free(lat1), free(lg1), free(a), free(b);
}

int main(void) {
    test_npy();
    test_pca();
    cJSON *man = golden_manifest(k_model);
    hg_model *m = NULL;
    hg_error err = {0};
    CHECK_MSG(man && hg_model_load(golden_model_dir(k_model), NULL, &m, &err) == HG_OK, "%s: %s", k_model, err.msg);
    if (man && m) {
        test_forward(man, m);
        test_warm(man, m);
        test_adaptive(man, "adaptive_latent-diff");
        test_adaptive(man, "adaptive_kl");
        test_coda_lens(man, m);
    }
    hg_model_free(m);
    cJSON_Delete(man);
    return hg_test_finish("test_trace");
}
