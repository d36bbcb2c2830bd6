/*
 * cmd_init.c — `huginn init`: write a random-weight checkpoint in the Hugging Face layout.
 *   huginn init (--config FILE | --preset huginn-0125) -o DIR [--dtype f32|bf16|f16] [--seed N]
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: huginn init (--config FILE | --preset huginn-0125) -o DIR [--dtype f32|bf16|f16] [--seed N]\n");
    return 1;
}

int cmd_init(int argc, char **argv) {
    const char *config = NULL, *preset = NULL, *out = NULL, *dt = "f32";
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") && (config = cli_next(argc, argv, &i))) continue;
        if (!strcmp(a, "--preset") && (preset = cli_next(argc, argv, &i))) continue;
        if (!strcmp(a, "-o") && (out = cli_next(argc, argv, &i))) continue;
        if (!strcmp(a, "--dtype") && (dt = cli_next(argc, argv, &i))) continue;
        if (!strcmp(a, "--seed")) {
            const char *v = cli_next(argc, argv, &i);
            if (!v || !cli_parse_u64(v, &seed)) return cli_fail("--seed needs a non-negative integer");
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        return cli_fail("init: unknown option `%s`", a), usage();
    }
    if (!out || (!config == !preset)) return usage();
    hg_dtype dtype;
    if (!strcmp(dt, "f32")) dtype = HG_DTYPE_F32;
    else if (!strcmp(dt, "bf16")) dtype = HG_DTYPE_BF16;
    else if (!strcmp(dt, "f16")) dtype = HG_DTYPE_F16;
    else return cli_fail("--dtype must be f32, bf16 or f16");
    hg_config cfg;
    hg_error err = {0};
    if (preset) {
        if (strcmp(preset, "huginn-0125") != 0) return cli_fail("unknown preset `%s` (known: huginn-0125)", preset);
        cfg = hg_config_huginn_0125();
    } else if (hg_config_load(config, &cfg, &err)) {
        return cli_fail_err(&err);
    }
    if (hg_checkpoint_init(&cfg, out, dtype, seed, &err)) return cli_fail_err(&err);
    fprintf(stderr, "huginn: wrote %s (%s, seed %llu)\n", out, dt, (unsigned long long)seed);
    return 0;
}
