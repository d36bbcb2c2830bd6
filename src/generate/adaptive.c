/*
 * adaptive.c — generation with per-token adaptive depth, as the reference's
 * generate_with_adaptive_compute for one sequence (docs/test-time.md "Adaptive exit"): the prompt is
 * one group that exits as a whole, then one token per call, each iterating until its exit criterion
 * fires or n_steps. The loop is the scheduler's (sched.c) with one request, so a request batched with
 * others — whatever their depths and criteria — gives the same tokens, steps and exit values.
 */
#include "generate/generate.h"

hg_status hg_generate_adaptive(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                               const hg_adaptive_params *ap, hg_token_callback cb, void *user, int32_t *out_ids,
                               int64_t *n_out, hg_ttc_report *rep, hg_error *err) {
    if (!ctx || !prompt || !out_ids || !n_out) return hg_err(err, HG_STATUS_BAD_ARG, "generate_adaptive: NULL argument");
    return hg_gen_run_one(ctx, prompt, n_prompt, gp, true, ap, cb, user, out_ids, n_out, rep, err);
}
