/*
 * cmd_forward.c — `huginn forward`: one fixed-depth pass over given ids, raw f32 outputs
 * (docs/architecture.md): logits [T,V] and latents [T,h] (= ln_f of the final state).
 *   huginn forward -m MODEL --ids 1,2,3 --steps R [--init-scale S] [--seed N] [--state FILE]
 *                  [--prefill N] [--kv-cache STRATEGY] [--kv-type f32|f16|bf16] [--logits OUT.bin] [--latents OUT.bin]
 *                  [--threads N]
 * --prefill N feeds the first N ids in one call and the rest one id per call through the KV cache.
 * On an Ouro model --steps is the loop count, every loop runs (as the reference's forward) and the exit
 * rule picks each position's logits: --exit gate [--exit-threshold X] | weighted | last, --exit-at K;
 * latents are the last loop's normed state; --gates OUT.bin writes the gate logits [steps, T] and
 * --exit-steps OUT.txt each position's exit loop (run_gate.h).
 */
#include "cli.h"
#include "run_gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: huginn forward -m MODEL --ids 1,2,3 --steps R [--init-scale S] [--seed N] [--state FILE]\n"
                    "                      [--prefill N] [--kv-cache STRATEGY] [--kv-type f32|f16|bf16] [--logits OUT.bin]\n"
                    "                      [--latents OUT.bin] [--threads N]\n"
                    "       Ouro: [--exit gate|weighted|last] [--exit-threshold X] [--exit-at K] [--gates OUT.bin]\n"
                    "             [--exit-steps OUT.txt]\n");
    return 1;
}

int cmd_forward(int argc, char **argv) {
    const char *model = NULL, *ids_s = NULL, *state_path = NULL, *kv = NULL, *out_logits = NULL, *out_lat = NULL;
    hg_dtype kv_type = HG_DTYPE_F32;
    int64_t steps = -1, prefill = -1, threads = 0;
    float init_scale = 0.0f;
    uint64_t seed = 0;
    run_gate_opts gate;
    run_gate_init(&gate);
    const char *out_gates = NULL, *out_exits = NULL;
    bool thr_given = false;
    double thr = (double)NAN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        { int t = run_gate_parse(argc, argv, &i, &gate); if (t < 0) return 1; if (t > 0) continue; }
        if (!strcmp(a, "--gates")) { if (!(out_gates = cli_next(argc, argv, &i))) return 1; gate.given = true; continue; }
        if (!strcmp(a, "--exit-steps")) { if (!(out_exits = cli_next(argc, argv, &i))) return 1; gate.given = true; continue; }
        if (!strcmp(a, "--exit-threshold")) {
            float f;
            if (!(v = cli_next(argc, argv, &i)) || !cli_parse_f32(v, &f)) return cli_fail("--exit-threshold needs a number");
            thr_given = true, thr = (double)f, gate.given = true;
            continue;
        }
        if (!strcmp(a, "-m")) { if (!(model = cli_next(argc, argv, &i))) return 1; continue; }
        if (!strcmp(a, "--ids")) { if (!(ids_s = cli_next(argc, argv, &i))) return 1; continue; }
        if (!strcmp(a, "--state")) { if (!(state_path = cli_next(argc, argv, &i))) return 1; continue; }
        if (!strcmp(a, "--kv-cache")) { if (!(kv = cli_next(argc, argv, &i))) return 1; continue; }
        if (!strcmp(a, "--kv-type")) {
            hg_error e = {0};
            if (!(v = cli_next(argc, argv, &i))) return 1;
            if (hg_kv_type_parse(v, &kv_type, &e)) return cli_fail_err(&e);
            continue;
        }
        if (!strcmp(a, "--logits")) { if (!(out_logits = cli_next(argc, argv, &i))) return 1; continue; }
        if (!strcmp(a, "--latents")) { if (!(out_lat = cli_next(argc, argv, &i))) return 1; continue; }
        if (!strcmp(a, "--steps")) {
            if (!(v = cli_next(argc, argv, &i)) || !cli_parse_i64(v, &steps) || steps < 0) return cli_fail("--steps needs an integer >= 0");
            continue;
        }
        if (!strcmp(a, "--prefill")) {
            if (!(v = cli_next(argc, argv, &i)) || !cli_parse_i64(v, &prefill) || prefill < 1) return cli_fail("--prefill needs an integer >= 1");
            continue;
        }
        if (!strcmp(a, "--threads")) {
            if (!(v = cli_next(argc, argv, &i)) || !cli_parse_i64(v, &threads) || threads < 0 || threads > 4096) return cli_fail("--threads needs an integer >= 0");
            continue;
        }
        if (!strcmp(a, "--init-scale")) {
            if (!(v = cli_next(argc, argv, &i)) || !cli_parse_f32(v, &init_scale) || init_scale < 0) return cli_fail("--init-scale needs a number >= 0");
            continue;
        }
        if (!strcmp(a, "--seed")) {
            if (!(v = cli_next(argc, argv, &i)) || !cli_parse_u64(v, &seed)) return cli_fail("--seed needs a non-negative integer");
            continue;
        }
        return cli_fail("forward: unknown option `%s`", a), usage();
    }
    if (!model) model = cli_default_model();
    if (!model || !ids_s || steps < 0) return usage();
    int32_t *ids = NULL;
    int64_t T = 0;
    if (!cli_parse_ids(ids_s, &ids, &T)) return cli_fail("--ids must be a comma-separated list of token ids");
    if (prefill < 0 || prefill > T) prefill = T;
    if (run_gate_threshold(&gate, thr_given, thr)) return 1;

    int rc = 1;
    hg_model *m = NULL;
    hg_ctx *ctx = NULL;
    float *logits = NULL, *lat = NULL, *state = NULL;
    hg_error err = {0};
    if (hg_model_load(model, NULL, &m, &err)) { rc = cli_fail_err(&err); goto out; }
    const hg_config *c = hg_model_config(m);
    if (gate.given && c->arch != HG_ARCH_OURO) { rc = cli_fail("forward: the exit-gate options need a model with an exit gate (Ouro)"); goto out; }
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = T;
    cp.max_steps = steps > 0 ? steps : 1;
    cp.kv_cache = kv;
    cp.kv_type = kv_type;
    cp.n_threads = (int)threads;
    if (T > c->block_size) { rc = cli_fail("%lld ids exceed the model's block_size %lld", (long long)T, (long long)c->block_size); goto out; }
    if (hg_ctx_init(m, &cp, &ctx, &err)) { rc = cli_fail_err(&err); goto out; }
    logits = malloc((size_t)(T * c->vocab_size) * sizeof(float));
    lat = malloc((size_t)(T * c->n_embd) * sizeof(float));
    if (!logits || !lat) { rc = cli_fail("out of memory"); goto out; }
    if (state_path) {
        state = malloc((size_t)(T * c->n_embd) * sizeof(float));
        if (!state || !cli_read_f32(state_path, state, (size_t)(T * c->n_embd))) goto out;
    }
    if (c->arch == HG_ARCH_OURO) { /* every loop, the exit rule picking each position's logits */
        if (state_path || init_scale > 0) { rc = cli_fail("forward: an Ouro model starts from the embedding; --state and --init-scale do not apply"); goto out; }
        if (steps == 0) { rc = cli_fail("forward: an Ouro model needs --steps >= 1 (loops)"); goto out; }
        float *gates = calloc((size_t)(2 * steps * T), sizeof(float)), *hid = calloc((size_t)(steps * T * c->n_embd), sizeof(float));
        float *callg = gates ? gates + steps * T : NULL; /* one call's gates [steps, n] */
        int64_t *ex = calloc((size_t)T, sizeof(int64_t));
        gate.xp.n_loops = steps;
        bool ok = gates && hid && ex;
        if (!ok) rc = cli_fail("out of memory");
        for (int64_t a = 0; ok && a < T;) {
            const int64_t n = a == 0 ? prefill : 1;
            hg_gate_outputs o = {.logits = logits + a * c->vocab_size, .gates = callg, .step_hidden = hid, .exit_step = ex + a};
            if (hg_ctx_forward_gate(ctx, ids + a, n, a, &gate.xp, &o, &err)) { rc = cli_fail_err(&err); ok = false; break; }
            for (int64_t t = 0; t < steps; t++) /* this call's rows [steps, n] into [steps, T]; the last loop's states */
                memcpy(gates + t * T + a, callg + t * n, (size_t)n * sizeof(float));
            memcpy(lat + a * c->n_embd, hid + (steps - 1) * n * c->n_embd, (size_t)(n * c->n_embd) * sizeof(float));
            a += n;
        }
        if (ok && out_gates && !cli_write_f32(out_gates, gates, (size_t)(steps * T))) ok = false;
        if (ok && out_exits) {
            FILE *f = fopen(out_exits, "w");
            if (!f) { rc = cli_fail("cannot write %s", out_exits); ok = false; }
            for (int64_t t = 0; f && t < T; t++) fprintf(f, "%lld\n", (long long)ex[t]);
            if (f) fclose(f);
        }
        free(gates), free(hid), free(ex);
        if (!ok) goto out;
        goto write;
    }
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = steps;
    fp.init_scale = init_scale;
    fp.seed = seed;
    for (int64_t a = 0; a < T;) {
        int64_t n = a == 0 ? prefill : 1;
        fp.init_state = state ? state + a * c->n_embd : NULL;
        fp.seed = seed + (uint64_t)a;
        if (hg_ctx_forward(ctx, ids + a, n, a, &fp, lat + a * c->n_embd, logits + a * c->vocab_size, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
        a += n;
    }
write:
    if (out_logits && !cli_write_f32(out_logits, logits, (size_t)(T * c->vocab_size))) goto out;
    if (out_lat && !cli_write_f32(out_lat, lat, (size_t)(T * c->n_embd))) goto out;
    if (!out_logits && !out_lat) { /* a summary a person can read */
        for (int64_t t = 0; t < T; t++) {
            const float *l = logits + t * c->vocab_size;
            int64_t best = 0;
            for (int64_t v = 1; v < c->vocab_size; v++) if (l[v] > l[best]) best = v;
            printf("pos %lld id %d -> argmax %lld (logit %.4f)\n", (long long)t, ids[t], (long long)best, (double)l[best]);
        }
    }
    rc = 0;
out:
    free(ids), free(logits), free(lat), free(state);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return rc;
}
