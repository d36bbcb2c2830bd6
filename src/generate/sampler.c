/*
 * sampler.c — next-token choice exactly in the order of the reference's custom sampler
 * (raven_modeling_minimal.py `_sample_next_token`, docs/test-time.md "Sampler"). The draw uses the
 * project's documented RNG (base/rng.c), so sampled text differs from torch's multinomial while the
 * distribution it draws from is the reference's.
 */
#include "base/base.h"

#include <math.h>
#include <stdlib.h>

struct hg_prob_id {
    float p;
    int32_t id;
};

struct hg_sampler {
    hg_sampler_params p;
    int64_t V;
    hg_rng rng;
    float *work;    /* [V] penalised logits, then probabilities */
    struct hg_prob_id *sorted; /* [V] (probability, id) sorted descending, for top-k / top-p */
    uint8_t *seen;  /* [V] marks for the repetition penalty */
};

hg_sampler_params hg_sampler_default_params(void) {
    hg_sampler_params p = {.temperature = 0.0f, .top_k = 0, .top_p = 0.0f, .min_p = 0.0f,
                           .repetition_penalty = 1.0f, .seed = 0};
    return p;
}

void hg_sampler_free(hg_sampler *s) {
    if (!s) return;
    hg_free(s->work);
    hg_free(s->sorted);
    hg_free(s->seen);
    hg_free(s);
}

hg_status hg_sampler_init(const hg_sampler_params *p, int64_t n_vocab, hg_sampler **out, hg_error *err) {
    hg_sampler_params q = p ? *p : hg_sampler_default_params();
    if (!(q.temperature >= 0) || !isfinite(q.temperature))
        return hg_err(err, HG_STATUS_BAD_ARG, "temperature must be a finite number >= 0");
    if (q.top_k < 0) return hg_err(err, HG_STATUS_BAD_ARG, "top-k must be >= 0");
    if (!(q.top_p >= 0) || !(q.min_p >= 0 && q.min_p <= 1))
        return hg_err(err, HG_STATUS_BAD_ARG, "top-p must be >= 0 and min-p in [0, 1]");
    if (!(q.repetition_penalty > 0) || !isfinite(q.repetition_penalty))
        return hg_err(err, HG_STATUS_BAD_ARG, "repetition penalty must be a finite number > 0");
    if (n_vocab <= 0) return hg_err(err, HG_STATUS_BAD_ARG, "vocabulary size must be positive");
    hg_sampler *s = hg_calloc(1, sizeof *s);
    if (!s) return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    s->p = q;
    s->V = n_vocab;
    hg_rng_seed(&s->rng, q.seed);
    s->work = hg_malloc((size_t)n_vocab * sizeof(float));
    s->sorted = hg_malloc((size_t)n_vocab * sizeof *s->sorted);
    s->seen = hg_calloc((size_t)n_vocab, 1);
    if (!s->work || !s->sorted || !s->seen) {
        hg_sampler_free(s);
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    }
    *out = s;
    return HG_OK;
}

static int64_t argmax(const float *x, int64_t n) { /* first maximum, as torch.argmax; NaN never wins */
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best] || isnan(x[best])) best = i;
    return best;
}

/* probability descending, ties by id (deterministic) */
static int cmp_desc(const void *a, const void *b) {
    const struct hg_prob_id *x = a, *y = b;
    if (x->p > y->p) return -1;
    if (x->p < y->p) return 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int32_t hg_sampler_sample(hg_sampler *s, const float *logits, const int32_t *history, int64_t n_history) {
    const int64_t V = s->V;
    float *w = s->work;
    memcpy(w, logits, (size_t)V * sizeof(float));
    if (s->p.repetition_penalty != 1.0f) {
        const float pen = s->p.repetition_penalty;
        for (int64_t i = 0; i < n_history; i++) {
            int32_t id = history[i];
            if (id < 0 || id >= V || s->seen[id]) continue;
            s->seen[id] = 1;
            w[id] = w[id] < 0 ? w[id] * pen : w[id] / pen;
        }
        for (int64_t i = 0; i < n_history; i++)
            if (history[i] >= 0 && history[i] < V) s->seen[history[i]] = 0;
    }
    if (s->p.temperature == 0.0f) return (int32_t)argmax(w, V);

    for (int64_t i = 0; i < V; i++) w[i] /= s->p.temperature;
    float mx = w[argmax(w, V)];
    double sum = 0;
    for (int64_t i = 0; i < V; i++) {
        w[i] = expf(w[i] - mx);
        sum += (double)w[i];
    }
    for (int64_t i = 0; i < V; i++) w[i] = (float)((double)w[i] / sum);

    const bool need_sort = (s->p.top_k > 0 && s->p.top_k < V) || (s->p.top_p > 0 && s->p.top_p < 1);
    if (need_sort) {
        for (int64_t i = 0; i < V; i++) s->sorted[i] = (struct hg_prob_id){w[i], (int32_t)i};
        qsort(s->sorted, (size_t)V, sizeof *s->sorted, cmp_desc);
    }
    if (s->p.top_k > 0 && s->p.top_k < V) { /* zero everything below the k-th largest (ties survive) */
        float kth = s->sorted[s->p.top_k - 1].p;
        for (int64_t i = 0; i < V; i++)
            if (w[i] < kth) w[i] = 0;
    }
    if (s->p.top_p > 0 && s->p.top_p < 1) {
        /* the reference sorts the (top-k filtered) probabilities; zeros sort last and change nothing */
        double cum = 0;
        for (int64_t r = 0; r < V; r++) {
            int32_t id = s->sorted[r].id;
            cum += (double)w[id];
            if (r > 0 && cum > (double)s->p.top_p) w[id] = 0;
        }
    }
    if (s->p.min_p > 0) {
        float pmax = w[argmax(w, V)];
        float thr = s->p.min_p * pmax;
        for (int64_t i = 0; i < V; i++)
            if (w[i] < thr) w[i] = 0;
    }
    double total = 0;
    for (int64_t i = 0; i < V; i++) total += (double)w[i];
    if (total < 1e-10) total = 1e-10;
    double u = hg_rng_uniform(&s->rng) * total, acc = 0;
    int64_t last = -1;
    for (int64_t i = 0; i < V; i++) {
        if (w[i] <= 0) continue;
        acc += (double)w[i];
        last = i;
        if (u < acc) return (int32_t)i;
    }
    return (int32_t)(last >= 0 ? last : argmax(logits, V));
}
