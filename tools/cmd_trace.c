/*
 * cmd_trace.c — `huginn trace`: generate as `huginn run` would and write every core iteration of every
 * position to .npy files (docs/trace.md "Files"):
 *   huginn trace [-m MODEL] (-p TEXT [--no-bos] | --ids 1,2,3 | --chat -p TEXT [--system TEXT]) --steps R
 *                [-n N] [--top-k K] [--exit CRITERION [--exit-threshold X] [--min-steps N] [--check-every N]
 *                [--no-exit-in-prefill]] [--warm-start [--warm-state normalized|raw]] [--init-scale S]
 *                [--seed N] [--temp T] [--eos ID] [--kv-cache S] [--positions A:B] [--threads N] [--lens-chunk N] [--plots]
 *                --out DIR
 * --lens-chunk N: positions per logit-lens coda call (default 64), which bounds its [N, V] logits.
 * The loop is hg_generate_traced (src/generate/trace.c); this file is its observer: it turns each
 * iteration's state, ln_f(state) and lens logits into rows of position-major arrays [T, R+1, ...]
 * written in place at their offsets (memory stays one group's rows, whatever T and R are), keeps the
 * group's last rows to carry an early-exited position forward to t = R, and computes KL to the final
 * prediction at the group's end from the lens log-probabilities it spilled to a temporary file.
 * A position that exits at iteration e carries its state, latents and lens forward: rows e+1 .. R
 * repeat row e, delta is 0 there and exit values NaN.
 */
#include "cli.h"
#include "npy.h"
#include "run_text.h"
#include "trace_plot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { A_LAT, A_ST, A_DELTA, A_TKI, A_TKL, A_ENT, A_KL, A_EXIT, A_COUNT };
static const char *const k_names[A_COUNT] = {"latents.npy", "states.npy", "delta.npy", "topk_ids.npy",
                                             "topk_logprobs.npy", "entropy.npy", "kl_to_final.npy", "exit_values.npy"};

typedef struct tw {
    int64_t A, B;        /* kept positions [A, B) */
    int64_t R, h, V, K, gmax;
    npy_file f[A_COUNT];
    int64_t gpos0, gT;   /* the current group */
    float *prev_s;       /* [gmax, h] state at t-1 (delta) */
    float *last_lat, *last_s; /* [gmax, h] rows at the group's latest t */
    int32_t *last_ids;   /* [gmax, K] */
    float *last_lp, *last_ent; /* [gmax, K], [gmax] */
    float *gexit;        /* [R+1] the group's exit values */
    double *lp;          /* [V] log-probabilities of one row */
    float *lpf, *lpf2;   /* [V] f32 copies (spill, KL) */
    int32_t *order;      /* [V] top-k scratch */
    float *row;          /* [max(R+1, K)] scratch */
    FILE *spill;         /* [t][group position][V] lens log-probabilities of the current group */
    int32_t *steps;      /* [n positions] iterations of each position */
    int64_t n_pos;
} tw;

static bool kept(const tw *w, int64_t p) { return p >= w->A && p < w->B; }

/* The observer's failures go back through hg_generate_traced, which returns them. */
static hg_status fail_st(hg_error *err, hg_status st, const char *msg) {
    if (err) err->status = st, snprintf(err->msg, sizeof err->msg, "%s", msg);
    return st;
}
static hg_status io_err(hg_error *err) { return fail_st(err, HG_STATUS_IO, "trace: writing the output failed"); }

/* log-softmax in double (max subtracted), entropy -Σ p log p, and the top K ids (ties: lower id). */
static const double *g_sort_lp; /* qsort has no context argument; set just before each sort */
static int by_lp(const void *a, const void *b) {
    const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (g_sort_lp[x] != g_sort_lp[y]) return g_sort_lp[x] > g_sort_lp[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static float row_stats(tw *w, const float *logits, int32_t *ids, float *lps) {
    const int64_t V = w->V, K = w->K;
    double mx = (double)logits[0], sum = 0, ent = 0;
    for (int64_t v = 1; v < V; v++) mx = (double)logits[v] > mx ? (double)logits[v] : mx;
    for (int64_t v = 0; v < V; v++) sum += w->lp[v] = exp((double)logits[v] - mx); /* one exp per entry */
    const double lse = mx + log(sum);
    for (int64_t v = 0; v < V; v++) {
        const double p = w->lp[v] / sum;
        w->lp[v] = (double)logits[v] - lse;
        ent -= p * w->lp[v];
    }
    if (K * 8 < V) { /* few wanted: insertion into a sorted list of K */
        int64_t n = 0;
        for (int64_t v = 0; v < V; v++) {
            if (n == K && w->lp[v] <= w->lp[w->order[K - 1]]) continue;
            int64_t j = n < K ? n++ : K - 1;
            while (j > 0 && w->lp[w->order[j - 1]] < w->lp[v]) w->order[j] = w->order[j - 1], j--;
            w->order[j] = (int32_t)v;
        }
    } else {
        for (int64_t v = 0; v < V; v++) w->order[v] = (int32_t)v;
        g_sort_lp = w->lp;
        qsort(w->order, (size_t)V, sizeof *w->order, by_lp);
    }
    for (int64_t k = 0; k < K; k++) ids[k] = w->order[k], lps[k] = (float)w->lp[w->order[k]];
    return (float)ent;
}

static hg_status on_step(void *user, const hg_trace_step *ts, hg_error *err) {
    tw *w = user;
    const int64_t h = w->h, V = w->V, K = w->K, R1 = w->R + 1;
    if (ts->t == 0 && ts->pos0 == ts->group_pos0) {
        if (ts->group_T > w->gmax) return fail_st(err, HG_STATUS_LIMIT, "trace: group larger than planned");
        w->gpos0 = ts->group_pos0, w->gT = ts->group_T;
        for (int64_t t = 0; t < R1; t++) w->gexit[t] = NAN;
    }
    if (!isnan(ts->exit_value)) w->gexit[ts->t] = (float)ts->exit_value;
    for (int64_t i = 0; i < ts->T; i++) {
        const int64_t p = ts->pos0 + i, g = p - w->gpos0;
        const float *s = ts->s + i * h;
        float *ps = w->prev_s + g * h;
        double dd = 0, ss = 0;
        for (int64_t j = 0; ts->t > 0 && j < h; j++) { /* t = 0 has no previous state */
            const double a = (double)s[j], b = (double)ps[j];
            dd += (a - b) * (a - b), ss += a * a;
        }
        /* ‖s_t − s_{t−1}‖ / ‖s_t‖; 0 when both are zero */
        const float delta = ss > 0 ? (float)sqrt(dd / ss) : dd > 0 ? INFINITY : 0.0f;
        memcpy(ps, s, (size_t)h * sizeof(float));
        memcpy(w->last_s + g * h, s, (size_t)h * sizeof(float));
        memcpy(w->last_lat + g * h, ts->latents + i * h, (size_t)h * sizeof(float));
        w->last_ent[g] = row_stats(w, ts->logits + i * V, w->last_ids + g * K, w->last_lp + g * K);
        for (int64_t v = 0; v < V; v++) w->lpf[v] = (float)w->lp[v];
        if (fseeko(w->spill, (off_t)((ts->t * w->gT + g) * V) * 4, SEEK_SET) || fwrite(w->lpf, 4, (size_t)V, w->spill) != (size_t)V)
            return io_err(err);
        if (!kept(w, p)) continue;
        const int64_t r = (p - w->A) * R1 + ts->t;
        if (!npy_write_at(&w->f[A_LAT], r * h, ts->latents + i * h, h) || !npy_write_at(&w->f[A_ST], r * h, s, h) ||
            !npy_write_at(&w->f[A_TKI], r * K, w->last_ids + g * K, K) || !npy_write_at(&w->f[A_TKL], r * K, w->last_lp + g * K, K) ||
            !npy_write_at(&w->f[A_ENT], r, &w->last_ent[g], 1) ||
            (ts->t > 0 && !npy_write_at(&w->f[A_DELTA], (p - w->A) * w->R + ts->t - 1, &delta, 1)))
            return io_err(err);
    }
    return HG_OK;
}

/* The group ran `steps` iterations: carry its last rows forward to t = R, write its exit values and
 * the KL of every iteration's lens to the final one, KL(p_final ‖ p_t) = Σ p_final (log p_final − log p_t). */
static hg_status on_group(void *user, int64_t pos0, int64_t T, int64_t steps, hg_error *err) {
    tw *w = user;
    const int64_t h = w->h, V = w->V, K = w->K, R1 = w->R + 1;
    const float zero = 0.0f;
    for (int64_t g = 0; g < T; g++) {
        const int64_t p = pos0 + g;
        if (p >= w->n_pos) return fail_st(err, HG_STATUS_LIMIT, "trace: more positions than planned");
        w->steps[p] = (int32_t)steps;
        if (!kept(w, p)) continue;
        const int64_t base = (p - w->A) * R1;
        for (int64_t t = steps + 1; t < R1; t++) {
            if (!npy_write_at(&w->f[A_LAT], (base + t) * h, w->last_lat + g * h, h) ||
                !npy_write_at(&w->f[A_ST], (base + t) * h, w->last_s + g * h, h) ||
                !npy_write_at(&w->f[A_TKI], (base + t) * K, w->last_ids + g * K, K) ||
                !npy_write_at(&w->f[A_TKL], (base + t) * K, w->last_lp + g * K, K) ||
                !npy_write_at(&w->f[A_ENT], base + t, &w->last_ent[g], 1) ||
                !npy_write_at(&w->f[A_DELTA], (p - w->A) * w->R + t - 1, &zero, 1))
                return io_err(err);
        }
        if (!npy_write_at(&w->f[A_EXIT], base, w->gexit, R1)) return io_err(err);
        if (fseeko(w->spill, (off_t)((steps * T + g) * V) * 4, SEEK_SET) || fread(w->lpf, 4, (size_t)V, w->spill) != (size_t)V)
            return io_err(err);
        for (int64_t v = 0; v < V; v++) w->lp[v] = exp((double)w->lpf[v]); /* p_final, once per position */
        for (int64_t t = 0; t < R1; t++) {
            double kl = 0;
            if (t < steps) {
                if (fseeko(w->spill, (off_t)((t * T + g) * V) * 4, SEEK_SET) || fread(w->lpf2, 4, (size_t)V, w->spill) != (size_t)V)
                    return io_err(err);
                for (int64_t v = 0; v < V; v++) kl += w->lp[v] * ((double)w->lpf[v] - (double)w->lpf2[v]);
            }
            w->row[t] = (float)kl;
        }
        if (!npy_write_at(&w->f[A_KL], base, w->row, R1)) return io_err(err);
    }
    return HG_OK;
}

/* ---- the command --------------------------------------------------------------------------------- */

static int usage(void) {
    fprintf(stderr,
            "usage: huginn trace [-m MODEL] (-p TEXT [--no-bos] | --ids 1,2,3 | --chat -p TEXT [--system TEXT]) --steps R\n"
            "                    [-n N] [--top-k K] [--exit CRITERION [--exit-threshold X|auto] [--min-steps N]\n"
            "                    [--check-every N] [--no-exit-in-prefill]] [--warm-start [--warm-state normalized|raw]]\n"
            "                    [--init-scale S] [--seed N] [--temp T] [--eos ID] [--kv-cache S] [--positions A:B] [--threads N]\n"
            "                    [--lens-chunk N] [--plots] --out DIR\n"
            "writes DIR/{latents,states,delta,topk_ids,topk_logprobs,entropy,kl_to_final,exit_values,steps}.npy and\n"
            "DIR/index.json (docs/trace.md); --plots also writes the SVG plots of `huginn plot DIR`.\n");
    return 1;
}

typedef struct gen_cb {
    run_text *text;
} gen_cb;

static char *token_text(run_text *t, int32_t id) {
    char *s = NULL;
    size_t n = 0;
    hg_error e = {0};
    if (!t->tok || hg_tokenizer_decode(t->tok, &id, 1, false, &s, &n, &e)) return NULL;
    char *out = malloc(n + 1);
    if (out) memcpy(out, s, n), out[n] = 0;
    hg_tokenizer_mem_free(s);
    return out;
}

static bool write_index(const char *dir, int argc, char **argv, const int32_t *ids, int64_t n_prompt, int64_t n_pos,
                        const tw *w, run_text *text, const hg_trace_params *tp, const int64_t *shape3, const char *model) {
    cJSON *o = cJSON_CreateObject(), *toks = cJSON_CreateArray(), *arr = cJSON_CreateObject();
    size_t len = 1;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    char *cmd = calloc(1, len);
    for (int i = 0; cmd && i < argc; i++) strcat(strcat(cmd, i ? " " : ""), argv[i]);
    cJSON_AddStringToObject(o, "command", cmd ? cmd : "");
    free(cmd);
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddNumberToObject(o, "steps", (double)w->R);
    cJSON_AddNumberToObject(o, "top_k", (double)w->K);
    cJSON_AddNumberToObject(o, "n_prompt", (double)n_prompt);
    cJSON_AddNumberToObject(o, "n_positions", (double)n_pos);
    cJSON *pos = cJSON_AddArrayToObject(o, "positions");
    cJSON_AddItemToArray(pos, cJSON_CreateNumber((double)w->A));
    cJSON_AddItemToArray(pos, cJSON_CreateNumber((double)w->B));
    cJSON_AddStringToObject(o, "exit", tp->adaptive ? hg_exit_criterion_name(tp->exit.criterion) : "none");
    cJSON_AddBoolToObject(o, "adaptive", tp->adaptive);
    if (tp->adaptive) {
        const double thr = isnan(tp->exit.threshold) ? hg_exit_auto_threshold(tp->exit.criterion) : tp->exit.threshold;
        cJSON_AddNumberToObject(o, "exit_threshold", thr);
    }
    cJSON_AddStringToObject(o, "carry_forward", "a position that exits at iteration e repeats row e at t > e; delta 0, exit values NaN there");
    for (int64_t p = w->A; p < w->B; p++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "pos", (double)p);
        cJSON_AddNumberToObject(t, "id", ids[p]);
        char *s = token_text(text, ids[p]);
        if (s) cJSON_AddStringToObject(t, "text", s);
        else cJSON_AddNullToObject(t, "text");
        free(s);
        cJSON_AddStringToObject(t, "kind", p < n_prompt ? "prompt" : "generated");
        cJSON_AddNumberToObject(t, "steps", w->steps[p]);
        /* a generated token was chosen by the lens of the position before it */
        if (p >= n_prompt) cJSON_AddNumberToObject(t, "produced_by_steps", w->steps[p - 1]);
        cJSON_AddItemToArray(toks, t);
    }
    cJSON_AddItemToObject(o, "tokens", toks);
    const int64_t T = shape3[0], R1 = shape3[1];
    const int64_t shapes[A_COUNT][3] = {{T, R1, w->h}, {T, R1, w->h}, {T, R1 - 1, 0}, {T, R1, w->K},
                                        {T, R1, w->K}, {T, R1, 0},     {T, R1, 0},     {T, R1, 0}};
    for (int a = 0; a < A_COUNT; a++) {
        cJSON *s = cJSON_CreateArray();
        for (int d = 0; d < 3 && (d < 2 || shapes[a][d]); d++) cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shapes[a][d]));
        cJSON_AddItemToObject(arr, k_names[a], s);
    }
    cJSON *s = cJSON_CreateArray();
    cJSON_AddItemToArray(s, cJSON_CreateNumber((double)T));
    cJSON_AddItemToObject(arr, "steps.npy", s);
    cJSON_AddItemToObject(o, "arrays", arr);
    char *json = cJSON_Print(o);
    cJSON_Delete(o);
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", dir);
    FILE *f = json ? fopen(path, "w") : NULL;
    bool ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
    if (f) ok = fclose(f) == 0 && ok;
    free(json);
    if (!ok) cli_fail("cannot write %s", path);
    return ok;
}

int cmd_trace(int argc, char **argv) {
    const char *model = NULL, *ids_s = NULL, *prompt_s = NULL, *system = NULL, *out = NULL, *kv = NULL, *pos_s = NULL;
    const char *exit_s = NULL;
    int32_t eos[17]; /* --eos ids and the tokenizer's EOS: generation stops there, as in `run` */
    int64_t n_eos = 0;
    int64_t steps = -1, n_new = 0, K = 5, threads = 0;
    float init_scale = 1.0f, temp = 0.7f;
    uint64_t seed = 0;
    bool chat = false, no_bos = false, warm = false, plots = false, knob = false;
    hg_trace_params tp = hg_trace_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        if (!strcmp(a, "--chat")) { chat = true; continue; }
        if (!strcmp(a, "--no-bos")) { no_bos = true; continue; }
        if (!strcmp(a, "--warm-start")) { warm = true; continue; }
        if (!strcmp(a, "--plots")) { plots = true; continue; }
        if (!strcmp(a, "--no-exit-in-prefill")) { tp.exit.no_exit_in_prefill = knob = true; continue; }
        if (!(v = cli_value(argc, argv, &i, "trace", "-m --ids -p --system --out --kv-cache --positions --steps -n --eos --lens-chunk --top-k --threads --init-scale --temp --seed --exit --exit-threshold --min-steps --check-every --warm-state"))) return 1;
        hg_error e = {0};
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--ids")) ids_s = v;
        else if (!strcmp(a, "-p")) prompt_s = v;
        else if (!strcmp(a, "--system")) system = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--kv-cache")) kv = v;
        else if (!strcmp(a, "--positions")) pos_s = v;
        else if (!strcmp(a, "--steps")) { if (!cli_parse_i64(v, &steps) || steps < 0) return cli_fail("--steps needs an integer >= 0"); }
        else if (!strcmp(a, "-n")) { if (!cli_parse_i64(v, &n_new) || n_new < 0) return cli_fail("-n needs an integer >= 0"); }
        else if (!strcmp(a, "--eos")) {
            int64_t id;
            if (!cli_parse_i64(v, &id) || id < 0 || id > INT32_MAX) return cli_fail("--eos needs a token id");
            if (n_eos >= 16) return cli_fail("at most 16 --eos ids");
            eos[n_eos++] = (int32_t)id;
        }
        else if (!strcmp(a, "--lens-chunk")) { if (!cli_parse_i64(v, &tp.lens_chunk) || tp.lens_chunk < 1) return cli_fail("--lens-chunk needs an integer >= 1"); }
        else if (!strcmp(a, "--top-k")) { if (!cli_parse_i64(v, &K) || K < 1) return cli_fail("--top-k needs an integer >= 1"); }
        else if (!strcmp(a, "--threads")) { if (!cli_parse_i64(v, &threads) || threads < 0 || threads > 4096) return cli_fail("--threads needs an integer >= 0"); }
        else if (!strcmp(a, "--init-scale")) { if (!cli_parse_f32(v, &init_scale) || !(init_scale >= 0)) return cli_fail("--init-scale needs a number >= 0"); }
        else if (!strcmp(a, "--temp")) { if (!cli_parse_f32(v, &temp) || !(temp >= 0)) return cli_fail("--temp needs a number >= 0"); }
        else if (!strcmp(a, "--seed")) { if (!cli_parse_u64(v, &seed)) return cli_fail("--seed needs a non-negative integer"); }
        else if (!strcmp(a, "--exit")) { if (hg_exit_criterion_parse(v, &tp.exit.criterion, &e)) return cli_fail_err(&e); exit_s = v; }
        else if (!strcmp(a, "--exit-threshold")) {
            float f;
            knob = true;
            if (!strcmp(v, "auto")) tp.exit.threshold = (double)NAN;
            else if (!cli_parse_f32(v, &f) || !isfinite(f)) return cli_fail("--exit-threshold needs a number or `auto`");
            else tp.exit.threshold = (double)f;
        }
        else if (!strcmp(a, "--min-steps")) { knob = true; if (!cli_parse_i64(v, &tp.exit.min_steps) || tp.exit.min_steps < 0) return cli_fail("--min-steps needs an integer >= 0"); }
        else if (!strcmp(a, "--check-every")) { knob = true; if (!cli_parse_i64(v, &tp.exit.check_every) || tp.exit.check_every < 1) return cli_fail("--check-every needs an integer >= 1"); }
        else if (!strcmp(a, "--warm-state")) {
            if (!strcmp(v, "normalized") || !strcmp(v, "normalised")) tp.exit.warm_state = HG_WARM_STATE_NORMALIZED;
            else if (!strcmp(v, "raw")) tp.exit.warm_state = HG_WARM_STATE_RAW;
            else return cli_fail("--warm-state needs `normalized` or `raw`");
        }
        else return cli_fail("trace: unknown option `%s`", a), usage();
    }
    if (!out || (!ids_s && !prompt_s) || (ids_s && prompt_s)) return usage();
    if (chat && !prompt_s) return cli_fail("trace: --chat needs -p TEXT");
    if (knob && !exit_s) return cli_fail("--exit-threshold, --min-steps, --check-every and --no-exit-in-prefill need --exit CRITERION");
    if (tp.exit.warm_state != HG_WARM_STATE_DEFAULT && !warm) return cli_fail("--warm-state needs --warm-start");
    /* as `huginn run`: --exit, or a raw warm start, chooses the adaptive loop */
    tp.adaptive = exit_s != NULL || tp.exit.warm_state == HG_WARM_STATE_RAW;
    if (!model) model = cli_default_model();
    if (!model) return cli_fail("trace: no -m MODEL and no models/default");

    int rc = 1;
    hg_model *m = NULL;
    hg_ctx *ctx = NULL;
    run_text text = {0};
    int32_t *prompt = NULL, *all = NULL;
    int64_t n_prompt = 0;
    tw w;
    memset(&w, 0, sizeof w);
    hg_error err = {0};
    if (hg_model_load(model, NULL, &m, &err)) { rc = cli_fail_err(&err); goto done; }
    const hg_config *c = hg_model_config(m);
    if (run_text_open(&text, m, prompt_s != NULL)) goto done;
    if (ids_s) {
        if (!cli_parse_ids(ids_s, &prompt, &n_prompt) || n_prompt < 1) { rc = cli_fail("--ids must be a comma-separated list of token ids"); goto done; }
    } else if (chat) {
        hg_chat_msg msgs[2] = {{"system", system}, {"user", prompt_s}};
        if (run_text_chat(&text, system ? msgs : msgs + 1, system ? 2 : 1, &prompt, &n_prompt)) goto done;
    } else if (run_text_prompt(&text, prompt_s, no_bos, &prompt, &n_prompt)) goto done;
    if (steps < 0) steps = c->mean_recurrence;
    if (text.tok && hg_tokenizer_eos_id(text.tok) >= 0) eos[n_eos++] = hg_tokenizer_eos_id(text.tok);
    if (K > c->vocab_size) K = c->vocab_size;
    const int64_t n_max = n_prompt + n_new;
    if (n_max > c->block_size) { rc = cli_fail("prompt + new tokens (%lld) exceed the model's block_size %lld", (long long)n_max, (long long)c->block_size); goto done; }
    w.A = 0, w.B = n_max;
    if (pos_s) {
        char *end;
        long long a = strtoll(pos_s, &end, 10), b = n_max;
        if (*end != ':' || a < 0) { rc = cli_fail("--positions needs A:B (B may be empty: to the end)"); goto done; }
        if (end[1]) {
            char *e2;
            b = strtoll(end + 1, &e2, 10);
            if (*e2 || b <= a) { rc = cli_fail("--positions needs A:B with B > A"); goto done; }
        }
        w.A = a, w.B = b < n_max ? b : n_max;
        if (w.A >= w.B) { rc = cli_fail("--positions %s keeps no position of %lld", pos_s, (long long)n_max); goto done; }
    }
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = n_max;
    cp.max_steps = steps > 0 ? steps : 1;
    cp.kv_cache = kv;
    cp.n_threads = (int)threads;
    if (hg_ctx_init(m, &cp, &ctx, &err)) { rc = cli_fail_err(&err); goto done; }

    w.R = steps, w.h = c->n_embd, w.V = c->vocab_size, w.K = K, w.gmax = n_prompt, w.n_pos = n_max;
    const int64_t h = w.h, V = w.V, R1 = steps + 1, Tk = w.B - w.A;
    w.prev_s = calloc((size_t)(3 * n_prompt * h), sizeof(float));
    w.last_ids = malloc((size_t)(n_prompt * K) * sizeof(int32_t));
    w.last_lp = malloc((size_t)(n_prompt * (K + 1)) * sizeof(float));
    w.gexit = malloc((size_t)(R1 + R1 + K) * sizeof(float));
    w.lp = malloc((size_t)V * sizeof(double));
    w.lpf = malloc((size_t)(2 * V) * sizeof(float));
    w.order = malloc((size_t)V * sizeof(int32_t));
    w.steps = calloc((size_t)n_max, sizeof(int32_t));
    all = malloc((size_t)n_max * sizeof(int32_t));
    w.spill = tmpfile();
    if (!w.prev_s || !w.last_ids || !w.last_lp || !w.gexit || !w.lp || !w.lpf || !w.order || !w.steps || !all || !w.spill) {
        rc = cli_fail("out of memory (or no temporary file)");
        goto done;
    }
    w.last_lat = w.prev_s + n_prompt * h, w.last_s = w.last_lat + n_prompt * h;
    w.last_ent = w.last_lp + n_prompt * K;
    w.row = w.gexit + R1;
    w.lpf2 = w.lpf + V;
    if (mkdir(out, 0777) && errno != EEXIST) { rc = cli_fail("cannot create %s", out); goto done; }
    {
        const int64_t sh[A_COUNT][3] = {{Tk, R1, h}, {Tk, R1, h}, {Tk, steps, 0}, {Tk, R1, K},
                                        {Tk, R1, K}, {Tk, R1, 0}, {Tk, R1, 0},    {Tk, R1, 0}};
        for (int a = 0; a < A_COUNT; a++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", out, k_names[a]);
            if (!npy_create(&w.f[a], path, a == A_TKI ? "<i4" : "<f4", sh[a][2] ? 3 : 2, sh[a])) goto done;
        }
    }
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = steps;
    gp.max_new_tokens = n_new;
    gp.init_scale = init_scale;
    gp.seed = seed;
    gp.continuous = warm;
    gp.eos_ids = eos;
    gp.n_eos = n_eos;
    gp.sampler.temperature = temp;
    gp.sampler.seed = seed;
    tp.on_step = on_step, tp.on_group = on_group, tp.user = &w;
    int64_t n_gen = 0;
    if (hg_generate_traced(ctx, prompt, n_prompt, &gp, &tp, NULL, NULL, all + n_prompt, &n_gen, NULL, &err)) {
        rc = cli_fail_err(&err);
        goto done;
    }
    memcpy(all, prompt, (size_t)n_prompt * sizeof *all);
    const int64_t n_pos = n_prompt + n_gen;
    if (w.B > n_pos) w.B = n_pos;
    if (w.A >= w.B) { rc = cli_fail("--positions keeps no position of the %lld run", (long long)n_pos); goto done; }
    const int64_t T = w.B - w.A;
    {
        const int64_t sh[A_COUNT][3] = {{T, R1, h}, {T, R1, h}, {T, steps, 0}, {T, R1, K},
                                        {T, R1, K}, {T, R1, 0}, {T, R1, 0},    {T, R1, 0}};
        for (int a = 0; a < A_COUNT; a++)
            if (!npy_close(&w.f[a], sh[a])) goto done;
        npy_file sf;
        char path[4096];
        snprintf(path, sizeof path, "%s/steps.npy", out);
        if (!npy_create(&sf, path, "<i4", 1, &T)) goto done;
        if (!npy_write_at(&sf, 0, w.steps + w.A, T)) { npy_abort(&sf); goto done; }
        if (!npy_close(&sf, &T)) goto done;
        const int64_t shape3[2] = {T, R1};
        if (!write_index(out, argc + 1, argv - 1, all, n_prompt, n_pos, &w, &text, &tp, shape3, model)) goto done;
    }
    printf("trace: %lld positions (%lld prompt, %lld generated) x %lld iterations -> %s\n", (long long)T,
           (long long)n_prompt, (long long)n_gen, (long long)R1, out);
    rc = plots ? trace_plot_dir(out, NULL) : 0;
done:
    for (int a = 0; a < A_COUNT; a++)
        if (w.f[a].f) npy_abort(&w.f[a]);
    if (w.spill) fclose(w.spill);
    free(w.prev_s), free(w.last_ids), free(w.last_lp), free(w.gexit), free(w.lp), free(w.lpf), free(w.order), free(w.steps);
    free(prompt), free(all);
    run_text_close(&text);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return rc;
}
