/*
 * run_gate.c — `huginn run` / `huginn forward` options and generation for a model with a learned
 * exit gate (Ouro; run_gate.h, docs/family.md "Ouro"). The decisions are the library's
 * (hg_generate_gate); this file maps options onto hg_gate_params and prints run's --json schema:
 *   {"prompt_ids":[..], "mode":"gate", "generated":[{"id","text","steps","exit_value"}..], "stats":{..}}
 * where steps is the loops that produced the token (its exit loop + 1) and exit_value the cumulative
 * exit probability at that loop.
 */
#include "run_gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_gate_init(run_gate_opts *g) {
    memset(g, 0, sizeof *g);
    g->xp = hg_gate_default_params();
}

int run_gate_parse(int argc, char **argv, int *i, run_gate_opts *g) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--exit")) {
        const char *peek = *i + 1 < argc ? argv[*i + 1] : "";
        if (strcmp(peek, "gate") && strcmp(peek, "weighted") && strcmp(peek, "last")) return 0; /* a Huginn criterion */
        v = cli_next(argc, argv, i);
        g->exit = v, g->given = true;
        g->xp.rule = !strcmp(v, "weighted") ? HG_GATE_WEIGHTED : !strcmp(v, "last") ? HG_GATE_LAST : HG_GATE_DEFAULT;
        return 1;
    }
    if (!strcmp(a, "--exit-at")) {
        int64_t k;
        if (!(v = cli_next(argc, argv, i))) return -1;
        if (!cli_parse_i64(v, &k) || k < 0) return cli_fail("--exit-at needs an integer >= 0 (a 0-based loop)"), -1;
        g->xp.exit_at = k, g->given = true;
        return 1;
    }
    if (!strcmp(a, "--exit-compute")) {
        hg_error err = {0};
        if (!(v = cli_next(argc, argv, i))) return -1;
        if (hg_gate_compute_parse(v, &g->xp.compute, &err)) return cli_fail_err(&err), -1;
        g->given = true;
        return 1;
    }
    return 0;
}

int run_gate_threshold(run_gate_opts *g, bool given, double threshold) {
    if (!given) return 0;
    if (!g->exit || strcmp(g->exit, "gate")) return cli_fail("--exit-threshold on a gated model needs --exit gate");
    if (!isnan(threshold)) g->xp.rule = HG_GATE_THRESHOLD, g->xp.threshold = threshold;
    return 0;
}

typedef struct gate_out {
    run_text *text;
    bool json;
    int64_t n;
    double t_first;
} gate_out;

static bool on_token(void *user, int32_t id, int64_t steps, const float *logits) {
    gate_out *g = user;
    (void)steps, (void)logits;
    if (g->n == 0) g->t_first = cli_now();
    if (!g->json) {
        if (g->text->tok) run_text_push(g->text, id, stdout);
        else printf("%s%d", g->n ? " " : "", id), fflush(stdout);
    }
    g->n++;
    return true;
}

static const char *rule_name(const hg_gate_params *p, const hg_config *c) {
    if (p->exit_at >= 0 && p->exit_at < p->n_loops) return "exit-at";
    switch (p->rule) {
    case HG_GATE_THRESHOLD: return "threshold";
    case HG_GATE_WEIGHTED: return "weighted";
    case HG_GATE_LAST: return "last";
    default: return isnan(c->early_exit_threshold) ? "last" : "threshold";
    }
}

int run_gate_generate(hg_model *m, const run_gate_opts *g, const char *kv, hg_dtype kv_type, int n_threads,
                      int64_t user_ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                      run_text *text, bool json) {
    const hg_config *c = hg_model_config(m);
    hg_gate_params xp = g->xp;
    xp.n_loops = gp->n_steps > 0 ? gp->n_steps : c->mean_recurrence;
    const int64_t need = n_prompt + gp->max_new_tokens;
    if (user_ctx && user_ctx < need)
        return cli_fail("run: the prompt (%lld) and -n %lld need a context of %lld positions; -c is %lld", (long long)n_prompt,
                        (long long)gp->max_new_tokens, (long long)need, (long long)user_ctx);
    if ((user_ctx ? user_ctx : need) > c->block_size)
        return cli_fail("run: %lld positions exceed the model's max_position_embeddings %lld", (long long)(user_ctx ? user_ctx : need),
                        (long long)c->block_size);
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = user_ctx ? user_ctx : need;
    cp.max_steps = xp.n_loops;
    /* a token that stopped early has no K/V at deeper loops: later tokens read its deepest loop's */
    cp.kv_cache = kv ? kv : xp.compute == HG_GATE_COMPUTE_SKIP ? "latest-m4" : "full";
    cp.kv_type = kv_type;
    cp.n_threads = n_threads;
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    const int64_t cap = gp->max_new_tokens + 1;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    int64_t *steps = malloc((size_t)cap * sizeof *steps);
    float *vals = malloc((size_t)cap * sizeof *vals);
    int rc = 1;
    if (!ids || !steps || !vals) {
        rc = cli_fail("out of memory");
        goto out;
    }
    if (hg_ctx_init(m, &cp, &ctx, &err)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    hg_ttc_report rep = {.steps = steps, .exit_values = vals};
    gate_out go = {.text = text, .json = json};
    int64_t n = 0;
    const double t0 = cli_now();
    if (hg_generate_gate(ctx, prompt, n_prompt, gp, &xp, on_token, &go, ids, &n, &rep, &err)) {
        if (!json && go.n) printf("\n");
        rc = cli_fail_err(&err);
        goto out;
    }
    const double t1 = cli_now(), secs = t1 - t0;
    if (!go.n) go.t_first = t1;
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) total += steps[i];
    bool eos = false;
    if (n) {
        for (int64_t k = 0; k < gp->n_eos; k++) eos |= gp->eos_ids[k] == ids[n - 1];
        eos |= ids[n - 1] == c->eos_token_id;
    }
    const char *stop = n >= gp->max_new_tokens ? "length" : eos ? "eos" : "callback";
    if (json) {
        printf("{\"prompt_ids\":[");
        for (int64_t i = 0; i < n_prompt; i++) printf("%s%d", i ? "," : "", prompt[i]);
        printf("],\"mode\":\"gate\",\"generated\":[");
        for (int64_t i = 0; i < n; i++) {
            printf("%s{\"id\":%d,\"text\":", i ? "," : "", ids[i]);
            run_text_push(text, ids[i], NULL);
            if (text->tok) run_text_json_string(stdout, text->piece, text->piece_len);
            else printf("null");
            printf(",\"steps\":%lld,\"exit_value\":", (long long)steps[i]);
            if (isfinite(vals[i])) printf("%.9g", (double)vals[i]);
            else printf("null");
            printf("}");
        }
        printf("],\"stats\":{\"n_prompt\":%lld,\"n_requested\":%lld,\"n_generated\":%lld,\"steps\":%lld,\"mean_steps\":%.4f,"
               "\"prefill_s\":%.6f,\"decode_s\":%.6f,\"seconds\":%.6f,\"tokens_per_s\":%.4f,\"n_ctx\":%lld,\"stop\":\"%s\","
               "\"core_passes\":%lld,\"core_iterations\":%lld,\"core_iterations_per_token\":%.4f,\"coda_calls\":%lld,"
               "\"exit\":\"%s\",\"exit_compute\":\"%s\",\"kv_cache\":\"%s\"}}\n",
               (long long)n_prompt, (long long)gp->max_new_tokens, (long long)n, (long long)xp.n_loops,
               n ? (double)total / (double)n : 0.0, go.t_first - t0, t1 - go.t_first, secs, secs > 0 ? (double)n / secs : 0.0,
               (long long)hg_ctx_n_ctx(ctx), stop, (long long)rep.core_passes, (long long)rep.core_iterations,
               n ? (double)rep.core_iterations / (double)n : 0.0, (long long)rep.coda_calls, rule_name(&xp, c),
               xp.compute == HG_GATE_COMPUTE_ALL ? "all" : "skip", cp.kv_cache);
    } else {
        run_text_flush(text, stdout);
        printf("\n");
        fflush(stdout);
        fprintf(stderr, "huginn: gate (%s, %s): %lld tokens, %.2f loops/token, %.3f s\n", rule_name(&xp, c),
                xp.compute == HG_GATE_COMPUTE_ALL ? "all" : "skip", (long long)n, n ? (double)total / (double)n : 0.0, secs);
    }
    rc = 0;
out:
    free(ids), free(steps), free(vals);
    hg_ctx_free(ctx);
    return rc;
}
