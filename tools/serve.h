/*
 * serve.h — `huginn serve`: an OpenAI-compatible HTTP server over the scheduler (include/huginn.h
 * "Scheduler"). Three parts share these types:
 *   serve_engine.c  the engine owns the model and the scheduler: it admits queued jobs into free
 *                   slots between decode steps, steps every running job together, and turns tokens
 *                   into text, logprobs and stop decisions. It runs on the main thread, the one that
 *                   loaded the model, so one OpenMP team drives the model: a team on a second thread
 *                   makes libgomp count more threads than cores and throttle every barrier's spin;
 *   serve_api.c     the endpoints: request JSON -> job (validation, 400s naming the field), job ->
 *                   response JSON / server-sent event chunks in OpenAI's wire format;
 *   serve_http.c    libmicrohttpd glue: routing, body limits, auth, keep-alive, chunked streaming,
 *                   disconnects; serve_page.c the embedded web page.
 * All job state is guarded by the engine's one mutex; HTTP threads wait on the job's condition.
 */
#ifndef HG_SERVE_H
#define HG_SERVE_H

#include "cli.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_MAX_STOP 4     /* stop strings per request (OpenAI's limit) */
#define SRV_MAX_TOP 20     /* logprobs alternatives per token */

typedef enum srv_kind { SRV_COMPLETION, SRV_CHAT } srv_kind;

/* One token's logprob data: the chosen token's and the top alternatives'. */
typedef struct srv_lp {
    float lp;
    int32_t top_id[SRV_MAX_TOP];
    float top_lp[SRV_MAX_TOP];
} srv_lp;

typedef struct srv_job {
    /* ---- the request (set by the API layer, read-only afterwards) ---- */
    srv_kind kind;
    bool stream, echo;
    int n_logprobs;            /* -1: none; else alternatives per token (0..SRV_MAX_TOP) */
    int32_t *prompt;           /* [n_prompt] */
    int64_t n_prompt;
    hg_request req;            /* depth, sampler, exit; prompt/out arrays filled by the engine */
    int32_t stop_ids[2];       /* the tokenizer's EOS (as in `huginn run`) and, for a chat, the end of turn */
    char *stop[SRV_MAX_STOP];
    int n_stop;
    char *id;                  /* "cmpl-..." / "chatcmpl-..." */
    const char *model_name;
    int64_t created;
    /* ---- progress (engine mutex) ---- */
    int32_t *ids;              /* [max_tokens] generated */
    int64_t *steps;            /* [max_tokens] */
    srv_lp *lps;               /* [max_tokens] when n_logprobs >= 0 */
    srv_lp *prompt_lps;        /* [n_prompt] when echo && n_logprobs >= 0 (entry 0 unused) */
    int64_t n;                 /* tokens generated */
    char *text;                /* generated text so far (stop strings cut off) */
    size_t len, cap;
    size_t *tok_end;           /* [max_tokens] byte length of `text` after each token (text_offset) */
    int64_t n_sent;            /* streaming: tokens already sent */
    size_t text_sent;          /* and bytes */
    bool queued, running, done, cancelled;
    const char *finish;        /* "stop", "length", or NULL while running */
    int status;                /* HTTP status of a failure after acceptance (500), else 0 */
    char err[1100];
    double t_queued, t_start, t_first, t_end;
    int64_t core_iters;        /* core iterations of the generated tokens */
    hg_detok *detok;
    int64_t slot;
    int refs;                  /* holders: the HTTP side and the engine */
    pthread_cond_t cv;         /* progress or completion */
    struct srv_job *next;      /* queue link */
    struct srv *owner;
} srv_job;

#define HG_SRV_MAX_SLOTS 64 /* --slots' bound: the most sequences of a batch (hg_batch_init) */

typedef struct srv_config {
    const char *model_path, *host, *api_key;
    int port;
    int64_t slots, n_ctx, max_steps, max_queue, max_body, threads;
    int64_t default_steps;     /* num_steps when a request gives none (the model's mean_recurrence) */
    const char *default_exit;  /* exit_criterion default ("none") */
    double default_threshold;  /* NaN = auto */
    double default_init_scale; /* init_scale when a request gives none */
    const char *kv_cache;
    const char *chat_template; /* --chat-template NAME: a built-in chat format instead of the model's */
} srv_config;

typedef struct srv_metrics {
    int64_t requests[6];       /* by status class: 2xx, 400, 401, 404/405, 413, 429/503/5xx */
    int64_t prompt_tokens, generated_tokens, core_iterations;
    int64_t admissions, admitted; /* hg_sched_add_many calls and the requests they admitted together */
    double gen_seconds;        /* wall time spent in decode steps with tokens produced */
} srv_metrics;

typedef struct srv {
    srv_config cfg;
    hg_model *model;
    hg_tokenizer *tok;         /* NULL: ids only */
    pthread_mutex_t tok_mu;    /* encoding writes the handle's word cache and scratch: one HTTP thread at a time */
    hg_sched *sched;
    srv_job **slot_job;        /* [slots] */
    srv_job *queue_head, *queue_tail;
    int64_t n_queued, n_running;
    pthread_mutex_t mu;
    pthread_cond_t work;       /* new job or cancellation */
    bool stopping;             /* drain: no new jobs, finish the running ones */
    srv_metrics m;
    const char *model_name;
} srv;

/* ---- engine (serve_engine.c) ---- */
int srv_engine_init(srv *s, hg_error *err);
void srv_engine_run(srv *s);  /* the engine loop on the calling thread, until a stop has drained it */
void srv_engine_stop(srv *s); /* from any thread: drain (running and queued jobs finish), then run returns */
void srv_engine_free(srv *s); /* after the HTTP side has stopped */
/* Queue a job (refs += 1 for the engine). 0, or 429 when the queue is full, 503 when draining. */
int srv_submit(srv *s, srv_job *j);
/* Release one hold on a job (frees it on the last). Takes the mutex. */
void srv_job_release(srv *s, srv_job *j);
/* Mark a job cancelled (client gone); the engine frees its slot before its next step. */
void srv_job_cancel(srv *s, srv_job *j);
srv_job *srv_job_new(void);

/* ---- API (serve_api.c) ---- */
typedef struct srv_reply {
    int status;
    char *body;                /* malloc'ed */
    const char *content_type;
    bool retry_after;
    bool logged;               /* the engine wrote this request's log line already */
    const char *method, *path; /* for the log line */
} srv_reply;
/* Build a job from a request body; on failure fill *r with the error reply and return NULL. */
srv_job *srv_api_parse(srv *s, const char *path, const char *body, size_t len, srv_reply *r);
/* The non-streamed response of a finished job. */
void srv_api_response(srv *s, srv_job *j, srv_reply *r);
/* Server-sent-event text for the job's progress since the last call (mutex held); *done when the
 * stream is complete ("data: [DONE]" included). Returns a malloc'ed string (maybe empty). */
char *srv_api_stream_chunk(srv *s, srv_job *j, bool *done);
/* GET/POST endpoints that need no job: /health, /v1/models, /metrics, /tokenize, /detokenize. */
bool srv_api_simple(srv *s, const char *method, const char *path, const char *body, size_t len, srv_reply *r);
/* {"error": {"message", "type"}} with status. */
void srv_api_error(srv_reply *r, int status, const char *type, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void srv_count_status(srv *s, int status);

/* ---- HTTP (serve_http.c) and page (serve_page.c) ---- */
int srv_http_run(srv *s); /* serve until SIGINT/SIGTERM, then drain; returns the exit code */
const char *srv_page(void); /* the page's HTML (built once) */

#endif
