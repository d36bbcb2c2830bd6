/*
 * cmd_bench.c — `huginn bench`: the engine's speed on one model, as bench/run.sh reports it.
 *   huginn bench -m MODEL [--steps R] [--prompt N] [--gen G] [--batch B] [--threads T]
 *                [--kv-type f32|f16|bf16] [--kv-cache STRATEGY] [--no-mmap] [--prepack] [--json]
 *
 * Phases (each timed with the wall clock around the library calls only), after an untimed warm-up
 * (one token at r = 1, with logits) that touches every weight once, so a model whose file is not yet
 * in the page cache is read from disk there and not inside the prefill figure:
 *   prefill   N prompt tokens in one hg_ctx_forward at r = R (no logits): tokens/s and GFLOP/s, with
 *             FLOPs = 2·params applied per token (prelude + R·(adapter + core) + coda) + attention
 *             (2·2·h per visible position per layer application);
 *   decode    G tokens, one hg_ctx_forward each, greedy from the previous logits: tokens/s and GB/s,
 *             bytes = weights read per token (prelude, coda, one embedding row and lm_head once, the
 *             core block and adapter R times) + the KV entries attention reads;
 *   batch     (B > 1) B sequences of a short prompt (min(N, 16) tokens, prefilled untimed), then G
 *             hg_batch_decode steps; the same with one sequence for the ratio, so both see the same
 *             positions: aggregate tokens/s and the speedup.
 * Widths follow the config: q is H·d wide, k and v Hkv·d (grouped-query attention reads narrower KV
 * rows), and Ouro has no adapter (its loop is the whole layer stack, P = C = 0).
 * Weight bytes per parameter are the model's average (hg_model_n_bytes / hg_model_n_params): exact
 * for one-dtype checkpoints, an estimate for GGUF files mixing types (norms stay f32 there).
 * The checks live in the tests (test_engine_golden, test_batch); this only times.
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_opts {
    const char *model, *kv_cache;
    int64_t steps, prompt, gen, batch, threads;
    hg_dtype kv_type;
    bool json, no_mmap; /* --no-mmap: read the weights into (huge-page) memory instead of mapping them */
    bool prepack;       /* --prepack: the weights laid out for batched decode (huginn serve's default) */
} bench_opts;

static int usage(void) {
    fprintf(stderr, "usage: huginn bench -m MODEL [--steps R] [--prompt N] [--gen G] [--batch B] [--threads T]\n"
                    "                    [--kv-type f32|f16|bf16] [--kv-cache STRATEGY] [--no-mmap] [--prepack] [--json]\n"
                    "  defaults: R = the model's mean_recurrence, N = 128, G = 16, B = 1, T = all cores\n");
    return 1;
}

static int parse(int argc, char **argv, bench_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), -1;
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        if (!strcmp(a, "--no-mmap")) { o->no_mmap = true; continue; }
        if (!strcmp(a, "--prepack")) { o->prepack = true; continue; }
        if (!(v = cli_value(argc, argv, &i, "bench", "-m --kv-cache --kv-type --steps --prompt --gen --batch --threads"))) return 1;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "--kv-cache")) o->kv_cache = v;
        else if (!strcmp(a, "--kv-type")) { hg_error e = {0}; if (hg_kv_type_parse(v, &o->kv_type, &e)) return cli_fail_err(&e); }
        else if (!strcmp(a, "--steps")) { if (!cli_parse_i64(v, &o->steps) || o->steps < 1) return cli_fail("--steps needs an integer >= 1"); }
        else if (!strcmp(a, "--prompt")) { if (!cli_parse_i64(v, &o->prompt) || o->prompt < 1) return cli_fail("--prompt needs an integer >= 1"); }
        else if (!strcmp(a, "--gen")) { if (!cli_parse_i64(v, &o->gen) || o->gen < 1) return cli_fail("--gen needs an integer >= 1"); }
        else if (!strcmp(a, "--batch")) { if (!cli_parse_i64(v, &o->batch) || o->batch < 1 || o->batch > 64) return cli_fail("--batch needs an integer in 1..64"); }
        else if (!strcmp(a, "--threads")) { if (!cli_parse_i64(v, &o->threads) || o->threads < 0 || o->threads > 4096) return cli_fail("--threads needs an integer >= 0"); }
        else return cli_fail("bench: unknown option `%s`", a), usage();
    }
    return 0;
}

static int32_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

/* H·d and Hkv·d (head_dim and n_kv_head are h / H and H where a config leaves them 0). */
static double q_width(const hg_config *c) { return (double)(c->n_head * (c->head_dim ? c->head_dim : c->n_embd / c->n_head)); }
static double kv_width(const hg_config *c) {
    return (double)((c->n_kv_head ? c->n_kv_head : c->n_head) * (c->head_dim ? c->head_dim : c->n_embd / c->n_head));
}

/* Parameters applied per token, by stage (Linear weights only; norms and biases are O(h)). */
typedef struct work_model {
    double layer, adapter, lm_head, bytes_per_param, layer_apps; /* layer_apps: P + R·r + C */
} work_model;

static work_model work_of(const hg_model *m, int64_t r) {
    const hg_config *c = hg_model_config(m);
    const double h = (double)c->n_embd, I = (double)c->intermediate_size, V = (double)c->vocab_size;
    const double q = q_width(c), kv = kv_width(c);
    work_model w;
    w.layer = (q + 2 * kv) * h + h * q + 2 * I * h + I * h; /* wqkv (GQA: narrower k, v), attn_proj, gate|up, mlp_proj */
    w.adapter = c->arch == HG_ARCH_OURO ? 0 : 2 * h * h;  /* Ouro feeds a loop's output straight back (docs/family.md) */
    w.lm_head = V * h;
    w.bytes_per_param = (double)hg_model_n_bytes(m) / (double)hg_model_n_params(m);
    w.layer_apps = (double)(c->n_layers_prelude + c->n_layers_core * r + c->n_layers_coda);
    return w;
}

/* Weight + KV bytes read to decode one token at position p (attends to p + 1 positions). */
static double decode_bytes(const hg_model *m, const work_model *w, int64_t r, int64_t p, double kv_elem) {
    const hg_config *c = hg_model_config(m);
    const double h = (double)c->n_embd;
    const double params = w->layer * (double)(c->n_layers_prelude + c->n_layers_coda) +
                          (double)r * (w->adapter + w->layer * (double)c->n_layers_core) + w->lm_head + h;
    const double kv = kv_width(c); /* one K and one V row of Hkv·d per position */
    return params * w->bytes_per_param + w->layer_apps * (double)(p + 1) * 2 * kv * kv_elem;
}

/* B sequences of `np` prompt tokens, then `gen` batched steps; returns the seconds of the steps. */
static hg_status time_batch(const hg_model *m, const hg_ctx_params *cp, int64_t B, const int32_t *prompt, int64_t np,
                            int64_t gen, int64_t r, double *secs, hg_error *err) {
    const int64_t V = hg_model_config(m)->vocab_size;
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = B;
    bp.ctx = *cp;
    bp.ctx.n_ctx = np + gen + 1;
    hg_batch *b = NULL;
    hg_status st = hg_batch_init(m, &bp, &b, err);
    if (st) return st;
    float *logits = malloc((size_t)(B * V) * sizeof(float));
    int32_t *ids = malloc((size_t)B * sizeof *ids);
    if (!logits || !ids) {
        st = HG_STATUS_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        goto out;
    }
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = r;
    fp.init_scale = 0;
    for (int64_t i = 0; i < B; i++) {
        if ((st = hg_ctx_forward(hg_batch_ctx(b, i), prompt, np, 0, &fp, NULL, NULL, err))) goto out;
        ids[i] = prompt[(np + i) % np];
    }
    const double t0 = cli_now();
    for (int64_t g = 0; g < gen; g++) {
        if ((st = hg_batch_decode(b, ids, &fp, NULL, logits, err))) goto out;
        for (int64_t i = 0; i < B; i++) ids[i] = argmax(logits + i * V, V);
    }
    *secs = cli_now() - t0;
out:
    free(logits);
    free(ids);
    hg_batch_free(b);
    return st;
}

int cmd_bench(int argc, char **argv) {
    bench_opts o = {.prompt = 128, .gen = 16, .batch = 1, .kv_type = HG_DTYPE_F32};
    int pr = parse(argc, argv, &o);
    if (pr) return pr < 0 ? 0 : pr;
    if (!o.model) o.model = cli_default_model();
    if (!o.model) return cli_fail("bench: -m MODEL is required"), usage();

    int rc = 1;
    hg_model *m = NULL;
    hg_ctx *ctx = NULL;
    float *logits = NULL;
    int32_t *prompt = NULL;
    hg_error err = {0};
    if (cli_model_load(o.model, o.no_mmap, o.prepack, &m, &err)) return cli_fail_err(&err);
    const hg_config *c = hg_model_config(m);
    const int64_t V = c->vocab_size, h = c->n_embd;
    const int64_t r = o.steps ? o.steps : (c->mean_recurrence > 0 ? c->mean_recurrence : 1);
    if (o.prompt + o.gen > c->block_size) {
        rc = cli_fail("bench: prompt + gen (%lld) exceed the model's block_size %lld", (long long)(o.prompt + o.gen),
                      (long long)c->block_size);
        goto out;
    }
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = o.prompt + o.gen;
    cp.max_steps = r;
    cp.kv_cache = o.kv_cache;
    cp.kv_type = o.kv_type;
    cp.n_threads = (int)o.threads;
    if (hg_ctx_init(m, &cp, &ctx, &err)) { rc = cli_fail_err(&err); goto out; }
    logits = malloc((size_t)V * sizeof(float));
    prompt = malloc((size_t)o.prompt * sizeof *prompt);
    if (!logits || !prompt) { rc = cli_fail("out of memory"); goto out; }
    uint64_t x = 0x9e3779b97f4a7c15ull; /* fixed pseudo-random prompt (speed does not depend on it) */
    for (int64_t i = 0; i < o.prompt; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        prompt[i] = (int32_t)(x % (uint64_t)(V < 65504 ? V : 65504)); /* never a stop id */
    }
    const work_model w = work_of(m, r);
    /* attention reads one entry per visible position per layer application, whatever the strategy */
    const double kv_elem = o.kv_type == HG_DTYPE_F32 ? 4.0 : 2.0;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = r;
    fp.init_scale = 0;

    /* warm-up: every weight once (position 0 is written again by the prefill) */
    hg_forward_params fw = fp;
    fw.n_steps = 1;
    if (hg_ctx_forward(ctx, prompt, 1, 0, &fw, NULL, logits, &err)) { rc = cli_fail_err(&err); goto out; }

    /* prefill: all but the last prompt token, no logits (the last one opens the decode phase) */
    const int64_t np = o.prompt > 1 ? o.prompt - 1 : 1;
    double t0 = cli_now();
    if (hg_ctx_forward(ctx, prompt, np, 0, &fp, NULL, NULL, &err)) { rc = cli_fail_err(&err); goto out; }
    const double t_prefill = cli_now() - t0;
    const double prefill_flops = 2.0 * (double)np *
                                     (w.layer * (double)(c->n_layers_prelude + c->n_layers_coda) +
                                      (double)r * (w.adapter + w.layer * (double)c->n_layers_core)) +
                                 w.layer_apps * 4.0 * q_width(c) * (double)np * (double)(np + 1) / 2.0;

    /* decode: G tokens at positions np .. np+G-1 */
    int32_t id = prompt[np % o.prompt];
    double bytes = 0;
    t0 = cli_now();
    for (int64_t g = 0; g < o.gen; g++) {
        if (hg_ctx_forward(ctx, &id, 1, np + g, &fp, NULL, logits, &err)) { rc = cli_fail_err(&err); goto out; }
        bytes += decode_bytes(m, &w, r, np + g, kv_elem);
        id = argmax(logits, V);
    }
    const double t_decode = cli_now() - t0;

    double t_b1 = 0, t_bb = 0;
    const int64_t nbp = o.prompt < 16 ? o.prompt : 16;
    if (o.batch > 1) {
        if (time_batch(m, &cp, 1, prompt, nbp, o.gen, r, &t_b1, &err) ||
            time_batch(m, &cp, o.batch, prompt, nbp, o.gen, r, &t_bb, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
    }
    const double prefill_tps = (double)np / t_prefill, gflops = prefill_flops / t_prefill / 1e9;
    const double decode_tps = (double)o.gen / t_decode, gbps = bytes / t_decode / 1e9;
    const double b1_tps = o.batch > 1 ? (double)o.gen / t_b1 : decode_tps;
    const double bb_tps = o.batch > 1 ? (double)(o.gen * o.batch) / t_bb : decode_tps;
    if (o.json) {
        printf("{\"model\":\"%s\",\"n_embd\":%lld,\"n_params\":%lld,\"weight_bytes\":%lld,\"bytes_per_param\":%.4f,"
               "\"steps\":%lld,\"prompt\":%lld,\"gen\":%lld,\"batch\":%lld,\"batch_prompt\":%lld,\"threads\":%lld,"
               "\"kv_type\":\"%s\",\"kv_cache\":\"%s\",\"kernels\":\"%s\",\"mmap\":%s,\"prefill_tokens\":%lld,\"prefill_s\":%.4f,"
               "\"prefill_tokens_per_s\":%.4f,\"prefill_GFLOPs\":%.3f,\"decode_s\":%.4f,\"decode_tokens_per_s\":%.4f,"
               "\"decode_bytes_per_token\":%.0f,\"decode_GBps\":%.3f,\"batch1_tokens_per_s\":%.4f,"
               "\"batch_tokens_per_s\":%.4f,\"batch_speedup\":%.3f}\n",
               o.model, (long long)h, (long long)hg_model_n_params(m), (long long)hg_model_n_bytes(m), w.bytes_per_param,
               (long long)r, (long long)o.prompt, (long long)o.gen, (long long)o.batch, (long long)nbp,
               (long long)o.threads, hg_dtype_name(o.kv_type), o.kv_cache ? o.kv_cache : "full", hg_kernels_name(),
               o.no_mmap ? "false" : "true", (long long)np,
               t_prefill, prefill_tps, gflops, t_decode, decode_tps, bytes / (double)o.gen, gbps, b1_tps, bb_tps,
               bb_tps / b1_tps);
    } else {
        printf("model     %s (h %lld, %.3f B params, %.2f GB, %.3f bytes/param)\n", o.model, (long long)h,
               (double)hg_model_n_params(m) / 1e9, (double)hg_model_n_bytes(m) / 1e9, w.bytes_per_param);
        printf("settings  r %lld, prompt %lld, gen %lld, batch %lld, threads %lld (0 = all), kv %s/%s, kernels %s%s\n",
               (long long)r, (long long)o.prompt, (long long)o.gen, (long long)o.batch, (long long)o.threads,
               hg_dtype_name(o.kv_type), o.kv_cache ? o.kv_cache : "full", hg_kernels_name(), o.no_mmap ? ", no mmap" : "");
        printf("prefill   %8.2f tokens/s  %8.1f GFLOP/s  (%lld tokens in %.2f s)\n", prefill_tps, gflops, (long long)np,
               t_prefill);
        printf("decode    %8.3f tokens/s  %8.2f GB/s     (%.1f MB read per token)\n", decode_tps, gbps,
               bytes / (double)o.gen / 1e6);
        if (o.batch > 1)
            printf("batch %-3lld %8.3f tokens/s aggregate vs %.3f for 1 sequence: %.2fx  (prompts of %lld)\n",
                   (long long)o.batch, bb_tps, b1_tps, bb_tps / b1_tps, (long long)nbp);
    }
    rc = 0;
out:
    free(logits);
    free(prompt);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return rc;
}
