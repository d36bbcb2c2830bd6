/*
 * fuzz_serve_request.c — libFuzzer target: request bodies of `huginn serve` (tools/serve_api.c). The
 * first input byte picks the endpoint (completions, chat completions, tokenize, detokenize), the rest
 * is the body. A body is either refused with a 4xx JSON error or becomes a job whose fields are in
 * range; the job is then released (no engine runs, so nothing is generated). The shipped model gives
 * the tokenizer and the sizes (loaded once).
 */
#include "fuzz_util.h"
#include "serve.h"

#include <math.h>

static srv g_srv;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    hg_error err = {0};
    if (hg_model_load(HG_SOURCE_DIR "/models/default", NULL, &g_srv.model, &err)) {
        fprintf(stderr, "fuzz_serve_request: %s\n", err.msg);
        abort();
    }
    if (hg_model_tokenizer(g_srv.model, &g_srv.tok, &err)) g_srv.tok = NULL;
    g_srv.cfg.n_ctx = 64;
    g_srv.cfg.max_steps = 64;
    g_srv.cfg.default_steps = 8;
    g_srv.cfg.default_exit = "none";
    g_srv.cfg.default_threshold = (double)NAN;
    g_srv.cfg.default_init_scale = 1.0;
    g_srv.cfg.slots = 4;
    g_srv.model_name = "default";
    pthread_mutex_init(&g_srv.mu, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const paths[4] = {"/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"};
    const char *path = paths[data[0] & 3];
    const char *body = (const char *)data + 1;
    const size_t len = size - 1;
    srv_reply r = {0};
    if ((data[0] & 3) >= 2) {
        FZ_CHECK(srv_api_simple(&g_srv, "POST", path, body, len, &r));
        FZ_CHECK(r.status == 200 || (r.status >= 400 && r.status < 500));
        free(r.body);
        return 0;
    }
    srv_job *j = srv_api_parse(&g_srv, path, body, len, &r);
    if (!j) {
        FZ_CHECK(r.status >= 400 && r.status < 600 && r.body);
        free(r.body);
        return 0;
    }
    FZ_CHECK(j->n_prompt >= 1 && j->n_prompt + j->req.gen.max_new_tokens <= g_srv.cfg.n_ctx);
    FZ_CHECK(j->req.gen.n_steps >= 0 && j->req.gen.n_steps <= g_srv.cfg.max_steps);
    FZ_CHECK(j->n_logprobs >= -1 && j->n_logprobs <= SRV_MAX_TOP && j->n_stop <= SRV_MAX_STOP);
    for (int64_t i = 0; i < j->n_prompt; i++)
        FZ_CHECK(j->prompt[i] >= 0 && j->prompt[i] < hg_model_config(g_srv.model)->vocab_size);
    srv_job_release(&g_srv, j);
    return 0;
}
