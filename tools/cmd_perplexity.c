/*
 * cmd_perplexity.c — `huginn perplexity`: perplexity of a text file at one or more depths, as
 * llama-perplexity computes it (docs/eval.md "Perplexity").
 *
 *   huginn perplexity [-m MODEL] -f FILE [--steps R | --steps 1,4,16,32] [-c N] [--stride S]
 *                     [--init-scale S] [--seed N] [--threads T] [--no-bos] [--json]
 *
 * The file is encoded with the model's tokenizer (its BOS in front, as `huginn run -p`), then scored
 * in windows of -c tokens (default: the model's block_size, at most 512, llama-perplexity's default)
 * starting every --stride tokens (default -c/2): the first window scores every token after the first,
 * each later window only the tokens after its first c - stride (warm-up context), so each token is
 * scored once (hg_score_rolling). A file that fits one window has every token after the first scored.
 * Per depth: perplexity = exp(mean NLL) ± its standard error (ppl · sqrt(var(NLL)/(N-1)), as
 * llama-perplexity), and bits per byte = ΣNLL / ln 2 / the UTF-8 bytes of the scored tokens.
 * Progress with an ETA goes to stderr.
 */
#include "cli.h"
#include "eval_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ppl_opts {
    const char *model_path, *file;
    int64_t depths[EVU_MAX_DEPTHS], n_depths, n_ctx, stride, threads;
    float init_scale;
    uint64_t seed;
    bool json, no_bos;
} ppl_opts;

typedef struct ppl_row {
    int64_t steps, tokens;
    double ppl, ppl_se, bpb, seconds;
} ppl_row;

static int usage(void) {
    fprintf(stderr, "usage: huginn perplexity [-m MODEL] -f FILE [--steps R | --steps 1,4,16,32] [-c N] [--stride S]\n"
                    "                         [--init-scale S] [--seed N] [--threads T] [--no-bos] [--json]\n");
    return 1;
}

static int parse_args(int argc, char **argv, ppl_opts *o) {
    const char *steps = NULL;
    *o = (ppl_opts){0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        if (!strcmp(a, "--no-bos")) { o->no_bos = true; continue; }
        if (!(v = cli_value(argc, argv, &i, "perplexity", "-m -f --steps -c --stride --init-scale --seed --threads"))) return 1;
        if (!strcmp(a, "-m")) o->model_path = v;
        else if (!strcmp(a, "-f")) o->file = v;
        else if (!strcmp(a, "--steps")) steps = v;
        else if (!strcmp(a, "-c")) {
            if (!cli_parse_i64(v, &o->n_ctx) || o->n_ctx < 2) return cli_fail("-c: need an integer >= 2");
        } else if (!strcmp(a, "--stride")) {
            if (!cli_parse_i64(v, &o->stride) || o->stride < 1) return cli_fail("--stride: need an integer >= 1");
        } else if (!strcmp(a, "--init-scale")) {
            if (!cli_parse_f32(v, &o->init_scale) || !(o->init_scale >= 0)) return cli_fail("--init-scale: need >= 0");
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(v, &o->seed)) return cli_fail("--seed: need an unsigned integer");
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_i64(v, &o->threads) || o->threads < 0) return cli_fail("--threads: need an integer >= 0");
        } else return cli_fail("perplexity: unknown option `%s`", a), usage();
    }
    if (!o->model_path) o->model_path = cli_default_model();
    if (!o->model_path || !o->file) return usage();
    if (steps && !evu_parse_depths(steps, o->depths, &o->n_depths)) return 1;
    return -1;
}

/* Scores ids at each depth into rows; 0, or 1 with a message. */
static int score_all(const ppl_opts *o, hg_model *m, const int32_t *ids, int64_t n, double bytes, ppl_row *rows) {
    const hg_config *c = hg_model_config(m);
    int64_t max_r = 0;
    for (int64_t d = 0; d < o->n_depths; d++) max_r = o->depths[d] > max_r ? o->depths[d] : max_r;
    const int64_t window = o->n_ctx ? o->n_ctx : hg_min_i64_cli(c->block_size, 512);
    const int64_t stride = o->stride ? o->stride : (window / 2 > 0 ? window / 2 : 1);
    if (stride > window) return cli_fail("--stride %lld is longer than the window -c %lld", (long long)stride,
                                         (long long)window);
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = window, cp.max_steps = max_r > 0 ? max_r : 1, cp.n_threads = (int)o->threads;
    hg_ctx *ctx = NULL;
    hg_error err = {0};
    double *lp = malloc((size_t)n * sizeof *lp);
    int rc = 0;
    if (!lp) return cli_fail("out of memory");
    if (hg_ctx_init(m, &cp, &ctx, &err)) return free(lp), cli_fail_err(&err);
    for (int64_t d = 0; d < o->n_depths && !rc; d++) {
        hg_score_params sp = hg_score_default_params();
        sp.n_steps = o->depths[d], sp.init_scale = o->init_scale, sp.seed = o->seed;
        char label[64];
        snprintf(label, sizeof label, "perplexity r=%lld", (long long)sp.n_steps);
        evu_bar bar;
        evu_bar_start(&bar, label, false);
        const double t0 = cli_now();
        if (hg_score_rolling(ctx, ids, n, window, stride, &sp, lp, evu_bar_cb, &bar, &err)) {
            rc = cli_fail_err(&err);
            break;
        }
        double s1 = 0, s2 = 0;
        for (int64_t i = 1; i < n; i++) s1 -= lp[i], s2 += lp[i] * lp[i];
        const double N = (double)(n - 1), mean = s1 / N, var = s2 / N - mean * mean;
        rows[d] = (ppl_row){.steps = sp.n_steps, .tokens = n - 1, .ppl = exp(mean),
                            .ppl_se = n > 2 ? exp(mean) * sqrt(var > 0 ? var / (N - 1) : 0) : 0,
                            .bpb = bytes > 0 ? s1 / log(2.0) / bytes : (double)NAN, .seconds = cli_now() - t0};
    }
    free(lp);
    hg_ctx_free(ctx);
    return rc;
}

static void print_rows(const ppl_opts *o, const ppl_row *rows, int64_t window_tokens) {
    if (o->json) {
        printf("{\"results\": [");
        for (int64_t d = 0; d < o->n_depths; d++)
            printf("%s{\"steps\": %lld, \"perplexity\": %.9g, \"ppl_stderr\": %.6g, \"tokens\": %lld, "
                   "\"bits_per_byte\": %.9g, \"seconds\": %.3f}",
                   d ? ", " : "", (long long)rows[d].steps, rows[d].ppl, rows[d].ppl_se, (long long)rows[d].tokens,
                   rows[d].bpb, rows[d].seconds);
        printf("]}\n");
        return;
    }
    printf("perplexity of %s (%lld tokens scored, window %lld)\n", o->file, (long long)rows[0].tokens,
           (long long)window_tokens);
    printf("  steps  perplexity     ± stderr  bits/byte    tokens/s\n");
    for (int64_t d = 0; d < o->n_depths; d++)
        printf("  %5lld  %10.4f  ± %9.4f  %9.4f  %10.1f\n", (long long)rows[d].steps, rows[d].ppl, rows[d].ppl_se,
               rows[d].bpb, rows[d].seconds > 0 ? (double)rows[d].tokens / rows[d].seconds : 0.0);
}

int cmd_perplexity(int argc, char **argv) {
    ppl_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    hg_model *m = NULL;
    hg_tokenizer *tok = NULL;
    hg_error err = {0};
    char *text = NULL, *dec = NULL;
    int32_t *ids = NULL;
    int64_t n = 0;
    size_t len = 0, dec_len = 0;
    ppl_row rows[EVU_MAX_DEPTHS];
    if (!(text = evu_read_file(o.file, &len))) { rc = cli_fail("%s: cannot read", o.file); goto done; }
    if (hg_model_load(o.model_path, NULL, &m, &err) || hg_model_tokenizer(m, &tok, &err)) {
        rc = cli_fail_err(&err);
        goto done;
    }
    if (!o.n_depths) o.depths[0] = hg_model_config(m)->mean_recurrence, o.n_depths = 1;
    if (!evu_encode(tok, text, len, !o.no_bos, &ids, &n)) { rc = 1; goto done; }
    if (n < 2) { rc = cli_fail("%s: fewer than two tokens to score", o.file); goto done; }
    /* bits per byte counts the bytes the scored tokens (all but the first) stand for */
    if (hg_tokenizer_decode(tok, ids + 1, n - 1, false, &dec, &dec_len, &err)) { rc = cli_fail_err(&err); goto done; }
    if ((rc = score_all(&o, m, ids, n, (double)dec_len, rows))) goto done;
    print_rows(&o, rows, o.n_ctx ? o.n_ctx : hg_min_i64_cli(hg_model_config(m)->block_size, 512));
done:
    hg_tokenizer_mem_free(dec);
    free(ids), free(text);
    hg_tokenizer_free(tok);
    hg_model_free(m);
    return rc;
}
