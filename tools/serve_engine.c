/*
 * serve_engine.c — the server's engine (serve.h), on the main thread: the only thread that runs the
 * model. It loops: free the slots of cancelled jobs, admit the queued jobs free slots can take, together
 * (scoring a prompt first when echo logprobs were asked for, then hg_sched_add_many: their prefills share
 * the weight reads and their first tokens one step), then one hg_sched_step for every running job
 * together. Tokens arrive through the scheduler's callback, which turns them into text (streaming
 * detokenizer), logprobs and stop-string decisions under the mutex and wakes the job's HTTP thread. The
 * mutex is never held while the model computes, so HTTP threads can always accept, queue and stream.
 */
#include "serve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

srv_job *srv_job_new(void) {
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_cond_init(&j->cv, NULL);
    j->refs = 1;
    j->slot = -1;
    j->n_logprobs = -1;
    return j;
}

static void job_free(srv_job *j) {
    free(j->prompt), free(j->ids), free(j->steps), free(j->lps), free(j->prompt_lps), free(j->text);
    free(j->tok_end), free(j->id);
    for (int i = 0; i < j->n_stop; i++) free(j->stop[i]);
    hg_detok_free(j->detok);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* mutex held */
static void release_locked(srv_job *j) {
    if (--j->refs == 0) job_free(j);
}

void srv_job_release(srv *s, srv_job *j) {
    pthread_mutex_lock(&s->mu);
    release_locked(j);
    pthread_mutex_unlock(&s->mu);
}

void srv_job_cancel(srv *s, srv_job *j) {
    pthread_mutex_lock(&s->mu);
    if (!j->done) {
        j->cancelled = true;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
}

int srv_submit(srv *s, srv_job *j) {
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->stopping) rc = 503;
    else if (s->n_queued >= s->cfg.max_queue) rc = 429;
    if (!rc) {
        j->refs++;
        j->queued = true;
        j->t_queued = cli_now();
        if (s->queue_tail) s->queue_tail->next = j;
        else s->queue_head = j;
        s->queue_tail = j;
        s->n_queued++;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- per-token work ------------------------------------------------------------------------------ */

/* lp / top alternatives of logits[V] for token id (log-softmax in double). */
static void logprobs_of(const float *logits, int64_t V, int32_t id, int n_top, srv_lp *out) {
    double mx = -(double)INFINITY, sum = 0;
    for (int64_t i = 0; i < V; i++)
        if ((double)logits[i] > mx) mx = (double)logits[i];
    for (int64_t i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
    const double lse = mx + log(sum);
    out->lp = (float)((double)logits[id] - lse);
    for (int k = 0; k < n_top; k++) out->top_id[k] = -1;
    for (int64_t i = 0; i < V; i++) { /* insertion into the top n_top, first index wins ties */
        int k = n_top;
        while (k > 0 && (out->top_id[k - 1] < 0 || logits[i] > logits[out->top_id[k - 1]])) k--;
        if (k >= n_top) continue;
        for (int q = n_top - 1; q > k; q--) out->top_id[q] = out->top_id[q - 1];
        out->top_id[k] = (int32_t)i;
    }
    for (int k = 0; k < n_top; k++) out->top_lp[k] = (float)((double)logits[out->top_id[k]] - lse);
}

/* The scheduler's token callback: runs on the engine thread, without the mutex, during add / step. */
static bool on_token(void *user, int32_t id, int64_t steps, const float *logits) {
    srv_job *j = user;
    srv *s = j->owner;
    srv_lp lp;
    if (j->n_logprobs >= 0) logprobs_of(logits, hg_model_config(s->model)->vocab_size, id, j->n_logprobs, &lp);
    const char *piece = "";
    size_t plen = 0;
    hg_error err = {0};
    if (j->detok && hg_detok_push(j->detok, id, &piece, &plen, &err)) piece = "", plen = 0;
    pthread_mutex_lock(&s->mu);
    bool go_on = !j->cancelled;
    if (j->len + plen + 1 > j->cap) {
        size_t cap = (j->len + plen + 1) * 2 + 64;
        char *t = realloc(j->text, cap);
        if (!t) {
            go_on = false, j->status = 500;
            snprintf(j->err, sizeof j->err, "out of memory");
        } else {
            j->text = t, j->cap = cap;
        }
    }
    if (j->text) {
        const size_t from = j->len;
        memcpy(j->text + j->len, piece, plen);
        j->len += plen;
        j->text[j->len] = 0;
        for (int k = 0; k < j->n_stop && go_on; k++) { /* a stop string ends the text there */
            const size_t sl = strlen(j->stop[k]);
            const size_t start = from + 1 > sl ? from + 1 - sl : 0;
            const char *hit = strstr(j->text + start, j->stop[k]);
            if (hit) {
                j->len = (size_t)(hit - j->text);
                j->text[j->len] = 0;
                j->finish = "stop";
                go_on = false;
            }
        }
    }
    j->ids[j->n] = id;
    j->steps[j->n] = steps;
    if (j->lps) j->lps[j->n] = lp;
    j->tok_end[j->n] = j->len;
    j->n++;
    j->core_iters += steps;
    if (j->n == 1) j->t_first = cli_now();
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&s->mu);
    return go_on;
}

/* ---- prompt scoring (echo with logprobs) -------------------------------------------------------- */

/* prompt_lps[p] for p >= 1: the logprob of prompt[p] given prompt[0..p-1] at the request's depth, from
 * one forward pass over the prompt in chunks (exact: every position has the same depth). */
static hg_status score_prompt(srv *s, srv_job *j, hg_error *err) {
    const hg_config *c = hg_model_config(s->model);
    const int64_t V = c->vocab_size, T = j->n_prompt, CH = 64;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = T;
    cp.max_steps = j->req.gen.n_steps > 0 ? j->req.gen.n_steps : 1;
    cp.n_threads = (int)s->cfg.threads;
    hg_ctx *ctx = NULL;
    hg_status st = hg_ctx_init(s->model, &cp, &ctx, err);
    if (st) return st;
    float *logits = malloc((size_t)(CH * V) * sizeof(float));
    if (!logits) {
        hg_ctx_free(ctx);
        err->status = HG_STATUS_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return HG_STATUS_NOMEM;
    }
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = j->req.gen.n_steps;
    fp.init_scale = j->req.gen.init_scale;
    fp.seed = j->req.gen.seed;
    for (int64_t p0 = 0; p0 < T && !st; p0 += CH) {
        const int64_t n = hg_min_i64_cli(CH, T - p0);
        fp.seed = j->req.gen.seed + (uint64_t)p0;
        if ((st = hg_ctx_forward(ctx, j->prompt + p0, n, p0, &fp, NULL, logits, err))) break;
        for (int64_t i = 0; i < n && p0 + i + 1 < T; i++)
            logprobs_of(logits + i * V, V, j->prompt[p0 + i + 1], j->n_logprobs, &j->prompt_lps[p0 + i + 1]);
    }
    free(logits);
    hg_ctx_free(ctx);
    return st;
}

/* ---- job lifecycle (engine thread) --------------------------------------------------------------- */

/* mutex held: the job is over (finished, stopped, cancelled or failed). */
static void finish_job(srv *s, srv_job *j) {
    if (j->running) {
        s->slot_job[j->slot] = NULL;
        s->n_running--;
        j->running = false;
    }
    j->done = true;
    j->t_end = cli_now();
    if (!j->finish) j->finish = j->n >= j->req.gen.max_new_tokens ? "length" : "stop";
    s->m.prompt_tokens += j->n_prompt;
    s->m.generated_tokens += j->n;
    s->m.core_iterations += j->core_iters;
    if (j->n > 0 && j->t_first > 0) s->m.gen_seconds += j->t_end - j->t_start;
    fprintf(stderr, "serve: %s %s: %d, prompt %lld, tokens %lld, iterations/token %.2f, %.3f s%s\n",
            j->kind == SRV_CHAT ? "chat" : "completion", j->id, j->status ? j->status : 200, (long long)j->n_prompt,
            (long long)j->n, j->n ? (double)j->core_iters / (double)j->n : 0.0, j->t_end - j->t_queued,
            j->cancelled ? " (client gone)" : "");
    pthread_cond_broadcast(&j->cv);
    release_locked(j);
}

static void fail_job(srv *s, srv_job *j, const hg_error *err) {
    j->status = err->status == HG_STATUS_BAD_ARG || err->status == HG_STATUS_LIMIT || err->status == HG_STATUS_BAD_INPUT
                    ? 400
                    : 500;
    snprintf(j->err, sizeof j->err, "%s", err->msg);
    finish_job(s, j);
}

/* Called without the mutex: score each job that asked for echo logprobs, then admit the jobs together
 * (hg_sched_add_many: their prompts share the prefill's weight reads, their first tokens one step). */
static void start_jobs(srv *s, srv_job **jobs, int64_t n) {
    hg_request *reqs = calloc((size_t)n, sizeof *reqs);
    hg_error *errs = calloc((size_t)n, sizeof *errs);
    int64_t *slots = calloc((size_t)n, sizeof *slots), *idx = calloc((size_t)n, sizeof *idx), m = 0;
    if (!reqs || !errs || !slots || !idx) {
        pthread_mutex_lock(&s->mu);
        for (int64_t i = 0; i < n; i++) fail_job(s, jobs[i], &(hg_error){HG_STATUS_NOMEM, "out of memory"});
        pthread_mutex_unlock(&s->mu);
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        srv_job *j = jobs[i];
        hg_error err = {0};
        j->owner = s;
        j->t_start = cli_now();
        if (j->prompt_lps && score_prompt(s, j, &err)) {
            pthread_mutex_lock(&s->mu);
            fail_job(s, j, &err);
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        if (j->req.gen.max_new_tokens == 0) {
            pthread_mutex_lock(&s->mu);
            j->finish = "length";
            finish_job(s, j);
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        hg_request r = j->req;
        r.prompt = j->prompt;
        r.n_prompt = j->n_prompt;
        r.out_ids = j->ids;
        r.n_out = NULL;
        r.cb = on_token;
        r.user = j;
        r.rep = NULL;
        reqs[m] = r;
        idx[m++] = i;
    }
    if (m > 0) (void)hg_sched_add_many(s->sched, reqs, m, slots, errs);
    pthread_mutex_lock(&s->mu);
    s->m.admissions += m > 0;
    for (int64_t k = 0; k < m; k++) {
        srv_job *j = jobs[idx[k]];
        s->m.admitted += !errs[k].status;
        if (errs[k].status) {
            fail_job(s, j, &errs[k]);
            continue;
        }
        j->slot = slots[k];
        j->running = true;
        s->slot_job[slots[k]] = j;
        s->n_running++;
        if (!hg_sched_running(s->sched, slots[k])) finish_job(s, j); /* done at its first token */
    }
    pthread_mutex_unlock(&s->mu);
out:
    free(reqs), free(errs), free(slots), free(idx);
}

void srv_engine_run(srv *s) {
    hg_error err = {0};
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int64_t i = 0; i < s->cfg.slots; i++) { /* clients that went away free their slots now */
            srv_job *j = s->slot_job[i];
            if (j && j->cancelled) {
                hg_sched_cancel(s->sched, i);
                finish_job(s, j);
            }
        }
        if (s->queue_head && s->n_running < s->cfg.slots) { /* every queued job a free slot can take */
            srv_job *jobs[HG_SRV_MAX_SLOTS];
            int64_t n = 0;
            while (s->queue_head && s->n_running + n < s->cfg.slots) {
                srv_job *j = s->queue_head;
                s->queue_head = j->next;
                if (!s->queue_head) s->queue_tail = NULL;
                s->n_queued--;
                j->next = NULL;
                j->queued = false;
                if (j->cancelled)
                    finish_job(s, j);
                else
                    jobs[n++] = j;
            }
            if (n == 0) continue;
            pthread_mutex_unlock(&s->mu);
            start_jobs(s, jobs, n);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (s->n_running == 0) {
            if (s->stopping && !s->queue_head) break;
            pthread_cond_wait(&s->work, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        const hg_status st = hg_sched_step(s->sched, &err);
        pthread_mutex_lock(&s->mu);
        for (int64_t i = 0; i < s->cfg.slots; i++) {
            srv_job *j = s->slot_job[i];
            if (!j) continue;
            if (st) {
                hg_sched_cancel(s->sched, i);
                fail_job(s, j, &err);
            } else if (!hg_sched_running(s->sched, i)) {
                finish_job(s, j);
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
}

int srv_engine_init(srv *s, hg_error *err) {
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = s->cfg.slots;
    bp.ctx.n_ctx = s->cfg.n_ctx;
    bp.ctx.max_steps = s->cfg.max_steps;
    bp.ctx.kv_cache = s->cfg.kv_cache;
    bp.ctx.n_threads = (int)s->cfg.threads;
    if (hg_sched_init(s->model, &bp, &s->sched, err)) return 1;
    s->slot_job = calloc((size_t)s->cfg.slots, sizeof *s->slot_job);
    if (!s->slot_job) return 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    return 0;
}

void srv_engine_stop(srv *s) {
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
}

void srv_engine_free(srv *s) {
    hg_sched_free(s->sched);
    free(s->slot_job);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
}
