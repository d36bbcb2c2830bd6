/*
 * serve_api.c — the server's endpoints in OpenAI's wire format (serve.h): request bodies become jobs
 * after every field is checked (a wrong type, a NaN, a negative or unknown value is a 400 naming the
 * field, in {"error": {"message", "type"}}), finished jobs become responses, running ones server-sent
 * event chunks. Field names follow OpenAI and llama-server; the recurrent-depth fields (num_steps,
 * exit_criterion, exit_threshold, min_steps, init_scale, kv_cache, warm_start) are ours, and every
 * choice carries `steps`, the core iterations of each generated token, and `token_ids`.
 */
#include "serve.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void srv_api_error(srv_reply *r, int status, const char *type, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddNumberToObject(e, "code", status);
    r->status = status;
    r->body = cJSON_PrintUnformatted(root);
    r->content_type = "application/json";
    cJSON_Delete(root);
}

void srv_count_status(srv *s, int status) {
    const int k = status < 300 ? 0 : status == 400 ? 1 : status == 401 ? 2 : status == 404 || status == 405 ? 3
                  : status == 413 ? 4 : 5;
    pthread_mutex_lock(&s->mu);
    s->m.requests[k]++;
    pthread_mutex_unlock(&s->mu);
}

static void reply_json(srv_reply *r, cJSON *root) {
    r->status = 200;
    r->body = cJSON_PrintUnformatted(root);
    r->content_type = "application/json";
    cJSON_Delete(root);
}

/* ---- field readers: false (and *r filled) on a bad value ---------------------------------------- */

#define BAD(...) (srv_api_error(r, 400, "invalid_request_error", __VA_ARGS__), false)

static bool get_num(const cJSON *o, const char *key, double lo, double hi, double *out, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsNumber(v)) return BAD("`%s` must be a number", key);
    if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return BAD("`%s` must be in [%g, %g] (got %g)", key, lo, hi, v->valuedouble);
    *out = v->valuedouble;
    return true;
}

static bool get_int(const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t *out, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsNumber(v) || floor(v->valuedouble) != v->valuedouble)
        return BAD("`%s` must be an integer", key);
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return BAD("`%s` must be in %lld..%lld (got %.17g)", key, (long long)lo, (long long)hi, v->valuedouble);
    *out = (int64_t)v->valuedouble;
    return true;
}

static bool get_bool(const cJSON *o, const char *key, bool *out, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsBool(v)) return BAD("`%s` must be true or false", key);
    *out = cJSON_IsTrue(v);
    return true;
}

/* stop: a string or an array of up to SRV_MAX_STOP non-empty strings */
static bool get_stop(const cJSON *o, srv_job *j, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "stop");
    if (!v || cJSON_IsNull(v)) return true;
    const cJSON *one = cJSON_IsString(v) ? v : NULL;
    if (!one && !cJSON_IsArray(v)) return BAD("`stop` must be a string or an array of strings");
    if (!one && cJSON_GetArraySize(v) > SRV_MAX_STOP) return BAD("`stop` holds at most %d strings", SRV_MAX_STOP);
    for (const cJSON *e = one ? one : v->child; e; e = one ? NULL : e->next) {
        if (!cJSON_IsString(e) || !*e->valuestring || strlen(e->valuestring) > 256)
            return BAD("`stop` entries must be non-empty strings of at most 256 bytes");
        if (!(j->stop[j->n_stop++] = strdup(e->valuestring))) return BAD("out of memory");
    }
    return true;
}

/* The sampling and recurrent-depth fields shared by both endpoints. */
static bool parse_common(srv *s, const cJSON *o, srv_job *j, srv_reply *r) {
    const hg_config *c = hg_model_config(s->model);
    hg_generate_params *g = &j->req.gen;
    double temp = 0.7, top_p = 1, min_p = 0, rep = 1, init_scale = s->cfg.default_init_scale, thr = s->cfg.default_threshold;
    int64_t top_k = 0, max_tokens = 16, steps = s->cfg.default_steps, seed = 0, min_steps = 0, n = 1;
    bool warm = false;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "max_completion_tokens");
    if (!get_int(o, mt ? "max_completion_tokens" : "max_tokens", 0, 1 << 20, &max_tokens, r) ||
        !get_num(o, "temperature", 0, 100, &temp, r) || !get_num(o, "top_p", 0, 1, &top_p, r) ||
        !get_int(o, "top_k", 0, 1 << 24, &top_k, r) || !get_num(o, "min_p", 0, 1, &min_p, r) ||
        !get_num(o, "repetition_penalty", 1e-3, 100, &rep, r) || !get_int(o, "seed", 0, INT64_MAX, &seed, r) ||
        !get_int(o, "n", 1, 1, &n, r) || !get_int(o, "num_steps", 0, s->cfg.max_steps, &steps, r) ||
        !get_int(o, "min_steps", 0, 1 << 20, &min_steps, r) || !get_num(o, "init_scale", 0, 1e6, &init_scale, r) ||
        !get_bool(o, "warm_start", &warm, r) || !get_bool(o, "stream", &j->stream, r) || !get_stop(o, j, r))
        return false;
    const char *crit = s->cfg.default_exit;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "exit_criterion");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)) return BAD("`exit_criterion` must be a string");
        crit = v->valuestring;
    }
    hg_error err = {0};
    if (hg_exit_criterion_parse(crit, &j->req.exit.criterion, &err))
        return BAD("`exit_criterion`: %s", err.msg);
    v = cJSON_GetObjectItemCaseSensitive(o, "exit_threshold");
    if (v && cJSON_IsString(v)) {
        if (strcmp(v->valuestring, "auto")) return BAD("`exit_threshold` must be a number >= 0 or \"auto\"");
        thr = (double)NAN;
    } else if (!get_num(o, "exit_threshold", 0, 1e12, &thr, r)) {
        return false;
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "kv_cache");
    if (v && !cJSON_IsNull(v)) {
        const char *have = s->cfg.kv_cache ? s->cfg.kv_cache : "full";
        if (!cJSON_IsString(v)) return BAD("`kv_cache` must be a string");
        if (strcmp(v->valuestring, have))
            return BAD("`kv_cache`: this server's slots use \"%s\" (start it with --kv-cache %s for that strategy)", have,
                       v->valuestring);
    }
    g->n_steps = steps;
    g->max_new_tokens = max_tokens;
    g->init_scale = (float)init_scale;
    g->seed = (uint64_t)seed;
    g->continuous = warm;
    g->sampler.temperature = (float)temp;
    g->sampler.top_k = top_k;
    g->sampler.top_p = (float)top_p;
    g->sampler.min_p = (float)min_p;
    g->sampler.repetition_penalty = (float)rep;
    g->sampler.seed = (uint64_t)seed;
    j->req.exit.threshold = thr;
    j->req.exit.min_steps = min_steps;
    j->req.adaptive = j->req.exit.criterion != HG_EXIT_NONE; /* as `huginn run --exit` */
    /* stop ids: the EOS (`huginn run` stops there too) and, in a chat, the format's end of turn */
    const int n_stop_ids = hg_tokenizer_stop_ids(s->tok, j->kind == SRV_CHAT, j->stop_ids);
    g->eos_ids = j->stop_ids;
    g->n_eos = n_stop_ids;
    if (j->n_prompt + max_tokens > s->cfg.n_ctx)
        return BAD("the prompt (%lld tokens) + max_tokens (%lld) exceed the context of %lld positions",
                   (long long)j->n_prompt, (long long)max_tokens, (long long)s->cfg.n_ctx);
    (void)c;
    return true;
}

/* The tokenizer's encoders, one HTTP thread at a time (serve.h, tok_mu); decoding only reads. */
static hg_status encode_locked(srv *s, const char *text, bool add_special, int32_t **ids, int64_t *n, hg_error *err) {
    pthread_mutex_lock(&s->tok_mu);
    const hg_status st = hg_tokenizer_encode(s->tok, text, strlen(text), add_special, ids, n, err);
    pthread_mutex_unlock(&s->tok_mu);
    return st;
}

static hg_status chat_encode_locked(srv *s, const hg_chat_msg *msgs, size_t n_msgs, int32_t **ids, int64_t *n,
                                    hg_error *err) {
    pthread_mutex_lock(&s->tok_mu);
    const hg_status st = hg_chat_encode(s->tok, msgs, n_msgs, true, ids, n, err);
    pthread_mutex_unlock(&s->tok_mu);
    return st;
}

/* prompt: a string, an array of token ids, or an array holding one of those */
static bool parse_prompt(srv *s, const cJSON *o, srv_job *j, srv_reply *r) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "prompt");
    if (!p) return BAD("`prompt` is required");
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && (cJSON_IsString(p->child) || cJSON_IsArray(p->child)))
        p = p->child;
    const int64_t V = hg_model_config(s->model)->vocab_size;
    if (cJSON_IsString(p)) {
        if (!s->tok) return BAD("`prompt`: this model has no tokenizer; send token ids");
        int32_t *enc = NULL;
        int64_t ne = 0;
        hg_error err = {0};
        if (encode_locked(s, p->valuestring, false, &enc, &ne, &err))
            return BAD("`prompt`: %s", err.msg);
        const int32_t bos = hg_tokenizer_bos_id(s->tok); /* with the BOS in front, as `huginn run -p` */
        j->n_prompt = ne + (bos >= 0);
        j->prompt = malloc((size_t)(j->n_prompt ? j->n_prompt : 1) * sizeof *j->prompt);
        if (j->prompt) {
            if (bos >= 0) j->prompt[0] = bos;
            if (ne) memcpy(j->prompt + (bos >= 0), enc, (size_t)ne * sizeof *enc);
        }
        hg_tokenizer_mem_free(enc);
    } else if (cJSON_IsArray(p)) {
        j->n_prompt = cJSON_GetArraySize(p);
        j->prompt = malloc((size_t)(j->n_prompt ? j->n_prompt : 1) * sizeof *j->prompt);
        int64_t i = 0;
        for (const cJSON *e = p->child; e && j->prompt; e = e->next, i++) {
            if (!cJSON_IsNumber(e) || floor(e->valuedouble) != e->valuedouble || e->valuedouble < 0 ||
                e->valuedouble >= (double)V)
                return BAD("`prompt`[%lld] must be a token id in 0..%lld", (long long)i, (long long)(V - 1));
            j->prompt[i] = (int32_t)e->valuedouble;
        }
    } else {
        return BAD("`prompt` must be a string, an array of token ids, or an array holding one of those");
    }
    if (!j->prompt) return BAD("out of memory");
    if (j->n_prompt == 0) return BAD("`prompt` is empty");
    return true;
}

/* messages: [{role, content}] rendered with the model's chat template */
static bool parse_messages(srv *s, const cJSON *o, srv_job *j, srv_reply *r) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "messages");
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0) return BAD("`messages` must be a non-empty array");
    if (!s->tok || !hg_tokenizer_has_chat(s->tok))
        return BAD("this model has no supported chat template (start the server with --chat-template NAME, NAME one of "
                   "%s, if the model uses one of them); use /v1/completions", hg_chat_format_names());
    const int n = cJSON_GetArraySize(m);
    hg_chat_msg *msgs = calloc((size_t)n, sizeof *msgs);
    char **own = calloc((size_t)n, sizeof *own);
    bool ok = msgs && own;
    int i = 0;
    for (const cJSON *e = m->child; e && ok; e = e->next, i++) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(e, "role"), *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsString(role)) {
            ok = BAD("`messages`[%d].role must be a string", i);
            break;
        }
        msgs[i].role = role->valuestring;
        if (cJSON_IsString(content)) {
            msgs[i].content = content->valuestring;
        } else if (cJSON_IsArray(content)) { /* [{type: "text", text}] parts, concatenated */
            size_t len = 0;
            for (const cJSON *q = content->child; q; q = q->next) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(q, "text");
                if (!cJSON_IsString(t)) {
                    ok = BAD("`messages`[%d].content parts must be {\"type\": \"text\", \"text\": ...}", i);
                    break;
                }
                len += strlen(t->valuestring);
            }
            if (!ok) break;
            own[i] = calloc(len + 1, 1);
            if (!own[i]) break;
            for (const cJSON *q = content->child; q; q = q->next)
                strcat(own[i], cJSON_GetObjectItemCaseSensitive(q, "text")->valuestring);
            msgs[i].content = own[i];
        } else {
            ok = BAD("`messages`[%d].content must be a string or an array of text parts", i);
        }
    }
    if (ok) {
        int32_t *enc = NULL;
        int64_t ne = 0;
        hg_error err = {0};
        if (chat_encode_locked(s, msgs, (size_t)n, &enc, &ne, &err)) {
            ok = BAD("`messages`: %s", err.msg);
        } else {
            j->prompt = malloc((size_t)(ne ? ne : 1) * sizeof *j->prompt);
            if (j->prompt && ne) memcpy(j->prompt, enc, (size_t)ne * sizeof *enc);
            j->n_prompt = ne;
            hg_tokenizer_mem_free(enc);
            if (!j->prompt) ok = BAD("out of memory");
        }
    }
    for (int k = 0; own && k < n; k++) free(own[k]);
    free(own), free(msgs);
    return ok;
}

srv_job *srv_api_parse(srv *s, const char *path, const char *body, size_t len, srv_reply *r) {
    const bool chat = !strcmp(path, "/v1/chat/completions");
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        srv_api_error(r, 400, "invalid_request_error", "the body is not a JSON object");
        return NULL;
    }
    srv_job *j = srv_job_new();
    bool ok = j != NULL;
    if (!ok) srv_api_error(r, 500, "server_error", "out of memory");
    if (ok) {
        j->kind = chat ? SRV_CHAT : SRV_COMPLETION;
        j->req = hg_request_default();
        ok = chat ? parse_messages(s, o, j, r) : parse_prompt(s, o, j, r);
    }
    if (ok) ok = parse_common(s, o, j, r);
    if (ok && chat) { /* logprobs: bool, top_logprobs: 0..20 */
        bool lp = false;
        int64_t top = 0;
        ok = get_bool(o, "logprobs", &lp, r) && get_int(o, "top_logprobs", 0, SRV_MAX_TOP, &top, r);
        if (ok) j->n_logprobs = lp ? (int)top : -1;
    } else if (ok) { /* logprobs: integer alternatives per token, echo */
        int64_t lp = -1;
        ok = get_int(o, "logprobs", 0, SRV_MAX_TOP, &lp, r) && get_bool(o, "echo", &j->echo, r);
        j->n_logprobs = (int)lp;
        if (ok && j->echo && j->stream) ok = BAD("`echo` with `stream` is not supported");
    }
    const int64_t nt = j && ok ? j->req.gen.max_new_tokens : 0;
    if (ok) {
        j->ids = malloc((size_t)(nt + 1) * sizeof *j->ids);
        j->steps = malloc((size_t)(nt + 1) * sizeof *j->steps);
        j->tok_end = malloc((size_t)(nt + 1) * sizeof *j->tok_end);
        if (j->n_logprobs >= 0) j->lps = calloc((size_t)(nt + 1), sizeof *j->lps);
        if (j->echo && j->n_logprobs >= 0) j->prompt_lps = calloc((size_t)j->n_prompt, sizeof *j->prompt_lps);
        static unsigned long long counter;
        char idbuf[64];
        snprintf(idbuf, sizeof idbuf, "%s-%llx%llx", chat ? "chatcmpl" : "cmpl", (unsigned long long)time(NULL),
                 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
        j->id = strdup(idbuf);
        j->created = (int64_t)time(NULL);
        j->model_name = s->model_name;
        hg_error err = {0};
        if (s->tok) hg_detok_init(s->tok, true, &j->detok, &err);
        if (!j->ids || !j->steps || !j->tok_end || (j->n_logprobs >= 0 && !j->lps) ||
            (j->echo && j->n_logprobs >= 0 && !j->prompt_lps) || !j->id || (s->tok && !j->detok)) {
            srv_api_error(r, 500, "server_error", "out of memory");
            ok = false;
        }
    }
    cJSON_Delete(o);
    if (!ok && j) {
        j->refs = 1;
        srv_job_release(s, j);
        return NULL;
    }
    return j;
}

/* ---- responses ----------------------------------------------------------------------------------- */

/* Text of one token (lossy UTF-8), for logprob listings. */
static char *token_text(srv *s, int32_t id) {
    char *t = NULL;
    size_t n = 0;
    hg_error err = {0};
    if (s->tok && !hg_tokenizer_decode(s->tok, &id, 1, false, &t, &n, &err)) {
        char *out = malloc(n + 1);
        if (out) memcpy(out, t, n), out[n] = 0;
        hg_tokenizer_mem_free(t);
        return out;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "<%d>", id);
    return strdup(buf);
}

static void add_top(srv *s, cJSON *obj, const srv_lp *lp, int n_top) {
    for (int k = 0; k < n_top; k++) {
        if (lp->top_id[k] < 0) continue;
        char *t = token_text(s, lp->top_id[k]);
        if (t && !cJSON_GetObjectItemCaseSensitive(obj, t)) cJSON_AddNumberToObject(obj, t, (double)lp->top_lp[k]);
        free(t);
    }
}

/* choices[0].logprobs of a completion: tokens, token_logprobs, top_logprobs, text_offset over
 * [prompt if echo] + generated tokens [from, to). */
static cJSON *completion_logprobs(srv *s, srv_job *j, int64_t from, int64_t to) {
    cJSON *lp = cJSON_CreateObject();
    cJSON *toks = cJSON_AddArrayToObject(lp, "tokens"), *tlp = cJSON_AddArrayToObject(lp, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(lp, "top_logprobs"), *off = cJSON_AddArrayToObject(lp, "text_offset");
    size_t pos = 0;
    if (j->echo && from == 0) {
        for (int64_t p = 0; p < j->n_prompt; p++) {
            char *t = token_text(s, j->prompt[p]);
            cJSON_AddItemToArray(toks, cJSON_CreateString(t ? t : ""));
            cJSON_AddItemToArray(off, cJSON_CreateNumber((double)pos));
            pos += t ? strlen(t) : 0;
            free(t);
            if (p == 0) {
                cJSON_AddItemToArray(tlp, cJSON_CreateNull());
                cJSON_AddItemToArray(top, cJSON_CreateNull());
            } else {
                cJSON_AddItemToArray(tlp, cJSON_CreateNumber((double)j->prompt_lps[p].lp));
                cJSON *o = cJSON_CreateObject();
                add_top(s, o, &j->prompt_lps[p], j->n_logprobs);
                cJSON_AddItemToArray(top, o);
            }
        }
    }
    for (int64_t k = from; k < to; k++) {
        char *t = token_text(s, j->ids[k]);
        cJSON_AddItemToArray(toks, cJSON_CreateString(t ? t : ""));
        free(t);
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(pos + (k ? j->tok_end[k - 1] : 0))));
        cJSON_AddItemToArray(tlp, cJSON_CreateNumber((double)j->lps[k].lp));
        cJSON *o = cJSON_CreateObject();
        add_top(s, o, &j->lps[k], j->n_logprobs);
        cJSON_AddItemToArray(top, o);
    }
    return lp;
}

/* choices[0].logprobs of a chat completion: {"content": [{token, logprob, bytes, top_logprobs}]} */
static cJSON *chat_logprobs(srv *s, srv_job *j, int64_t from, int64_t to) {
    cJSON *lp = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(lp, "content");
    for (int64_t k = from; k < to; k++) {
        cJSON *e = cJSON_CreateObject();
        char *t = token_text(s, j->ids[k]);
        cJSON_AddStringToObject(e, "token", t ? t : "");
        cJSON_AddNumberToObject(e, "logprob", (double)j->lps[k].lp);
        cJSON *bytes = cJSON_AddArrayToObject(e, "bytes");
        for (const char *c = t; c && *c; c++) cJSON_AddItemToArray(bytes, cJSON_CreateNumber((double)(uint8_t)*c));
        free(t);
        cJSON *tops = cJSON_AddArrayToObject(e, "top_logprobs");
        for (int q = 0; q < j->n_logprobs; q++) {
            if (j->lps[k].top_id[q] < 0) continue;
            cJSON *x = cJSON_CreateObject();
            char *tt = token_text(s, j->lps[k].top_id[q]);
            cJSON_AddStringToObject(x, "token", tt ? tt : "");
            cJSON_AddNumberToObject(x, "logprob", (double)j->lps[k].top_lp[q]);
            free(tt);
            cJSON_AddItemToArray(tops, x);
        }
        cJSON_AddItemToArray(content, e);
    }
    return lp;
}

static void add_ints(cJSON *o, const char *key, const int64_t *v64, const int32_t *v32, int64_t from, int64_t to) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int64_t k = from; k < to; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v64 ? (double)v64[k] : (double)v32[k]));
}

static char *prompt_text(srv *s, srv_job *j) {
    char *t = NULL, *out = NULL;
    size_t n = 0;
    hg_error err = {0};
    if (s->tok && !hg_tokenizer_decode(s->tok, j->prompt, j->n_prompt, false, &t, &n, &err)) {
        out = malloc(n + 1);
        if (out) memcpy(out, t, n), out[n] = 0;
        hg_tokenizer_mem_free(t);
    }
    return out ? out : strdup("");
}

/* The object every response and event shares: id, object, created, model and one choice (*choice). */
static cJSON *envelope(const srv_job *j, const char *object, cJSON **choice) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", j->id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", (double)j->created);
    cJSON_AddStringToObject(root, "model", j->model_name);
    *choice = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), *choice);
    cJSON_AddNumberToObject(*choice, "index", 0);
    return root;
}

static void add_usage(cJSON *root, const srv_job *j) {
    cJSON *u = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)j->n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)j->n);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(j->n_prompt + j->n));
    cJSON_AddNumberToObject(u, "core_iterations", (double)j->core_iters);
}

void srv_api_response(srv *s, srv_job *j, srv_reply *r) {
    if (j->status) {
        srv_api_error(r, j->status, j->status == 400 ? "invalid_request_error" : "server_error", "%s", j->err);
        return;
    }
    const bool chat = j->kind == SRV_CHAT;
    cJSON *c = NULL, *root = envelope(j, chat ? "chat.completion" : "text_completion", &c);
    char *ptext = j->echo ? prompt_text(s, j) : NULL;
    if (chat) {
        cJSON *msg = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", j->text ? j->text : "");
    } else {
        size_t pl = ptext ? strlen(ptext) : 0;
        char *full = malloc(pl + j->len + 1);
        if (full) {
            if (pl) memcpy(full, ptext, pl);
            if (j->len) memcpy(full + pl, j->text, j->len);
            full[pl + j->len] = 0;
        }
        cJSON_AddStringToObject(c, "text", full ? full : "");
        free(full);
    }
    if (j->n_logprobs >= 0)
        cJSON_AddItemToObject(c, "logprobs", chat ? chat_logprobs(s, j, 0, j->n) : completion_logprobs(s, j, 0, j->n));
    else
        cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddStringToObject(c, "finish_reason", j->finish ? j->finish : "stop");
    add_ints(c, "steps", j->steps, NULL, 0, j->n);
    add_ints(c, "token_ids", NULL, j->ids, 0, j->n);
    free(ptext);
    add_usage(root, j);
    cJSON *tm = cJSON_AddObjectToObject(root, "timings");
    cJSON_AddNumberToObject(tm, "queued_s", j->t_start - j->t_queued);
    cJSON_AddNumberToObject(tm, "first_token_s", j->t_first > 0 ? j->t_first - j->t_queued : 0);
    cJSON_AddNumberToObject(tm, "total_s", j->t_end - j->t_queued);
    reply_json(r, root);
}

/* Bytes at the end of the text that could still grow into a stop string: held back while streaming. */
static size_t stop_holdback(const srv_job *j) {
    size_t best = 0;
    for (int k = 0; k < j->n_stop; k++) {
        const size_t sl = strlen(j->stop[k]);
        for (size_t n = sl - 1; n > best; n--)
            if (n <= j->len && !memcmp(j->text + j->len - n, j->stop[k], n)) {
                best = n;
                break;
            }
    }
    return best;
}

static void append(char **buf, size_t *len, const char *s) {
    const size_t n = strlen(s);
    char *p = realloc(*buf, *len + n + 1);
    if (!p) return;
    memcpy(p + *len, s, n + 1);
    *buf = p, *len += n;
}

/* One server-sent event: tokens [from, to) with the text bytes [t0, t1), or the final event. */
static void stream_event(srv *s, srv_job *j, int64_t from, int64_t to, size_t t0, size_t t1, bool final, char **out,
                         size_t *olen) {
    const bool chat = j->kind == SRV_CHAT;
    cJSON *c = NULL, *root = envelope(j, chat ? "chat.completion.chunk" : "text_completion", &c);
    char *piece = malloc(t1 > t0 ? t1 - t0 + 1 : 1);
    if (piece) {
        if (t1 > t0) memcpy(piece, j->text + t0, t1 - t0);
        piece[t1 > t0 ? t1 - t0 : 0] = 0;
    }
    if (chat) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (from == 0 && !final) cJSON_AddStringToObject(d, "role", "assistant");
        if (!final || t1 > t0) cJSON_AddStringToObject(d, "content", piece ? piece : "");
    } else {
        cJSON_AddStringToObject(c, "text", piece ? piece : "");
    }
    free(piece);
    if (j->n_logprobs >= 0 && to > from)
        cJSON_AddItemToObject(c, "logprobs", chat ? chat_logprobs(s, j, from, to) : completion_logprobs(s, j, from, to));
    else
        cJSON_AddNullToObject(c, "logprobs");
    if (final) cJSON_AddStringToObject(c, "finish_reason", j->finish ? j->finish : "stop");
    else cJSON_AddNullToObject(c, "finish_reason");
    add_ints(c, "steps", j->steps, NULL, from, to);
    add_ints(c, "token_ids", NULL, j->ids, from, to);
    if (final) add_usage(root, j);
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    append(out, olen, "data: ");
    append(out, olen, js ? js : "{}");
    append(out, olen, "\n\n");
    free(js);
}

char *srv_api_stream_chunk(srv *s, srv_job *j, bool *done) {
    char *out = calloc(1, 1);
    size_t olen = 0;
    *done = false;
    if (!out) return NULL;
    if (j->status) { /* a failure after the stream started: an error event, then the end */
        srv_reply r = {0};
        srv_api_error(&r, j->status, "server_error", "%s", j->err);
        append(&out, &olen, "data: ");
        append(&out, &olen, r.body ? r.body : "{}");
        append(&out, &olen, "\n\ndata: [DONE]\n\n");
        free(r.body);
        *done = true;
        return out;
    }
    /* one event per token whose text can no longer become part of a stop string */
    const size_t safe = j->done ? j->len : j->len - stop_holdback(j);
    while (j->n_sent < j->n) {
        const int64_t k = j->n_sent;
        size_t end = j->tok_end[k] < j->len ? j->tok_end[k] : j->len;
        if (!j->done && end > safe) break;
        if (k == j->n - 1 && j->done) end = j->len;
        stream_event(s, j, k, k + 1, j->text_sent < end ? j->text_sent : end, end, false, &out, &olen);
        if (end > j->text_sent) j->text_sent = end;
        j->n_sent++;
    }
    if (j->done) {
        stream_event(s, j, j->n, j->n, j->text_sent, j->len, true, &out, &olen);
        j->text_sent = j->len;
        append(&out, &olen, "data: [DONE]\n\n");
        *done = true;
    }
    return out;
}

/* ---- endpoints without a job --------------------------------------------------------------------- */

static void metrics_text(srv *s, srv_reply *r) {
    pthread_mutex_lock(&s->mu);
    const srv_metrics m = s->m;
    const int64_t active = s->n_running, queued = s->n_queued;
    pthread_mutex_unlock(&s->mu);
    static const char *cls[6] = {"2xx", "400", "401", "404", "413", "5xx_or_429"};
    char *b = malloc(4096);
    if (!b) {
        srv_api_error(r, 500, "server_error", "out of memory");
        return;
    }
    int n = snprintf(b, 4096, "# HELP huginn_requests_total HTTP requests by status class.\n# TYPE huginn_requests_total counter\n");
    for (int k = 0; k < 6; k++) n += snprintf(b + n, (size_t)(4096 - n), "huginn_requests_total{status=\"%s\"} %lld\n", cls[k], (long long)m.requests[k]);
    n += snprintf(b + n, (size_t)(4096 - n),
                  "# TYPE huginn_prompt_tokens_total counter\nhuginn_prompt_tokens_total %lld\n"
                  "# TYPE huginn_generated_tokens_total counter\nhuginn_generated_tokens_total %lld\n"
                  "# TYPE huginn_core_iterations_total counter\nhuginn_core_iterations_total %lld\n"
                  "# HELP huginn_iterations_per_token Mean core iterations per generated token.\n"
                  "# TYPE huginn_iterations_per_token gauge\nhuginn_iterations_per_token %.6g\n"
                  "# HELP huginn_admissions_total Admissions: queued requests prefilled together, one call each.\n"
                  "# TYPE huginn_admissions_total counter\nhuginn_admissions_total %lld\n"
                  "# TYPE huginn_admitted_requests_total counter\nhuginn_admitted_requests_total %lld\n"
                  "# TYPE huginn_requests_active gauge\nhuginn_requests_active %lld\n"
                  "# TYPE huginn_requests_queued gauge\nhuginn_requests_queued %lld\n"
                  "# HELP huginn_tokens_per_second Generated tokens over the wall time of the requests that made them.\n"
                  "# TYPE huginn_tokens_per_second gauge\nhuginn_tokens_per_second %.6g\n",
                  (long long)m.prompt_tokens, (long long)m.generated_tokens, (long long)m.core_iterations,
                  m.generated_tokens ? (double)m.core_iterations / (double)m.generated_tokens : 0.0,
                  (long long)m.admissions, (long long)m.admitted, (long long)active,
                  (long long)queued, m.gen_seconds > 0 ? (double)m.generated_tokens / m.gen_seconds : 0.0);
    r->status = 200;
    r->body = b;
    r->content_type = "text/plain; version=0.0.4";
}

bool srv_api_simple(srv *s, const char *method, const char *path, const char *body, size_t len, srv_reply *r) {
    const bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(path, "/health")) {
        if (!get) return srv_api_error(r, 405, "invalid_request_error", "use GET"), true;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        reply_json(r, o);
        return true;
    }
    if (!strcmp(path, "/v1/models")) {
        if (!get) return srv_api_error(r, 405, "invalid_request_error", "use GET"), true;
        const hg_config *c = hg_model_config(s->model);
        cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "object", "list");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "data"), d);
        cJSON_AddStringToObject(d, "id", s->model_name);
        cJSON_AddStringToObject(d, "object", "model");
        cJSON_AddNumberToObject(d, "created", 0);
        cJSON_AddStringToObject(d, "owned_by", "huginn");
        cJSON *meta = cJSON_AddObjectToObject(d, "meta");
        cJSON_AddStringToObject(meta, "architecture", hg_arch_name(c->arch));
        cJSON_AddNumberToObject(meta, "n_params", (double)hg_model_n_params(s->model));
        cJSON_AddNumberToObject(meta, "n_ctx", (double)s->cfg.n_ctx);
        cJSON_AddNumberToObject(meta, "mean_recurrence", (double)c->mean_recurrence);
        cJSON_AddNumberToObject(meta, "max_steps", (double)s->cfg.max_steps);
        cJSON_AddNumberToObject(meta, "slots", (double)s->cfg.slots);
        reply_json(r, o);
        return true;
    }
    if (!strcmp(path, "/metrics")) {
        if (!get) return srv_api_error(r, 405, "invalid_request_error", "use GET"), true;
        metrics_text(s, r);
        return true;
    }
    if (strcmp(path, "/tokenize") && strcmp(path, "/detokenize")) return false;
    if (!post) return srv_api_error(r, 405, "invalid_request_error", "use POST"), true;
    if (!s->tok) return srv_api_error(r, 400, "invalid_request_error", "this model has no tokenizer"), true;
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return srv_api_error(r, 400, "invalid_request_error", "the body is not a JSON object"), true;
    }
    hg_error err = {0};
    cJSON *out = cJSON_CreateObject();
    if (!strcmp(path, "/tokenize")) { /* {"content", "add_special"} -> {"tokens"} */
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "content");
        bool add_special = false;
        if (!cJSON_IsString(c)) srv_api_error(r, 400, "invalid_request_error", "`content` must be a string");
        else if (get_bool(o, "add_special", &add_special, r)) {
            int32_t *ids = NULL;
            int64_t n = 0;
            if (encode_locked(s, c->valuestring, add_special, &ids, &n, &err)) {
                srv_api_error(r, 400, "invalid_request_error", "`content`: %s", err.msg);
            } else {
                add_ints(out, "tokens", NULL, ids, 0, n);
                hg_tokenizer_mem_free(ids);
                reply_json(r, out);
                out = NULL;
            }
        }
    } else { /* {"tokens"} -> {"content"} */
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tokens");
        const int64_t n = cJSON_IsArray(t) ? cJSON_GetArraySize(t) : -1;
        int32_t *ids = n >= 0 ? malloc((size_t)(n + 1) * sizeof *ids) : NULL;
        bool ok = ids != NULL;
        if (!ok) srv_api_error(r, 400, "invalid_request_error", "`tokens` must be an array of token ids");
        int64_t i = 0;
        for (const cJSON *e = ok ? t->child : NULL; e && ok; e = e->next, i++) {
            if (!cJSON_IsNumber(e) || floor(e->valuedouble) != e->valuedouble || e->valuedouble < 0 ||
                e->valuedouble >= hg_tokenizer_n_vocab(s->tok)) {
                ok = false;
                srv_api_error(r, 400, "invalid_request_error", "`tokens`[%lld] is not a token id", (long long)i);
            } else {
                ids[i] = (int32_t)e->valuedouble;
            }
        }
        char *text = NULL;
        size_t tl = 0;
        if (ok && hg_tokenizer_decode(s->tok, ids, n, false, &text, &tl, &err)) {
            ok = false;
            srv_api_error(r, 400, "invalid_request_error", "`tokens`: %s", err.msg);
        }
        if (ok) {
            char *z = malloc(tl + 1);
            if (z) memcpy(z, text, tl), z[tl] = 0;
            cJSON_AddStringToObject(out, "content", z ? z : "");
            free(z);
            reply_json(r, out);
            out = NULL;
        }
        hg_tokenizer_mem_free(text);
        free(ids);
    }
    cJSON_Delete(out);
    cJSON_Delete(o);
    return true;
}
