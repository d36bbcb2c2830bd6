/*
 * run_modes.c — `huginn run` test-time modes (run_modes.h): option parsing, the rules for combining
 * them (as the reference's loops compose: adaptive exit + warm start + any cache strategy; warm start
 * + parallel sampler; speculative alone), dispatch to hg_generate_adaptive / _speculative / _parallel,
 * context sizing, and output for every mode, plain generation included (one code path, one --json
 * schema). --json prints
 *   {"prompt_ids":[..], "mode":"adaptive", "generated":[{"id":7,"text":null,"steps":12,"exit_value":0.01}..],
 *    "stats":{...}}
 * where exit_value is present only when an exit criterion ran (null for a token it made no check on),
 * and stats has the same keys in every mode (n_prompt, n_requested, n_generated, steps, mean_steps,
 * prefill_s, decode_s, seconds, tokens_per_s, n_ctx, stop) plus the mode's own counters. Text output
 * streams: each token is printed when the loop hands it to the token callback (the parallel sampler
 * hands over tokens when it commits them, so they come in bursts).
 */
#include "run_modes.h"

#include <inttypes.h>
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
        if (!strcmp(v, "auto")) t->ad.threshold = (double)NAN;
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

void run_modes_help(FILE *f, bool conversation) {
    const hg_adaptive_params ad = hg_adaptive_default_params();
    const hg_speculative_params sp = hg_speculative_default_params();
    const hg_parallel_params par = hg_parallel_default_params();
    fprintf(f, "  test-time modes (docs/test-time.md)%s:\n"
               "    --exit CRITERION        per-token adaptive exit; CRITERION (default %s):",
            conversation ? "" : "; one of --exit, --draft-steps/--lookahead, --parallel", hg_exit_criterion_name(ad.criterion));
    for (int c = 0; c < HG_EXIT_COUNT; c++) fprintf(f, "%s %s", c ? "," : "", hg_exit_criterion_name((hg_exit_criterion)c));
    fprintf(f, "\n"
               "      [--exit-threshold X|auto] (default auto: the criterion's own) [--min-steps N] (default %lld)\n"
               "      [--check-every N] (default %lld) [--no-exit-in-prefill]\n"
               "    --warm-start [--warm-state normalized|raw]   start each token from the previous one's state\n",
            (long long)ad.min_steps, (long long)ad.check_every);
    if (!conversation) { /* chat runs one reply at a time through the adaptive loop only */
        fprintf(f, "    --draft-steps D (default %lld) --lookahead L (default %lld) [--verify-threshold X] (default %g: argmax)\n"
                   "    --parallel              the diffusion-style sampler; [--inner-steps N] (default %lld)\n"
                   "      [--max-wavefront N] (default %lld, 0 = unbounded) [--headway N] (default %lld) [--exit-t X] (default %g)\n"
                   "      [--freeze RULE] (default %s):",
                (long long)sp.draft_steps, (long long)sp.lookahead, (double)sp.verify_threshold, (long long)par.inner_steps,
                (long long)par.max_wavefront, (long long)par.headway, (double)par.exit_t, hg_freeze_rule_name(par.freeze));
        for (int r = 0; r < HG_FREEZE_COUNT; r++) fprintf(f, "%s %s", r ? "," : "", hg_freeze_rule_name((hg_freeze_rule)r));
        fprintf(f, "\n"
                   "      [--state-noise X] (default %g) [--ema-embeds X] (default %g) [--dampened-mixer on|off] (default %s)\n"
                   "      [--sqrt-mixer on|off] (default %s) [--full-prefill on|off] (default %s) [--max-outer-steps N] (default %lld)\n"
                   "      [--mature-commit on|off] (default %s)\n",
                (double)par.state_noise, (double)par.ema_embeds, par.dampened_mixer ? "on" : "off", par.sqrt_mixer ? "on" : "off",
                par.full_prefill ? "on" : "off", (long long)par.max_outer_steps, par.commit_mature_front ? "on" : "off");
    }
    fprintf(f, "  --kv-cache STRATEGY (default full%s): a lookup rule, a slot mapping or\n"
               "    LOOKUP-MAPPING: full, skip, latest-m4, available-m4, always-last-m4, randomized, compress-sN, compress-rN,\n"
               "    compress-anchor (e.g. latest-m4-compress-s16; docs/test-time.md \"KV-cache strategies\")\n",
            conversation ? "" : "; --parallel: latest-m4-compress-s4");
}

/* ---- context sizing ------------------------------------------------------------------------------ */

/* The context a request needs, and the one it is given by default. Plain and adaptive generation need
 * prompt + n positions; speculative decoding verifies `lookahead` drafts past the last token; the
 * parallel sampler iterates a wavefront of not-yet-final positions ahead of the frozen ones and stops
 * when that window reaches the end of the context, so it needs at least prompt + n + headway + a
 * wavefront as long as the answer (capped by --max-wavefront), and by default gets room for a full
 * --max-wavefront window (up to block_size): how far the window runs ahead depends on how fast
 * positions converge, and a context cut at the minimum returned fewer tokens than asked. */
int run_modes_ctx_size(const run_ttc_opts *t, hg_ctx_params *cp, int64_t n_prompt, int64_t n_new, int64_t steps,
                       int64_t user_ctx, int64_t block) {
    int64_t iters = steps > 0 ? steps : 1, need = n_prompt + n_new, want;
    char why[192] = "";
    if (t->speculative) {
        need += t->sp.lookahead;
        iters = t->sp.draft_steps > iters ? t->sp.draft_steps : iters;
        snprintf(why, sizeof why, " + --lookahead %" PRId64, t->sp.lookahead);
    }
    const int64_t maxw = t->par.max_wavefront, H = t->par.headway;
    if (t->parallel) {
        const int64_t wave = maxw > 0 && maxw < n_new ? maxw : n_new;
        need += H + wave;
        iters = t->par.inner_steps > iters ? t->par.inner_steps : iters;
        if (!cp->kv_cache) cp->kv_cache = "latest-m4-compress-s4"; /* the reference sampler's default */
        snprintf(why, sizeof why, " + --headway %" PRId64 " + a wavefront of %" PRId64 " (the smaller of -n and --max-wavefront)",
                 H, wave);
        want = n_prompt + n_new + H + (maxw > 0 ? maxw : block);
    } else {
        want = need;
    }
    cp->max_steps = iters;
    if (need > block) {
        int64_t max_n = block - n_prompt - (t->speculative ? t->sp.lookahead : 0);
        char alt[96] = "";
        if (t->parallel) {
            const int64_t R = block - n_prompt - H;
            max_n = maxw > 0 && 2 * maxw <= R ? R - maxw : R / 2;
            if (block - n_prompt - n_new - H >= 1)
                snprintf(alt, sizeof alt, ", or --max-wavefront to at most %" PRId64, block - n_prompt - n_new - H);
        }
        if (max_n < 1)
            return cli_fail("the prompt (%" PRId64 " tokens)%s leaves no room to generate in the model's block_size %" PRId64
                            "; shorten the prompt", n_prompt, why, block);
        return cli_fail("prompt (%" PRId64 " tokens) + -n %" PRId64 "%s = %" PRId64 " positions exceed the model's block_size %" PRId64
                        "; lower -n to at most %" PRId64 "%s", n_prompt, n_new, why, need, block, max_n, alt);
    }
    if (user_ctx) {
        if (user_ctx > block)
            return cli_fail("-c %" PRId64 " exceeds the model's block_size %" PRId64 "; use at most %" PRId64, user_ctx, block, block);
        if (user_ctx < need)
            return cli_fail("-c %" PRId64 " is below the %" PRId64 " positions this request needs (prompt %" PRId64 " + -n %" PRId64
                            "%s); raise -c to at least %" PRId64 " or lower -n", user_ctx, need, n_prompt, n_new, why, need);
        cp->n_ctx = user_ctx;
    } else {
        cp->n_ctx = want < block ? want : block;
    }
    return 0;
}

/* ---- generation and output --------------------------------------------------------------------- */

typedef struct gen_out {
    run_text *text;
    bool json;
    int64_t n, cap;
    int32_t *ids;     /* [cap] ids as the callback saw them */
    int64_t *steps;   /* [cap] their iterations */
    double t_first;   /* when the first token was handed over (end of prefill) */
} gen_out;

/* Streams each token as the loop hands it over: its text piece (or its id without a tokenizer). */
static bool on_token(void *user, int32_t id, int64_t steps, const float *logits) {
    gen_out *g = user;
    (void)logits;
    if (g->n == 0) g->t_first = cli_now();
    if (g->n < g->cap) g->ids[g->n] = id, g->steps[g->n] = steps;
    if (!g->json) {
        if (g->text->tok) run_text_push(g->text, id, stdout);
        else printf("%s%d", g->n ? " " : "", id), fflush(stdout);
    }
    g->n++;
    return true;
}

static void print_value(float v) {
    if (isfinite(v)) printf("%.9g", (double)v);
    else printf("null");
}

/* A stop id of gp (its eos ids) or one the loops always stop at (generate.h "Stop ids"). */
static bool is_stop(const hg_config *c, const hg_generate_params *gp, int32_t id) {
    if (c->arch == HG_ARCH_HUGINN && (id == 65504 || id == 65505 || id == 65508)) return true;
    for (int64_t i = 0; i < gp->n_eos; i++)
        if (gp->eos_ids[i] == id) return true;
    return false;
}

int run_modes_generate(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                       const run_ttc_opts *t, bool warm, const hg_config *cfg, run_text *text, bool json) {
    const int64_t block_size = cfg->block_size;
    const int64_t cap = gp->max_new_tokens + 1 + (t->speculative ? t->sp.lookahead : 0) +
                        (t->parallel ? t->par.headway + (t->par.max_wavefront > 0 ? t->par.max_wavefront : hg_ctx_n_ctx(ctx)) : 0);
    int32_t *ids = malloc((size_t)cap * sizeof *ids), *cb_ids = malloc((size_t)cap * sizeof *cb_ids);
    int64_t *steps = malloc((size_t)cap * sizeof *steps), *cb_steps = malloc((size_t)cap * sizeof *cb_steps);
    float *vals = malloc((size_t)cap * sizeof *vals);
    int rc = 1;
    if (!ids || !steps || !vals || !cb_ids || !cb_steps) {
        rc = cli_fail("out of memory");
        goto out;
    }
    for (int64_t i = 0; i < cap; i++) vals[i] = NAN;
    hg_ttc_report rep = {.steps = steps, .exit_values = vals};
    gen_out g = {.text = text, .json = json, .cap = cap, .ids = cb_ids, .steps = cb_steps};
    hg_error err = {0};
    int64_t n = 0;
    hg_status st;
    const char *mode;
    const bool ttc = run_modes_active(t, warm);
    const double t0 = cli_now();
    if (t->speculative) {
        mode = "speculative";
        st = hg_generate_speculative(ctx, prompt, n_prompt, gp, &t->sp, on_token, &g, ids, &n, &rep, &err);
    } else if (t->parallel) {
        mode = "parallel";
        st = hg_generate_parallel(ctx, prompt, n_prompt, gp, &t->par, on_token, &g, ids, &n, &rep, &err);
    } else if (ttc) {
        mode = t->exit ? "adaptive" : "warm-raw";
        st = hg_generate_adaptive(ctx, prompt, n_prompt, gp, &t->ad, on_token, &g, ids, &n, &rep, &err);
    } else {
        mode = "plain";
        st = hg_generate(ctx, prompt, n_prompt, gp, on_token, &g, ids, &n, &err);
        if (!st) memcpy(steps, cb_steps, (size_t)(n < cap ? n : cap) * sizeof *steps);
    }
    const double t1 = cli_now(), secs = t1 - t0;
    if (st) {
        if (!json && g.n) printf("\n");
        rc = cli_fail_err(&err);
        goto out;
    }
    if (!g.n) g.t_first = t1;
    int64_t total_steps = 0;
    for (int64_t i = 0; i < n; i++) total_steps += steps[i];
    const char *stop = n >= gp->max_new_tokens ? "length"
                       : n && is_stop(cfg, gp, ids[n - 1]) ? "eos"
                                                      : "context";
    const bool with_exit = t->exit && t->ad.criterion != HG_EXIT_NONE;
    if (json) {
        printf("{\"prompt_ids\":[");
        for (int64_t i = 0; i < n_prompt; i++) printf("%s%d", i ? "," : "", prompt[i]);
        printf("],\"mode\":\"%s\",\"generated\":[", mode);
        for (int64_t i = 0; i < n; i++) {
            printf("%s{\"id\":%d,\"text\":", i ? "," : "", ids[i]);
            run_text_push(text, ids[i], NULL);
            if (text->tok) run_text_json_string(stdout, text->piece, text->piece_len);
            else printf("null");
            printf(",\"steps\":%lld", (long long)steps[i]);
            if (with_exit) printf(",\"exit_value\":"), print_value(vals[i]);
            printf("}");
        }
        printf("],\"stats\":{\"n_prompt\":%lld,\"n_requested\":%lld,\"n_generated\":%lld,\"steps\":%lld,\"mean_steps\":%.4f,"
               "\"prefill_s\":%.6f,\"decode_s\":%.6f,\"seconds\":%.6f,\"tokens_per_s\":%.4f,\"n_ctx\":%lld,\"stop\":\"%s\"",
               (long long)n_prompt, (long long)gp->max_new_tokens, (long long)n, (long long)gp->n_steps,
               n ? (double)total_steps / (double)n : 0.0, g.t_first - t0, t1 - g.t_first, secs,
               secs > 0 ? (double)n / secs : 0.0, (long long)hg_ctx_n_ctx(ctx), stop);
        if (ttc)
            printf(",\"core_passes\":%lld,\"core_iterations\":%lld,\"core_iterations_per_token\":%.4f,\"coda_calls\":%lld",
                   (long long)rep.core_passes, (long long)rep.core_iterations,
                   n ? (double)rep.core_iterations / (double)n : 0.0, (long long)rep.coda_calls);
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
        run_text_flush(text, stdout);
        printf("\n");
        fflush(stdout);
        /* iterations/token counts the generated tokens' own iterations, not the prompt's */
        if (ttc)
            fprintf(stderr, "huginn: %s: %lld tokens, %.2f iterations/token, %.3f s\n", mode, (long long)n,
                    n ? (double)total_steps / (double)n : 0.0, secs);
    }
    if (!strcmp(stop, "context")) {
        const bool full = hg_ctx_n_ctx(ctx) >= block_size;
        fprintf(stderr, "huginn: %s: stopped after %lld of %lld tokens: the %s reached the end of the context (%lld positions); %s%s\n",
                mode, (long long)n, (long long)gp->max_new_tokens, t->parallel ? "wavefront" : "sequence",
                (long long)hg_ctx_n_ctx(ctx), full ? "" : "raise -c (at most the model's block_size), ",
                t->parallel ? "lower --max-wavefront or --headway, or lower -n" : "or lower -n");
    }
    rc = 0;
out:
    free(ids), free(steps), free(vals), free(cb_ids), free(cb_steps);
    return rc;
}
