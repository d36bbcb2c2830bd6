/*
 * cmd_eval.c — `huginn eval`: a task file of multiple-choice, generation and rolling-loglikelihood
 * requests scored at several depths, as lm-eval scores them (docs/eval.md).
 *
 *   huginn eval [-m MODEL] --task FILE [--steps 1,2,4,8,16,32,64] [--exit CRITERION [--exit-threshold X]]
 *               [--limit N] [--fewshot K] [--chat [--system TEXT] [--chat-template NAME]] [--out DIR] [--json]
 *               [--batch N] [--no-share] [-c N] [--init-scale S] [--seed N] [--threads T]
 *
 * Each request is encoded once: the few-shot examples (the first K lines marked "fewshot": true, of
 * the same type) joined by blank lines before its context, or as chat turns under --chat; the model's
 * BOS in front. Then per depth:
 *   - multiple_choice: loglikelihood of every choice (hg_score_batch: the context prefilled once per
 *     question, continuations batched across questions; --no-share scores each choice alone as one
 *     window, the baseline of bench/eval/run.sh); acc and acc_norm (logprob / the choice's UTF-8 bytes);
 *   - generate_until: greedy generation through the scheduler (hg_sched, --batch requests at once, each
 *     ending at its stop strings or max_gen_toks), with --exit an adaptive exit per token; exact match
 *     strict (the line's regex) and flexible (the last number), tools/eval_answer.c;
 *   - loglikelihood_rolling: llama-perplexity's windows (hg_score_rolling); word and byte perplexity
 *     and bits per byte.
 * The continuation of a choice is split from the context as lm-eval does: the context's trailing
 * whitespace moves to the choice, context + choice is encoded whole and the choice's tokens are what
 * follows the context's tokens — unless the tokenizer merged across the boundary, then the choice is
 * encoded alone. Output: a table per depth (stdout), --json, and with --out DIR results.csv and
 * results.svg (score against depth and against mean core iterations per token). Progress on stderr.
 */
#include "cli.h"
#include "eval_answer.h"
#include "eval_report.h"
#include "eval_task.h"
#include "eval_util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct ev_opts {
    const char *model_path, *task_path, *out_dir, *system, *exit_name, *chat_template;
    int64_t depths[EVU_MAX_DEPTHS], n_depths, limit, fewshot, batch, threads, n_ctx;
    double exit_thr;
    float init_scale;
    uint64_t seed;
    bool chat, json, no_share;
} ev_opts;

/* One scored request, encoded once for every depth. */
typedef struct ev_req {
    const evt_item *it;
    int32_t *ctx_ids;   /* [n_ctx_ids] MC and GEN: BOS + few-shot + context (or the chat rendering) */
    int64_t n_ctx_ids;
    int32_t **conts;    /* MC: [n_choices] continuation ids */
    int64_t *cont_len;
    double *logprob;    /* MC: [n_choices] at the current depth */
    bool *greedy;
    double bytes, words; /* ROLL: UTF-8 bytes and whitespace-separated words of the text */
} ev_req;

typedef struct ev_run {
    ev_opts o;
    evt_task task;
    hg_model *m;
    hg_tokenizer *tok;
    ev_req *reqs;
    int64_t n_reqs, n_mc, n_gen, n_roll, n_ctx, max_r;
    hg_batch *b;   /* MC and ROLL */
    hg_sched *sch; /* GEN */
    evr_row rows[EVU_MAX_DEPTHS];
} ev_run;

static int usage(void) {
    fprintf(stderr,
            "usage: huginn eval [-m MODEL] --task FILE [--steps 1,2,4,8,16,32,64] [--exit CRITERION [--exit-threshold X]]\n"
            "                   [--limit N] [--fewshot K] [--chat [--system TEXT] [--chat-template NAME]] [--out DIR]\n"
            "                   [--json] [--batch N] [--no-share] [-c N] [--init-scale S] [--seed N] [--threads T]\n"
            "task files: JSON Lines (docs/eval.md \"Task files\")\n");
    return 1;
}

static int parse_args(int argc, char **argv, ev_opts *o) {
    const char *steps = "1,2,4,8,16,32,64";
    *o = (ev_opts){.batch = 8, .exit_thr = (double)NAN};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        if (!strcmp(a, "--chat")) { o->chat = true; continue; }
        if (!strcmp(a, "--no-share")) { o->no_share = true; continue; }
        if (!(v = cli_value(argc, argv, &i, "eval", "-m --task --steps --out --system --chat-template --exit --exit-threshold --limit --fewshot --batch -c --init-scale --seed --threads"))) return 1;
        float f = 0;
        if (!strcmp(a, "-m")) o->model_path = v;
        else if (!strcmp(a, "--task")) o->task_path = v;
        else if (!strcmp(a, "--steps")) steps = v;
        else if (!strcmp(a, "--out")) o->out_dir = v;
        else if (!strcmp(a, "--system")) o->system = v;
        else if (!strcmp(a, "--chat-template")) {
            if (!cli_chat_template_known("eval", v)) return 1;
            o->chat_template = v;
        }
        else if (!strcmp(a, "--exit")) o->exit_name = v;
        else if (!strcmp(a, "--exit-threshold")) {
            if (!cli_parse_f32(v, &f) || !(f >= 0)) return cli_fail("--exit-threshold: need a number >= 0");
            o->exit_thr = (double)f;
        } else if (!strcmp(a, "--limit")) {
            if (!cli_parse_i64(v, &o->limit) || o->limit < 1) return cli_fail("--limit: need an integer >= 1");
        } else if (!strcmp(a, "--fewshot")) {
            if (!cli_parse_i64(v, &o->fewshot) || o->fewshot < 0) return cli_fail("--fewshot: need an integer >= 0");
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_i64(v, &o->batch) || o->batch < 1 || o->batch > 64) return cli_fail("--batch: need 1..64");
        } else if (!strcmp(a, "-c")) {
            if (!cli_parse_i64(v, &o->n_ctx) || o->n_ctx < 2) return cli_fail("-c: need an integer >= 2");
        } else if (!strcmp(a, "--init-scale")) {
            if (!cli_parse_f32(v, &o->init_scale) || !(o->init_scale >= 0)) return cli_fail("--init-scale: need >= 0");
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(v, &o->seed)) return cli_fail("--seed: need an unsigned integer");
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_i64(v, &o->threads) || o->threads < 0) return cli_fail("--threads: need an integer >= 0");
        } else return cli_fail("eval: unknown option `%s`", a), usage();
    }
    if (!o->model_path) o->model_path = cli_default_model();
    if (!o->model_path || !o->task_path) return usage();
    if (o->system && !o->chat) return cli_fail("eval: --system needs --chat");
    if (o->chat_template && !o->chat) return cli_fail("eval: --chat-template needs --chat");
    if (!isnan(o->exit_thr) && !o->exit_name) return cli_fail("eval: --exit-threshold needs --exit");
    return evu_parse_depths(steps, o->depths, &o->n_depths) ? -1 : 1;
}

/* ---- encoding ------------------------------------------------------------------------------------- */

static bool append(char **s, size_t *len, size_t *cap, const char *t) {
    const size_t n = strlen(t);
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *q = realloc(*s, c);
        if (!q) return false;
        *s = q, *cap = c;
    }
    memcpy(*s + *len, t, n + 1);
    *len += n;
    return true;
}

/* The prompt of item `it` as text (few-shot examples, then the context), for the non-chat path. */
static char *plain_prompt(const ev_run *ev, const evt_item *it) {
    char *s = NULL;
    size_t len = 0, cap = 0;
    bool ok = append(&s, &len, &cap, "");
    for (int64_t i = 0, k = 0; ok && i < ev->task.n && k < ev->o.fewshot; i++) {
        const evt_item *ex = &ev->task.items[i];
        if (!ex->fewshot || ex->type != it->type) continue;
        ok = append(&s, &len, &cap, ex->context) && append(&s, &len, &cap, evt_answer(ex)) &&
             append(&s, &len, &cap, "\n\n");
        k++;
    }
    if (ok) ok = append(&s, &len, &cap, it->context);
    if (!ok) free(s), s = NULL;
    return s;
}

/* Chat: [system], one user/assistant pair per few-shot example, the user's context; rendered with the
 * assistant header (hg_chat_encode). */
static bool chat_prompt(ev_run *ev, const evt_item *it, int32_t **ids, int64_t *n) {
    hg_chat_msg msgs[2 * 64 + 2];
    size_t k = 0;
    if (ev->o.system) msgs[k++] = (hg_chat_msg){"system", ev->o.system};
    for (int64_t i = 0, f = 0; i < ev->task.n && f < ev->o.fewshot && f < 64; i++) {
        const evt_item *ex = &ev->task.items[i];
        if (!ex->fewshot || ex->type != it->type) continue;
        msgs[k++] = (hg_chat_msg){"user", ex->context};
        msgs[k++] = (hg_chat_msg){"assistant", evt_answer(ex)};
        f++;
    }
    msgs[k++] = (hg_chat_msg){"user", it->context};
    hg_error err = {0};
    int32_t *raw = NULL;
    if (hg_chat_encode(ev->tok, msgs, k, true, &raw, n, &err)) return cli_fail_err(&err), false;
    *ids = malloc((size_t)(*n ? *n : 1) * sizeof **ids);
    if (*ids) memcpy(*ids, raw, (size_t)*n * sizeof **ids);
    hg_tokenizer_mem_free(raw);
    return *ids != NULL;
}

/* Choice j of an MC request: lm-eval's split of context + continuation (file comment). */
static bool encode_choice(ev_run *ev, ev_req *r, const char *prompt, size_t ws, int64_t j) {
    const char *choice = r->it->choices[j];
    const size_t pl = strlen(prompt), cl = strlen(choice);
    char *x = malloc(ws + cl + 1); /* the moved whitespace + the choice */
    if (!x) return cli_fail("out of memory"), false;
    memcpy(x, prompt + pl - ws, ws), memcpy(x + ws, choice, cl + 1);
    int32_t *whole = NULL, *ids = NULL;
    int64_t n_whole = 0, n = 0;
    bool ok = true;
    if (!ev->o.chat) {
        char *full = malloc(pl + cl + 1);
        if (!full) return free(x), cli_fail("out of memory"), false;
        memcpy(full, prompt, pl), memcpy(full + pl, choice, cl + 1);
        ok = evu_encode(ev->tok, full, pl + cl, true, &whole, &n_whole);
        free(full);
        if (ok && n_whole > r->n_ctx_ids && !memcmp(whole, r->ctx_ids, (size_t)r->n_ctx_ids * sizeof *whole)) {
            n = n_whole - r->n_ctx_ids;
            ids = malloc((size_t)n * sizeof *ids);
            if (ids) memcpy(ids, whole + r->n_ctx_ids, (size_t)n * sizeof *ids);
            else ok = false;
        }
    }
    if (ok && !ids) ok = evu_encode(ev->tok, ev->o.chat ? choice : x, ev->o.chat ? cl : ws + cl, false, &ids, &n);
    free(whole), free(x);
    if (ok && n < 1) free(ids), ids = NULL, ok = false, cli_fail("%s:%lld: choice %lld encodes to no tokens",
                                                                  ev->o.task_path, (long long)r->it->line, (long long)j);
    r->conts[j] = ids, r->cont_len[j] = n;
    return ok;
}

static bool encode_request(ev_run *ev, ev_req *r) {
    const evt_item *it = r->it;
    if (it->type == EVT_ROLL) {
        const char *t = it->text;
        r->bytes = (double)strlen(t);
        for (const char *p = t; *p;) { /* words as lm-eval counts them: re.split(r"\s+", text) */
            while (*p && isspace((unsigned char)*p)) p++;
            if (*p) r->words++;
            while (*p && !isspace((unsigned char)*p)) p++;
        }
        return evu_encode(ev->tok, t, strlen(t), true, &r->ctx_ids, &r->n_ctx_ids);
    }
    if (ev->o.chat) {
        if (!chat_prompt(ev, it, &r->ctx_ids, &r->n_ctx_ids)) return false;
    }
    char *prompt = ev->o.chat ? NULL : plain_prompt(ev, it);
    if (!ev->o.chat && !prompt) return cli_fail("out of memory"), false;
    size_t ws = 0;
    if (prompt) {
        const size_t pl = strlen(prompt);
        while (it->type == EVT_MC && ws < pl && isspace((unsigned char)prompt[pl - 1 - ws])) ws++;
        if (!evu_encode(ev->tok, prompt, pl - ws, true, &r->ctx_ids, &r->n_ctx_ids)) return free(prompt), false;
    }
    bool ok = r->n_ctx_ids >= 1 || (cli_fail("%s:%lld: empty context", ev->o.task_path, (long long)it->line), false);
    if (ok && it->type == EVT_MC) {
        r->conts = calloc((size_t)it->n_choices, sizeof *r->conts);
        r->cont_len = calloc((size_t)it->n_choices, sizeof *r->cont_len);
        r->logprob = calloc((size_t)it->n_choices, sizeof *r->logprob);
        r->greedy = calloc((size_t)it->n_choices, sizeof *r->greedy);
        ok = r->conts && r->cont_len && r->logprob && r->greedy;
        for (int64_t j = 0; ok && j < it->n_choices; j++) ok = encode_choice(ev, r, prompt ? prompt : "", ws, j);
    }
    free(prompt);
    return ok;
}

/* ---- one depth per task type ---------------------------------------------------------------------- */

/* Multiple choice at depth r: acc and acc_norm; tokens and seconds added to the row. */
static int run_mc(ev_run *ev, int64_t r, evr_row *row, double *tokens) {
    hg_score_params sp = hg_score_default_params();
    sp.n_steps = r, sp.init_scale = ev->o.init_scale, sp.seed = ev->o.seed;
    hg_score_request *sr = calloc((size_t)ev->n_mc, sizeof *sr);
    if (!sr) return cli_fail("out of memory");
    int64_t k = 0;
    for (int64_t i = 0; i < ev->n_reqs; i++) {
        ev_req *q = &ev->reqs[i];
        if (q->it->type != EVT_MC) continue;
        sr[k++] = (hg_score_request){.context = q->ctx_ids, .n_context = q->n_ctx_ids,
                                     .conts = (const int32_t *const *)q->conts, .cont_len = q->cont_len,
                                     .n_conts = q->it->n_choices, .logprob = q->logprob, .greedy = q->greedy};
        for (int64_t j = 0; j < q->it->n_choices; j++) *tokens += (double)(q->n_ctx_ids + q->cont_len[j]);
    }
    char label[64];
    snprintf(label, sizeof label, "multiple choice r=%lld", (long long)r);
    evu_bar bar;
    evu_bar_start(&bar, label, false);
    hg_error err = {0};
    int rc = 0;
    if (!ev->o.no_share) {
        if (hg_score_batch(ev->b, sr, k, &sp, evu_bar_cb, &bar, &err)) rc = cli_fail_err(&err);
    } else { /* the baseline: each choice alone, context + choice as one window */
        hg_ctx *ctx = hg_batch_ctx(ev->b, 0);
        for (int64_t q = 0; q < k && !rc; q++) {
            for (int64_t j = 0; j < sr[q].n_conts && !rc; j++) {
                const int64_t n = sr[q].n_context + sr[q].cont_len[j];
                int32_t *ids = malloc((size_t)n * sizeof *ids);
                double *lp = malloc((size_t)n * sizeof *lp);
                bool *g = malloc((size_t)n * sizeof *g);
                if (!ids || !lp || !g) rc = cli_fail("out of memory");
                else {
                    memcpy(ids, sr[q].context, (size_t)sr[q].n_context * sizeof *ids);
                    memcpy(ids + sr[q].n_context, sr[q].conts[j], (size_t)sr[q].cont_len[j] * sizeof *ids);
                    if (hg_score_tokens(ctx, ids, n, sr[q].n_context, &sp, lp, g, &err)) rc = cli_fail_err(&err);
                    sr[q].logprob[j] = 0, sr[q].greedy[j] = true;
                    for (int64_t i = sr[q].n_context; !rc && i < n; i++)
                        sr[q].logprob[j] += lp[i], sr[q].greedy[j] = sr[q].greedy[j] && g[i];
                }
                free(ids), free(lp), free(g);
            }
            evu_bar_update(&bar, q + 1, k);
        }
    }
    free(sr);
    if (rc) return rc;
    double acc = 0, accn = 0;
    for (int64_t i = 0; i < ev->n_reqs; i++) {
        const ev_req *q = &ev->reqs[i];
        if (q->it->type != EVT_MC) continue;
        int64_t best = 0, bestn = 0;
        for (int64_t j = 1; j < q->it->n_choices; j++) {
            if (q->logprob[j] > q->logprob[best]) best = j;
            if (q->logprob[j] / (double)strlen(q->it->choices[j]) >
                q->logprob[bestn] / (double)strlen(q->it->choices[bestn]))
                bestn = j;
        }
        acc += best == q->it->gold, accn += bestn == q->it->gold;
    }
    const double n = (double)ev->n_mc;
    row->has[EVR_ACC] = row->has[EVR_ACC_NORM] = true;
    row->value[EVR_ACC] = acc / n, row->value[EVR_ACC_NORM] = accn / n;
    return 0;
}

/* A generation in progress: the text so far (detokenized), its stop strings, steps per token. */
typedef struct gen_job {
    const evt_item *it;
    hg_detok *dt;
    char *text;
    size_t len, cap;
    int64_t steps, n_tok;
    int32_t *out;
    bool oom;
} gen_job;

static bool gen_token(void *user, int32_t id, int64_t steps, const float *logits) {
    (void)logits;
    gen_job *j = user;
    const char *piece = NULL;
    size_t n = 0;
    hg_error err = {0};
    j->steps += steps, j->n_tok++;
    if (hg_detok_push(j->dt, id, &piece, &n, &err)) return false;
    if (j->len + n + 1 > j->cap) {
        size_t c = (j->len + n + 1) * 2;
        char *q = realloc(j->text, c);
        if (!q) return j->oom = true, false;
        j->text = q, j->cap = c;
    }
    memcpy(j->text + j->len, piece, n);
    j->text[j->len += n] = 0;
    for (int64_t u = 0; u < j->it->n_until; u++)
        if (strstr(j->text, j->it->until[u])) return false;
    return true;
}

/* Scores one finished generation: the text cut at its first stop string, strict and flexible answers. */
static int score_gen(ev_run *ev, gen_job *j, double *em, double *flex) {
    char *t = j->text ? j->text : (char *)"";
    for (int64_t u = 0; u < j->it->n_until; u++) {
        char *p = strstr(t, j->it->until[u]);
        if (p) *p = 0;
    }
    char want[512], got[512], why[256];
    eva_normalise(j->it->target, strlen(j->it->target), want, sizeof want);
    if (j->it->regex) {
        if (!eva_regex(j->it->regex, t, got, sizeof got, why, sizeof why))
            return cli_fail("%s:%lld: regex: %s", ev->o.task_path, (long long)j->it->line, why);
    } else
        eva_normalise(t, strlen(t), got, sizeof got);
    *em += !strcmp(got, want);
    eva_last_number(t, got, sizeof got);
    *flex += !strcmp(got, want);
    return 0;
}

static int run_gen(ev_run *ev, int64_t r, evr_row *row, double *tokens, double *iters, double *gen_tokens) {
    gen_job *jobs = calloc((size_t)ev->n_gen, sizeof *jobs);
    if (!jobs) return cli_fail("out of memory");
    const int32_t eos = hg_tokenizer_eos_id(ev->tok);
    hg_error err = {0};
    int rc = 0;
    int64_t next = 0, done = 0, k = 0;
    ev_req **gq = calloc((size_t)ev->n_gen, sizeof *gq);
    if (!gq) return free(jobs), cli_fail("out of memory");
    for (int64_t i = 0; i < ev->n_reqs; i++)
        if (ev->reqs[i].it->type == EVT_GEN) gq[k++] = &ev->reqs[i];
    char label[64];
    snprintf(label, sizeof label, "generation r=%lld", (long long)r);
    evu_bar bar;
    evu_bar_start(&bar, label, false);
    while (!rc && (next < k || hg_sched_n_running(ev->sch) > 0)) {
        while (!rc && next < k && hg_sched_n_running(ev->sch) < hg_sched_n_slots(ev->sch)) {
            ev_req *q = gq[next];
            gen_job *j = &jobs[next++];
            j->it = q->it;
            const int64_t max_new = hg_min_i64_cli(q->it->max_gen_toks, ev->n_ctx - q->n_ctx_ids);
            if (max_new < 1) { rc = cli_fail("%s:%lld: the prompt fills the context (-c)", ev->o.task_path, (long long)q->it->line); break; }
            if (hg_detok_init(ev->tok, true, &j->dt, &err) || !(j->out = malloc((size_t)max_new * sizeof *j->out))) {
                rc = j->dt ? cli_fail("out of memory") : cli_fail_err(&err);
                break;
            }
            hg_request rq = hg_request_default();
            rq.prompt = q->ctx_ids, rq.n_prompt = q->n_ctx_ids;
            rq.gen.n_steps = r, rq.gen.max_new_tokens = max_new, rq.gen.init_scale = ev->o.init_scale;
            rq.gen.seed = ev->o.seed, rq.gen.sampler.temperature = 0;
            rq.gen.eos_ids = &eos, rq.gen.n_eos = eos >= 0;
            if (ev->o.exit_name) {
                rq.adaptive = true;
                if (hg_exit_criterion_parse(ev->o.exit_name, &rq.exit.criterion, &err)) { rc = cli_fail_err(&err); break; }
                rq.exit.threshold = ev->o.exit_thr;
            }
            rq.cb = gen_token, rq.user = j, rq.out_ids = j->out;
            *tokens += (double)q->n_ctx_ids;
            if (hg_sched_add(ev->sch, &rq, NULL, &err)) rc = cli_fail_err(&err);
        }
        if (!rc && hg_sched_n_running(ev->sch) > 0 && hg_sched_step(ev->sch, &err)) rc = cli_fail_err(&err);
        done = next - hg_sched_n_running(ev->sch);
        evu_bar_update(&bar, done, k);
    }
    double em = 0, flex = 0;
    for (int64_t i = 0; i < k; i++) {
        if (!rc && jobs[i].oom) rc = cli_fail("out of memory");
        if (!rc && jobs[i].it) rc = score_gen(ev, &jobs[i], &em, &flex);
        *tokens += (double)jobs[i].n_tok, *iters += (double)jobs[i].steps, *gen_tokens += (double)jobs[i].n_tok;
        hg_detok_free(jobs[i].dt), free(jobs[i].text), free(jobs[i].out);
    }
    free(jobs), free(gq);
    row->has[EVR_EM] = row->has[EVR_EM_FLEX] = true;
    row->value[EVR_EM] = em / (double)ev->n_gen, row->value[EVR_EM_FLEX] = flex / (double)ev->n_gen;
    return rc;
}

static int run_roll(ev_run *ev, int64_t r, evr_row *row, double *tokens) {
    hg_score_params sp = hg_score_default_params();
    sp.n_steps = r, sp.init_scale = ev->o.init_scale, sp.seed = ev->o.seed;
    double lp_sum = 0, words = 0, bytes = 0;
    hg_error err = {0};
    char label[64];
    snprintf(label, sizeof label, "rolling loglikelihood r=%lld", (long long)r);
    evu_bar bar;
    evu_bar_start(&bar, label, false);
    for (int64_t i = 0, k = 0; i < ev->n_reqs; i++) {
        ev_req *q = &ev->reqs[i];
        if (q->it->type != EVT_ROLL) continue;
        double *lp = malloc((size_t)q->n_ctx_ids * sizeof *lp);
        if (!lp) return cli_fail("out of memory");
        if (hg_score_rolling(hg_batch_ctx(ev->b, 0), q->ctx_ids, q->n_ctx_ids, ev->n_ctx, ev->n_ctx / 2 > 0 ? ev->n_ctx / 2 : 1,
                             &sp, lp, NULL, NULL, &err))
            return free(lp), cli_fail_err(&err);
        for (int64_t t = 1; t < q->n_ctx_ids; t++) lp_sum += lp[t];
        free(lp);
        words += q->words, bytes += q->bytes, *tokens += (double)q->n_ctx_ids;
        evu_bar_update(&bar, ++k, ev->n_roll);
    }
    row->has[EVR_WORD_PPL] = row->has[EVR_BYTE_PPL] = row->has[EVR_BPB] = true;
    row->value[EVR_WORD_PPL] = exp(-lp_sum / (words > 0 ? words : 1));
    row->value[EVR_BYTE_PPL] = exp(-lp_sum / (bytes > 0 ? bytes : 1));
    row->value[EVR_BPB] = -lp_sum / (bytes > 0 ? bytes : 1) / log(2.0);
    return 0;
}

/* ---- the command ---------------------------------------------------------------------------------- */

static int setup(ev_run *ev) {
    ev_opts *o = &ev->o;
    if (!evt_load(o->task_path, &ev->task)) return 1;
    hg_error err = {0};
    if (hg_model_load(o->model_path, NULL, &ev->m, &err) || hg_model_tokenizer(ev->m, &ev->tok, &err))
        return cli_fail_err(&err);
    if (o->chat && cli_chat_format("eval", ev->tok, o->chat_template)) return 1;
    ev->n_ctx = o->n_ctx ? o->n_ctx : hg_model_config(ev->m)->block_size;
    if (!(ev->reqs = calloc((size_t)ev->task.n, sizeof *ev->reqs))) return cli_fail("out of memory");
    for (int64_t i = 0; i < ev->task.n && (!o->limit || ev->n_reqs < o->limit); i++) {
        const evt_item *it = &ev->task.items[i];
        if (it->fewshot) continue;
        ev_req *r = &ev->reqs[ev->n_reqs++];
        r->it = it;
        if (!encode_request(ev, r)) return 1;
        ev->n_mc += it->type == EVT_MC, ev->n_gen += it->type == EVT_GEN, ev->n_roll += it->type == EVT_ROLL;
    }
    if (!ev->n_reqs) return cli_fail("%s: no requests to score (only few-shot examples)", o->task_path);
    /* an exit decides per generated token; a scored position has no token of its own to stop on */
    if (o->exit_name && ev->n_mc + ev->n_roll)
        fprintf(stderr, "huginn: note: --exit applies to generate_until requests; loglikelihood requests run "
                        "every depth of --steps in full\n");
    for (int64_t d = 0; d < o->n_depths; d++) ev->max_r = o->depths[d] > ev->max_r ? o->depths[d] : ev->max_r;
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = o->batch, bp.ctx.n_ctx = ev->n_ctx, bp.ctx.max_steps = ev->max_r > 0 ? ev->max_r : 1;
    bp.ctx.n_threads = (int)o->threads;
    if (ev->n_mc + ev->n_roll) {
        hg_batch_params b1 = bp;
        if (!ev->n_mc || o->no_share) b1.n_seq = 1;
        if (hg_batch_init(ev->m, &b1, &ev->b, &err)) return cli_fail_err(&err);
    }
    if (ev->n_gen && hg_sched_init(ev->m, &bp, &ev->sch, &err)) return cli_fail_err(&err);
    return 0;
}

static int run_depths(ev_run *ev) {
    int rc = 0;
    for (int64_t d = 0; d < ev->o.n_depths && !rc; d++) {
        const int64_t r = ev->o.depths[d];
        evr_row *row = &ev->rows[d];
        *row = (evr_row){.steps = r, .n = ev->n_reqs};
        for (int k = 0; k < EVR_N_METRICS; k++) row->se[k] = (double)NAN;
        double tokens = 0, iters = 0, gen_tokens = 0;
        const double t0 = cli_now();
        if (ev->n_mc) rc = run_mc(ev, r, row, &tokens);
        const double before_gen = tokens;
        if (!rc && ev->n_gen) rc = run_gen(ev, r, row, &tokens, &iters, &gen_tokens);
        const double gen_all = tokens - before_gen; /* prompts + generated tokens */
        if (!rc && ev->n_roll) rc = run_roll(ev, r, row, &tokens);
        row->seconds = cli_now() - t0;
        row->tokens_per_s = row->seconds > 0 ? tokens / row->seconds : 0;
        /* per token that has its own iteration count: a generated token its steps (an adaptive exit
           decides them), a scored position r; generation prompts are prefill, not counted */
        const double scored = tokens - gen_all, counted = scored + gen_tokens;
        row->mean_iterations = counted > 0 ? (iters + scored * (double)r) / counted : (double)r;
        const double ns[EVR_N_METRICS] = {(double)ev->n_mc, (double)ev->n_mc, (double)ev->n_gen, (double)ev->n_gen};
        for (int k = 0; k <= EVR_EM_FLEX; k++) /* the sample standard error lm-eval reports */
            if (row->has[k] && ns[k] > 1) row->se[k] = sqrt(row->value[k] * (1 - row->value[k]) / (ns[k] - 1));
    }
    return rc;
}

static int write_outputs(const ev_run *ev) {
    const ev_opts *o = &ev->o;
    if (o->json) evr_print_json(ev->rows, o->n_depths);
    else evr_print_table(o->task_path, ev->rows, o->n_depths);
    if (!o->out_dir) return 0;
    mkdir(o->out_dir, 0777); /* an existing directory is fine; a failure shows when the files are written */
    char path[4096], title[1024];
    snprintf(path, sizeof path, "%s/results.csv", o->out_dir);
    if (!evr_write_csv(path, ev->rows, o->n_depths)) return 1;
    snprintf(path, sizeof path, "%s/results.svg", o->out_dir);
    snprintf(title, sizeof title, "%s on %s", o->model_path, o->task_path);
    return evr_write_svg(path, title, ev->rows, o->n_depths) ? 0 : 1;
}

int cmd_eval(int argc, char **argv) {
    ev_run ev = {0};
    int rc = parse_args(argc, argv, &ev.o);
    if (rc >= 0) return rc;
    if (!(rc = setup(&ev)) && !(rc = run_depths(&ev))) rc = write_outputs(&ev);
    for (int64_t i = 0; ev.reqs && i < ev.n_reqs; i++) {
        ev_req *r = &ev.reqs[i];
        for (int64_t j = 0; r->conts && j < r->it->n_choices; j++) free(r->conts[j]);
        free(r->conts), free(r->cont_len), free(r->logprob), free(r->greedy), free(r->ctx_ids);
    }
    free(ev.reqs);
    hg_sched_free(ev.sch);
    hg_batch_free(ev.b);
    hg_tokenizer_free(ev.tok);
    hg_model_free(ev.m);
    evt_free(&ev.task);
    return rc;
}
