/*
 * cmd_chat.c — `huginn chat`: an interactive conversation in the model's chat format. Each turn the
 * whole conversation is rendered with the chat template and generated from; the KV cache is kept
 * between turns and only the positions after the longest common prefix are recomputed
 * (hg_generate_params.reuse_prefix), so a turn costs its own new tokens, not the history.
 *   huginn chat [-m MODEL] [--system TEXT] [-n N] [--steps R] [--temp T] [--top-k K] [--top-p P]
 *               [--min-p P] [--repeat-penalty X] [--init-scale S] [--seed N] [--kv-cache S] [-c N_CTX]
 *               [--threads N] [--no-mmap]
 * Lines on standard input are the user's messages; an empty line is skipped, /exit or EOF ends.
 */
#include "cli.h"
#include "run_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct chat_turn {
    run_text *text;
    char *reply;      /* the assistant's text so far (skip special) */
    size_t len, cap;
} chat_turn;

static bool on_token(void *user, int32_t id, int64_t steps, const float *logits) {
    chat_turn *t = user;
    (void)steps, (void)logits;
    run_text_push(t->text, id, stdout);
    if (hg_tokenizer_is_special(t->text->tok, id)) return true;
    size_t need = t->len + t->text->piece_len + 1;
    if (need > t->cap) {
        size_t cap = need * 2;
        char *p = realloc(t->reply, cap);
        if (!p) return false;
        t->reply = p, t->cap = cap;
    }
    memcpy(t->reply + t->len, t->text->piece, t->text->piece_len);
    t->len += t->text->piece_len;
    t->reply[t->len] = 0;
    return true;
}

int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *system = NULL, *kv = NULL;
    int64_t n_new = 256, steps = -1, n_ctx = 0, threads = 0;
    bool no_mmap = false; /* --no-mmap: read the weights into (huge-page) memory */
    float init_scale = 1.0f;
    uint64_t seed = 0;
    hg_sampler_params smp = hg_sampler_default_params();
    smp.temperature = 0.7f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: huginn chat [-m MODEL] [--system TEXT] [-n N] [--steps R] [--temp T] [--top-k K] [--top-p P]\n"
                   "                   [--min-p P] [--repeat-penalty X] [--init-scale S] [--seed N] [--kv-cache S] [-c N_CTX] [--threads N]\n"
                   "                   [--no-mmap]\n");
            return 0;
        }
        if (!strcmp(a, "--no-mmap")) { no_mmap = true; continue; }
        if (!(v = cli_next(argc, argv, &i))) return 1;
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--system")) system = v;
        else if (!strcmp(a, "--kv-cache")) kv = v;
        else if (!strcmp(a, "-n")) { if (!cli_parse_i64(v, &n_new) || n_new < 1) return cli_fail("-n needs a positive integer"); }
        else if (!strcmp(a, "--steps")) { if (!cli_parse_i64(v, &steps) || steps < 0) return cli_fail("--steps needs an integer >= 0"); }
        else if (!strcmp(a, "-c")) { if (!cli_parse_i64(v, &n_ctx) || n_ctx < 1) return cli_fail("-c needs a positive integer"); }
        else if (!strcmp(a, "--threads")) { if (!cli_parse_i64(v, &threads) || threads < 0 || threads > 4096) return cli_fail("--threads needs an integer >= 0"); }
        else if (!strcmp(a, "--init-scale")) { if (!cli_parse_f32(v, &init_scale) || init_scale < 0) return cli_fail("--init-scale needs a number >= 0"); }
        else if (!strcmp(a, "--seed")) { if (!cli_parse_u64(v, &seed)) return cli_fail("--seed needs a non-negative integer"); smp.seed = seed; }
        else if (!strcmp(a, "--temp")) { if (!cli_parse_f32(v, &smp.temperature) || smp.temperature < 0) return cli_fail("--temp needs a number >= 0"); }
        else if (!strcmp(a, "--top-k")) { if (!cli_parse_i64(v, &smp.top_k) || smp.top_k < 0) return cli_fail("--top-k needs an integer >= 0"); }
        else if (!strcmp(a, "--top-p")) { if (!cli_parse_f32(v, &smp.top_p) || smp.top_p < 0) return cli_fail("--top-p needs a number >= 0"); }
        else if (!strcmp(a, "--min-p")) { if (!cli_parse_f32(v, &smp.min_p) || smp.min_p < 0 || smp.min_p > 1) return cli_fail("--min-p needs a number in [0, 1]"); }
        else if (!strcmp(a, "--repeat-penalty")) { if (!cli_parse_f32(v, &smp.repetition_penalty) || smp.repetition_penalty <= 0) return cli_fail("--repeat-penalty needs a number > 0"); }
        else return cli_fail("chat: unknown option `%s`", a);
    }
    if (!model) model = cli_default_model();
    if (!model) return cli_fail("chat: no -m MODEL given and no model in models/default");

    int rc = 1;
    hg_model *m = NULL;
    hg_ctx *ctx = NULL;
    run_text text = {0};
    hg_chat_msg *msgs = NULL;
    size_t n_msgs = 0, cap_msgs = 0;
    int32_t *prompt = NULL, *out_ids = NULL, *prev = NULL;
    int64_t n_prev = 0;
    chat_turn turn = {&text, NULL, 0, 0};
    hg_error err = {0};
    if (cli_model_load(model, no_mmap, &m, &err)) { rc = cli_fail_err(&err); goto out; }
    const hg_config *c = hg_model_config(m);
    if (run_text_open(&text, m, true)) goto out;
    if (!hg_tokenizer_has_chat(text.tok)) { rc = cli_fail("chat: the model's tokenizer has no supported chat template"); goto out; }
    if (steps < 0) steps = c->mean_recurrence;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = n_ctx ? n_ctx : hg_min_i64_cli(c->block_size, 2048);
    cp.max_steps = steps > 0 ? steps : 1;
    cp.kv_cache = kv;
    cp.n_threads = (int)threads;
    if (hg_ctx_init(m, &cp, &ctx, &err)) { rc = cli_fail_err(&err); goto out; }
    out_ids = malloc((size_t)n_new * sizeof *out_ids);
    prev = malloc((size_t)cp.n_ctx * sizeof *prev);
    if (!out_ids || !prev) { rc = cli_fail("out of memory"); goto out; }
    if (system) {
        msgs = malloc(4 * sizeof *msgs);
        if (!msgs) { rc = cli_fail("out of memory"); goto out; }
        cap_msgs = 4;
        msgs[n_msgs++] = (hg_chat_msg){"system", strdup(system)};
    }
    const bool tty = isatty(STDIN_FILENO);
    char line[65536];
    for (uint64_t turn_no = 0;; turn_no++) {
        if (tty) { fputs("> ", stdout); fflush(stdout); }
        if (!fgets(line, sizeof line, stdin)) break;
        line[strcspn(line, "\r\n")] = 0;
        if (!strcmp(line, "/exit")) break;
        if (!line[0]) continue;
        if (n_msgs + 2 > cap_msgs) {
            cap_msgs = cap_msgs * 2 + 4;
            hg_chat_msg *p = realloc(msgs, cap_msgs * sizeof *msgs);
            if (!p) { rc = cli_fail("out of memory"); goto out; }
            msgs = p;
        }
        msgs[n_msgs++] = (hg_chat_msg){"user", strdup(line)};
        int64_t n_prompt = 0;
        free(prompt);
        prompt = NULL;
        if (run_text_chat(&text, msgs, n_msgs, &prompt, &n_prompt)) goto out;
        if (n_prompt + n_new > cp.n_ctx) { rc = cli_fail("chat: the conversation (%lld tokens) no longer fits the context of %lld; start a new one or raise -c", (long long)n_prompt, (long long)cp.n_ctx); goto out; }
        int64_t reused = 0;
        while (reused < n_prev && reused < n_prompt - 1 && prev[reused] == prompt[reused]) reused++;
        hg_generate_params gp = hg_generate_default_params();
        gp.n_steps = steps;
        gp.max_new_tokens = n_new;
        gp.init_scale = init_scale;
        gp.seed = seed + turn_no;
        gp.sampler = smp;
        gp.reuse_prefix = true;
        int32_t eos = hg_tokenizer_eos_id(text.tok);
        gp.eos_ids = &eos;
        gp.n_eos = eos >= 0;
        turn.len = 0;
        if (turn.reply) turn.reply[0] = 0;
        int64_t n_out = 0;
        double t0 = cli_now();
        if (hg_generate(ctx, prompt, n_prompt, &gp, on_token, &turn, out_ids, &n_out, &err)) { rc = cli_fail_err(&err); goto out; }
        run_text_flush(&text, stdout);
        printf("\n");
        fflush(stdout);
        fprintf(stderr, "[%lld prompt tokens, %lld reused from the cache; %lld generated in %.2f s]\n", (long long)n_prompt,
                (long long)reused, (long long)n_out, cli_now() - t0);
        /* what the cache now holds: the prompt, then every generated token but the last */
        memcpy(prev, prompt, (size_t)n_prompt * sizeof *prev);
        if (n_out > 1) memcpy(prev + n_prompt, out_ids, (size_t)(n_out - 1) * sizeof *prev);
        n_prev = n_prompt + (n_out > 0 ? n_out - 1 : 0);
        msgs[n_msgs++] = (hg_chat_msg){"assistant", strdup(turn.reply ? turn.reply : "")};
    }
    rc = 0;
out:
    for (size_t i = 0; i < n_msgs; i++) free((void *)(uintptr_t)msgs[i].content);
    free(msgs), free(prompt), free(out_ids), free(prev), free(turn.reply);
    run_text_close(&text);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return rc;
}
