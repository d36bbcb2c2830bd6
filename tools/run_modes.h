/*
 * run_modes.h — the test-time modes of `huginn run` (docs/test-time.md): per-token adaptive exit,
 * warm start with a chosen state, self-speculative decoding and the parallel (diffusion) sampler.
 * cmd_run.c parses its own options and hands every option it does not know to run_modes_parse;
 * run_modes_generate runs the chosen mode (or plain generation) and prints its output (streamed text,
 * or --json with per-token steps and exit values and one statistics schema for every mode).
 */
#ifndef HG_RUN_MODES_H
#define HG_RUN_MODES_H

#include "cli.h"
#include "run_text.h"

#include <stdio.h>

typedef struct run_ttc_opts {
    hg_adaptive_params ad;
    const char *exit;          /* --exit CRITERION, or NULL */
    const char *warm_state;    /* --warm-state normalized|raw, or NULL */
    bool adaptive_knob;        /* --exit-threshold/--min-steps/--check-every/--no-exit-in-prefill given */
    hg_speculative_params sp;
    bool speculative;          /* --draft-steps or --lookahead given */
    bool verify_given;
    hg_parallel_params par;
    bool parallel;             /* --parallel */
    bool parallel_knob;        /* any parallel knob given */
} run_ttc_opts;

void run_modes_init(run_ttc_opts *t);
/* Try argv[*i] as a test-time option: 1 = consumed (*i advanced past its value), 0 = not one of
 * ours, -1 = bad value (message printed). */
int run_modes_parse(int argc, char **argv, int *i, run_ttc_opts *t);
/* Check the combination with --warm-start and --kv-cache; 0 or 1 (message printed). */
int run_modes_check(run_ttc_opts *t, bool warm);
/* Whether a test-time loop runs (any mode, or a raw warm start) rather than plain hg_generate. */
bool run_modes_active(const run_ttc_opts *t, bool warm);
/* Print the test-time options with their choices and defaults (part of `run --help`; with conversation,
 * the ones `chat --help` accepts: adaptive exit and warm start). */
void run_modes_help(FILE *f, bool conversation);
/* Size the context for the request: iteration budget, default cache strategy and n_ctx (user_ctx if
 * given, else what the mode needs, at most block_size). A request that cannot fit block_size, or a
 * user_ctx below what it needs, is refused with the numbers and what to change; 0 or 1 (printed). */
int run_modes_ctx_size(const run_ttc_opts *t, hg_ctx_params *cp, int64_t n_prompt, int64_t n_new, int64_t steps,
                       int64_t user_ctx, int64_t block_size);
/* Generate in the chosen mode (plain hg_generate when none is active), streaming text as tokens come,
 * and print the result (--json: one object); returns the exit code. */
int run_modes_generate(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                       const run_ttc_opts *t, bool warm, const hg_config *cfg, run_text *text, bool json);

#endif
