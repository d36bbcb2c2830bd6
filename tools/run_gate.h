/*
 * run_gate.h — the learned-gate exit of `huginn run` and `huginn forward` on an Ouro model
 * (docs/family.md "Ouro"): the options --exit gate|weighted|last, --exit-threshold (read from the
 * test-time options, where `run` parses it), --exit-at K and --exit-compute skip|all; generation and
 * its output in `run`'s schema (run_modes.h), with steps = the loops that produced each token.
 */
#ifndef HG_RUN_GATE_H
#define HG_RUN_GATE_H

#include "cli.h"
#include "run_text.h"

typedef struct run_gate_opts {
    hg_gate_params xp;   /* rule, threshold, exit_at, compute (n_loops set from --steps) */
    const char *exit;    /* --exit gate|weighted|last as given, or NULL */
    bool given;          /* any gate option given */
} run_gate_opts;

void run_gate_init(run_gate_opts *g);
/* Try argv[*i] as a gate option: 1 = consumed (*i advanced past its value), 0 = not one of ours
 * (`--exit` with a Huginn criterion is not ours), -1 = bad value (message printed). */
int run_gate_parse(int argc, char **argv, int *i, run_gate_opts *g);
/* Apply a threshold given with --exit-threshold (NAN = auto = the config's) to the chosen rule;
 * 0 or 1 (message printed: a threshold needs --exit gate). */
int run_gate_threshold(run_gate_opts *g, bool given, double threshold);
/* Generate on an Ouro model and print as `run` does (--json: one object); returns the exit code.
 * The context is sized here: n_prompt + max_new_tokens positions (user_ctx if given), slots for the
 * loops, and under --exit-compute skip the latest-m4 lookup unless kv names a strategy. */
int run_gate_generate(hg_model *m, const run_gate_opts *g, const char *kv, hg_dtype kv_type, int n_threads,
                      int64_t user_ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                      run_text *text, bool json);

#endif
