/*
 * cmd_quantize.c — `huginn quantize`: write a model's matrices as Q8_0, Q4_0, F16, BF16 or F32 GGUF.
 *   huginn quantize -m IN(.gguf or HF dir) -o OUT.gguf --type q8_0|q4_0|f16|bf16|f32 [--name NAME]
 *                   [--no-tokenizer]
 * Every 2-D weight whose rows are a multiple of 32 (all of Huginn's, embedding included) gets the
 * type; norms and the q/k bias stay F32, as llama.cpp keeps them. A GGUF input's tokenizer keys are
 * copied; an HF directory's tokenizer.json is embedded. docs/gguf.md gives the measured accuracy.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_quantize(int argc, char **argv);

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *name = NULL;
    int dtype = -1;
    bool no_tok = false;
    static const struct {
        const char *name;
        hg_dtype t;
    } types[] = {{"q8_0", HG_DTYPE_Q8_0}, {"q4_0", HG_DTYPE_Q4_0}, {"f16", HG_DTYPE_F16}, {"bf16", HG_DTYPE_BF16},
                 {"f32", HG_DTYPE_F32}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-m")) {
            if (!(in = cli_next(argc, argv, &i))) return 1;
        } else if (!strcmp(a, "-o")) {
            if (!(out = cli_next(argc, argv, &i))) return 1;
        } else if (!strcmp(a, "--name")) {
            if (!(name = cli_next(argc, argv, &i))) return 1;
        } else if (!strcmp(a, "--type")) {
            const char *v = cli_next(argc, argv, &i);
            if (!v) return 1;
            for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
                if (!strcmp(v, types[k].name)) dtype = (int)types[k].t;
            if (dtype < 0) return cli_fail("quantize: --type must be q8_0, q4_0, f16, bf16 or f32 (got `%s`)", v);
        } else if (!strcmp(a, "--no-tokenizer")) {
            no_tok = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: huginn quantize -m IN(.gguf or HF dir) -o OUT.gguf --type q8_0|q4_0|f16|bf16|f32 "
                   "[--name NAME] [--no-tokenizer]\n");
            return 0;
        } else {
            return cli_fail("quantize: unknown option `%s`", a);
        }
    }
    if (!in || !out || dtype < 0) return cli_fail("quantize: -m IN, -o OUT.gguf and --type are required");
    return cli_gguf_export(in, out, dtype, name, no_tok);
}
