/*
 * cmd_serve.c — `huginn serve`: load a model and serve it over HTTP with the OpenAI API and a page
 * (tools/serve.h). SIGINT and SIGTERM are blocked in every thread and taken by one thread with sigwait,
 * so a signal drains the server (running and queued requests finish) instead of killing it; the engine
 * runs on the main thread.
 */
#include "serve.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
    printf("usage: huginn serve [-m MODEL] [--host 127.0.0.1] [--port 8080] [--slots N] [-c N_CTX]\n"
           "                    [--api-key KEY] [--threads N] [--max-body BYTES] [--max-queue N]\n"
           "                    [--steps R] [--max-steps R] [--exit CRITERION] [--exit-threshold X|auto]\n"
           "                    [--init-scale S] [--kv-cache STRATEGY] [--chat-template NAME] [--no-mmap]\n"
           "                    [--no-prepack]\n"
           "\n"
           "OpenAI-compatible HTTP server with continuous batching: every request runs its own number of\n"
           "core iterations (num_steps) and may leave the recurrence early per token (exit_criterion);\n"
           "up to --slots requests decode together with one read of the weights per layer application.\n"
           "\n"
           "  -m MODEL           model directory or GGUF (default: $HUGINN_MODEL, else the shipped model)\n"
           "  --host ADDR        address to listen on (default 127.0.0.1: this machine only)\n"
           "  --port N           port (default 8080; 0 picks a free one, printed at start)\n"
           "  --slots N          requests decoded together, 1..64 (default 4)\n"
           "  -c N               positions per request: prompt + max_tokens (default: the model's, at most 2048)\n"
           "  --api-key KEY      require 'Authorization: Bearer KEY' (all endpoints but / and /health)\n"
           "  --threads N        compute threads (default: all cores)\n"
           "  --max-body BYTES   largest request body (default 1048576; larger: 413)\n"
           "  --max-queue N      requests waiting for a slot (default 256; more: 429 with Retry-After)\n"
           "  --steps R          num_steps when a request gives none (default: the model's mean_recurrence)\n"
           "  --max-steps R      largest num_steps a request may ask for (default: max(64, --steps))\n"
           "  --exit CRITERION   default exit_criterion: none, entropy-diff, latent-diff, kl, minp-kl,\n"
           "                     argmax-stability, cosine (default none)\n"
           "  --exit-threshold X default exit_threshold (default auto: the criterion's own)\n"
           "  --init-scale S     default init_scale (default 1, as huginn run; 0 makes greedy output\n"
           "                     deterministic, e.g. for clients such as lm-eval that cannot send it)\n"
           "  --kv-cache S       KV-cache strategy of every slot (default full; see huginn run --help)\n"
           "  --chat-template NAME  chat format of /v1/chat/completions: the built-in NAME (%s)\n"
           "                     instead of the model's template (needed when it is not recognised)\n"
           "  --no-prepack       keep the weights as stored: by default weights the kernels have a batch\n"
           "                     layout for (Q8_0 on VNNI CPUs without AMX, bf16 on AVX2/AVX-512) are laid out\n"
           "                     once, so a batch decodes at nearly the cost of one request (Q8_0 alone\n"
           "                     ~15-25%% slower, bf16 alone faster; the mapped stored pages are released)\n"
           "\n"
           "Endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models, GET /health,\n"
           "GET /metrics (Prometheus), POST /tokenize, POST /detokenize, GET / (a page to try it).\n"
           "Extra request fields: num_steps, exit_criterion, exit_threshold, min_steps, init_scale,\n"
           "kv_cache, warm_start; every choice carries steps (iterations per generated token) and token_ids.\n",
           hg_chat_format_names());
    return 0;
}

int cmd_serve(int argc, char **argv) {
    srv s;
    memset(&s, 0, sizeof s);
    bool tok_mu_made = false;
    srv_config *c = &s.cfg;
    c->host = "127.0.0.1";
    c->port = 8080;
    c->slots = 4;
    c->max_queue = 256;
    c->max_body = 1 << 20;
    c->default_steps = -1;
    c->max_steps = -1;
    c->default_exit = "none";
    c->default_threshold = (double)NAN;
    c->default_init_scale = 1.0;
    bool no_mmap = false, no_prepack = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage();
        if (!strcmp(a, "--no-mmap")) {
            no_mmap = true;
            continue;
        }
        if (!strcmp(a, "--no-prepack")) {
            no_prepack = true;
            continue;
        }
        static const char *const with_value[] = {"-m", "--host", "--port", "--slots", "-c", "--api-key", "--threads",
                                                 "--max-body", "--max-queue", "--steps", "--max-steps", "--exit",
                                                 "--exit-threshold", "--kv-cache", "--init-scale", "--chat-template"};
        bool known = false;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) known |= !strcmp(a, with_value[k]);
        if (!known) return cli_fail("serve: unknown option %s (see huginn serve --help)", a);
        const char *v = cli_next(argc, argv, &i);
        if (!v) return 1;
        int64_t n = 0;
        const bool num = cli_parse_i64(v, &n);
        if (!strcmp(a, "-m")) c->model_path = v;
        else if (!strcmp(a, "--host")) c->host = v;
        else if (!strcmp(a, "--api-key")) c->api_key = v;
        else if (!strcmp(a, "--exit")) c->default_exit = v;
        else if (!strcmp(a, "--kv-cache")) c->kv_cache = v;
        else if (!strcmp(a, "--chat-template")) {
            if (!cli_chat_template_known("serve", v)) return 1;
            c->chat_template = v;
        }
        else if (!strcmp(a, "--init-scale")) {
            float x;
            if (!cli_parse_f32(v, &x) || !(x >= 0) || x > 1e6f) return cli_fail("serve: --init-scale needs a number >= 0");
            c->default_init_scale = (double)x;
        } else if (!strcmp(a, "--exit-threshold")) {
            float x;
            if (!strcmp(v, "auto")) c->default_threshold = (double)NAN;
            else if (cli_parse_f32(v, &x) && x >= 0) c->default_threshold = (double)x;
            else return cli_fail("serve: --exit-threshold needs a number >= 0 or auto");
        } else if (!num || n < 0) return cli_fail("serve: %s needs a non-negative integer", a);
        else if (!strcmp(a, "--port")) {
            if (n > 65535) return cli_fail("serve: --port must be in 0..65535");
            c->port = (int)n;
        } else if (!strcmp(a, "--slots")) {
            if (n < 1 || n > HG_SRV_MAX_SLOTS) return cli_fail("serve: --slots must be in 1..%d", HG_SRV_MAX_SLOTS);
            c->slots = n;
        } else if (!strcmp(a, "-c")) c->n_ctx = n;
        else if (!strcmp(a, "--threads")) c->threads = n;
        else if (!strcmp(a, "--max-body")) c->max_body = n;
        else if (!strcmp(a, "--max-queue")) c->max_queue = n;
        else if (!strcmp(a, "--steps")) c->default_steps = n;
        else if (!strcmp(a, "--max-steps")) c->max_steps = n;
    }
    hg_error err = {0};
    hg_exit_criterion crit;
    if (hg_exit_criterion_parse(c->default_exit, &crit, &err)) return cli_fail_err(&err);
    if (!c->model_path) c->model_path = cli_default_model();
    if (!c->model_path) return cli_fail("serve: no -m MODEL given and no model in models/default");

    /* block the stop signals before any thread exists: srv_http_run's signal thread takes them (sigwait) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (cli_model_load(c->model_path, no_mmap, !no_prepack, &s.model, &err)) return cli_fail_err(&err);
    const hg_config *mc = hg_model_config(s.model);
    int rc = 1;
    if (c->n_ctx == 0) c->n_ctx = mc->block_size < 2048 ? mc->block_size : 2048;
    if (c->n_ctx > mc->block_size) {
        cli_fail("serve: -c %lld exceeds the model's block_size %lld", (long long)c->n_ctx, (long long)mc->block_size);
        goto out;
    }
    if (c->default_steps < 0) c->default_steps = mc->mean_recurrence;
    if (c->max_steps < 0) c->max_steps = c->default_steps > 64 ? c->default_steps : 64;
    if (c->default_steps > c->max_steps) {
        cli_fail("serve: --steps %lld exceeds --max-steps %lld", (long long)c->default_steps, (long long)c->max_steps);
        goto out;
    }
    if (c->max_steps < 1) c->max_steps = 1;
    s.model_name = strrchr(c->model_path, '/') && strrchr(c->model_path, '/')[1] ? strrchr(c->model_path, '/') + 1
                                                                                  : c->model_path;
    if (hg_model_tokenizer(s.model, &s.tok, &err)) s.tok = NULL; /* ids only */
    /* the chat format is fixed before any HTTP thread shares the tokenizer */
    if (c->chat_template && !s.tok) {
        cli_fail("serve: --chat-template %s: the model has no tokenizer", c->chat_template);
        goto out;
    }
    if (c->chat_template && cli_chat_format("serve", s.tok, c->chat_template)) goto out;
    if (s.tok && !hg_tokenizer_has_chat(s.tok))
        fprintf(stderr, "huginn serve: the model's chat template is not recognised: /v1/chat/completions answers 400 "
                        "(--chat-template NAME gives it a built-in format: %s)\n", hg_chat_format_names());
    pthread_mutex_init(&s.tok_mu, NULL);
    tok_mu_made = true;
    if (srv_engine_init(&s, &err)) {
        cli_fail("serve: %s", err.msg[0] ? err.msg : "cannot start the engine");
        goto out;
    }
    rc = srv_http_run(&s); /* the engine runs on this thread inside it */
    if (rc) srv_engine_free(&s);
out:
    if (tok_mu_made) pthread_mutex_destroy(&s.tok_mu);
    hg_tokenizer_free(s.tok);
    hg_model_free(s.model);
    return rc;
}
