/*
 * cmd_info.c — `huginn info`: a model's configuration, parameter count, bytes of weights and the
 * KV-cache bytes per token of every cache strategy at a given depth.
 *   huginn info -m MODEL [--steps R] [--json]
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    int64_t steps = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-m") && (model = cli_next(argc, argv, &i))) continue;
        if (!strcmp(a, "--steps")) {
            const char *v = cli_next(argc, argv, &i);
            if (!v || !cli_parse_i64(v, &steps) || steps <= 0) return cli_fail("--steps needs a positive integer");
            continue;
        }
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: huginn info -m MODEL [--steps R] [--json]\n");
            return 0;
        }
        return cli_fail("info: unknown option `%s`", a);
    }
    if (!model) model = cli_default_model();
    if (!model) return cli_fail("info: -m MODEL is required");
    hg_model *m = NULL;
    hg_error err = {0};
    if (hg_model_load(model, NULL, &m, &err)) return cli_fail_err(&err);
    const hg_config *c = hg_model_config(m);
    if (steps == 0) steps = c->mean_recurrence > 0 ? c->mean_recurrence : 1;
    static const char *strategies[] = {"full", "compress-s4", "compress-s8", "compress-s16", "compress-s32", "compress-r4", "compress-anchor"};
    const int ns = (int)(sizeof strategies / sizeof strategies[0]);
    int64_t kv[8] = {0}, kv16[8] = {0}; /* f32 entries; f16/bf16 entries (--kv-type) */
    for (int s = 0; s < ns; s++)
        if (hg_model_kv_bytes_per_token(m, strategies[s], steps, &kv[s], &err) ||
            hg_model_kv_bytes_per_token_typed(m, strategies[s], steps, HG_DTYPE_BF16, &kv16[s], &err))
            return hg_model_free(m), cli_fail_err(&err);
    if (json) {
        printf("{\"path\":\"%s\",\"arch\":\"%s\",\"n_embd\":%lld,\"n_head\":%lld,\"head_dim\":%lld,\"intermediate_size\":%lld,"
               "\"vocab_size\":%lld,\"n_layers_prelude\":%lld,\"n_layers_core\":%lld,\"n_layers_coda\":%lld,"
               "\"mean_recurrence\":%lld,\"block_size\":%lld,\"rope_base\":%g,\"norm_eps\":%g,\"qk_bias\":%s,"
               "\"tie_embeddings\":%s,\"architecture\":\"%s\",\"n_kv_head\":%lld,\"n_params\":%lld,\"weight_bytes\":%lld,\"steps\":%lld,\"kv_bytes_per_token\":{",
               hg_model_path(m), hg_arch_name(c->arch), (long long)c->n_embd, (long long)c->n_head, (long long)c->head_dim,
               (long long)c->intermediate_size, (long long)c->vocab_size, (long long)c->n_layers_prelude,
               (long long)c->n_layers_core, (long long)c->n_layers_coda, (long long)c->mean_recurrence,
               (long long)c->block_size, c->rope_base, (double)c->norm_eps, c->qk_bias ? "true" : "false",
               c->tie_embeddings ? "true" : "false", hg_arch_name(c->arch), (long long)c->n_kv_head,
               (long long)hg_model_n_params(m), (long long)hg_model_n_bytes(m),
               (long long)steps);
        for (int s = 0; s < ns; s++) printf("%s\"%s\":%lld", s ? "," : "", strategies[s], (long long)kv[s]);
        printf("},\"kv_bytes_per_token_bf16\":{");
        for (int s = 0; s < ns; s++) printf("%s\"%s\":%lld", s ? "," : "", strategies[s], (long long)kv16[s]);
        printf("}}\n");
    } else {
        printf("model            %s\n", hg_model_path(m));
        printf("architecture     %s", hg_arch_name(c->arch));
        if (c->arch == HG_ARCH_RETROFIT_LLAMA || c->arch == HG_ARCH_RETROFIT_OLMO) /* what a retrofitted config adds (docs/family.md) */
            printf(": %lld KV heads, RoPE %s, embedding scale %g", (long long)c->n_kv_head,
                   c->rope_factor > 0 ? "llama3-scaled" : "unscaled", (double)c->embed_scale);
        printf("\n");
        printf("shape            h %lld, %lld heads of %lld, MLP %lld, vocab %lld\n", (long long)c->n_embd,
               (long long)c->n_head, (long long)c->head_dim, (long long)c->intermediate_size, (long long)c->vocab_size);
        printf("layers           prelude %lld, core %lld (x r), coda %lld; default r %lld\n",
               (long long)c->n_layers_prelude, (long long)c->n_layers_core, (long long)c->n_layers_coda,
               (long long)c->mean_recurrence);
        printf("context          %lld positions, RoPE base %g, eps %g, qk_bias %s, tied %s\n", (long long)c->block_size,
               c->rope_base, (double)c->norm_eps, c->qk_bias ? "yes" : "no", c->tie_embeddings ? "yes" : "no");
        if (c->arch == HG_ARCH_OURO) /* docs/family.md: r is the loop count, the stack is the core block */
            printf("ouro             %lld KV heads, loops (total_ut_steps) %lld, early_exit_threshold %g, eos %lld\n",
                   (long long)c->n_kv_head, (long long)c->mean_recurrence, c->early_exit_threshold, (long long)c->eos_token_id);
        printf("parameters       %lld (%.3f B)\n", (long long)hg_model_n_params(m), (double)hg_model_n_params(m) / 1e9);
        printf("weight bytes     %lld (%.2f GB)\n", (long long)hg_model_n_bytes(m), (double)hg_model_n_bytes(m) / 1e9);
        printf("layers per token %lld at r = %lld\n",
               (long long)(c->n_layers_prelude + c->n_layers_core * steps + c->n_layers_coda), (long long)steps);
        printf("KV bytes/token at r = %lld (f32 entries):\n", (long long)steps);
        for (int s = 0; s < ns; s++)
            /* a ratio to the full cache, not "N x less": a compressed mapping can hold more slots than
             * full at a small r (compress-s32 keeps 32 layer-steps whatever r is) */
            printf("  %-16s %12lld  (%.2f MB, %.2fx the full cache; f16/bf16 entries: %lld)\n", strategies[s],
                   (long long)kv[s], (double)kv[s] / 1e6, kv[0] ? (double)kv[s] / (double)kv[0] : 0.0, (long long)kv16[s]);
    }
    hg_model_free(m);
    return 0;
}
