/*
 * cmd_chat.c — `huginn chat`: an interactive conversation in the model's chat format. Each turn the
 * whole conversation is rendered with the chat template and generated from; the KV cache is kept
 * between turns and only the positions after the longest common prefix are recomputed
 * (hg_generate_params.reuse_prefix), so a turn costs its own new tokens, not the history.
 *   huginn chat [-m MODEL] [--system TEXT] [--chat-template NAME] [-f FILE] [-n N] [--steps R] [--temp T]
 *               [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty X] [--init-scale S] [--seed N]
 *               [--kv-cache S] [-c N_CTX] [--threads N] [--no-mmap] [--prepack] [--exit CRITERION ...] [--warm-start ...]
 * The chat format is the model's own template when it is recognised (Huginn-0125, Llama 3, ChatML),
 * else the built-in one --chat-template names; a reply ends at the format's end-of-turn token
 * (<|end_turn|>, <|eot_id|>, <|im_end|>) or the tokenizer's EOS.
 * Lines on standard input (or -f FILE) are the user's messages; an empty line is skipped, /exit or EOF
 * ends. A session survives what a user can type or press:
 *   - a line that is not valid UTF-8 is rejected with a message, the conversation stays as it was;
 *   - when the conversation no longer fits the context, the oldest turns (after the system message)
 *     are dropped with a notice, as llama.cpp's context shift does; one message too long for the
 *     whole context is rejected;
 *   - Ctrl-C (SIGINT) during a reply stops that reply (what was said so far stays in the history);
 *     Ctrl-C at the prompt ends the session. The handler only sets a flag that the token callback
 *     reads; it is installed without SA_RESTART so a Ctrl-C at the prompt interrupts the read.
 * The test-time flags of `run` that apply to a conversation (--exit ..., --warm-start ...) choose
 * hg_generate_adaptive; speculative decoding and the parallel sampler are refused.
 */
#include "cli.h"
#include "run_modes.h"
#include "run_text.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* set by SIGINT, read and cleared by the session (a handler may only write a sig_atomic_t) */
static volatile sig_atomic_t g_interrupt;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
}

typedef struct chat_turn {
    run_text *text;
    char *reply;      /* the assistant's text so far (skip special) */
    size_t len, cap;
} chat_turn;

static bool on_token(void *user, int32_t id, int64_t steps, const float *logits) {
    chat_turn *t = user;
    (void)steps, (void)logits;
    run_text_push(t->text, id, stdout);
    if (!hg_tokenizer_is_special(t->text->tok, id)) {
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
    }
    return !g_interrupt; /* Ctrl-C: stop this reply */
}

static int usage(FILE *f) {
    fprintf(f, "usage: huginn chat [-m MODEL] [--system TEXT] [--chat-template NAME] [-f FILE] [-n N] [--steps R] [--temp T]\n"
               "                   [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty X] [--init-scale S] [--seed N]\n"
               "                   [--kv-cache S] [-c N_CTX] [--threads N] [--no-mmap] [--prepack] [--exit CRITERION ...]\n"
               "                   [--warm-start [--warm-state normalized|raw]]\n"
               "  -m MODEL   default: $HUGINN_MODEL, else the shipped models/default\n"
               "  --chat-template NAME  use the built-in chat format NAME (%s) instead of the model's\n"
               "             template; needed when the model's template is not recognised\n"
               "  -f FILE    read the user's messages from FILE (one per line) instead of standard input\n"
               "  -n N       most tokens per reply (default 256); -c N_CTX the context (default min(block_size, 2048))\n"
               "  --prepack  lay the weights out as huginn serve does (its replies, bit for bit): bf16 replies come\n"
               "             faster on AVX-512 CPUs without AMX; a few seconds more to start\n"
               "  Each line is a message; /exit or end of input ends the session. Ctrl-C stops the current\n"
               "  reply; at the prompt it ends the session. When the context is full the oldest turns are dropped.\n",
            hg_chat_format_names());
    run_modes_help(f, true);
    return f == stdout ? 0 : 1;
}

/* Drop messages [i, i + k) of msgs [*n]. */
static void drop_msgs(hg_chat_msg *msgs, size_t *n, size_t i, size_t k) {
    for (size_t j = i; j < i + k; j++) free((void *)(uintptr_t)msgs[j].content);
    memmove(msgs + i, msgs + i + k, (*n - i - k) * sizeof *msgs);
    *n -= k;
}

int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *system = NULL, *kv = NULL, *in_path = NULL, *chat_template = NULL;
    int64_t n_new = 256, steps = -1, n_ctx = 0, threads = 0;
    bool no_mmap = false, warm = false; /* --no-mmap: read the weights into (huge-page) memory */
    bool prepack = false;               /* --prepack: the weights laid out as huginn serve lays them */
    float init_scale = 1.0f;
    uint64_t seed = 0;
    hg_sampler_params smp = hg_sampler_default_params();
    smp.temperature = 0.7f;
    run_ttc_opts ttc;
    run_modes_init(&ttc);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout);
        if (!strcmp(a, "--no-mmap")) { no_mmap = true; continue; }
        if (!strcmp(a, "--prepack")) { prepack = true; continue; }
        if (!strcmp(a, "--warm-start")) { warm = true; continue; }
        { int t = run_modes_parse(argc, argv, &i, &ttc); if (t < 0) return 1; if (t > 0) continue; }
        if (!(v = cli_value(argc, argv, &i, "chat",
                            "-m --system --chat-template -f --kv-cache -n --steps -c --threads --init-scale --seed --temp --top-k --top-p "
                            "--min-p --repeat-penalty")))
            return 1;
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--system")) system = v;
        else if (!strcmp(a, "--chat-template")) { if (!cli_chat_template_known("chat", v)) return 1; chat_template = v; }
        else if (!strcmp(a, "-f")) in_path = v;
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
        else return cli_unknown("chat", a);
    }
    if (run_modes_check(&ttc, warm)) return 1;
    if (ttc.speculative || ttc.parallel)
        return cli_fail("chat: speculative decoding and --parallel are not supported in a conversation; use `huginn run --chat`");
    if (!model) model = cli_default_model();
    if (!model) return cli_fail("chat: no -m MODEL given, $HUGINN_MODEL is unset and no models/default was found");

    int rc = 1;
    FILE *in = stdin;
    hg_model *m = NULL;
    hg_ctx *ctx = NULL;
    run_text text = {0};
    hg_chat_msg *msgs = NULL;
    size_t n_msgs = 0, cap_msgs = 0;
    int32_t *prompt = NULL, *out_ids = NULL, *prev = NULL;
    int64_t n_prev = 0;
    chat_turn turn = {&text, NULL, 0, 0};
    hg_error err = {0};
    if (in_path && !(in = fopen(in_path, "r"))) return cli_fail("cannot open %s: %s", in_path, strerror(errno));
    if (cli_model_load(model, no_mmap, prepack, &m, &err)) { rc = cli_fail_err(&err); goto out; }
    if (prepack)
        fprintf(stderr, "huginn chat: %lld weights laid out for this CPU's kernels\n", (long long)hg_model_n_packed(m));
    const hg_config *c = hg_model_config(m);
    if (run_text_open(&text, m, true)) goto out;
    if (cli_chat_format("chat", text.tok, chat_template)) goto out;
    int32_t stop_ids[2]; /* a reply ends at the tokenizer's EOS or at the format's end of turn */
    const int64_t n_stop = hg_tokenizer_stop_ids(text.tok, true, stop_ids);
    /* say which format and stop ids the session uses: a forced or unexpected format shows here */
    fprintf(stderr, "[chat format %s; a reply ends at", hg_tokenizer_chat_format(text.tok));
    for (int64_t k = 0; k < n_stop; k++)
        fprintf(stderr, "%s %s (id %d)", k ? " or" : "", hg_tokenizer_id_to_token(text.tok, stop_ids[k]), stop_ids[k]);
    fprintf(stderr, "%s]\n", n_stop ? "" : " the length limit only");
    if (steps < 0) steps = c->mean_recurrence;
    if (n_ctx > c->block_size) { rc = cli_fail("-c %lld exceeds the model's block_size %lld", (long long)n_ctx, (long long)c->block_size); goto out; }
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = n_ctx ? n_ctx : hg_min_i64_cli(c->block_size, 2048);
    /* a reply needs the rendered conversation (at least a header and the message) in front of it */
    if (n_new >= cp.n_ctx) {
        rc = cli_fail("-n %lld does not fit the context of %lld positions (-c, at most the model's block_size %lld) with a "
                      "message in front; lower -n to at most %lld", (long long)n_new, (long long)cp.n_ctx,
                      (long long)c->block_size, (long long)cp.n_ctx / 2);
        goto out;
    }
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
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: Ctrl-C at the prompt interrupts the read */
    const bool tty = isatty(fileno(in));
    const size_t first_turn = system ? 1 : 0; /* the system message is never dropped */
    if (tty) fprintf(stderr, "huginn chat: one message per line; /exit or Ctrl-D ends; Ctrl-C stops a reply\n");
    char line[65536];
    for (uint64_t turn_no = 0;; turn_no++) {
        if (tty) { fputs("> ", stdout); fflush(stdout); }
        g_interrupt = 0;
        if (!fgets(line, sizeof line, in)) {
            if (g_interrupt) fputs("\n", stdout); /* Ctrl-C at the prompt: end of the session */
            break;
        }
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
        for (;;) {
            hg_tokenizer_mem_free(prompt);
            prompt = NULL;
            hg_status st = hg_chat_encode(text.tok, msgs, n_msgs, true, &prompt, &n_prompt, &err);
            if (st) break;
            /* context full: drop the oldest turn (a user message and its reply) and render again */
            if (n_prompt + n_new <= cp.n_ctx || n_msgs - first_turn < 3) break;
            const size_t k = msgs[first_turn + 1].role[0] == 'a' ? 2 : 1;
            drop_msgs(msgs, &n_msgs, first_turn, k);
            fprintf(stderr, "[context full (%lld positions): dropped the oldest turn]\n", (long long)cp.n_ctx);
        }
        if (!prompt && err.status) { /* e.g. invalid UTF-8: reject the line, keep the session */
            fprintf(stderr, "huginn: chat: message not sent: %s\n", err.msg);
            drop_msgs(msgs, &n_msgs, n_msgs - 1, 1);
            err = (hg_error){0};
            continue;
        }
        if (n_prompt >= cp.n_ctx) {
            fprintf(stderr, "huginn: chat: message not sent: the conversation needs %lld positions, the context has %lld "
                            "(raise -c, at most %lld)\n", (long long)n_prompt, (long long)cp.n_ctx, (long long)c->block_size);
            drop_msgs(msgs, &n_msgs, n_msgs - 1, 1);
            continue;
        }
        int64_t reused = 0;
        while (reused < n_prev && reused < n_prompt - 1 && prev[reused] == prompt[reused]) reused++;
        hg_generate_params gp = hg_generate_default_params();
        gp.n_steps = steps;
        gp.max_new_tokens = hg_min_i64_cli(n_new, cp.n_ctx - n_prompt); /* a long history leaves less room */
        gp.init_scale = init_scale;
        gp.seed = seed + turn_no;
        gp.sampler = smp;
        gp.continuous = warm;
        gp.reuse_prefix = true;
        gp.eos_ids = stop_ids;
        gp.n_eos = n_stop;
        turn.len = 0;
        if (turn.reply) turn.reply[0] = 0;
        int64_t n_out = 0;
        double t0 = cli_now();
        hg_status st = run_modes_active(&ttc, warm)
                           ? hg_generate_adaptive(ctx, prompt, n_prompt, &gp, &ttc.ad, on_token, &turn, out_ids, &n_out, NULL, &err)
                           : hg_generate(ctx, prompt, n_prompt, &gp, on_token, &turn, out_ids, &n_out, &err);
        if (st) { rc = cli_fail_err(&err); goto out; }
        run_text_flush(&text, stdout);
        printf("\n");
        fflush(stdout);
        if (g_interrupt) fprintf(stderr, "[interrupted]\n");
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
    signal(SIGINT, SIG_DFL);
    if (in && in != stdin) fclose(in);
    for (size_t i = 0; i < n_msgs; i++) free((void *)(uintptr_t)msgs[i].content);
    free(msgs), free(out_ids), free(prev), free(turn.reply);
    hg_tokenizer_mem_free(prompt);
    run_text_close(&text);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return rc;
}
