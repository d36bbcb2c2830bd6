/*
 * chains.h — the "variable chains" demo task of `huginn train` and `huginn eval-chains`: problem text
 * and training rows generated from (seed, index). A command-line dataset, not part of the library:
 * the trainer (src/train/) takes token rows from any source and never needs it.
 */
#ifndef HG_CHAINS_H
#define HG_CHAINS_H

#include "huginn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A problem such as `k=3;a=k;z=1;d=a;?d=` (answer 3, hops 2). Writes problem `index` of the stream
 * `seed` (hops VAR=VAR links, `distractors` unrelated statements, shuffled) NUL-terminated to
 * buf[cap] and its answer digit to *answer. Returns the prompt length, or -1 when
 * hops + 1 + distractors > 26 or cap is too small. Pure function. */
int hg_chain_problem(uint64_t seed, uint64_t index, int hops, int distractors, char *buf, size_t cap,
                     char *answer);
/* Training rows of the chain task. tok NULL: ids are bytes and bos/eos/pad are given here; else the
 * prompt, each answer and each further query are encoded with tok (as `huginn run -p` encodes a
 * prompt) and bos/eos/pad are its ids. Per problem the distractor count is drawn from
 * [distractors, max_distractors] (a hash of the index; at most 25 - hops, the letters left) and the hop count cycles through
 * [min_hops, cap]; with curriculum_steps > 0 the cap rises one hop count at a time from min_hops to
 * max_hops over the first curriculum_steps steps (hg_chain_hops_cap), in equal stages unless
 * curriculum_stage gives each stage's length. */
typedef struct hg_chain_rows {
    hg_tokenizer *tok;
    int32_t bos, eos, pad;
    int min_hops, max_hops, distractors, max_distractors;
    int queries;              /* answers per row: the problem's own query, then queries-1 more */
    int64_t curriculum_steps; /* 0: every hop count from the start */
    int64_t curriculum_stage[26]; /* optional: steps at cap min_hops + i, for i < max_hops - min_hops
                                     (the last cap, max_hops, lasts from then on); all 0: equal stages */
    int backward_pct;         /* percent of rows (a hash of the index) whose chain statements stand in
                                 query-to-digit order, d=a before a=k before k=3, so that no link can
                                 be resolved from the statements before it; the rest are shuffled */
    int decoy_pct;            /* percent of rows whose distractors form one chain of their own (each
                                 after the first points at the one before), else half of them point
                                 at a random earlier one */
    int depth_hops_pct;       /* percent of rows (a hash of the index) whose question takes as many hops
                                 as its micro-batch's depth reaches, or one fewer (hg_chain_depth_hops) */
} hg_chain_rows;
/* The largest hop count trained at optimizer step `step` (1-based). */
int hg_chain_hops_cap(const hg_chain_rows *c, int64_t step);
/* The hop count of row `index` at a depth of r iterations: for depth_hops_pct percent of rows (a hash
 * of the index) r - 1 or r - 2 (a hop takes an iteration, the answer one more: so the last link is
 * followed inside the last two iterations, the ones truncated backprop differentiates), clamped to
 * [min_hops, cap]; -1 for the other rows (hops drawn as usual). */
int hg_chain_depth_hops(const hg_chain_rows *c, uint64_t index, int64_t r, int cap);
/* Row [T+1] and its target mask for problem `index` of stream `seed`, hops drawn from
 * [min_hops, cap] (or exactly `hops` when >= 0): <bos> prompt answer [;?x= answer]... <eos> <pad>...;
 * mask 1 on every answer (and on <eos> when eos_target). The further queries (c->queries > 1) ask about
 * other variables of the same statements that resolve within `cap` links, so a curriculum stage
 * never asks more than it teaches. Returns false when the row does not fit T or an answer is not one
 * token. */
bool hg_chain_row(const hg_chain_rows *c, uint64_t seed, uint64_t index, int hops, int cap, int64_t T,
                  int32_t *tokens, uint8_t *mask, bool eos_target);

#endif
