/*
 * trainer_impl.h — the inside of hg_trainer, shared by trainer.c (steps) and checkpoint.c (save and
 * resume). Everything a resumed run needs to continue bit-identically is here: parameters, Adam
 * moments, per-tensor update counts, the step and micro-batch counters (the sampler's seed stream)
 * and the caller's data cursor.
 */
#ifndef HG_TRAINER_IMPL_H
#define HG_TRAINER_IMPL_H

/* Bounds on the trainer's sizes and depths, checked by hg_trainer_alloc and by the resume reader
 * (checkpoint.c). Rule: a value from a file or a config is in range before any arithmetic. Reason:
 * rows · seq_len · vocabulary overflowed int64_t, and a trainer_state.json with fixed_n = 1e15 made a
 * resumed step iterate practically forever. Generous: Huginn-0125 trains at depths below 64. */
#define HG_TRAIN_MAX_ROWS ((int64_t)1 << 20)  /* rows, seq_len and accum each */
#define HG_TRAIN_MAX_DEPTH ((int64_t)4096)    /* mean_recurrence, backprop_depth, fixed_n, fixed_k */
#define HG_TRAIN_MAX_STEPS ((int64_t)1000000000000) /* max_steps, warmup, cooldown, the step counter */

#include "train/train.h"

struct hg_trainer {
    hg_tlayout L;
    hg_train_params p;
    float *block;     /* owned: params | grads | m | v [n_params each] | s0 [N,h] | logits [N,V] */
    float *params, *grads, *m, *v, *s0, *logits;
    int64_t *t;       /* [n_tensors] Adam update counts (0 = running init pending); owned */
    int64_t step;     /* optimizer steps taken */
    uint64_t micro;   /* micro-batches consumed: the sampler's counter */
    uint64_t cursor;  /* the caller's data position */
    int32_t *ids;     /* owned: ids [N] | labels [N] */
    int32_t *labels;
    hg_tstep *ts;     /* rows × seq_len buffers */
};

hg_status hg_trainer_alloc(const hg_config *cfg, const hg_train_params *p, hg_trainer **out, hg_error *err);

#endif
