/*
 * cmd_convert.c — `huginn convert`: a Hugging Face checkpoint (or a GGUF) to GGUF (docs/gguf.md).
 *   huginn convert -m HF_DIR -o OUT.gguf [--dtype f32|f16|bf16] [--name NAME] [--no-tokenizer]
 * Without --dtype every matrix keeps its stored dtype (written straight from the mapping); norms and
 * the q/k bias are always F32. The tokenizer (tokenizer.json + tokenizer_config.json of the model
 * directory) is embedded when present. `huginn quantize` shares cli_gguf_export below.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Load `in`, export to `out` with matrices in `dtype` (-1: as stored); 0 on success, else 1 (printed). */
int cli_gguf_export(const char *in, const char *out, int dtype, const char *name, bool no_tokenizer) {
    hg_model *m = NULL;
    hg_error err = {0};
    if (hg_model_load(in, NULL, &m, &err)) return cli_fail_err(&err);
    char tok[4096];
    struct stat st;
    snprintf(tok, sizeof tok, "%s/tokenizer.json", in);
    const bool has_tok = !no_tokenizer && stat(in, &st) == 0 && S_ISDIR(st.st_mode) && stat(tok, &st) == 0;
    hg_gguf_export_params p = {.out_dtype = dtype, .tokenizer = has_tok ? in : NULL, .name = name,
                               .no_tokenizer = no_tokenizer};
    hg_status s = hg_model_export_gguf(m, out, &p, &err);
    hg_model_free(m);
    if (s) return cli_fail_err(&err);
    fprintf(stderr, "huginn: wrote %s\n", out);
    return 0;
}

int cmd_convert(int argc, char **argv);

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *name = NULL;
    int dtype = -1;
    bool no_tok = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-m")) {
            if (!(in = cli_next(argc, argv, &i))) return 1;
        } else if (!strcmp(a, "-o")) {
            if (!(out = cli_next(argc, argv, &i))) return 1;
        } else if (!strcmp(a, "--name")) {
            if (!(name = cli_next(argc, argv, &i))) return 1;
        } else if (!strcmp(a, "--dtype")) {
            const char *v = cli_next(argc, argv, &i);
            if (!v) return 1;
            if (!strcmp(v, "f32")) dtype = HG_DTYPE_F32;
            else if (!strcmp(v, "f16")) dtype = HG_DTYPE_F16;
            else if (!strcmp(v, "bf16")) dtype = HG_DTYPE_BF16;
            else return cli_fail("convert: --dtype must be f32, f16 or bf16 (use `huginn quantize` for q8_0/q4_0)");
        } else if (!strcmp(a, "--no-tokenizer")) {
            no_tok = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: huginn convert -m HF_DIR -o OUT.gguf [--dtype f32|f16|bf16] [--name NAME] [--no-tokenizer]\n");
            return 0;
        } else {
            return cli_fail("convert: unknown option `%s`", a);
        }
    }
    if (!in || !out) return cli_fail("convert: -m HF_DIR and -o OUT.gguf are required");
    return cli_gguf_export(in, out, dtype, name, no_tok);
}
