/*
 * cmd_run.c — `huginn run`: generate with a model (docs/architecture.md "Command line").
 *   huginn run [-m MODEL] (--ids 1,2,3 | -p TEXT | --chat) [-n N] [--steps R] [--init-scale S] [--seed N]
 *              [--state FILE] [--eos ID]... [--temp T] [--top-k K] [--top-p P] [--min-p P]
 *              [--repeat-penalty X] [--warm-start] [--kv-cache STRATEGY] [--kv-type f32|f16|bf16] [-c N_CTX]
 *              [--threads N] [--no-mmap] [--json]
 * Without -m the model shipped in models/default is used. Defaults follow the reference: r =
 * mean_recurrence, init-scale 1.0, temperature 0.7 (its shipped generation config); --temp 0 is greedy.
 * --json prints one object: {"prompt_ids":[...], "generated":[{"id","text","steps"}...], "stats":{...}}.
 */
#include "cli.h"
#include "run_modes.h"
#include "run_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct run_opts {
    const char *model, *ids, *prompt, *state, *kv, *system;
    int64_t n_new, steps, n_ctx, threads;
    float init_scale;
    uint64_t seed;
    int32_t eos[16];
    int64_t n_eos;
    hg_sampler_params smp;
    hg_dtype kv_type; /* --kv-type (0 = f32) */
    bool warm, json, chat, no_bos, no_mmap; /* --no-mmap: read the weights into (huge-page) memory */
    run_ttc_opts ttc; /* test-time modes (run_modes.h) */
} run_opts;

static int usage(void) {
    fprintf(stderr,
            "usage: huginn run [-m MODEL] (--ids 1,2,3 | -p TEXT [--no-bos] | --chat -p TEXT [--system TEXT]) [-n N] [--steps R] [--init-scale S] [--seed N]\n"
            "                  [--state FILE] [--eos ID] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
            "                  [--repeat-penalty X] [--warm-start] [--kv-cache STRATEGY] [--kv-type f32|f16|bf16] [-c N_CTX]\n"
            "                  [--threads N] [--no-mmap] [--json]\n"
            "  test-time modes (docs/test-time.md):\n"
            "    --exit CRITERION [--exit-threshold X|auto] [--min-steps N] [--check-every N] [--no-exit-in-prefill]\n"
            "    --warm-start [--warm-state normalized|raw]\n"
            "    --draft-steps D --lookahead L [--verify-threshold X]\n"
            "    --parallel [--inner-steps N] [--max-wavefront N] [--headway N] [--exit-t X] [--freeze RULE]\n"
            "               [--state-noise X] [--ema-embeds X] [--dampened-mixer on|off] [--sqrt-mixer on|off]\n"
            "               [--full-prefill on|off] [--max-outer-steps N] [--mature-commit on|off]\n");
    return 1;
}

static int parse(int argc, char **argv, run_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), -1;
        if (!strcmp(a, "--warm-start")) { o->warm = true; continue; }
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        if (!strcmp(a, "--chat")) { o->chat = true; continue; }
        if (!strcmp(a, "--no-bos")) { o->no_bos = true; continue; }
        if (!strcmp(a, "--no-mmap")) { o->no_mmap = true; continue; }
        { int t = run_modes_parse(argc, argv, &i, &o->ttc); if (t < 0) return 1; if (t > 0) continue; }
        if (!(v = cli_next(argc, argv, &i))) return 1;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "--ids")) o->ids = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "--state")) o->state = v;
        else if (!strcmp(a, "--system")) o->system = v;
        else if (!strcmp(a, "--kv-cache")) o->kv = v;
        else if (!strcmp(a, "--kv-type")) { hg_error e = {0}; if (hg_kv_type_parse(v, &o->kv_type, &e)) return cli_fail_err(&e); }
        else if (!strcmp(a, "-n")) { if (!cli_parse_i64(v, &o->n_new) || o->n_new < 0) return cli_fail("-n needs an integer >= 0"); }
        else if (!strcmp(a, "--steps")) { if (!cli_parse_i64(v, &o->steps) || o->steps < 0) return cli_fail("--steps needs an integer >= 0"); }
        else if (!strcmp(a, "-c")) { if (!cli_parse_i64(v, &o->n_ctx) || o->n_ctx < 1) return cli_fail("-c needs a positive integer"); }
        else if (!strcmp(a, "--threads")) { if (!cli_parse_i64(v, &o->threads) || o->threads < 0 || o->threads > 4096) return cli_fail("--threads needs an integer >= 0"); }
        else if (!strcmp(a, "--init-scale")) { if (!cli_parse_f32(v, &o->init_scale) || o->init_scale < 0) return cli_fail("--init-scale needs a number >= 0"); }
        else if (!strcmp(a, "--seed")) { if (!cli_parse_u64(v, &o->seed)) return cli_fail("--seed needs a non-negative integer"); o->smp.seed = o->seed; }
        else if (!strcmp(a, "--eos")) {
            int64_t id;
            if (!cli_parse_i64(v, &id) || id < 0 || id > INT32_MAX) return cli_fail("--eos needs a token id");
            if (o->n_eos >= 16) return cli_fail("at most 16 --eos ids");
            o->eos[o->n_eos++] = (int32_t)id;
        }
        else if (!strcmp(a, "--temp")) { if (!cli_parse_f32(v, &o->smp.temperature) || o->smp.temperature < 0) return cli_fail("--temp needs a number >= 0"); }
        else if (!strcmp(a, "--top-k")) { if (!cli_parse_i64(v, &o->smp.top_k) || o->smp.top_k < 0) return cli_fail("--top-k needs an integer >= 0"); }
        else if (!strcmp(a, "--top-p")) { if (!cli_parse_f32(v, &o->smp.top_p) || o->smp.top_p < 0) return cli_fail("--top-p needs a number >= 0"); }
        else if (!strcmp(a, "--min-p")) { if (!cli_parse_f32(v, &o->smp.min_p) || o->smp.min_p < 0 || o->smp.min_p > 1) return cli_fail("--min-p needs a number in [0, 1]"); }
        else if (!strcmp(a, "--repeat-penalty")) { if (!cli_parse_f32(v, &o->smp.repetition_penalty) || o->smp.repetition_penalty <= 0) return cli_fail("--repeat-penalty needs a number > 0"); }
        else return cli_fail("run: unknown option `%s`", a), usage();
    }
    return 0;
}

/* ---- output ------------------------------------------------------------------------------------ */

typedef struct run_out {
    const run_opts *o;
    run_text *text;
    char *pieces;     /* every token's text piece, NUL-separated (for --json) */
    size_t pieces_len, pieces_cap;
    int64_t n;
    int32_t *ids;     /* [n_new] generated ids */
    int64_t *steps;   /* [n_new] iterations per token */
    double t_first;   /* time the first token was chosen (end of prefill) */
} run_out;

static bool on_token(void *user, int32_t id, int64_t steps, const float *logits) {
    run_out *r = user;
    (void)logits;
    if (r->n == 0) r->t_first = cli_now();
    r->ids[r->n] = id;
    r->steps[r->n] = steps;
    r->n++;
    run_text_push(r->text, id, r->o->json ? NULL : stdout);
    if (!r->text->tok && !r->o->json) {
        printf("%s%d", r->n > 1 ? " " : "", id);
        fflush(stdout);
    }
    if (r->o->json) { /* keep the piece: NUL-separated */
        size_t need = r->pieces_len + r->text->piece_len + 1;
        if (need > r->pieces_cap) {
            size_t cap = need * 2;
            char *p = realloc(r->pieces, cap);
            if (!p) return false;
            r->pieces = p, r->pieces_cap = cap;
        }
        memcpy(r->pieces + r->pieces_len, r->text->piece ? r->text->piece : "", r->text->piece_len);
        r->pieces_len += r->text->piece_len;
        r->pieces[r->pieces_len++] = 0;
    }
    return true;
}

int cmd_run(int argc, char **argv) {
    run_opts o = {0};
    o.n_new = 32;
    o.steps = -1;
    o.init_scale = 1.0f;
    o.smp = hg_sampler_default_params();
    o.smp.temperature = 0.7f;
    run_modes_init(&o.ttc);
    int prc = parse(argc, argv, &o);
    if (prc) return prc < 0 ? 0 : prc;
    if (run_modes_check(&o.ttc, o.warm)) return 1;
    if (!o.model) o.model = cli_default_model();
    if (!o.model) return cli_fail("run: no -m MODEL given and no model in models/default");
    if (!o.ids == !o.prompt) return o.ids ? cli_fail("run: give --ids or -p, not both") : usage();
    if (o.chat && !o.prompt) return cli_fail("run: --chat needs -p TEXT (the user's message)");
    if (o.system && !o.chat) return cli_fail("run: --system needs --chat");

    int rc = 1;
    hg_model *m = NULL;
    hg_ctx *ctx = NULL;
    int32_t *prompt = NULL;
    float *state = NULL;
    run_text text = {0};
    run_out r = {&o, &text, NULL, 0, 0, 0, NULL, NULL, 0};
    int64_t n_prompt = 0;
    hg_error err = {0};
    if (o.ids && !cli_parse_ids(o.ids, &prompt, &n_prompt)) return cli_fail("--ids must be a comma-separated list of token ids");
    if (cli_model_load(o.model, o.no_mmap, &m, &err)) { rc = cli_fail_err(&err); goto out; }
    const hg_config *c = hg_model_config(m);
    if (run_text_open(&text, m, o.prompt != NULL)) goto out;
    if (o.chat) {
        hg_chat_msg msgs[2] = {{"system", o.system}, {"user", o.prompt}};
        if (run_text_chat(&text, o.system ? msgs : msgs + 1, o.system ? 2 : 1, &prompt, &n_prompt)) goto out;
    } else if (o.prompt && run_text_prompt(&text, o.prompt, o.no_bos, &prompt, &n_prompt)) {
        goto out;
    }
    if (text.tok && hg_tokenizer_eos_id(text.tok) >= 0 && o.n_eos < 16) o.eos[o.n_eos++] = hg_tokenizer_eos_id(text.tok);
    if (o.steps < 0) o.steps = c->mean_recurrence;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = o.n_ctx ? o.n_ctx : n_prompt + o.n_new;
    if (cp.n_ctx > c->block_size) { rc = cli_fail("prompt + new tokens (%lld) exceed the model's block_size %lld", (long long)cp.n_ctx, (long long)c->block_size); goto out; }
    cp.max_steps = o.steps > 0 ? o.steps : 1;
    cp.kv_cache = o.kv;
    cp.kv_type = o.kv_type;
    cp.n_threads = (int)o.threads;
    run_modes_ctx_params(&o.ttc, &cp, n_prompt, o.n_new, o.steps);
    if (hg_ctx_init(m, &cp, &ctx, &err)) { rc = cli_fail_err(&err); goto out; }
    if (o.state) {
        state = malloc((size_t)(n_prompt * c->n_embd) * sizeof(float));
        if (!state || !cli_read_f32(o.state, state, (size_t)(n_prompt * c->n_embd))) goto out;
    }
    r.ids = malloc((size_t)(o.n_new + 1) * sizeof *r.ids);
    r.steps = malloc((size_t)(o.n_new + 1) * sizeof *r.steps);
    if (!r.ids || !r.steps) { rc = cli_fail("out of memory"); goto out; }

    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = o.steps;
    gp.max_new_tokens = o.n_new;
    gp.init_scale = o.init_scale;
    gp.seed = o.seed;
    gp.init_state = state;
    gp.continuous = o.warm;
    gp.eos_ids = o.eos;
    gp.n_eos = o.n_eos;
    gp.sampler = o.smp;
    int64_t n_out = 0;
    double t0 = cli_now();
    if (run_modes_active(&o.ttc, o.warm)) { rc = run_modes_generate(ctx, prompt, n_prompt, &gp, &o.ttc, &text, o.json); goto out; }
    if (hg_generate(ctx, prompt, n_prompt, &gp, on_token, &r, r.ids, &n_out, &err)) { rc = cli_fail_err(&err); goto out; }
    double t1 = cli_now();
    if (o.json) {
        printf("{\"prompt_ids\":[");
        for (int64_t i = 0; i < n_prompt; i++) printf("%s%d", i ? "," : "", prompt[i]);
        printf("],\"generated\":[");
        const char *piece = r.pieces;
        for (int64_t i = 0; i < r.n; i++) {
            printf("%s{\"id\":%d,\"text\":", i ? "," : "", r.ids[i]);
            if (text.tok && piece) {
                size_t len = strlen(piece);
                run_text_json_string(stdout, piece, len);
                piece += len + 1;
            } else {
                printf("null");
            }
            printf(",\"steps\":%lld}", (long long)r.steps[i]);
        }
        printf("],\"stats\":{\"n_prompt\":%lld,\"n_generated\":%lld,\"steps\":%lld,\"prefill_s\":%.6f,\"decode_s\":%.6f}}\n",
               (long long)n_prompt, (long long)r.n, (long long)o.steps, r.t_first - t0, t1 - r.t_first);
    } else {
        run_text_flush(&text, stdout);
        printf("\n");
    }
    rc = 0;
out:
    free(prompt), free(state), free(r.ids), free(r.steps), free(r.pieces);
    run_text_close(&text);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return rc;
}
