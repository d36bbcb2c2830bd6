/*
 * huginn.c — the `huginn` command: dispatches to one subcommand per tools/cmd_*.c (docs/architecture.md
 * "Command line"). This file holds the table, the usage text, `--version` and the OpenMP spin default.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HG_VERSION
#define HG_VERSION "unknown"
#endif
#ifndef HG_GIT_COMMIT
#define HG_GIT_COMMIT ""
#endif

/* `huginn --version` / `huginn version`: the release, the commit it was configured from, the kernel
 * level this CPU gets, and the default model (what a bug report needs). */
static int cmd_version(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *model = cli_default_model();
    printf("huginn %s%s%s%s\nkernels: %s\ndefault model: %s\n", HG_VERSION, *HG_GIT_COMMIT ? " (commit " : "",
           HG_GIT_COMMIT, *HG_GIT_COMMIT ? ")" : "", hg_kernels_name(), model ? model : "none (set HUGINN_MODEL or use -m)");
    return 0;
}

static const hg_cmd k_cmds[] = {
    {"run", cmd_run, "generate text or ids with a model"},
    {"forward", cmd_forward, "one fixed-depth forward pass; raw logits/latents"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server with per-request depth and continuous batching"},
    {"info", cmd_info, "print a model's config, size and KV-cache bytes"},
    {"init", cmd_init, "write a random-weight checkpoint in the Hugging Face layout"},
    {"tokenize", cmd_tokenize, "text on stdin -> JSON array of token ids"},
    {"detokenize", cmd_detokenize, "JSON array of ids on stdin -> text"},
    {"convert", cmd_convert, "Hugging Face checkpoint -> GGUF (f32/f16/bf16, tokenizer embedded)"},
    {"quantize", cmd_quantize, "model -> GGUF with Q8_0/Q4_0/F16/BF16/F32 matrices"},
    {"grad", cmd_grad, "loss and gradients of one sequence (truncated backprop), raw f32 per tensor"},
    {"train", cmd_train, "train a recurrent-depth model (recipe of docs/training.md) from a JSON config"},
    {"chat", cmd_chat, "interactive chat in the model's chat format (KV cache kept between turns)"},
    {"eval-chains", cmd_eval_chains, "accuracy on held-out variable-chain problems vs test-time iterations"},
    {"perplexity", cmd_perplexity, "perplexity and bits per byte of a text file at one or more depths (docs/eval.md)"},
    {"eval", cmd_eval, "multiple-choice, generation and rolling-loglikelihood tasks against depth (docs/eval.md)"},
    {"tokenize-data", cmd_tokenize_data, "text files -> packed token shards for training"},
    {"bench", cmd_bench, "prefill / decode / batch speed of a model (tokens/s, GB/s, GFLOP/s)"},
    {"trace", cmd_trace, "every core iteration of a run: states, logit lens, exit values (.npy files)"},
    {"plot", cmd_plot, "SVG plots of a `huginn trace` directory"},
    {"version", cmd_version, "print the version, the kernel level and the default model (also --version)"},
    /* HG-CMD-TABLE */
};

static void usage(FILE *f) {
    fprintf(f, "usage: huginn COMMAND [options]   (huginn COMMAND --help for its options; huginn --version)\n\n"
               "MODEL (-m) is a Hugging Face directory or a GGUF file; without -m, run and chat use $HUGINN_MODEL,\n"
               "else the shipped models/default.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
        fprintf(f, "  %-12s %s\n", k_cmds[i].name, k_cmds[i].summary);
}

/* libgomp reads its wait policy once, when it loads: by default idle workers spin ~300,000 times at
 * every barrier, which on a host whose cores are shared (another job, a parallel test suite) made
 * runs 5-1000x slower. Unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), run ourselves
 * again once with a short spin: idle workers then sleep after a few microseconds. */
static void omp_short_spin(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "10000", 1) == 0) execv("/proc/self/exe", argv); /* on failure: go on */
}

int main(int argc, char **argv) {
    omp_short_spin(argv);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
        if (!strcmp(argv[1], k_cmds[i].name)) return k_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "huginn: unknown command `%s`\n", argv[1]);
    usage(stderr);
    return 1;
}
