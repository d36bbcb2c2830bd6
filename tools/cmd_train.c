/*
 * cmd_train.c — `huginn train CONFIG.json [--resume]`: train a recurrent-depth model with the recipe
 * of training-recipe.md (sampler, truncated backprop, Adam-atan2, trapezoid schedule), printing
 * progress (loss, tokens/s, sampled depths, lr, ETA), evaluating at fixed depths, logging CSV and
 * saving atomic checkpoints (OUT/latest). Config keys: docs/training.md.
 *
 * Data source here: the variable-chain task, generated on the fly from (seed, index), one problem
 * per row: <bos> prompt answer <eos> padded with <pad>; only the answer and <eos> are targets. The
 * trainer's data cursor is the index of the next problem, so --resume regenerates the same stream.
 * Token ids are bytes (0..255) plus <bos> 256, <eos> 257, <pad> 258; vocabulary 264.
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { TOK_BOS = 256, TOK_EOS = 257, TOK_PAD = 258, VOCAB = 264 };

typedef struct chain_cfg {
    int min_hops, max_hops, distractors;
    uint64_t seed;
} chain_cfg;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double num(const cJSON *o, const char *k, double def) {
    const cJSON *it = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(it) ? it->valuedouble : def;
}

/* Row [T+1] tokens + mask for problem `index` with `hops` (−1: drawn from the config's range); the
 * answer is always a target, <eos> only when eos_target. */
static bool make_row(const chain_cfg *c, uint64_t seed, uint64_t index, int hops, int64_t T, int32_t *tok,
                     uint8_t *mask, bool eos_target) {
    if (hops < 0) hops = c->min_hops + (int)(index % (uint64_t)(c->max_hops - c->min_hops + 1));
    char buf[160], ans;
    int len = hg_chain_problem(seed, index, hops, c->distractors, buf, sizeof buf, &ans);
    if (len < 0 || len + 3 > T + 1) return false;
    int64_t k = 0;
    tok[k++] = TOK_BOS;
    for (int i = 0; i < len; i++) tok[k++] = (unsigned char)buf[i];
    tok[k++] = (unsigned char)ans;
    tok[k++] = TOK_EOS;
    memset(mask, 0, (size_t)(T + 1));
    mask[k - 2] = 1;
    mask[k - 1] = eos_target;
    while (k < T + 1) tok[k++] = TOK_PAD;
    return true;
}

static int usage(void) {
    fprintf(stderr, "usage: huginn train CONFIG.json [--resume]   (keys: docs/training.md)\n");
    return 1;
}

int cmd_train(int argc, char **argv) {
    const char *cfg_path = NULL;
    bool resume = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) resume = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(), 0;
        else if (!cfg_path && argv[i][0] != '-') cfg_path = argv[i];
        else return cli_fail("train: unknown option `%s`", argv[i]), usage();
    }
    if (!cfg_path) return usage();
    FILE *f = fopen(cfg_path, "rb");
    if (!f) return cli_fail("%s: cannot open", cfg_path);
    char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    cJSON *root = cJSON_Parse(text);
    if (!root) return cli_fail("%s: not valid JSON", cfg_path);
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(root, "train");
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(root, "out_dir");
    const cJSON *jtok = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    int rc = 1;
    hg_trainer *tr = NULL;
    FILE *log = NULL;
    int32_t *tok = NULL;
    uint8_t *mask = NULL;
    if (!cJSON_IsString(jo)) {
        cli_fail("%s: `out_dir` (string) is required", cfg_path);
        goto out;
    }
    const char *out = jo->valuestring;
    hg_config c = {0};
    c.n_embd = (int64_t)num(jm, "n_embd", 128);
    c.n_head = (int64_t)num(jm, "n_head", 2);
    c.head_dim = c.n_head > 0 ? c.n_embd / c.n_head : 0;
    c.intermediate_size = (int64_t)num(jm, "intermediate_size", 3 * (double)c.n_embd);
    c.vocab_size = VOCAB;
    c.n_layers_prelude = (int64_t)num(jm, "n_layers_prelude", 1);
    c.n_layers_core = (int64_t)num(jm, "n_layers_core", 2);
    c.n_layers_coda = (int64_t)num(jm, "n_layers_coda", 1);
    c.mean_recurrence = (int64_t)num(jm, "mean_recurrence", 4);
    c.mean_backprop_depth = (int64_t)num(jm, "mean_backprop_depth", 2);
    c.block_size = (int64_t)num(jm, "block_size", 128);
    c.rope_base = num(jm, "rope_base", 50000);
    c.norm_eps = 1e-6f;
    c.qk_bias = true;
    c.tie_embeddings = true;
    hg_train_params p = hg_train_default_params();
    p.rows = (int64_t)num(jt, "rows", 16);
    p.seq_len = (int64_t)num(jt, "seq_len", 48);
    p.accum = (int64_t)num(jt, "accum", 1);
    p.max_steps = (int64_t)num(jt, "max_steps", 1000);
    p.warmup = (int64_t)num(jt, "warmup", (double)p.max_steps * 0.05);
    p.cooldown = (int64_t)num(jt, "cooldown", (double)p.max_steps * 0.2);
    p.lr = num(jt, "lr", 1e-3);
    p.weight_decay = num(jt, "weight_decay", 1e-4);
    p.grad_clip = num(jt, "grad_clip", 1.0);
    p.fixed_n = (int64_t)num(jt, "fixed_n", -1);
    p.fixed_k = (int64_t)num(jt, "fixed_k", -1);
    p.init_scale = (float)num(jt, "init_scale", 1.0);
    p.seed = (uint64_t)num(jt, "seed", 514229);
    const uint64_t init_seed = (uint64_t)num(jt, "init_seed", 233);
    chain_cfg cc = {.min_hops = (int)num(jd, "min_hops", 1), .max_hops = (int)num(jd, "max_hops", 4),
                    .distractors = (int)num(jd, "distractors", 3), .seed = (uint64_t)num(jd, "seed", 7)};
    if (cc.min_hops < 0 || cc.max_hops < cc.min_hops || cc.max_hops + 1 + cc.distractors > 26) {
        cli_fail("%s: data needs 0 <= min_hops <= max_hops and max_hops + 1 + distractors <= 26", cfg_path);
        goto out;
    }
    const int64_t eval_every = (int64_t)num(root, "eval_every", 100), save_every = (int64_t)num(root, "save_every", 200);
    const int64_t eval_rows = (int64_t)num(root, "eval_problems", 256);
    int64_t depths[16] = {1, 4, 8, 16, 32}, n_depths = 5;
    const cJSON *jdep = cJSON_GetObjectItemCaseSensitive(root, "eval_depths");
    if (cJSON_IsArray(jdep)) {
        n_depths = 0;
        for (const cJSON *e = jdep->child; e && n_depths < 16; e = e->next)
            if (cJSON_IsNumber(e) && e->valuedouble >= 0) depths[n_depths++] = (int64_t)e->valuedouble;
    }
    hg_error err = {0};
    char latest[4096];
    snprintf(latest, sizeof latest, "%s/latest", out);
    if (resume) {
        if (hg_trainer_load(latest, &p, &tr, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
    } else if (hg_trainer_init_random(&c, &p, init_seed, &tr, &err)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    const int64_t T = p.seq_len, rows = p.rows * p.accum;
    tok = malloc((size_t)(rows * (T + 1)) * sizeof *tok);
    mask = malloc((size_t)(rows * (T + 1)));
    if (!tok || !mask) {
        cli_fail("out of memory");
        goto out;
    }
    if (mkdir(out, 0777) != 0) { /* exists is fine */
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/log.csv", out);
    log = fopen(path, resume ? "a" : "w");
    if (!log) {
        cli_fail("%s: cannot write", path);
        goto out;
    }
    if (!resume) fprintf(log, "kind,step,loss,grad_norm,lr,n,k,tokens_per_s,elapsed_s,depth,eval_loss,eval_acc\n");
    int64_t n_params = 0;
    for (int64_t i = 0; i < hg_trainer_n_tensors(tr); i++) {
        int64_t n;
        hg_trainer_tensor(tr, i, &n, NULL, NULL);
        n_params += n;
    }
    printf("huginn train: %lld parameters, %lld rows x %lld tokens per step, %lld steps -> %s\n", (long long)n_params,
           (long long)rows, (long long)T, (long long)p.max_steps, out);
    const double t0 = now_s();
    const int64_t step0 = hg_trainer_step_count(tr);
    int64_t tokens_done = 0;
    while (hg_trainer_step_count(tr) < p.max_steps) {
        uint64_t cur = hg_trainer_cursor(tr);
        for (int64_t r = 0; r < rows; r++)
            if (!make_row(&cc, cc.seed, cur + (uint64_t)r, -1, T, tok + r * (T + 1), mask + r * (T + 1), true)) {
                cli_fail("a problem does not fit in seq_len %lld: raise train.seq_len", (long long)T);
                goto out;
            }
        hg_trainer_set_cursor(tr, cur + (uint64_t)rows);
        hg_train_stats st;
        if (hg_trainer_step(tr, tok, mask, NULL, &st, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
        const int64_t step = hg_trainer_step_count(tr);
        tokens_done += rows * T;
        const double el = now_s() - t0, tps = (double)tokens_done / el;
        const double eta = el / (double)(step - step0) * (double)(p.max_steps - step);
        fprintf(log, "train,%lld,%.6f,%.5f,%.3g,%lld,%lld,%.1f,%.2f,,,\n", (long long)step, st.loss, st.grad_norm,
                st.lr, (long long)st.depth_n, (long long)st.depth_k, tps, el);
        if (step % 10 == 0 || step == 1)
            printf("step %6lld  loss %.4f  |g| %.3f  lr %.2e  depth n=%lld k=%lld  %.0f tok/s  ETA %.0fs%s\n",
                   (long long)step, st.loss, st.grad_norm, st.lr, (long long)st.depth_n, (long long)st.depth_k, tps,
                   eta, st.skipped ? "  (skipped: non-finite gradient)" : "");
        if ((eval_every > 0 && step % eval_every == 0) || step == p.max_steps) {
            for (int64_t di = 0; di < n_depths; di++) {
                double ls = 0, ac = 0;
                int64_t nb = 0;
                for (int64_t e0 = 0; e0 < eval_rows; e0 += p.rows, nb++) {
                    const int64_t nr = eval_rows - e0 < p.rows ? eval_rows - e0 : p.rows;
                    for (int64_t r = 0; r < nr; r++) /* held-out stream: a different seed */
                        make_row(&cc, cc.seed ^ 0x5eedfeedull, (uint64_t)(e0 + r), -1, T, tok + r * (T + 1),
                                 mask + r * (T + 1), false); /* accuracy of the answer digit only */
                    double l, a;
                    if (hg_trainer_eval(tr, tok, mask, nr, depths[di], &l, &a, &err)) {
                        rc = cli_fail_err(&err);
                        goto out;
                    }
                    ls += l, ac += a;
                }
                printf("  eval step %lld  r=%-3lld loss %.4f  acc %.3f\n", (long long)step, (long long)depths[di],
                       ls / (double)nb, ac / (double)nb);
                fprintf(log, "eval,%lld,,,,,,,%.2f,%lld,%.6f,%.4f\n", (long long)step, now_s() - t0,
                        (long long)depths[di], ls / (double)nb, ac / (double)nb);
            }
            fflush(log);
        }
        if ((save_every > 0 && step % save_every == 0) || step == p.max_steps) {
            if (hg_trainer_save(tr, out, cJSON_IsString(jtok) ? jtok->valuestring : NULL, 2, &err)) {
                rc = cli_fail_err(&err);
                goto out;
            }
        }
        fflush(stdout);
    }
    rc = 0;
out:
    if (log) fclose(log);
    free(tok), free(mask);
    hg_trainer_free(tr);
    cJSON_Delete(root);
    return rc;
}
