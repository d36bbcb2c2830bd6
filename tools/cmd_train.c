/*
 * cmd_train.c — `huginn train CONFIG.json [--resume]`: train a recurrent-depth model with the recipe
 * of docs/training.md (sampler, truncated backprop, Adam-atan2, trapezoid schedule), printing
 * progress (loss, tokens/s, sampled depths, lr, ETA), evaluating at fixed depths, logging CSV and
 * saving atomic checkpoints (OUT/latest). Config keys: docs/training.md.
 *
 * Data source here: the variable-chain task, generated on the fly from (seed, index), one problem
 * per row: <bos> prompt answer <eos> padded with <pad>; only the answer and <eos> are targets. The
 * trainer's data cursor is the index of the next problem, so --resume regenerates the same stream.
 * Token ids: with a `tokenizer` in the config, the row's pieces are encoded with it (the prompt as
 * `huginn run -p` and eval-chains encode it, then the answer and each further query separately) and
 * <bos>/<eos>/<pad> are its ids; the model's vocabulary is the tokenizer's, rounded up to a multiple
 * of 8 (at least 264). Without one, ids are bytes (0..255) plus <bos> 256, <eos> 257, <pad> 258.
 * With data.shard (written by `huginn tokenize-data`, rows of seq_len + 1 tokens) the rows come from
 * the shard instead, every target counts, the cursor is the next row (epochs wrap) and evaluation
 * reads data.val_shard when given.
 *
 * Data parallel (built with MPI, HG_HAVE_MPI): run under mpirun; every rank holds the whole model,
 * takes its own `rows` rows of each step (global rows cur + rank·rows·accum ...), and the trainer sums
 * gradients and target counts with MPI_Allreduce through hg_train_comm, so a step equals one process
 * with size× the rows. The sampler seed and the init seed are broadcast from rank 0, so every rank
 * draws the same depth (n, k) and starts from the same weights. Only rank 0 prints, evaluates, logs
 * and saves. (Random initial states come from a stream per rank, rank 0's being the single-process
 * one: with init_scale 0 the update is exactly that of one process with the doubled batch; with noise
 * it is the same in law.)
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifdef HG_HAVE_MPI
#include <mpi.h>

static void mpi_sum_f32(void *user, float *buf, int64_t n) {
    (void)user;
    for (int64_t at = 0; at < n; at += 1 << 30) /* MPI counts are int */
        MPI_Allreduce(MPI_IN_PLACE, buf + at, (int)(n - at < (1 << 30) ? n - at : 1 << 30), MPI_FLOAT, MPI_SUM,
                      MPI_COMM_WORLD);
}
static void mpi_sum_f64(void *user, double *buf, int64_t n) {
    (void)user;
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
#endif

enum { TOK_BOS = 256, TOK_EOS = 257, TOK_PAD = 258, VOCAB = 264 };



static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double num(const cJSON *o, const char *k, double def) {
    const cJSON *it = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(it) ? it->valuedouble : def;
}

static int usage(void) {
    fprintf(stderr, "usage: huginn train CONFIG.json [--resume] [--stop-after N]   (keys: docs/training.md)\n"
                    "  --stop-after N: take at most N steps in this invocation, then save (the schedule still\n"
                    "                  runs to max_steps; continue with --resume)\n");
    return 1;
}

static int train_main(int argc, char **argv, int rank, int size, const hg_train_comm *comm) {
    const char *cfg_path = NULL;
    bool resume = false;
    int64_t stop_after = INT64_MAX;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) resume = true;
        else if (!strcmp(argv[i], "--stop-after")) {
            const char *v = cli_next(argc, argv, &i);
            if (!v || !cli_parse_i64(v, &stop_after) || stop_after < 1) return cli_fail("--stop-after: need N >= 1");
        }
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
    const cJSON *jinit = cJSON_GetObjectItemCaseSensitive(root, "init_from");
    int rc = 1;
    hg_chain_rows cc = {.bos = TOK_BOS, .eos = TOK_EOS, .pad = TOK_PAD};
    uint64_t data_seed = 7;
    hg_error err = {0};
    hg_trainer *tr = NULL;
    FILE *log = NULL;
    int32_t *tok = NULL;
    uint8_t *mask = NULL;
    hg_shard *shard = NULL, *val_shard = NULL;
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
    if (cJSON_IsString(jtok)) { /* the rows are encoded with it, and the vocabulary is its */
        if (hg_tokenizer_load(jtok->valuestring, &cc.tok, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
        const int32_t nv = hg_tokenizer_n_vocab(cc.tok), pad = hg_tokenizer_token_to_id(cc.tok, "<pad>");
        cc.bos = hg_tokenizer_bos_id(cc.tok), cc.eos = hg_tokenizer_eos_id(cc.tok), cc.pad = pad >= 0 ? pad : cc.eos;
        if (cc.bos < 0 || cc.eos < 0) {
            cli_fail("%s: the tokenizer `%s` needs bos and eos tokens (tokenizer_config.json)", cfg_path, jtok->valuestring);
            goto out;
        }
        c.vocab_size = nv <= VOCAB ? VOCAB : (nv + 7) / 8 * 8;
    }
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
    uint64_t init_seed = (uint64_t)num(jt, "init_seed", 233);
#ifdef HG_HAVE_MPI
    if (size > 1) { /* every rank samples the same depths and starts from the same weights */
        uint64_t seeds[2] = {p.seed, init_seed};
        MPI_Bcast(seeds, 2, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        p.seed = seeds[0], init_seed = seeds[1];
    }
#endif
    cc.min_hops = (int)num(jd, "min_hops", 1), cc.max_hops = (int)num(jd, "max_hops", 4);
    cc.distractors = (int)num(jd, "distractors", 3), data_seed = (uint64_t)num(jd, "seed", 7);
    cc.max_distractors = (int)num(jd, "max_distractors", cc.distractors);
    cc.queries = (int)num(jd, "queries", 1);
    cc.curriculum_steps = (int64_t)num(jd, "curriculum_steps", 0);
    const cJSON *jst = cJSON_GetObjectItemCaseSensitive(jd, "curriculum_stages"); /* [steps at cap min_hops, +1, ...] */
    if (jst) {
        int ns = 0;
        bool ok = cJSON_IsArray(jst);
        for (const cJSON *e = ok ? jst->child : NULL; e && ok; e = e->next, ns++)
            ok = ns < 26 && cJSON_IsNumber(e) && e->valuedouble >= 1 && e->valuedouble <= 1e12 &&
                 (cc.curriculum_stage[ns] = (int64_t)e->valuedouble) > 0;
        if (!ok || ns != (int)num(jd, "max_hops", 4) - (int)num(jd, "min_hops", 1)) {
            cli_fail("%s: data.curriculum_stages must list max_hops - min_hops positive step counts (hop caps "
                     "min_hops .. max_hops - 1; the last cap lasts from then on)", cfg_path);
            goto out;
        }
        cc.curriculum_steps = 0;
        for (int i = 0; i < ns; i++) cc.curriculum_steps += cc.curriculum_stage[i];
    }
    cc.backward_pct = (int)num(jd, "backward_pct", 0), cc.decoy_pct = (int)num(jd, "decoy_pct", 0);
    if (cc.backward_pct < 0 || cc.backward_pct > 100 || cc.decoy_pct < 0 || cc.decoy_pct > 100) {
        cli_fail("%s: data.backward_pct and data.decoy_pct must be in 0..100", cfg_path);
        goto out;
    }
    if (cc.queries < 1 || cc.queries > 16) {
        cli_fail("%s: data.queries must be in 1..16", cfg_path);
        goto out;
    }
    if (cc.min_hops < 0 || cc.max_hops < cc.min_hops || cc.distractors < 0 || cc.max_distractors < cc.distractors ||
        cc.max_hops + 1 + cc.max_distractors > 26) {
        cli_fail("%s: data needs 0 <= min_hops <= max_hops, 0 <= distractors <= max_distractors and "
                 "max_hops + 1 + max_distractors <= 26", cfg_path);
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
    const cJSON *jsh = cJSON_GetObjectItemCaseSensitive(jd, "shard"), *jval = cJSON_GetObjectItemCaseSensitive(jd, "val_shard");
    if (cJSON_IsString(jsh)) {
        if (hg_shard_open(jsh->valuestring, &shard, &err) ||
            (cJSON_IsString(jval) && hg_shard_open(jval->valuestring, &val_shard, &err))) {
            rc = cli_fail_err(&err);
            goto out;
        }
        for (hg_shard *sh = shard; sh; sh = sh == shard ? val_shard : NULL)
            if (hg_shard_row_len(sh) != p.seq_len + 1 || hg_shard_vocab(sh) > c.vocab_size) {
                cli_fail("%s: rows of %lld tokens with ids < %d; this run needs seq_len + 1 = %lld and ids < %d", cfg_path,
                         (long long)hg_shard_row_len(sh), hg_shard_vocab(sh), (long long)p.seq_len + 1, (int)c.vocab_size);
                goto out;
            }
    }
    char latest[4096];
    snprintf(latest, sizeof latest, "%s/latest", out);
    if (resume) {
        if (hg_trainer_load(latest, &p, &tr, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
    } else if (cJSON_IsString(jinit)) { /* continue from a model's weights: new optimizer and schedule */
        if (hg_trainer_load(jinit->valuestring, &p, &tr, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
        if (hg_trainer_step_count(tr) != 0) {
            cli_fail("%s: init_from `%s` holds trainer state; use --resume to continue a run, or point init_from "
                     "at a directory with only config.json and model.safetensors", cfg_path, jinit->valuestring);
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
    if (rank == 0 && mkdir(out, 0777) != 0) { /* exists is fine */
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/log.csv", out);
    log = rank == 0 ? fopen(path, resume ? "a" : "w") : fopen("/dev/null", "w");
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
    if (rank == 0)
        printf("huginn train: %lld parameters, %lld rows x %lld tokens per step%s, %lld steps -> %s\n",
               (long long)n_params, (long long)(rows * size), (long long)T, size > 1 ? " (all ranks)" : "",
               (long long)p.max_steps, out);
    const double t0 = now_s();
    const int64_t step0 = hg_trainer_step_count(tr);
    int64_t tokens_done = 0;
    while (hg_trainer_step_count(tr) < p.max_steps && hg_trainer_step_count(tr) - step0 < stop_after) {
        const uint64_t cur = hg_trainer_cursor(tr), mine = cur + (uint64_t)(rank * rows);
        if (shard) {
            if (hg_shard_read(shard, mine, rows, tok, &err)) {
                rc = cli_fail_err(&err);
                goto out;
            }
        } else
            for (int64_t r = 0; r < rows; r++)
                if (!hg_chain_row(&cc, data_seed, mine + (uint64_t)r, -1, hg_chain_hops_cap(&cc, hg_trainer_step_count(tr) + 1),
                                  T, tok + r * (T + 1), mask + r * (T + 1), true)) {
                    cli_fail("a problem does not fit in seq_len %lld: raise train.seq_len", (long long)T);
                    goto out;
                }
        hg_trainer_set_cursor(tr, cur + (uint64_t)(rows * size));
        hg_train_stats st;
        if (hg_trainer_step(tr, tok, shard ? NULL : mask, comm, &st, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
        const int64_t step = hg_trainer_step_count(tr);
        tokens_done += rows * size * T;
        if (rank != 0) continue; /* rank 0 reports, evaluates and saves */
        const double el = now_s() - t0, tps = (double)tokens_done / el;
        const double eta = el / (double)(step - step0) * (double)(p.max_steps - step);
        fprintf(log, "train,%lld,%.6f,%.5f,%.3g,%lld,%lld,%.1f,%.2f,,,\n", (long long)step, st.loss, st.grad_norm,
                st.lr, (long long)st.depth_n, (long long)st.depth_k, tps, el);
        if (step % 10 == 0 || step == 1)
            printf("step %6lld  loss %.4f  |g| %.3f  lr %.2e  depth n=%lld k=%lld  %.0f tok/s  ETA %.0fs%s\n",
                   (long long)step, st.loss, st.grad_norm, st.lr, (long long)st.depth_n, (long long)st.depth_k, tps,
                   eta, st.skipped ? "  (skipped: non-finite gradient)" : "");
        if (((eval_every > 0 && step % eval_every == 0) || step == p.max_steps) && (!shard || val_shard)) {
            hg_chain_rows one_query = cc; /* evaluation asks the task's own single question */
            one_query.queries = 1, one_query.backward_pct = 0, one_query.decoy_pct = 0;
            for (int64_t di = 0; di < n_depths; di++) {
                double ls = 0, ac = 0;
                int64_t nb = 0;
                for (int64_t e0 = 0; e0 < eval_rows; e0 += p.rows, nb++) {
                    const int64_t nr = eval_rows - e0 < p.rows ? eval_rows - e0 : p.rows;
                    if (val_shard) { /* next-token loss and accuracy over every target */
                        if (hg_shard_read(val_shard, (uint64_t)e0, nr, tok, &err)) {
                            rc = cli_fail_err(&err);
                            goto out;
                        }
                    } else
                        for (int64_t r = 0; r < nr; r++) /* held-out stream: a different seed */
                            hg_chain_row(&one_query, data_seed ^ 0x5eedfeedull, (uint64_t)(e0 + r), -1, cc.max_hops, T,
                                         tok + r * (T + 1), mask + r * (T + 1), false); /* the one answer only */
                    double l, a;
                    if (hg_trainer_eval(tr, tok, val_shard ? NULL : mask, nr, depths[di], &l, &a, &err)) {
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
        const bool stopping = step - step0 >= stop_after;
        if ((save_every > 0 && step % save_every == 0) || step == p.max_steps || stopping) {
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
    hg_shard_close(shard), hg_shard_close(val_shard);
    hg_tokenizer_free(cc.tok);
    free(tok), free(mask);
    hg_trainer_free(tr);
    cJSON_Delete(root);
    return rc;
}

int cmd_train(int argc, char **argv) {
#ifdef HG_HAVE_MPI
    /* MPI only when a launcher started us (Open MPI / PMI / PMIx set these): a plain `huginn train`
     * stays a plain process (no MPI start-up cost, and none of libmpi's unreleased allocations) */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
        return train_main(argc, argv, 0, 1, NULL);
    int inited = 0, rank = 0, size = 1;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const hg_train_comm comm = {.sum_f32 = mpi_sum_f32, .sum_f64 = mpi_sum_f64, .user = NULL, .rank = rank};
    int rc = train_main(argc, argv, rank, size, size > 1 ? &comm : NULL);
    if (rc != 0 && size > 1) MPI_Abort(MPI_COMM_WORLD, rc); /* the other ranks would wait in an all-reduce */
    if (!inited) MPI_Finalize();
    return rc;
#else
    return train_main(argc, argv, 0, 1, NULL);
#endif
}
