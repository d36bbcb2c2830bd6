/*
 * cmd_eval_chains.c — `huginn eval-chains`: exact-match accuracy of a model on held-out "variable
 * chain" problems (issue 6's demo task) against the number of test-time iterations, per hop count.
 *
 *   huginn eval-chains -m MODEL --problems FILE [--steps 1,2,4,8,16,32,64] [--init-scale S]
 *                      [--seed N] [--threads T] [--csv OUT.csv] [--label NAME] [--predictions OUT.tsv]
 *
 * FILE holds one problem per line, `HOPS<TAB>PROMPT<TAB>ANSWER` (scripts/chain_problems.py writes it
 * with a generator written independently of the trainer's, so evaluation shares no code path or random
 * stream with training). Each prompt is encoded with the model's own tokenizer (no post-processor,
 * the tokenizer's bos id prepended when tokenizer_config.json names one, as `huginn run -p` does) and
 * the answer is right when the greedy (argmax) next token after the prompt is the answer's token.
 *
 * One pass per problem serves every requested depth: the prelude runs once, the core iterations run
 * one at a time up to the largest r, and the coda reads the state whenever the iteration count is one
 * of the requested depths — the same numbers as separate fixed-depth forwards (hg_ctx_forward with
 * n_steps = r and the same initial state), at a fraction of the cost. The initial state is drawn
 * per problem from (seed, problem index), so every depth of a problem starts from the same state.
 * --predictions writes `PROBLEM<TAB>R<TAB>PREDICTED_ID<TAB>ANSWER_ID` per problem and depth (1-based
 * problem numbers, in file order) for analysis and for the test that checks this against
 * `huginn forward`.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTHS = 32, MAX_HOPS = 26 };

typedef struct problem {
    int hops;
    char *prompt; /* owned by the file buffer */
    char *answer;
} problem;

/* Split the file text in place into problems; returns the count or -1 (message printed). */
static int64_t parse_problems(char *text, const char *path, problem **out) {
    int64_t cap = 64, n = 0, line = 0;
    problem *ps = malloc((size_t)cap * sizeof *ps);
    if (!ps) return cli_fail("out of memory"), -1;
    for (char *s = text; *s;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        line++;
        if (*s) {
            char *t1 = strchr(s, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
            int64_t hops;
            if (!t2 || (*t1 = 0, !cli_parse_i64(s, &hops)) || hops < 0 || hops > MAX_HOPS || t2 == t1 + 1 ||
                !t2[1]) {
                free(ps);
                return cli_fail("%s:%lld: expected HOPS<TAB>PROMPT<TAB>ANSWER (hops 0..%d)", path, (long long)line,
                                MAX_HOPS), -1;
            }
            *t2 = 0;
            if (n == cap) {
                problem *q = realloc(ps, (size_t)(cap *= 2) * sizeof *ps);
                if (!q) return free(ps), cli_fail("out of memory"), -1;
                ps = q;
            }
            ps[n++] = (problem){.hops = (int)hops, .prompt = t1 + 1, .answer = t2 + 1};
        }
        if (!nl) break;
        s = nl + 1;
    }
    *out = ps;
    return n;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1) break;
        char *b = realloc(buf, cap *= 2);
        if (!b) free(buf);
        buf = b;
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static int usage(void) {
    fprintf(stderr, "usage: huginn eval-chains -m MODEL --problems FILE [--steps 1,2,4,8,16,32,64] [--init-scale S]\n"
                    "                          [--seed N] [--threads T] [--csv OUT.csv] [--label NAME] [--predictions OUT.tsv]\n"
                    "FILE: HOPS<TAB>PROMPT<TAB>ANSWER per line (scripts/chain_problems.py)\n");
    return 1;
}

int cmd_eval_chains(int argc, char **argv) {
    const char *model_path = NULL, *prob_path = NULL, *csv_path = NULL, *label = NULL, *steps_arg = "1,2,4,8,16,32,64";
    const char *pred_path = NULL;
    float init_scale = 1.0f;
    uint64_t seed = 0;
    int64_t threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        if (!(v = cli_next(argc, argv, &i))) return usage();
        if (!strcmp(a, "-m")) model_path = v;
        else if (!strcmp(a, "--problems")) prob_path = v;
        else if (!strcmp(a, "--steps")) steps_arg = v;
        else if (!strcmp(a, "--csv")) csv_path = v;
        else if (!strcmp(a, "--label")) label = v;
        else if (!strcmp(a, "--predictions")) pred_path = v;
        else if (!strcmp(a, "--init-scale")) {
            if (!cli_parse_f32(v, &init_scale) || !(init_scale >= 0)) return cli_fail("--init-scale: need a number >= 0");
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(v, &seed)) return cli_fail("--seed: need an unsigned integer");
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_i64(v, &threads) || threads < 0) return cli_fail("--threads: need an integer >= 0");
        } else return cli_fail("eval-chains: unknown option `%s`", a), usage();
    }
    if (!model_path) model_path = cli_default_model();
    if (!model_path || !prob_path) return usage();
    if (!label) label = model_path;
    int32_t *steps_list = NULL;
    int64_t n_depths = 0;
    if (!cli_parse_ids(steps_arg, &steps_list, &n_depths) || n_depths < 1 || n_depths > MAX_DEPTHS)
        return free(steps_list), cli_fail("--steps: need 1..%d comma-separated depths", MAX_DEPTHS);
    int64_t depths[MAX_DEPTHS], max_r = 0;
    for (int64_t i = 0; i < n_depths; i++) {
        if (steps_list[i] < 1 || steps_list[i] > 4096 || (i && steps_list[i] <= steps_list[i - 1]))
            return free(steps_list), cli_fail("--steps: depths must increase, each in 1..4096");
        depths[i] = steps_list[i];
        max_r = depths[i];
    }
    free(steps_list);

    int rc = 1;
    hg_error err = {0};
    hg_model *m = NULL;
    hg_ctx *ctx = NULL;
    hg_tokenizer *tok = NULL;
    problem *ps = NULL;
    float *e = NULL, *s = NULL, *logits = NULL;
    int64_t(*right)[MAX_DEPTHS] = NULL, *total = NULL;
    FILE *csv = NULL, *pred = NULL;
    char *text = read_text(prob_path);
    if (!text) {
        cli_fail("%s: cannot read", prob_path);
        goto out;
    }
    const int64_t n_prob = parse_problems(text, prob_path, &ps);
    if (n_prob <= 0) {
        if (n_prob == 0) cli_fail("%s: no problems", prob_path);
        goto out;
    }
    hg_model_params mp = hg_model_default_params();
    if (hg_model_load(model_path, &mp, &m, &err) || hg_model_tokenizer(m, &tok, &err)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    const hg_config *c = hg_model_config(m);
    const int64_t h = c->n_embd, V = c->vocab_size, n_ctx = c->block_size;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = n_ctx, cp.max_steps = max_r, cp.n_threads = (int)threads;
    if (hg_ctx_init(m, &cp, &ctx, &err)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    e = malloc((size_t)(n_ctx * h) * sizeof *e);
    s = malloc((size_t)(n_ctx * h) * sizeof *s);
    logits = malloc((size_t)(n_ctx * V) * sizeof *logits);
    right = calloc(MAX_HOPS + 1, sizeof *right);
    total = calloc(MAX_HOPS + 1, sizeof *total);
    if (!e || !s || !logits || !right || !total) {
        cli_fail("out of memory");
        goto out;
    }
    if (pred_path && !(pred = fopen(pred_path, "w"))) {
        cli_fail("%s: cannot write", pred_path);
        goto out;
    }
    const int32_t bos = hg_tokenizer_bos_id(tok);
    const double t0 = cli_now();
    for (int64_t pi = 0; pi < n_prob; pi++) {
        const problem *p = &ps[pi];
        int32_t *ids = NULL, *ans = NULL;
        int64_t n_ids = 0, n_ans = 0;
        if (hg_tokenizer_encode(tok, p->prompt, strlen(p->prompt), false, &ids, &n_ids, &err) ||
            hg_tokenizer_encode(tok, p->answer, strlen(p->answer), false, &ans, &n_ans, &err)) {
            hg_tokenizer_mem_free(ids);
            rc = cli_fail_err(&err);
            goto out;
        }
        const int32_t want = n_ans == 1 ? ans[0] : -1;
        hg_tokenizer_mem_free(ans);
        const int64_t T = n_ids + (bos >= 0);
        if (want < 0 || T > n_ctx || T > 4096 || n_ids == 0) {
            hg_tokenizer_mem_free(ids);
            cli_fail("%s: problem %lld: %s", prob_path, (long long)pi + 1,
                     want < 0 ? "the answer is not one token" : "the prompt does not fit the model's block_size");
            goto out;
        }
        int32_t row[4096];
        if (bos >= 0) row[0] = bos;
        memcpy(row + (bos >= 0), ids, (size_t)n_ids * sizeof *ids);
        hg_tokenizer_mem_free(ids);
        uint64_t rng = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(pi + 1));
        hg_init_state(m, s, T, init_scale, &rng);
        if (hg_ctx_truncate(ctx, 0, &err) || hg_ctx_prelude(ctx, row, T, 0, e, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
        int64_t di = 0;
        for (int64_t r = 1; r <= max_r; r++) {
            if (hg_ctx_core_step(ctx, s, e, T, 0, r - 1, &err)) {
                rc = cli_fail_err(&err);
                goto out;
            }
            if (r != depths[di]) continue;
            /* the coda rewrites its own K/V slots for positions 0..T-1 every time it reads the state */
            if (hg_ctx_coda(ctx, s, T, 0, NULL, logits, &err)) {
                rc = cli_fail_err(&err);
                goto out;
            }
            const float *z = logits + (T - 1) * V;
            int64_t best = 0;
            for (int64_t j = 1; j < V; j++)
                if (z[j] > z[best]) best = j;
            right[p->hops][di] += best == want;
            if (pred) fprintf(pred, "%lld\t%lld\t%lld\t%d\n", (long long)pi + 1, (long long)r, (long long)best, want);
            di++;
        }
        total[p->hops]++;
    }
    const double el = cli_now() - t0;

    printf("eval-chains: %s on %s (%lld problems, init-scale %g, seed %llu, %.1f s)\n", label, prob_path,
           (long long)n_prob, (double)init_scale, (unsigned long long)seed, el);
    printf("accuracy (%%) by hop count (rows) and test-time iterations r (columns)\n  hops      n");
    for (int64_t di = 0; di < n_depths; di++) printf("  r=%-4lld", (long long)depths[di]);
    printf("\n");
    for (int hops = 0; hops <= MAX_HOPS; hops++) {
        if (!total[hops]) continue;
        printf("  %4d %6lld", hops, (long long)total[hops]);
        for (int64_t di = 0; di < n_depths; di++)
            printf("  %6.1f", 100.0 * (double)right[hops][di] / (double)total[hops]);
        printf("\n");
    }
    if (csv_path) {
        csv = fopen(csv_path, "w");
        if (!csv) {
            cli_fail("%s: cannot write", csv_path);
            goto out;
        }
        fprintf(csv, "model,hops,steps,n,correct,accuracy\n");
        for (int hops = 0; hops <= MAX_HOPS; hops++)
            for (int64_t di = 0; total[hops] && di < n_depths; di++)
                fprintf(csv, "%s,%d,%lld,%lld,%lld,%.4f\n", label, hops, (long long)depths[di],
                        (long long)total[hops], (long long)right[hops][di],
                        (double)right[hops][di] / (double)total[hops]);
        if (fclose(csv) != 0) {
            csv = NULL;
            cli_fail("%s: write failed", csv_path);
            goto out;
        }
        csv = NULL;
    }
    rc = 0;
out:
    if (pred && fclose(pred) != 0 && rc == 0) rc = cli_fail("%s: write failed", pred_path);
    if (csv) fclose(csv);
    free(right), free(total), free(e), free(s), free(logits), free(ps), free(text);
    hg_tokenizer_free(tok);
    hg_ctx_free(ctx);
    hg_model_free(m);
    return rc;
}
