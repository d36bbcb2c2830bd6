/*
 * run_modes.c — `huginn run` test-time modes (run_modes.h): option parsing, the rules for combining
 * them (as the reference's loops compose: adaptive exit + warm start + any cache strategy; warm start
 * + parallel sampler; speculative alone), dispatch to hg_generate_adaptive / _speculative / _parallel,
 * and output. --json prints
 *   {"prompt_ids":[..], "mode":"adaptive", "generated":[{"id":7,"text":null,"steps":12,"exit_value":0.01}..],
 *    "stats":{...}}
 * with exit_value null where no check was made (speculative, parallel, NaN values).
 */
#include "run_modes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_modes_init(run_ttc_opts *t) {
    memset(t, 0, sizeof *t);
    t->ad = hg_adaptive_default_params();
    t->sp = hg_speculative_default_params();
    t->par = hg_parallel_default_params();
}

static int bad(const char *opt, const char *what) { return cli_fail("%s needs %s", opt, what), -1; }

static int parse_bool(const char *s, bool *out) {
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "on")) return *out = true, 1;
    if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "off")) return *out = false, 1;
    return 0;
}

int run_modes_parse(int argc, char **argv, int *i, run_ttc_opts *t) {
    const char *a = argv[*i], *v;
    hg_error err = {0};
    if (!strcmp(a, "--no-exit-in-prefill")) return t->ad.no_exit_in_prefill = t->adaptive_knob = true, 1;
    if (!strcmp(a, "--parallel")) return t->parallel = true, 1;
    static const char *const with_value[] = {
        "--exit", "--exit-threshold", "--min-steps", "--check-every", "--warm-state", "--draft-steps", "--lookahead",
        "--verify-threshold", "--inner-steps", "--max-wavefront", "--headway", "--exit-t", "--freeze", "--state-noise",
        "--ema-embeds", "--dampened-mixer", "--sqrt-mixer", "--full-prefill", "--max-outer-steps", "--mature-commit"};
    bool ours = false;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) ours |= !strcmp(a, with_value[k]);
    if (!ours) return 0;
    if (!(v = cli_next(argc, argv, i))) return -1;
    int64_t n;
    float f;
    if (!strcmp(a, "--exit")) {
        if (hg_exit_criterion_parse(v, &t->ad.criterion, &err)) return cli_fail_err(&err), -1;
        t->exit = v;
    } else if (!strcmp(a, "--exit-threshold")) {
        t->adaptive_knob = true;
        if (!strcmp(v, "auto")) t->ad.threshold = NAN;
        else if (!cli_parse_f32(v, &f) || !isfinite(f)) return bad(a, "a number or `auto`");
        else t->ad.threshold = (double)f;
    } else if (!strcmp(a, "--min-steps")) {
        if (!cli_parse_i64(v, &t->ad.min_steps) || t->ad.min_steps < 0) return bad(a, "an integer >= 0");
        t->adaptive_knob = true;
    } else if (!strcmp(a, "--check-every")) {
        if (!cli_parse_i64(v, &t->ad.check_every) || t->ad.check_every < 1) return bad(a, "an integer >= 1");
        t->adaptive_knob = true;
    } else if (!strcmp(a, "--warm-state")) {
        if (!strcmp(v, "normalized") || !strcmp(v, "normalised")) t->ad.warm_state = HG_WARM_STATE_NORMALIZED;
        else if (!strcmp(v, "raw")) t->ad.warm_state = HG_WARM_STATE_RAW;
        else return bad(a, "`normalized` or `raw`");
        t->warm_state = v;
    } else if (!strcmp(a, "--draft-steps")) {
        if (!cli_parse_i64(v, &t->sp.draft_steps) || t->sp.draft_steps < 0) return bad(a, "an integer >= 0");
        t->speculative = true;
    } else if (!strcmp(a, "--lookahead")) {
        if (!cli_parse_i64(v, &t->sp.lookahead) || t->sp.lookahead < 1) return bad(a, "an integer >= 1");
        t->speculative = true;
    } else if (!strcmp(a, "--verify-threshold")) {
        if (!cli_parse_f32(v, &t->sp.verify_threshold) || !(t->sp.verify_threshold > 0)) return bad(a, "a number > 0");
        t->verify_given = true;
    } else {
        t->parallel_knob = true;
        hg_parallel_params *p = &t->par;
        if (!strcmp(a, "--inner-steps")) {
            if (!cli_parse_i64(v, &n) || n < 1) return bad(a, "an integer >= 1");
            p->inner_steps = n;
        } else if (!strcmp(a, "--max-wavefront")) {
            if (!cli_parse_i64(v, &n) || n < 0) return bad(a, "an integer >= 0 (0 = unbounded)");
            p->max_wavefront = n;
        } else if (!strcmp(a, "--headway")) {
            if (!cli_parse_i64(v, &n) || n < 1) return bad(a, "an integer >= 1");
            p->headway = n;
        } else if (!strcmp(a, "--max-outer-steps")) {
            if (!cli_parse_i64(v, &n) || n < 0) return bad(a, "an integer >= 0");
            p->max_outer_steps = n;
        } else if (!strcmp(a, "--exit-t")) {
            if (!cli_parse_f32(v, &p->exit_t) || !(p->exit_t >= 0)) return bad(a, "a number >= 0");
        } else if (!strcmp(a, "--state-noise")) {
            if (!cli_parse_f32(v, &p->state_noise) || !(p->state_noise >= 0 && p->state_noise <= 1))
                return bad(a, "a number in [0, 1]");
        } else if (!strcmp(a, "--ema-embeds")) {
            if (!cli_parse_f32(v, &p->ema_embeds) || !(p->ema_embeds >= 0 && p->ema_embeds < 1))
                return bad(a, "a number in [0, 1)");
        } else if (!strcmp(a, "--freeze")) {
            if (hg_freeze_rule_parse(v, &p->freeze, &err)) return cli_fail_err(&err), -1;
        } else {
            bool *b = !strcmp(a, "--dampened-mixer") ? &p->dampened_mixer
                      : !strcmp(a, "--sqrt-mixer")   ? &p->sqrt_mixer
                      : !strcmp(a, "--full-prefill") ? &p->full_prefill
                                                     : &p->commit_mature_front;
            if (!parse_bool(v, b)) return bad(a, "on or off");
        }
    }
    return 1;
}

int run_modes_check(run_ttc_opts *t, bool warm) {
    const bool adaptive = t->exit != NULL;
    if (adaptive + t->speculative + t->parallel > 1)
        return cli_fail("--exit, --draft-steps/--lookahead and --parallel choose different generation loops; use one "
                        "(the reference does not compose them)");
    if (t->adaptive_knob && !adaptive)
        return cli_fail("--exit-threshold, --min-steps, --check-every and --no-exit-in-prefill need --exit CRITERION");
    if (t->verify_given && !t->speculative) return cli_fail("--verify-threshold needs --draft-steps and/or --lookahead");
    if (t->parallel_knob && !t->parallel) return cli_fail("parallel-sampler options need --parallel");
    if (t->warm_state && !warm) return cli_fail("--warm-state needs --warm-start");
    if (t->speculative && warm)
        return cli_fail("--warm-start does not compose with speculative decoding (the reference's one-position warm "
                        "state cannot start the multi-position verifying call)");
    if (t->parallel && t->warm_state)
        return cli_fail("--warm-state does not apply to --parallel (its warm start copies the last active states)");
    return 0;
}

bool run_modes_active(const run_ttc_opts *t, bool warm) {
    return t->exit || t->speculative || t->parallel || (warm && t->ad.warm_state == HG_WARM_STATE_RAW);
}

void run_modes_ctx_params(const run_ttc_opts *t, hg_ctx_params *cp, int64_t n_prompt, int64_t n_new, int64_t steps) {
    int64_t need = n_prompt + n_new, iters = steps > 0 ? steps : 1;
    if (t->speculative) {
        need += t->sp.lookahead;
        iters = t->sp.draft_steps > iters ? t->sp.draft_steps : iters;
    }
    if (t->parallel) {
        /* room for the wave beyond the last wanted token; the sampler stops when the window hits the end */
        const int64_t wave = t->par.max_wavefront > 0 && t->par.max_wavefront < n_new ? t->par.max_wavefront : n_new;
        need += t->par.headway + wave + 1;
        iters = t->par.inner_steps > iters ? t->par.inner_steps : iters;
        if (!cp->kv_cache) cp->kv_cache = "latest-m4-compress-s4"; /* the reference sampler's default */
    }
    if (cp->n_ctx < need) cp->n_ctx = need;
    cp->max_steps = iters;
}

/* ---- output ------------------------------------------------------------------------------------ */

static void print_value(float v) {
    if (isfinite(v)) printf("%.9g", (double)v);
    else printf("null");
}

int run_modes_generate(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                       const run_ttc_opts *t, run_text *text, bool json) {
    const int64_t cap = gp->max_new_tokens + 1 + (t->speculative ? t->sp.lookahead : 0) +
                        (t->parallel ? t->par.headway + (t->par.max_wavefront > 0 ? t->par.max_wavefront : hg_ctx_n_ctx(ctx)) : 0);
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    int64_t *steps = malloc((size_t)cap * sizeof *steps);
    float *vals = malloc((size_t)cap * sizeof *vals);
    if (!ids || !steps || !vals) {
        free(ids), free(steps), free(vals);
        return cli_fail("out of memory");
    }
    for (int64_t i = 0; i < cap; i++) vals[i] = NAN;
    hg_ttc_report rep = {.steps = steps, .exit_values = vals};
    hg_error err = {0};
    int64_t n = 0;
    hg_status st;
    const char *mode;
    const double t0 = cli_now();
    if (t->speculative) {
        mode = "speculative";
        st = hg_generate_speculative(ctx, prompt, n_prompt, gp, &t->sp, NULL, NULL, ids, &n, &rep, &err);
    } else if (t->parallel) {
        mode = "parallel";
        st = hg_generate_parallel(ctx, prompt, n_prompt, gp, &t->par, NULL, NULL, ids, &n, &rep, &err);
    } else {
        mode = t->exit ? "adaptive" : "warm-raw";
        st = hg_generate_adaptive(ctx, prompt, n_prompt, gp, &t->ad, NULL, NULL, ids, &n, &rep, &err);
    }
    const double secs = cli_now() - t0;
    if (st) {
        free(ids), free(steps), free(vals);
        return cli_fail_err(&err);
    }
    int64_t total_steps = 0;
    for (int64_t i = 0; i < n; i++) total_steps += steps[i];
    if (json) {
        printf("{\"prompt_ids\":[");
        for (int64_t i = 0; i < n_prompt; i++) printf("%s%d", i ? "," : "", prompt[i]);
        printf("],\"mode\":\"%s\",\"generated\":[", mode);
        for (int64_t i = 0; i < n; i++) {
            printf("%s{\"id\":%d,\"text\":", i ? "," : "", ids[i]);
            run_text_push(text, ids[i], NULL);
            if (text->tok) run_text_json_string(stdout, text->piece, text->piece_len);
            else printf("null");
            printf(",\"steps\":%lld,\"exit_value\":", (long long)steps[i]);
            print_value(vals[i]);
            printf("}");
        }
        printf("],\"stats\":{\"n_prompt\":%lld,\"n_generated\":%lld,\"max_steps\":%lld,\"mean_steps\":%.4f,"
               "\"core_passes\":%lld,\"core_iterations\":%lld,\"core_iterations_per_token\":%.4f,\"coda_calls\":%lld,"
               "\"seconds\":%.6f,\"tokens_per_s\":%.4f",
               (long long)n_prompt, (long long)n, (long long)gp->n_steps, n ? (double)total_steps / (double)n : 0.0,
               (long long)rep.core_passes, (long long)rep.core_iterations,
               n ? (double)rep.core_iterations / (double)n : 0.0, (long long)rep.coda_calls, secs,
               secs > 0 ? (double)n / secs : 0.0);
        if (t->exit) printf(",\"criterion\":\"%s\",\"checks\":%lld", hg_exit_criterion_name(t->ad.criterion), (long long)rep.n_trace);
        if (t->speculative)
            printf(",\"draft_steps\":%lld,\"lookahead\":%lld,\"draft_tokens\":%lld,\"accepted_tokens\":%lld,\"verify_calls\":%lld",
                   (long long)t->sp.draft_steps, (long long)t->sp.lookahead, (long long)rep.draft_tokens,
                   (long long)rep.accepted_tokens, (long long)rep.verify_calls);
        if (t->parallel) {
            printf(",\"outer_steps\":%lld,\"tokens_processed\":%lld,\"cache_clears\":%lld,\"standing_waves\":%lld,"
                   "\"iterations_per_position\":[",
                   (long long)rep.outer_steps, (long long)rep.tokens_processed, (long long)rep.cache_clears,
                   (long long)rep.standing_waves);
            for (int64_t i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)steps[i]);
            printf("]");
        }
        printf("}}\n");
    } else {
        for (int64_t i = 0; i < n; i++) {
            if (text->tok) run_text_push(text, ids[i], stdout);
            else printf("%s%d", i ? " " : "", ids[i]);
        }
        run_text_flush(text, stdout);
        printf("\n");
        fprintf(stderr, "huginn: %s: %lld tokens, %.2f iterations/token, %.3f s\n", mode, (long long)n,
                n ? (double)rep.core_iterations / (double)n : 0.0, secs);
    }
    free(ids), free(steps), free(vals);
    return 0;
}
