/*
 * cmd_run.c — `huginn run`: generate with a model (docs/architecture.md "Command line").
 *   huginn run [-m MODEL] (--ids 1,2,3 | -p TEXT | -p - | -f FILE | --chat) [-n N] [--steps R] [--init-scale S] [--seed N]
 *              [--state FILE] [--eos ID]... [--temp T] [--top-k K] [--top-p P] [--min-p P]
 *              [--repeat-penalty X] [--warm-start] [--kv-cache STRATEGY] [--kv-type f32|f16|bf16] [-c N_CTX]
 *              [--threads N] [--no-mmap] [--prepack] [--json]
 * Without -m the model named by $HUGINN_MODEL, else the shipped models/default (cli_default_model) is
 * used. Defaults follow the reference: r = mean_recurrence, init-scale 1.0, temperature 0.7 (its
 * shipped generation config); --temp 0 is greedy.
 * --json prints one object: {"prompt_ids":[...], "generated":[{"id","text","steps"}...], "stats":{...}}.
 * Generation and output are run_modes.c's for every mode, so plain and test-time runs stream the same
 * way and share one --json schema. A model with a learned exit gate (Ouro) runs run_gate.c's loop
 * instead, with its own exit options and the same schema (docs/family.md).
 */
#include "cli.h"
#include "run_gate.h"
#include "run_modes.h"
#include "run_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_opts {
    const char *model, *ids, *prompt, *prompt_file, *state, *kv, *system, *chat_template;
    int64_t n_new, steps, n_ctx, threads;
    float init_scale;
    uint64_t seed;
    int32_t eos[16];
    int64_t n_eos;
    hg_sampler_params smp;
    hg_dtype kv_type; /* --kv-type (0 = f32) */
    bool warm, json, chat, no_bos, no_mmap; /* --no-mmap: read the weights into (huge-page) memory */
    bool prepack; /* --prepack: the weights laid out as huginn serve lays them (its results, bit for bit) */
    run_ttc_opts ttc; /* test-time modes (run_modes.h) */
    run_gate_opts gate; /* a gated model's exit (Ouro; run_gate.h) */
} run_opts;

static int usage(FILE *f) {
    fprintf(f,
            "usage: huginn run [-m MODEL] (--ids 1,2,3 | -p TEXT | -p - | -f FILE) [--no-bos] [-n N] [--steps R] [--init-scale S]\n"
            "                  [--seed N] [--state FILE] [--eos ID] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
            "                  [--repeat-penalty X] [--kv-cache STRATEGY] [--kv-type f32|f16|bf16] [-c N_CTX]\n"
            "                  [--threads N] [--no-mmap] [--prepack] [--json]\n"
            "       huginn run [-m MODEL] --chat (-p TEXT | -p - | -f FILE) [--system TEXT] [--chat-template NAME] [options]\n"
            "  -m MODEL       a Hugging Face directory or a GGUF file; default: $HUGINN_MODEL, else the shipped\n"
            "                 models/default (next to the binary, in its install prefix or the source tree)\n"
            "  -p TEXT        the prompt; -p - reads it from standard input, -f FILE from a file (one final newline\n"
            "                 dropped). Encoded without the tokenizer's post-processor, with its bos in front unless\n"
            "                 add_bos_token is false or --no-bos: `huginn tokenize --as-prompt` prints the same ids\n"
            "  -n N           tokens to generate (default 32); -c N_CTX the context (default: what the request needs)\n"
            "  --steps R      core iterations per token (default: the model's mean_recurrence); --init-scale S the\n"
            "                 random initial state's scale (default 1; 0 = zero state, deterministic)\n"
            "  --temp T       temperature (default 0.7; 0 = greedy)\n"
            "  --prepack      lay the weights out for batched decode as huginn serve does (Q8_0 on VNNI CPUs\n"
            "                 without AMX, bf16 on AVX2/AVX-512), so the output equals the server's bit for bit\n"
            "                 (bf16: also faster alone; a few seconds to start, the stored pages are released)\n");
    run_modes_help(f, false);
    fprintf(f, "  Ouro (a learned exit gate, docs/family.md): --steps N loops (default total_ut_steps);\n"
               "    --exit gate [--exit-threshold X] (default: the config's early_exit_threshold) | --exit weighted |\n"
               "    --exit last; --exit-at K (0-based loop); --exit-compute skip (default: a token stops at its exit\n"
               "    loop) | all (every loop for every token, as the reference)\n");
    return f == stdout ? 0 : 1;
}

static int parse(int argc, char **argv, run_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), -1;
        if (!strcmp(a, "--warm-start")) { o->warm = true; continue; }
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        if (!strcmp(a, "--chat")) { o->chat = true; continue; }
        if (!strcmp(a, "--no-bos")) { o->no_bos = true; continue; }
        if (!strcmp(a, "--no-mmap")) { o->no_mmap = true; continue; }
        if (!strcmp(a, "--prepack")) { o->prepack = true; continue; }
        { int t = run_gate_parse(argc, argv, &i, &o->gate); if (t < 0) return 1; if (t > 0) continue; }
        { int t = run_modes_parse(argc, argv, &i, &o->ttc); if (t < 0) return 1; if (t > 0) continue; }
        if (!(v = cli_value(argc, argv, &i, "run",
                            "-m --ids -p -f --state --system --chat-template --kv-cache --kv-type -n --steps -c --threads --init-scale "
                            "--seed --eos --temp --top-k --top-p --min-p --repeat-penalty")))
            return 1;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "-f")) o->prompt_file = v;
        else if (!strcmp(a, "--ids")) o->ids = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "--state")) o->state = v;
        else if (!strcmp(a, "--system")) o->system = v;
        else if (!strcmp(a, "--chat-template")) {
            if (!cli_chat_template_known("run", v)) return 1;
            o->chat_template = v;
        }
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
        else return cli_unknown("run", a);
    }
    return 0;
}

int cmd_run(int argc, char **argv) {
    run_opts o = {0};
    o.n_new = 32;
    o.steps = -1;
    o.init_scale = 1.0f;
    o.smp = hg_sampler_default_params();
    o.smp.temperature = 0.7f;
    run_modes_init(&o.ttc);
    run_gate_init(&o.gate);
    int prc = parse(argc, argv, &o);
    if (prc) return prc < 0 ? 0 : prc;
    if (o.gate.given && o.ttc.adaptive_knob) { /* --exit-threshold belongs to --exit gate */
        if (run_gate_threshold(&o.gate, true, o.ttc.ad.threshold)) return 1;
        o.ttc.adaptive_knob = false;
    }
    if (run_modes_check(&o.ttc, o.warm)) return 1;
    if (!o.model) o.model = cli_default_model();
    if (!o.model) return cli_fail("run: no -m MODEL given, $HUGINN_MODEL is unset and no models/default was found");
    if (!!o.ids + !!o.prompt + !!o.prompt_file != 1)
        return o.ids || o.prompt || o.prompt_file ? cli_fail("run: give one of --ids, -p and -f") : usage(stderr);
    if (o.chat && o.ids) return cli_fail("run: --chat needs -p TEXT or -f FILE (the user's message)");
    if (o.system && !o.chat) return cli_fail("run: --system needs --chat");
    if (o.chat_template && !o.chat) return cli_fail("run: --chat-template needs --chat");

    int rc = 1;
    hg_model *m = NULL;
    hg_ctx *ctx = NULL;
    int32_t *prompt = NULL;
    float *state = NULL;
    char *prompt_text = NULL;
    run_text text = {0};
    int64_t n_prompt = 0;
    hg_error err = {0};
    if (o.ids && !cli_parse_ids(o.ids, &prompt, &n_prompt)) return cli_fail("--ids must be a comma-separated list of token ids");
    if (o.prompt_file || (o.prompt && !strcmp(o.prompt, "-"))) {
        if (!(prompt_text = cli_read_text(o.prompt_file ? o.prompt_file : "-"))) goto out;
        o.prompt = prompt_text;
    }
    if (cli_model_load(o.model, o.no_mmap, o.prepack, &m, &err)) { rc = cli_fail_err(&err); goto out; }
    const hg_config *c = hg_model_config(m);
    for (int64_t i = 0; i < n_prompt; i++) /* named by their place in --ids, before any loop splits the prompt */
        if (prompt[i] >= c->vocab_size) {
            rc = cli_fail("--ids: id %d at index %lld is outside the model's vocabulary (0..%lld)", prompt[i], (long long)i,
                          (long long)c->vocab_size - 1);
            goto out;
        }
    if (run_text_open(&text, m, o.prompt != NULL)) goto out;
    if (o.chat) {
        if (cli_chat_format("run", text.tok, o.chat_template)) goto out;
        hg_chat_msg msgs[2] = {{"system", o.system}, {"user", o.prompt}};
        if (run_text_chat(&text, o.system ? msgs : msgs + 1, o.system ? 2 : 1, &prompt, &n_prompt)) goto out;
    } else if (o.prompt && run_text_prompt(&text, o.prompt, o.no_bos, &prompt, &n_prompt)) {
        goto out;
    }
    { /* the EOS and, with --chat, the format's end of turn (<|eot_id|>, <|im_end|>), as in `chat` */
        int32_t stop[2];
        const int n_stop = hg_tokenizer_stop_ids(text.tok, o.chat, stop);
        for (int k = 0; k < n_stop && o.n_eos < 16; k++) o.eos[o.n_eos++] = stop[k];
    }
    if (o.steps < 0) o.steps = c->mean_recurrence;
    if (c->arch == HG_ARCH_OURO || o.gate.given) { /* a learned exit gate: its own loop (run_gate.c) */
        if (c->arch != HG_ARCH_OURO) {
            rc = cli_fail("run: --exit gate|weighted|last, --exit-at and --exit-compute need a model with an exit gate (Ouro)");
            goto out;
        }
        if (run_modes_active(&o.ttc, o.warm) || o.state) {
            rc = cli_fail("run: an Ouro model exits by its gate (--exit gate|weighted|last, --exit-at K, --exit-compute "
                          "skip|all); the Huginn test-time modes, --warm-start and --state do not apply");
            goto out;
        }
        if (c->eos_token_id >= 0 && o.n_eos < 16) o.eos[o.n_eos++] = (int32_t)c->eos_token_id;
        hg_generate_params ggp = hg_generate_default_params();
        ggp.n_steps = o.steps;
        ggp.max_new_tokens = o.n_new;
        ggp.eos_ids = o.eos;
        ggp.n_eos = o.n_eos;
        ggp.sampler = o.smp;
        rc = run_gate_generate(m, &o.gate, o.kv, o.kv_type, (int)o.threads, o.n_ctx, prompt, n_prompt, &ggp, &text, o.json);
        goto out;
    }
    hg_ctx_params cp = hg_ctx_default_params();
    cp.kv_cache = o.kv;
    cp.kv_type = o.kv_type;
    cp.n_threads = (int)o.threads;
    if (run_modes_ctx_size(&o.ttc, &cp, n_prompt, o.n_new, o.steps, o.n_ctx, c->block_size)) goto out;
    if (hg_ctx_init(m, &cp, &ctx, &err)) { rc = cli_fail_err(&err); goto out; }
    if (o.state) {
        state = malloc((size_t)(n_prompt * c->n_embd) * sizeof(float));
        if (!state || !cli_read_f32(o.state, state, (size_t)(n_prompt * c->n_embd))) goto out;
    }
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
    rc = run_modes_generate(ctx, prompt, n_prompt, &gp, &o.ttc, o.warm, c, &text, o.json);
out:
    free(prompt), free(state), free(prompt_text);
    run_text_close(&text);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return rc;
}
