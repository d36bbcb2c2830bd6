/*
 * cmd_eval_chains.c — `huginn eval-chains`: exact-match accuracy of a model on held-out "variable
 * chain" problems (the demo task of tools/chains.c) against the number of test-time iterations, per
 * hop count.
 *
 *   huginn eval-chains -m MODEL --problems FILE [--steps 1,2,4,8,16,32,64] [--init-scale S]
 *                      [--seed N] [--threads T] [--csv OUT.csv] [--label NAME] [--predictions OUT.tsv]
 *                      [--exit CRITERION [--exit-threshold X|auto] [--min-steps N]]
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
 *
 * --exit measures an adaptive exit instead: each problem is answered as `huginn run -p PROMPT -n 1
 * --temp 0 --steps R --exit CRITERION` answers it (hg_generate_adaptive, the prompt exiting as a
 * whole; R = the largest of --steps), and the table gives accuracy and the mean iterations used per
 * hop count — whether a harder question gets more thinking.
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
                    "                          [--exit CRITERION [--exit-threshold X|auto] [--min-steps N]]\n"
                    "FILE: HOPS<TAB>PROMPT<TAB>ANSWER per line (scripts/chain_problems.py)\n"
                    "--exit: answer each problem with that adaptive exit (none, entropy-diff, latent-diff, kl, minp-kl,\n"
                    "  argmax-stability, cosine) up to the largest --steps, as `huginn run -n 1 --temp 0 --exit` does;\n"
                    "  the table gives accuracy and mean iterations per hop count\n");
    return 1;
}

/* The options of one call. */
typedef struct eval_opts {
    const char *model_path, *prob_path, *csv_path, *label, *pred_path;
    float init_scale;
    uint64_t seed;
    int64_t threads;
    int64_t depths[MAX_DEPTHS], n_depths, max_r; /* increasing; max_r is the last */
    bool adaptive;                               /* --exit given: one adaptive run at max_r per problem */
    hg_adaptive_params ap;
} eval_opts;

/* The model, its buffers and the tallies: right[hops][depth index] of total[hops] problems. */
typedef struct eval_run {
    hg_model *m;
    hg_ctx *ctx;
    hg_tokenizer *tok;
    int64_t h, V, n_ctx;
    float *e, *s, *logits; /* prelude output, state, logits: [n_ctx, h], [n_ctx, h], [n_ctx, V] */
    int64_t (*right)[MAX_DEPTHS], *total;
    int64_t *iters; /* --exit: iterations used, summed per hop count */
    FILE *pred; /* --predictions, or NULL */
    hg_error err;
} eval_run;

enum { EVAL_GO_ON = -1 };

/* --steps: 1..MAX_DEPTHS increasing depths in 1..4096; 0, or 1 with a message. */
static int parse_depths(const char *arg, eval_opts *o) {
    int32_t *steps_list = NULL;
    if (!cli_parse_ids(arg, &steps_list, &o->n_depths) || o->n_depths < 1 || o->n_depths > MAX_DEPTHS)
        return free(steps_list), cli_fail("--steps: need 1..%d comma-separated depths", MAX_DEPTHS);
    for (int64_t i = 0; i < o->n_depths; i++) {
        if (steps_list[i] < 1 || steps_list[i] > 4096 || (i && steps_list[i] <= steps_list[i - 1]))
            return free(steps_list), cli_fail("--steps: depths must increase, each in 1..4096");
        o->depths[i] = steps_list[i];
        o->max_r = o->depths[i];
    }
    free(steps_list);
    return 0;
}

/* Reads the command line; returns EVAL_GO_ON, or the exit code (after --help or a bad option). */
static int parse_args(int argc, char **argv, eval_opts *o) {
    const char *steps_arg = "1,2,4,8,16,32,64";
    *o = (eval_opts){.init_scale = 1.0f, .ap = hg_adaptive_default_params()};
    hg_error err = {0};
    const char *exit_opt = NULL; /* an option that only means something with --exit */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        if (!(v = cli_value(argc, argv, &i, "eval-chains",
                            "-m --problems --steps --csv --label --predictions --init-scale --seed --threads --exit "
                            "--exit-threshold --min-steps")))
            return 1;
        if (!strcmp(a, "-m")) o->model_path = v;
        else if (!strcmp(a, "--problems")) o->prob_path = v;
        else if (!strcmp(a, "--steps")) steps_arg = v;
        else if (!strcmp(a, "--csv")) o->csv_path = v;
        else if (!strcmp(a, "--label")) o->label = v;
        else if (!strcmp(a, "--predictions")) o->pred_path = v;
        else if (!strcmp(a, "--init-scale")) {
            if (!cli_parse_f32(v, &o->init_scale) || !(o->init_scale >= 0))
                return cli_fail("--init-scale: need a number >= 0");
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64(v, &o->seed)) return cli_fail("--seed: need an unsigned integer");
        } else if (!strcmp(a, "--exit")) {
            if (hg_exit_criterion_parse(v, &o->ap.criterion, &err)) return cli_fail("--exit: %s", err.msg);
            o->adaptive = true;
        } else if (!strcmp(a, "--exit-threshold")) {
            float th;
            if (strcmp(v, "auto") && (!cli_parse_f32(v, &th) || !(th >= 0)))
                return cli_fail("--exit-threshold: need a number >= 0 or auto");
            if (strcmp(v, "auto")) o->ap.threshold = (double)th;
            exit_opt = a;
        } else if (!strcmp(a, "--min-steps")) {
            if (!cli_parse_i64(v, &o->ap.min_steps) || o->ap.min_steps < 0)
                return cli_fail("--min-steps: need an integer >= 0");
            exit_opt = a;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_i64(v, &o->threads) || o->threads < 0) return cli_fail("--threads: need an integer >= 0");
        } else return cli_fail("eval-chains: unknown option `%s`", a), usage();
    }
    if (!o->model_path) o->model_path = cli_default_model();
    if (!o->model_path || !o->prob_path) return usage();
    if (!o->label) o->label = o->model_path;
    if (exit_opt && !o->adaptive) return cli_fail("eval-chains: %s needs --exit CRITERION", exit_opt);
    return parse_depths(steps_arg, o) ? 1 : EVAL_GO_ON;
}

/* Loads the model and its tokenizer, makes a context for max_r iterations, allocates the buffers and
 * opens --predictions; 0, or 1 with a message. */
static int open_model(const eval_opts *o, eval_run *ev) {
    hg_model_params mp = hg_model_default_params();
    if (hg_model_load(o->model_path, &mp, &ev->m, &ev->err) || hg_model_tokenizer(ev->m, &ev->tok, &ev->err))
        return cli_fail_err(&ev->err);
    const hg_config *c = hg_model_config(ev->m);
    ev->h = c->n_embd, ev->V = c->vocab_size, ev->n_ctx = c->block_size;
    hg_ctx_params cp = hg_ctx_default_params();
    cp.n_ctx = ev->n_ctx, cp.max_steps = o->max_r, cp.n_threads = (int)o->threads;
    if (hg_ctx_init(ev->m, &cp, &ev->ctx, &ev->err)) return cli_fail_err(&ev->err);
    ev->e = malloc((size_t)(ev->n_ctx * ev->h) * sizeof *ev->e);
    ev->s = malloc((size_t)(ev->n_ctx * ev->h) * sizeof *ev->s);
    ev->logits = malloc((size_t)(ev->n_ctx * ev->V) * sizeof *ev->logits);
    ev->right = calloc(MAX_HOPS + 1, sizeof *ev->right);
    ev->total = calloc(MAX_HOPS + 1, sizeof *ev->total);
    ev->iters = calloc(MAX_HOPS + 1, sizeof *ev->iters);
    if (!ev->e || !ev->s || !ev->logits || !ev->right || !ev->total || !ev->iters) return cli_fail("out of memory");
    if (o->pred_path && !(ev->pred = fopen(o->pred_path, "w"))) return cli_fail("%s: cannot write", o->pred_path);
    return 0;
}

/* Encodes problem pi (<bos> + prompt, and the answer as one token), or fails with a message. Returns
 * the row length, or -1. */
static int64_t encode_problem(const eval_opts *o, eval_run *ev, int64_t pi, const problem *p, int32_t row[4096],
                              int32_t *want) {
    int32_t *ids = NULL, *ans = NULL;
    int64_t n_ids = 0, n_ans = 0;
    if (hg_tokenizer_encode(ev->tok, p->prompt, strlen(p->prompt), false, &ids, &n_ids, &ev->err) ||
        hg_tokenizer_encode(ev->tok, p->answer, strlen(p->answer), false, &ans, &n_ans, &ev->err)) {
        hg_tokenizer_mem_free(ids);
        return cli_fail_err(&ev->err), -1;
    }
    *want = n_ans == 1 ? ans[0] : -1;
    hg_tokenizer_mem_free(ans);
    const int32_t bos = hg_tokenizer_bos_id(ev->tok);
    const int64_t T = n_ids + (bos >= 0);
    if (*want < 0 || T > ev->n_ctx || T > 4096 || n_ids == 0) {
        hg_tokenizer_mem_free(ids);
        return cli_fail("%s: problem %lld: %s", o->prob_path, (long long)pi + 1,
                        *want < 0 ? "the answer is not one token" : "the prompt does not fit the model's block_size"),
               -1;
    }
    if (bos >= 0) row[0] = bos;
    memcpy(row + (bos >= 0), ids, (size_t)n_ids * sizeof *ids);
    hg_tokenizer_mem_free(ids);
    return T;
}

/* One problem at every depth in one pass: the prelude once, core iterations one at a time, the coda's
 * greedy prediction whenever the count is a requested depth; tallies and --predictions rows. 0, or 1. */
static int eval_problem(const eval_opts *o, eval_run *ev, int64_t pi, const problem *p) {
    int32_t row[4096], want;
    const int64_t T = encode_problem(o, ev, pi, p, row, &want), V = ev->V;
    if (T < 0) return 1;
    uint64_t rng = o->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(pi + 1));
    hg_init_state(ev->m, ev->s, T, o->init_scale, &rng);
    if (hg_ctx_truncate(ev->ctx, 0, &ev->err) || hg_ctx_prelude(ev->ctx, row, T, 0, ev->e, &ev->err))
        return cli_fail_err(&ev->err);
    int64_t di = 0;
    for (int64_t r = 1; r <= o->max_r; r++) {
        if (hg_ctx_core_step(ev->ctx, ev->s, ev->e, T, 0, r - 1, &ev->err)) return cli_fail_err(&ev->err);
        if (r != o->depths[di]) continue;
        /* the coda rewrites its own K/V slots for positions 0..T-1 every time it reads the state */
        if (hg_ctx_coda(ev->ctx, ev->s, T, 0, NULL, ev->logits, &ev->err)) return cli_fail_err(&ev->err);
        const float *z = ev->logits + (T - 1) * V;
        int64_t best = 0;
        for (int64_t j = 1; j < V; j++)
            if (z[j] > z[best]) best = j;
        ev->right[p->hops][di] += best == want;
        if (ev->pred)
            fprintf(ev->pred, "%lld\t%lld\t%lld\t%d\n", (long long)pi + 1, (long long)r, (long long)best, want);
        di++;
    }
    ev->total[p->hops]++;
    return 0;
}

/* One problem answered with the adaptive exit (--exit): one greedy token at up to max_r iterations, as
 * `huginn run -p PROMPT -n 1 --temp 0 --exit CRITERION` computes it; tallies right, total and iters. */
static int eval_problem_adaptive(const eval_opts *o, eval_run *ev, int64_t pi, const problem *p) {
    int32_t row[4096], want, id = -1;
    const int64_t T = encode_problem(o, ev, pi, p, row, &want);
    if (T < 0) return 1;
    hg_generate_params gp = hg_generate_default_params();
    gp.n_steps = o->max_r, gp.max_new_tokens = 1, gp.init_scale = o->init_scale;
    gp.seed = o->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(pi + 1));
    gp.sampler.temperature = 0;
    int64_t steps = 0, n_out = 0;
    hg_ttc_report rep = {.steps = &steps};
    if (hg_generate_adaptive(ev->ctx, row, T, &gp, &o->ap, NULL, NULL, &id, &n_out, &rep, &ev->err))
        return cli_fail_err(&ev->err);
    ev->right[p->hops][0] += n_out == 1 && id == want;
    ev->iters[p->hops] += steps;
    ev->total[p->hops]++;
    if (ev->pred) fprintf(ev->pred, "%lld\t%lld\t%d\t%d\n", (long long)pi + 1, (long long)steps, id, want);
    return 0;
}

/* Prints the accuracy table: one row per hop count present, one column per depth. */
static void print_table(const eval_opts *o, const eval_run *ev, int64_t n_prob, double seconds) {
    printf("eval-chains: %s on %s (%lld problems, init-scale %g, seed %llu, %.1f s)\n", o->label, o->prob_path,
           (long long)n_prob, (double)o->init_scale, (unsigned long long)o->seed, seconds);
    if (o->adaptive) {
        printf("adaptive exit %s, threshold %s%.4g, at most %lld iterations, min-steps %lld\n  hops      n  accuracy  "
               "mean iterations\n",
               hg_exit_criterion_name(o->ap.criterion), o->ap.threshold == o->ap.threshold ? "" : "auto = ",
               o->ap.threshold == o->ap.threshold ? o->ap.threshold : hg_exit_auto_threshold(o->ap.criterion),
               (long long)o->max_r, (long long)o->ap.min_steps);
        for (int hops = 0; hops <= MAX_HOPS; hops++)
            if (ev->total[hops])
                printf("  %4d %6lld  %8.1f  %15.2f\n", hops, (long long)ev->total[hops],
                       100.0 * (double)ev->right[hops][0] / (double)ev->total[hops],
                       (double)ev->iters[hops] / (double)ev->total[hops]);
        return;
    }
    printf("accuracy (%%) by hop count (rows) and test-time iterations r (columns)\n  hops      n");
    for (int64_t di = 0; di < o->n_depths; di++) printf("  r=%-4lld", (long long)o->depths[di]);
    printf("\n");
    for (int hops = 0; hops <= MAX_HOPS; hops++) {
        if (!ev->total[hops]) continue;
        printf("  %4d %6lld", hops, (long long)ev->total[hops]);
        for (int64_t di = 0; di < o->n_depths; di++)
            printf("  %6.1f", 100.0 * (double)ev->right[hops][di] / (double)ev->total[hops]);
        printf("\n");
    }
}

/* Writes --csv: one row per (hop count, depth); 0, or 1 with a message. */
static int write_csv(const eval_opts *o, const eval_run *ev) {
    FILE *csv = fopen(o->csv_path, "w");
    if (!csv) return cli_fail("%s: cannot write", o->csv_path);
    if (o->adaptive) { /* one row per hop count: the exit's accuracy and mean iterations */
        fprintf(csv, "model,hops,criterion,threshold,max_steps,n,correct,accuracy,mean_steps\n");
        const double th = o->ap.threshold == o->ap.threshold ? o->ap.threshold : hg_exit_auto_threshold(o->ap.criterion);
        for (int hops = 0; hops <= MAX_HOPS; hops++)
            if (ev->total[hops])
                fprintf(csv, "%s,%d,%s,%.6g,%lld,%lld,%lld,%.4f,%.4f\n", o->label, hops,
                        hg_exit_criterion_name(o->ap.criterion), th, (long long)o->max_r, (long long)ev->total[hops],
                        (long long)ev->right[hops][0], (double)ev->right[hops][0] / (double)ev->total[hops],
                        (double)ev->iters[hops] / (double)ev->total[hops]);
        return fclose(csv) != 0 ? cli_fail("%s: write failed", o->csv_path) : 0;
    }
    fprintf(csv, "model,hops,steps,n,correct,accuracy\n");
    for (int hops = 0; hops <= MAX_HOPS; hops++)
        for (int64_t di = 0; ev->total[hops] && di < o->n_depths; di++)
            fprintf(csv, "%s,%d,%lld,%lld,%lld,%.4f\n", o->label, hops, (long long)o->depths[di],
                    (long long)ev->total[hops], (long long)ev->right[hops][di],
                    (double)ev->right[hops][di] / (double)ev->total[hops]);
    return fclose(csv) != 0 ? cli_fail("%s: write failed", o->csv_path) : 0;
}

/* Reads the problems, evaluates each, then prints the table and writes the CSV; 0, or 1 with a
 * message. *text and *ps are the caller's to free. */
static int eval_all(const eval_opts *o, eval_run *ev, char **text, problem **ps) {
    if (!(*text = read_text(o->prob_path))) return cli_fail("%s: cannot read", o->prob_path);
    const int64_t n_prob = parse_problems(*text, o->prob_path, ps);
    if (n_prob <= 0) return n_prob == 0 ? cli_fail("%s: no problems", o->prob_path) : 1;
    int rc;
    if ((rc = open_model(o, ev))) return rc;
    const double t0 = cli_now();
    for (int64_t pi = 0; pi < n_prob; pi++)
        if ((rc = (o->adaptive ? eval_problem_adaptive : eval_problem)(o, ev, pi, &(*ps)[pi]))) return rc;
    print_table(o, ev, n_prob, cli_now() - t0);
    return o->csv_path ? write_csv(o, ev) : 0;
}

int cmd_eval_chains(int argc, char **argv) {
    eval_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != EVAL_GO_ON) return rc;
    eval_run ev = {0};
    char *text = NULL;
    problem *ps = NULL;
    rc = eval_all(&o, &ev, &text, &ps);
    if (ev.pred && fclose(ev.pred) != 0 && rc == 0) rc = cli_fail("%s: write failed", o.pred_path);
    free(ev.right), free(ev.total), free(ev.iters), free(ev.e), free(ev.s), free(ev.logits), free(ps), free(text);
    hg_tokenizer_free(ev.tok);
    hg_ctx_free(ev.ctx);
    hg_model_free(ev.m);
    return rc;
}
