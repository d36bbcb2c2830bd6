/*
 * serve_http.c — the server's HTTP side on libmicrohttpd (serve.h). A thread per connection (MHD
 * parses HTTP, keeps connections alive and chunk-encodes streamed bodies; nothing here parses HTTP):
 * the handler collects the body up to --max-body (413 beyond: a body up to HG_SRV_DRAIN is read and
 * dropped before the reply, so a client still writing it gets the 413 rather than a broken pipe;
 * a larger one is refused from its Content-Length, or as soon as it passes the drain limit), checks
 * the API key (401), routes, and for a generation request queues a job and waits on
 * it — or, for `stream: true`, returns a response whose reader blocks for the job's next tokens and
 * writes them as server-sent events. A client that goes away ends its stream's reader; freeing that
 * response cancels the job, and the engine frees its slot before the next step.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* How much of an oversized body is read and dropped before the 413 (see the header comment). */
#define HG_SRV_DRAIN ((size_t)64 << 20)

typedef struct conn {
    char *body;
    size_t len, cap;
    size_t seen; /* bytes of body received, kept or dropped */
    bool too_big, replied;
} conn;

typedef struct stream {
    srv *s;
    srv_job *j;
    char *pending;
    size_t plen, poff;
    bool finished;
} stream;

/* Queue r on the connection. Every reply but a finished generation (the engine logs those, with its
 * tokens and iterations) gets its log line here. */
static enum MHD_Result send_reply(struct MHD_Connection *c, srv *s, srv_reply *r) {
    const char *body = r->body ? r->body : "";
    if (!r->logged) {
        fprintf(stderr, "serve: %s %s: %d\n", r->method ? r->method : "?", r->path ? r->path : "?", r->status);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    free(r->body);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    if (r->retry_after) MHD_add_response_header(resp, "Retry-After", "1");
    const enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    srv_count_status(s, r->status);
    return ret;
}

/* ---- streamed responses -------------------------------------------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    stream *st = cls;
    (void)pos;
    while (st->poff >= st->plen) {
        if (st->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        free(st->pending);
        st->pending = NULL;
        st->plen = st->poff = 0;
        srv *s = st->s;
        pthread_mutex_lock(&s->mu);
        for (int waits = 0;; waits++) {
            bool done = false;
            char *chunk = srv_api_stream_chunk(s, st->j, &done);
            if (!chunk) {
                st->finished = true;
                break;
            }
            if (*chunk || done) {
                st->pending = chunk;
                st->plen = strlen(chunk);
                st->finished = done;
                break;
            }
            free(chunk);
            if (waits >= 5) { /* a comment line now and then: a vanished client then fails the write */
                st->pending = strdup(": waiting\n\n");
                st->plen = st->pending ? strlen(st->pending) : 0;
                break;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&st->j->cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
    }
    size_t n = st->plen - st->poff;
    if (n > max) n = max;
    memcpy(buf, st->pending + st->poff, n);
    st->poff += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    stream *st = cls;
    if (!st->finished) srv_job_cancel(st->s, st->j); /* the client went away mid-stream */
    srv_job_release(st->s, st->j);
    free(st->pending);
    free(st);
}

/* ---- generation requests ------------------------------------------------------------------------- */

static enum MHD_Result generate(struct MHD_Connection *c, srv *s, const char *path, conn *cc) {
    srv_reply r = {.method = "POST", .path = path};
    srv_job *j = srv_api_parse(s, path, cc->body ? cc->body : "", cc->len, &r);
    if (!j) return send_reply(c, s, &r);
    const int rc = srv_submit(s, j);
    if (rc) {
        srv_api_error(&r, rc, rc == 429 ? "rate_limit_error" : "server_error",
                      rc == 429 ? "the queue is full (%lld requests); retry later" : "the server is shutting down",
                      (long long)s->cfg.max_queue);
        r.retry_after = true;
        srv_job_release(s, j);
        return send_reply(c, s, &r);
    }
    if (j->stream) {
        stream *st = calloc(1, sizeof *st);
        struct MHD_Response *resp =
            st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free) : NULL;
        if (!resp) {
            free(st);
            srv_job_cancel(s, j);
            srv_job_release(s, j);
            return MHD_NO;
        }
        st->s = s, st->j = j;
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
        const enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        srv_count_status(s, 200);
        return ret;
    }
    pthread_mutex_lock(&s->mu);
    while (!j->done) pthread_cond_wait(&j->cv, &s->mu);
    srv_api_response(s, j, &r); /* reads the job: under the mutex, as the engine wrote it */
    r.logged = j->status == 0;
    pthread_mutex_unlock(&s->mu);
    srv_job_release(s, j);
    return send_reply(c, s, &r);
}

/* ---- the handler ---------------------------------------------------------------------------------- */

static bool authorized(struct MHD_Connection *c, const srv *s) {
    if (!s->cfg.api_key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    return h && !strncmp(h, "Bearer ", 7) && !strcmp(h + 7, s->cfg.api_key);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    srv *s = cls;
    conn *cc = *con_cls;
    (void)version;
    srv_reply r = {.method = method, .path = url};
    if (!cc) { /* first call: headers only */
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        const unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
        if (len > (unsigned long long)s->cfg.max_body) {
            if (len <= HG_SRV_DRAIN) {
                cc->too_big = true; /* drain it, then reply */
                return MHD_YES;
            }
            srv_api_error(&r, 413, "invalid_request_error", "the body (%s bytes) exceeds --max-body %lld", cl,
                          (long long)s->cfg.max_body);
            return send_reply(c, s, &r);
        }
        return MHD_YES;
    }
    if (*upload_size) { /* body chunk */
        cc->seen += *upload_size;
        if (cc->replied) { /* refused mid-body: drop whatever MHD still hands over */
            *upload_size = 0;
            return MHD_YES;
        }
        if (!cc->too_big && cc->len + *upload_size > (size_t)s->cfg.max_body) cc->too_big = true;
        if (cc->too_big && cc->seen > HG_SRV_DRAIN) {
            *upload_size = 0;
            cc->replied = true;
            srv_api_error(&r, 413, "invalid_request_error", "the body exceeds --max-body %lld bytes",
                          (long long)s->cfg.max_body);
            return send_reply(c, s, &r);
        }
        if (!cc->too_big) {
            if (cc->len + *upload_size + 1 > cc->cap) {
                size_t cap = (cc->len + *upload_size + 1) * 2;
                char *b = realloc(cc->body, cap);
                if (!b) return MHD_NO;
                cc->body = b, cc->cap = cap;
            }
            memcpy(cc->body + cc->len, upload, *upload_size);
            cc->len += *upload_size;
            cc->body[cc->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cc->too_big) {
        srv_api_error(&r, 413, "invalid_request_error", "the body exceeds --max-body %lld bytes", (long long)s->cfg.max_body);
        return send_reply(c, s, &r);
    }
    if (!strcmp(method, "OPTIONS")) { /* CORS preflight of the page's fetches from elsewhere */
        r.status = 204;
        r.body = strdup("");
        return send_reply(c, s, &r);
    }
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        r.status = 200;
        r.body = strdup(srv_page());
        r.content_type = "text/html; charset=utf-8";
        return send_reply(c, s, &r);
    }
    if (strcmp(url, "/health") && !authorized(c, s)) {
        srv_api_error(&r, 401, "authentication_error", "missing or wrong API key (Authorization: Bearer KEY)");
        return send_reply(c, s, &r);
    }
    if (!strcmp(url, "/v1/completions") || !strcmp(url, "/v1/chat/completions") || !strcmp(url, "/completions") ||
        !strcmp(url, "/chat/completions")) {
        if (strcmp(method, "POST")) {
            srv_api_error(&r, 405, "invalid_request_error", "use POST");
            return send_reply(c, s, &r);
        }
        return generate(c, s, strstr(url, "chat") ? "/v1/chat/completions" : "/v1/completions", cc);
    }
    if (srv_api_simple(s, method, url, cc->body ? cc->body : "", cc->len, &r)) return send_reply(c, s, &r);
    srv_api_error(&r, 404, "invalid_request_error", "no endpoint %s %s", method, url);
    return send_reply(c, s, &r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    conn *cc = *con_cls;
    if (cc) free(cc->body), free(cc);
    *con_cls = NULL;
}

/* The stop signals (blocked in every thread since before the first one started) end up here: drain. */
static void *stop_on_signal(void *arg) {
    srv *s = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    pthread_mutex_lock(&s->mu);
    fprintf(stderr, "huginn serve: %s: finishing %lld running and %lld queued requests\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)s->n_running, (long long)s->n_queued);
    pthread_mutex_unlock(&s->mu);
    srv_engine_stop(s);
    return NULL;
}

int srv_http_run(srv *s) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (strchr(s->cfg.host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)s->cfg.port);
        if (inet_pton(AF_INET6, s->cfg.host, &a->sin6_addr) != 1) return cli_fail("serve: --host %s is not an address", s->cfg.host);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)s->cfg.port);
        const char *h = !strcmp(s->cfg.host, "localhost") ? "127.0.0.1" : s->cfg.host;
        if (inet_pton(AF_INET, h, &a->sin_addr) != 1) return cli_fail("serve: --host %s is not an IPv4 or IPv6 address", s->cfg.host);
    }
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR,
                                            (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_CONNECTION_TIMEOUT,
                                            (unsigned)600, MHD_OPTION_END);
    if (!d) return cli_fail("serve: cannot listen on %s:%d (in use, or not an address of this machine)", s->cfg.host, s->cfg.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    const int port = info ? info->port : s->cfg.port;
    printf("huginn serve: listening on http://%s%s%s:%d (model %s, %lld slots, context %lld)\n",
           strchr(s->cfg.host, ':') ? "[" : "", s->cfg.host, strchr(s->cfg.host, ':') ? "]" : "", port, s->model_name,
           (long long)s->cfg.slots, (long long)s->cfg.n_ctx);
    fflush(stdout);
    pthread_t waiter;
    if (pthread_create(&waiter, NULL, stop_on_signal, s)) {
        MHD_stop_daemon(d);
        return cli_fail("serve: cannot start the signal thread");
    }
    srv_engine_run(s); /* until a signal has drained it: every accepted job completes; new ones get 503 */
    pthread_join(waiter, NULL);
    MHD_stop_daemon(d);
    srv_engine_free(s);
    fprintf(stderr, "huginn serve: stopped\n");
    return 0;
}
