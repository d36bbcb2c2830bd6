/*
 * trainer.c — the public trainer (include/huginn.h "Training"): parameters, gradients and optimizer
 * state in one block, the optimizer step over accumulated micro-batches with the recurrence sampler
 * (docs/training.md "Order of operations"), fixed-depth evaluation and the single-sequence
 * gradient used by `huginn grad`. Checkpoints are in checkpoint.c.
 *
 * Loss normalisation: the recipe takes the mean CE per micro-batch, divides by the accumulation
 * count and averages over ranks — equal to the global mean when every micro-batch has the same
 * number of targets, as in pretraining. With masked targets (the chain task) counts differ, so we
 * count the labelled targets of the whole global batch first (one small all-reduce) and weight every
 * target by 1/count: accumulation and data parallelism then give exactly the update of one big batch.
 */
#include "train/trainer_impl.h"

#include <math.h>

hg_train_params hg_train_default_params(void) {
    hg_train_params p = {.rows = 8, .seq_len = 64, .accum = 1, .max_steps = 1000, .warmup = 50, .cooldown = 200,
                         .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 1e-4,
                         .grad_clip = 1.0, .update_clipping = true, .mean_recurrence = 0, .backprop_depth = 0,
                         .fixed_n = -1, .fixed_k = -1, .init_scale = 1.0f, .seed = 514229};
    return p;
}

static hg_optim_params optim_of(const hg_train_params *p) {
    hg_optim_params o = {.lr_peak = p->lr, .beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps,
                         .weight_decay = p->weight_decay, .update_clipping = p->update_clipping,
                         .grad_clip = p->grad_clip, .warmup = p->warmup, .cooldown = p->cooldown,
                         .max_steps = p->max_steps};
    return o;
}

void hg_trainer_free(hg_trainer *tr) {
    if (!tr) return;
    hg_tstep_free(tr->ts);
    hg_free(tr->block);
    hg_free(tr->t);
    hg_free(tr->ids);
    hg_tlayout_free(&tr->L);
    hg_free(tr);
}

/* Allocate everything for (cfg, p); parameters left for the caller to fill. */
hg_status hg_trainer_alloc(const hg_config *cfg, const hg_train_params *p, hg_trainer **out, hg_error *err) {
    hg_train_params q = p ? *p : hg_train_default_params();
    if (q.rows <= 0 || q.seq_len <= 0 || q.accum <= 0 || q.max_steps <= 0 || !(q.lr >= 0) || q.warmup < 0 ||
        q.cooldown < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: rows, seq_len, accum, max_steps must be positive, lr >= 0");
    if (q.rows > HG_TRAIN_MAX_ROWS || q.seq_len > HG_TRAIN_MAX_ROWS || q.accum > HG_TRAIN_MAX_ROWS ||
        q.max_steps > HG_TRAIN_MAX_STEPS || q.warmup > HG_TRAIN_MAX_STEPS || q.cooldown > HG_TRAIN_MAX_STEPS)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: rows, seq_len, accum must be <= %lld, steps <= %lld",
                      (long long)HG_TRAIN_MAX_ROWS, (long long)HG_TRAIN_MAX_STEPS);
    if (q.mean_recurrence > HG_TRAIN_MAX_DEPTH || q.backprop_depth > HG_TRAIN_MAX_DEPTH ||
        q.fixed_n > HG_TRAIN_MAX_DEPTH || q.fixed_k > HG_TRAIN_MAX_DEPTH)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: depths (mean_recurrence, backprop_depth, fixed_n, fixed_k) "
                      "must be <= %lld", (long long)HG_TRAIN_MAX_DEPTH);
    /* N·h and N·V below, with N = rows·seq_len (each <= 2^20), in size_t before any int64_t product */
    size_t n_rows_tokens, n_hidden, n_logits;
    if (!hg_mul_ok((size_t)q.rows, (size_t)q.seq_len, &n_rows_tokens) ||
        !hg_mul_ok(n_rows_tokens, (size_t)(cfg->n_embd > 0 ? cfg->n_embd : 0), &n_hidden) ||
        !hg_mul_ok(n_rows_tokens, (size_t)(cfg->vocab_size > 0 ? cfg->vocab_size : 0), &n_logits) ||
        n_hidden > ((size_t)1 << 40) || n_logits > ((size_t)1 << 40))
        return hg_err(err, HG_STATUS_LIMIT, "trainer: rows x seq_len = %lld tokens is too many for this model",
                      (long long)n_rows_tokens);
    if (q.mean_recurrence <= 0) q.mean_recurrence = cfg->mean_recurrence > 0 ? cfg->mean_recurrence : 1;
    if (q.backprop_depth <= 0) q.backprop_depth = cfg->mean_backprop_depth > 0 ? cfg->mean_backprop_depth : 1;
    if ((q.fixed_n >= 0) != (q.fixed_k >= 0))
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: fixed_n and fixed_k are set together (or neither)");
    hg_trainer *tr = hg_calloc(1, sizeof *tr);
    if (!tr) return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    hg_status st = hg_tlayout_init(&tr->L, cfg, err);
    if (st) goto fail;
    tr->p = q;
    const int64_t n = tr->L.n_params, h = cfg->n_embd, N = q.rows * q.seq_len;
    const int64_t max_k = q.fixed_k >= 0 ? q.fixed_k : q.backprop_depth;
    size_t bytes;
    if (!hg_mul_ok((size_t)n, 4 * sizeof(float), &bytes)) {
        st = hg_err(err, HG_STATUS_LIMIT, "trainer: too many parameters");
        goto fail;
    }
    tr->block = hg_calloc(1, bytes + (size_t)(N * h + N * cfg->vocab_size) * sizeof(float));
    tr->t = hg_calloc((size_t)tr->L.n_tensors, sizeof *tr->t);
    tr->ids = hg_malloc((size_t)(2 * N) * sizeof(int32_t));
    if (!tr->block || !tr->t || !tr->ids) {
        st = hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory for %lld parameters", (long long)n);
        goto fail;
    }
    tr->params = tr->block, tr->grads = tr->params + n, tr->m = tr->grads + n, tr->v = tr->m + n;
    tr->s0 = tr->v + n, tr->logits = tr->s0 + N * h;
    tr->labels = tr->ids + N;
    if ((st = hg_tstep_init(&tr->L, q.rows, q.seq_len, max_k, &tr->ts, err))) goto fail;
    *out = tr;
    return HG_OK;
fail:
    hg_trainer_free(tr);
    return st;
}

hg_status hg_trainer_init_random(const hg_config *cfg, const hg_train_params *p, uint64_t init_seed,
                                 hg_trainer **out, hg_error *err) {
    if (!cfg || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_trainer_init_random: cfg and out are required");
    hg_trainer *tr;
    hg_status st = hg_trainer_alloc(cfg, p, &tr, err);
    if (st) return st;
    hg_tparams_init_random(&tr->L, tr->params, init_seed);
    *out = tr;
    return HG_OK;
}

/* ---- accessors ------------------------------------------------------------------------------------ */

int64_t hg_trainer_n_tensors(const hg_trainer *tr) { return tr->L.n_tensors; }
const char *hg_trainer_tensor(const hg_trainer *tr, int64_t i, int64_t *n, float **param, float **grad) {
    if (i < 0 || i >= tr->L.n_tensors) return NULL;
    if (n) *n = tr->L.t[i].n;
    if (param) *param = tr->params + tr->L.t[i].offset;
    if (grad) *grad = tr->grads + tr->L.t[i].offset;
    return tr->L.t[i].name;
}
const hg_config *hg_trainer_config(const hg_trainer *tr) { return &tr->L.cfg; }
int64_t hg_trainer_step_count(const hg_trainer *tr) { return tr->step; }
uint64_t hg_trainer_cursor(const hg_trainer *tr) { return tr->cursor; }
void hg_trainer_set_cursor(hg_trainer *tr, uint64_t cursor) { tr->cursor = cursor; }

/* ---- one optimizer step ---------------------------------------------------------------------------- */

/* ids/labels of micro-batch rows [rows, T+1] -> [rows·T]; labels −100 where masked. */
static int64_t split_rows(hg_trainer *tr, const int32_t *tokens, const uint8_t *mask, int64_t n_rows) {
    const int64_t T = tr->p.seq_len, B = tr->p.rows;
    int64_t cnt = 0;
    for (int64_t r = 0; r < B; r++)
        for (int64_t t = 0; t < T; t++) {
            const int64_t o = r * T + t;
            if (r >= n_rows) {
                tr->ids[o] = 0, tr->labels[o] = -100;
                continue;
            }
            tr->ids[o] = tokens[r * (T + 1) + t];
            const bool use = !mask || mask[r * (T + 1) + t + 1];
            tr->labels[o] = use ? tokens[r * (T + 1) + t + 1] : -100;
            cnt += use;
        }
    return cnt;
}

/* The (n, k) of micro-batch number `micro` of the run: the fixed pair, else the sampler's draw. */
static void depth_of(const hg_train_params *p, uint64_t micro, int64_t *n, int64_t *k) {
    if (p->fixed_k >= 0) *n = p->fixed_n, *k = p->fixed_k;
    else hg_sample_depth(p->seed, micro, p->mean_recurrence, p->backprop_depth, n, k);
}

hg_status hg_trainer_next_depth(const hg_trainer *tr, int64_t mb, int64_t *n, int64_t *k, hg_error *err) {
    if (!tr || !n || !k || mb < 0 || mb >= tr->p.accum)
        return hg_err(err, HG_STATUS_BAD_ARG, "hg_trainer_next_depth: micro-batch %lld of %lld", (long long)mb,
                      tr ? (long long)tr->p.accum : 0LL);
    depth_of(&tr->p, tr->micro + (uint64_t)mb, n, k);
    return HG_OK;
}

hg_status hg_trainer_step(hg_trainer *tr, const int32_t *tokens, const uint8_t *mask, const hg_train_comm *comm,
                          hg_train_stats *stats, hg_error *err) {
    const hg_train_params *p = &tr->p;
    const int64_t T = p->seq_len, B = p->rows, h = tr->L.cfg.n_embd, N = B * T;
    if (!tokens) return hg_err(err, HG_STATUS_BAD_ARG, "hg_trainer_step: tokens required");
    /* count the labelled targets of the global batch */
    double counts[1] = {0};
    for (int64_t mb = 0; mb < p->accum; mb++)
        counts[0] += (double)split_rows(tr, tokens + mb * B * (T + 1), mask ? mask + mb * B * (T + 1) : NULL, B);
    if (comm && comm->sum_f64) comm->sum_f64(comm->user, counts, 1);
    if (!(counts[0] > 0)) return hg_err(err, HG_STATUS_BAD_INPUT, "hg_trainer_step: the batch has no labelled targets");
    const float scale = (float)(1.0 / counts[0]);
    memset(tr->grads, 0, (size_t)tr->L.n_params * sizeof(float));
    double sums[2] = {0, counts[0]};
    hg_train_stats s = {0};
    for (int64_t mb = 0; mb < p->accum; mb++) {
        split_rows(tr, tokens + mb * B * (T + 1), mask ? mask + mb * B * (T + 1) : NULL, B);
        int64_t n, k;
        depth_of(p, tr->micro, &n, &k);
        if (p->init_scale > 0) {
            /* rank 0 keeps the single-process stream; every other rank's rows get their own */
            const uint64_t rank = comm ? (uint64_t)comm->rank : 0;
            hg_tstate_init(tr->s0, N, &tr->L.cfg, p->seed ^ (rank * 0x9e3779b97f4a7c15ull), tr->micro);
            if (p->init_scale != 1.0f)
                for (int64_t i = 0; i < N * h; i++) tr->s0[i] *= p->init_scale;
        }
        hg_tstep_args a = {.ids = tr->ids, .labels = tr->labels, .B = B, .T = T, .n_nograd = n, .k_grad = k,
                           .s0 = p->init_scale > 0 ? tr->s0 : NULL, .grad_scale = scale, .backward = true};
        double loss = 0;
        int64_t cnt = 0;
        hg_status st = hg_tstep_run(tr->ts, tr->params, tr->grads, &a, &loss, &cnt, err);
        if (st) {
            memset(tr->grads, 0, (size_t)tr->L.n_params * sizeof(float));
            return st;
        }
        sums[0] += loss;
        tr->micro++;
        s.depth_n = n, s.depth_k = k;
    }
    if (comm && comm->sum_f32) comm->sum_f32(comm->user, tr->grads, tr->L.n_params);
    if (comm && comm->sum_f64) comm->sum_f64(comm->user, sums, 1);
    const hg_optim_params op = optim_of(p);
    s.lr = hg_lr_at(&op, tr->step + 1);
    s.skipped = !hg_optim_step(&op, &tr->L, tr->params, tr->grads, tr->m, tr->v, tr->t, s.lr, &s.grad_norm);
    tr->step++;
    s.loss = sums[0] / counts[0];
    s.n_tokens = (int64_t)counts[0];
    if (stats) *stats = s;
    return HG_OK;
}

/* ---- evaluation and single-sequence gradients --------------------------------------------------------- */

hg_status hg_trainer_eval(hg_trainer *tr, const int32_t *tokens, const uint8_t *mask, int64_t n_rows, int64_t r,
                          double *loss, double *acc, hg_error *err) {
    const hg_train_params *p = &tr->p;
    const int64_t T = p->seq_len, B = p->rows, N = B * T, V = tr->L.cfg.vocab_size;
    if (n_rows <= 0 || n_rows > B || r < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "hg_trainer_eval: need 1..%lld rows and r >= 0", (long long)B);
    split_rows(tr, tokens, mask, n_rows);
    if (p->init_scale > 0) hg_tstate_init(tr->s0, N, &tr->L.cfg, p->seed ^ 0xe7a1u, 0);
    hg_tstep_args a = {.ids = tr->ids, .labels = tr->labels, .B = B, .T = T, .n_nograd = r, .k_grad = 0,
                       .s0 = p->init_scale > 0 ? tr->s0 : NULL, .grad_scale = 0, .backward = false,
                       .logits_out = tr->logits};
    double sum = 0;
    int64_t cnt = 0;
    hg_status st = hg_tstep_run(tr->ts, tr->params, NULL, &a, &sum, &cnt, err);
    if (st) return st;
    if (!cnt) return hg_err(err, HG_STATUS_BAD_INPUT, "hg_trainer_eval: no labelled targets");
    int64_t right = 0;
    for (int64_t i = 0; i < N; i++) {
        if (tr->labels[i] < 0) continue;
        const float *z = tr->logits + i * V;
        int64_t best = 0;
        for (int64_t j = 1; j < V; j++)
            if (z[j] > z[best]) best = j;
        right += best == tr->labels[i];
    }
    if (loss) *loss = sum / (double)cnt;
    if (acc) *acc = (double)right / (double)cnt;
    return HG_OK;
}

hg_status hg_trainer_grad(hg_trainer *tr, const int32_t *ids, const int32_t *labels, int64_t T, int64_t n, int64_t k,
                          double *loss, hg_error *err) {
    if (T <= 0 || T > tr->L.cfg.block_size || n < 0 || k < 0)
        return hg_err(err, HG_STATUS_BAD_ARG, "hg_trainer_grad: need 0 < T <= %lld and n, k >= 0",
                      (long long)tr->L.cfg.block_size);
    int64_t cnt = 0;
    for (int64_t i = 0; i < T; i++) cnt += labels[i] != -100;
    if (!cnt) return hg_err(err, HG_STATUS_BAD_INPUT, "hg_trainer_grad: every label is -100");
    hg_tstep *ts;
    hg_status st = hg_tstep_init(&tr->L, 1, T, k, &ts, err);
    if (st) return st;
    memset(tr->grads, 0, (size_t)tr->L.n_params * sizeof(float));
    hg_tstep_args a = {.ids = ids, .labels = labels, .B = 1, .T = T, .n_nograd = n, .k_grad = k, .s0 = NULL,
                       .grad_scale = (float)(1.0 / (double)cnt), .backward = true};
    double sum = 0;
    st = hg_tstep_run(ts, tr->params, tr->grads, &a, &sum, &cnt, err);
    hg_tstep_free(ts);
    if (st) return st;
    *loss = sum / (double)cnt;
    return HG_OK;
}
