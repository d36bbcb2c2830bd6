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

#endif
