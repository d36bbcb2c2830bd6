/*
 * batch.h — the batch's internal entry points (the public ones are in include/huginn.h "Batch").
 */
#ifndef HG_BATCH_H
#define HG_BATCH_H

#include "model/ctx.h"

/* A batch over existing contexts (borrowed: they must outlive the batch and are not freed with it),
 * all of one model and one thread count. The generation loops run a caller's single context through
 * the same batched code this way. */
hg_status hg_batch_wrap(hg_ctx *const *ctxs, int64_t n, hg_batch **out, hg_error *err);

/* One sequence's share of hg_batch_prefill: ids[T] from the context's next position, through the
 * fixed-depth pass of fp (n_steps, init_scale, seed or init_state [T, h]) as hg_ctx_forward runs it. */
typedef struct hg_prefill_seq {
    int64_t seq;
    const int32_t *ids;
    int64_t T;
    hg_forward_params fp;
} hg_prefill_seq;

/* The prompts of n sequences (distinct) through the fixed-depth pass together, without outputs: each
 * sequence's chunks of the context's chunk size are the chunks hg_ctx_forward would make, with the same
 * initial states, and the chunks of every sequence at one offset share the calls (as many as fit in a
 * chunk of rows), so each weight is read once for all of them. Each sequence's cache then equals
 * hg_ctx_forward's on it alone, bit for bit, when the model's products are all packed (model.h
 * all_packed); otherwise up to the blocked kernels' rounding. Everything is checked before the first
 * write; a failure part-way leaves the listed sequences' new positions undefined. */
hg_status hg_batch_prefill(hg_batch *b, const hg_prefill_seq *seqs, int64_t n, hg_error *err);

#endif
