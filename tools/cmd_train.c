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
#include "chains.h"
#include "cli.h"
#include "train_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

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
/* step-* directories kept in out_dir: the newest, and the one before it in case the newest turns out
 * bad (docs/training.md "Checkpoints") */
enum { KEEP_CHECKPOINTS = 2 };

/* One `huginn train` invocation: its options, configuration, data sources, trainer and outputs. */
typedef struct train_run {
    int rank, size; /* this process and the number of processes (0 and 1 without MPI) */
    const hg_train_comm *comm;
    const char *cfg_path;
    bool resume;
    bool overwrite;     /* --overwrite: an earlier run in out_dir may be replaced */
    int64_t stop_after; /* most steps this invocation takes */
    cJSON *root;        /* the config file */
    const char *out;    /* out_dir */
    hg_config c;
    hg_train_params p;
    uint64_t init_seed, data_seed;
    hg_chain_rows cc; /* the chain task's rows (unused with data.shard) */
    bool hops_within_depth; /* data.hops_within_depth: a row asks only what its micro-batch's depth can answer */
    int64_t eval_every, save_every, eval_rows;
    int64_t depths[16], n_depths; /* evaluated depths */
    hg_shard *shard, *val_shard;
    hg_trainer *tr;
    int64_t T, rows; /* tokens per row, rows per step on this process */
    int32_t *tok;    /* [rows, T + 1] */
    uint8_t *mask;   /* [rows, T + 1] */
    FILE *log;       /* OUT/log.csv on rank 0, /dev/null elsewhere */
    hg_error err;
} train_run;

enum { TRAIN_GO_ON = -1 };

/* Key `k` of section `o`, or `def` when absent; train_config_check has already refused wrong types and
 * out-of-range values, so every cast of the result to an integer below is defined. */
static double num(const cJSON *o, const char *k, double def) {
    const cJSON *it = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(it) ? it->valuedouble : def;
}

/* The config section `key` of the file, or NULL. */
static const cJSON *section(const train_run *r, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(r->root, key);
}

/* The `tokenizer` path of the config, or NULL. */
static const char *tokenizer_path(const train_run *r) {
    const cJSON *jtok = section(r, "tokenizer");
    return cJSON_IsString(jtok) ? jtok->valuestring : NULL;
}

static int usage(void) {
    fprintf(stderr, "usage: huginn train CONFIG.json [--resume | --overwrite] [--stop-after N]   (keys: docs/training.md)\n"
                    "  --resume:       continue the run in out_dir from OUT/latest\n"
                    "  --overwrite:    replace an earlier run in out_dir (its log.csv and step-* checkpoints);\n"
                    "                  without it (or --resume) an out_dir holding a run is refused\n"
                    "  --stop-after N: take at most N steps in this invocation, then save (the schedule still\n"
                    "                  runs to max_steps; continue with --resume)\n"
                    "Checkpoints: OUT/step-NNNNNNNN every save_every steps, at the end and at --stop-after; the\n"
                    "newest %d are kept (older ones are deleted), OUT/latest names the newest.\n", KEEP_CHECKPOINTS);
    return 1;
}

/* Reads the command line; returns TRAIN_GO_ON, or the exit code (after --help or a bad option). */
static int parse_args(train_run *r, int argc, char **argv) {
    r->stop_after = INT64_MAX;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) r->resume = true;
        else if (!strcmp(argv[i], "--overwrite")) r->overwrite = true;
        else if (!strcmp(argv[i], "--stop-after")) {
            const char *v = cli_next(argc, argv, &i);
            if (!v || !cli_parse_i64(v, &r->stop_after) || r->stop_after < 1)
                return cli_fail("--stop-after: need N >= 1");
        }
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(), 0;
        else if (!r->cfg_path && argv[i][0] != '-') r->cfg_path = argv[i];
        else return cli_fail("train: unknown option `%s`", argv[i]), usage();
    }
    if (r->resume && r->overwrite) return cli_fail("train: --resume and --overwrite exclude each other");
    return r->cfg_path ? TRAIN_GO_ON : usage();
}

/* Reads and parses the JSON config file into r->root; 0, or 1 with a message. */
static int read_config(train_run *r) {
    FILE *f = fopen(r->cfg_path, "rb");
    if (!f) return cli_fail("%s: cannot open", r->cfg_path);
    char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    if (len == sizeof text - 1) return cli_fail("%s: larger than %zu bytes", r->cfg_path, sizeof text - 2);
    r->root = cJSON_Parse(text);
    if (!r->root) return cli_fail("%s: not valid JSON", r->cfg_path);
    char msg[512];
    return train_config_check(r->root, msg, sizeof msg) ? cli_fail("%s: %s", r->cfg_path, msg) : 0;
}

/* The model's shape from the `model` section; with a `tokenizer`, loads it for the chain rows and takes
 * its vocabulary (rounded up to a multiple of 8, at least VOCAB). 0, or 1 with a message. */
static int model_config(train_run *r) {
    const cJSON *jm = section(r, "model");
    const char *tokenizer = tokenizer_path(r);
    hg_config *c = &r->c;
    hg_chain_rows *cc = &r->cc;
    c->n_embd = (int64_t)num(jm, "n_embd", 128);
    c->n_head = (int64_t)num(jm, "n_head", 2);
    c->head_dim = c->n_head > 0 ? c->n_embd / c->n_head : 0;
    c->intermediate_size = (int64_t)num(jm, "intermediate_size", 3 * (double)c->n_embd);
    c->vocab_size = VOCAB;
    if (tokenizer) { /* the rows are encoded with it, and the vocabulary is its */
        if (hg_tokenizer_load(tokenizer, &cc->tok, &r->err)) return cli_fail_err(&r->err);
        const int32_t nv = hg_tokenizer_n_vocab(cc->tok), pad = hg_tokenizer_token_to_id(cc->tok, "<pad>");
        cc->bos = hg_tokenizer_bos_id(cc->tok), cc->eos = hg_tokenizer_eos_id(cc->tok);
        cc->pad = pad >= 0 ? pad : cc->eos;
        if (cc->bos < 0 || cc->eos < 0)
            return cli_fail("%s: the tokenizer `%s` needs bos and eos tokens (tokenizer_config.json)", r->cfg_path,
                            tokenizer);
        c->vocab_size = nv <= VOCAB ? VOCAB : (nv + 7) / 8 * 8;
    }
    c->n_layers_prelude = (int64_t)num(jm, "n_layers_prelude", 1);
    c->n_layers_core = (int64_t)num(jm, "n_layers_core", 2);
    c->n_layers_coda = (int64_t)num(jm, "n_layers_coda", 1);
    c->mean_recurrence = (int64_t)num(jm, "mean_recurrence", 4);
    c->mean_backprop_depth = (int64_t)num(jm, "mean_backprop_depth", 2);
    c->block_size = (int64_t)num(jm, "block_size", 128);
    c->rope_base = num(jm, "rope_base", 50000);
    c->norm_eps = 1e-6f;
    c->qk_bias = true;
    c->tie_embeddings = true;
    return 0;
}

/* The optimizer, schedule and sampler settings from the `train` section; under MPI every rank takes
 * rank 0's seeds, so all sample the same depths and start from the same weights. */
static void train_params(train_run *r) {
    const cJSON *jt = section(r, "train");
    hg_train_params *p = &r->p;
    *p = hg_train_default_params();
    p->rows = (int64_t)num(jt, "rows", 16);
    p->seq_len = (int64_t)num(jt, "seq_len", 48);
    p->accum = (int64_t)num(jt, "accum", 1);
    p->max_steps = (int64_t)num(jt, "max_steps", 1000);
    p->warmup = (int64_t)train_config_steps(jt, "warmup", (long long)p->max_steps, 0.05);
    p->cooldown = (int64_t)train_config_steps(jt, "cooldown", (long long)p->max_steps, 0.2);
    p->lr = num(jt, "lr", 1e-3);
    p->weight_decay = num(jt, "weight_decay", 1e-4);
    p->grad_clip = num(jt, "grad_clip", 1.0);
    p->fixed_n = (int64_t)num(jt, "fixed_n", -1);
    p->fixed_k = (int64_t)num(jt, "fixed_k", -1);
    /* the sampler's r̄ and k̄; 0 = the model's mean_recurrence / mean_backprop_depth (the way to set
     * them for an init_from model, whose config the `model` section does not change) */
    p->mean_recurrence = (int64_t)num(jt, "mean_recurrence", 0);
    p->backprop_depth = (int64_t)num(jt, "backprop_depth", 0);
    p->init_scale = (float)num(jt, "init_scale", 1.0);
    p->seed = (uint64_t)num(jt, "seed", 514229);
    r->init_seed = (uint64_t)num(jt, "init_seed", 233);
#ifdef HG_HAVE_MPI
    if (r->size > 1) {
        uint64_t seeds[2] = {p->seed, r->init_seed};
        MPI_Bcast(seeds, 2, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        p->seed = seeds[0], r->init_seed = seeds[1];
    }
#endif
}

/* The chain task's settings from the `data` section, checked; 0, or 1 with a message. */
static int chain_config(train_run *r) {
    const cJSON *jd = section(r, "data");
    hg_chain_rows *cc = &r->cc;
    cc->min_hops = (int)num(jd, "min_hops", 1), cc->max_hops = (int)num(jd, "max_hops", 4);
    cc->distractors = (int)num(jd, "distractors", 3), r->data_seed = (uint64_t)num(jd, "seed", 7);
    cc->max_distractors = (int)num(jd, "max_distractors", cc->distractors);
    cc->queries = (int)num(jd, "queries", 1);
    cc->curriculum_steps = (int64_t)num(jd, "curriculum_steps", 0);
    const cJSON *jst = cJSON_GetObjectItemCaseSensitive(jd, "curriculum_stages"); /* [steps at cap min_hops, +1, ...] */
    if (jst) {
        int ns = 0;
        bool ok = cJSON_IsArray(jst);
        for (const cJSON *e = ok ? jst->child : NULL; e && ok; e = e->next, ns++)
            ok = ns < 26 && cJSON_IsNumber(e) && e->valuedouble >= 1 && e->valuedouble <= 1e12 &&
                 (cc->curriculum_stage[ns] = (int64_t)e->valuedouble) > 0;
        if (!ok || ns != (int)num(jd, "max_hops", 4) - (int)num(jd, "min_hops", 1))
            return cli_fail("%s: data.curriculum_stages must list max_hops - min_hops positive step counts (hop caps "
                            "min_hops .. max_hops - 1; the last cap lasts from then on)", r->cfg_path);
        cc->curriculum_steps = 0;
        for (int i = 0; i < ns; i++) cc->curriculum_steps += cc->curriculum_stage[i];
    }
    cc->backward_pct = (int)num(jd, "backward_pct", 0), cc->decoy_pct = (int)num(jd, "decoy_pct", 0);
    r->hops_within_depth = num(jd, "hops_within_depth", 0) != 0;
    cc->depth_hops_pct = (int)num(jd, "depth_hops_pct", 0);
    if (cc->backward_pct < 0 || cc->backward_pct > 100 || cc->decoy_pct < 0 || cc->decoy_pct > 100 ||
        cc->depth_hops_pct < 0 || cc->depth_hops_pct > 100)
        return cli_fail("%s: data.backward_pct, data.decoy_pct and data.depth_hops_pct must be in 0..100",
                        r->cfg_path);
    if (cc->queries < 1 || cc->queries > 16) return cli_fail("%s: data.queries must be in 1..16", r->cfg_path);
    if (cc->min_hops < 0 || cc->max_hops < cc->min_hops || cc->distractors < 0 ||
        cc->max_distractors < cc->distractors || cc->max_hops > 25 || cc->min_hops + 1 + cc->max_distractors > 26)
        return cli_fail("%s: data needs 0 <= min_hops <= max_hops <= 25, 0 <= distractors <= max_distractors and "
                        "min_hops + 1 + max_distractors <= 26 (longer chains take fewer distractors: 26 letters "
                        "in all)", r->cfg_path);
    return 0;
}

/* When to evaluate and save, how many rows an evaluation reads, and at which depths. */
static void eval_config(train_run *r) {
    r->eval_every = (int64_t)num(r->root, "eval_every", 100), r->save_every = (int64_t)num(r->root, "save_every", 200);
    r->eval_rows = (int64_t)num(r->root, "eval_problems", 256);
    const int64_t def[] = {1, 4, 8, 16, 32};
    memcpy(r->depths, def, sizeof def), r->n_depths = 5;
    const cJSON *jdep = section(r, "eval_depths");
    if (cJSON_IsArray(jdep)) {
        r->n_depths = 0;
        for (const cJSON *e = jdep->child; e && r->n_depths < 16; e = e->next)
            if (cJSON_IsNumber(e) && e->valuedouble >= 0) r->depths[r->n_depths++] = (int64_t)e->valuedouble;
    }
}

/* Opens data.shard and data.val_shard when given and checks their rows fit this run (the trainer's
 * vocabulary: with init_from or --resume it is the loaded model's, not the `model` section's); 0, or 1. */
static int open_shards(train_run *r) {
    const int64_t vocab = hg_trainer_config(r->tr)->vocab_size;
    const cJSON *jd = section(r, "data");
    const cJSON *jsh = cJSON_GetObjectItemCaseSensitive(jd, "shard");
    const cJSON *jval = cJSON_GetObjectItemCaseSensitive(jd, "val_shard");
    if (!cJSON_IsString(jsh)) return 0;
    if (hg_shard_open(jsh->valuestring, &r->shard, &r->err) ||
        (cJSON_IsString(jval) && hg_shard_open(jval->valuestring, &r->val_shard, &r->err)))
        return cli_fail_err(&r->err);
    for (hg_shard *sh = r->shard; sh; sh = sh == r->shard ? r->val_shard : NULL)
        if (hg_shard_row_len(sh) != r->p.seq_len + 1 || hg_shard_vocab(sh) > vocab)
            return cli_fail("%s: rows of %lld tokens with ids < %d; this run needs seq_len + 1 = %lld and ids < %lld",
                            r->cfg_path, (long long)hg_shard_row_len(sh), hg_shard_vocab(sh),
                            (long long)r->p.seq_len + 1, (long long)vocab);
    return 0;
}

/* Whether a directory entry belongs to a run: its log, the `latest` link or a step-* checkpoint. */
static bool run_entry(const char *name) {
    return !strcmp(name, "log.csv") || !strcmp(name, "latest") || !strncmp(name, "step-", 5);
}

/* Removes one entry of an earlier run in out_dir (a step-* directory holds files only). */
static void remove_run_entry(const char *out, const char *name) {
    char p[4200], q[8400];
    snprintf(p, sizeof p, "%s/%s", out, name);
    struct stat sb;
    if (lstat(p, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(p);
        for (struct dirent *e; d && (e = readdir(d));)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) snprintf(q, sizeof q, "%s/%s", p, e->d_name), unlink(q);
        if (d) closedir(d);
        rmdir(p);
    } else
        unlink(p);
}

/* Rule: a new run never silently replaces an earlier one in out_dir. Reason: the log was truncated and
 * the checkpoints pruned or replaced by the first save, so a re-run of a config (or a forgotten
 * --resume) destroyed hours of training. Without --resume an out_dir holding log.csv, latest or a
 * step-* checkpoint is refused; --overwrite removes those first (so no stale checkpoint of the old
 * run outlives the new one's pruning). Rank 0 alone writes, so rank 0 alone decides. 0, or 1. */
static int claim_out_dir(train_run *r) {
    if (r->rank != 0 || r->resume) return 0;
    DIR *d = opendir(r->out);
    if (!d) return 0; /* not there yet (or unreadable: creating it says so) */
    char found[256] = "";
    for (struct dirent *e; (e = readdir(d));)
        if (run_entry(e->d_name)) {
            if (!r->overwrite) {
                snprintf(found, sizeof found, "%s", e->d_name);
                break;
            }
            remove_run_entry(r->out, e->d_name);
        }
    closedir(d);
    if (*found)
        return cli_fail("%s: out_dir `%s` already holds a run (%s); continue it with --resume, replace it with "
                        "--overwrite, or choose another out_dir", r->cfg_path, r->out, found);
    return 0;
}

/* The trainer: resumed from OUT/latest, started from init_from's weights, or random; 0, or 1. */
static int make_trainer(train_run *r) {
    const cJSON *jinit = section(r, "init_from");
    char latest[4096];
    snprintf(latest, sizeof latest, "%s/latest", r->out);
    if (r->resume) {
        if (hg_trainer_load(latest, &r->p, &r->tr, &r->err)) return cli_fail_err(&r->err);
    } else if (cJSON_IsString(jinit)) { /* continue from a model's weights: new optimizer and schedule */
        if (hg_trainer_load(jinit->valuestring, &r->p, &r->tr, &r->err)) return cli_fail_err(&r->err);
        if (hg_trainer_step_count(r->tr) != 0)
            return cli_fail("%s: init_from `%s` holds trainer state; use --resume to continue a run, or point "
                            "init_from at a directory with only config.json and model.safetensors",
                            r->cfg_path, jinit->valuestring);
    } else if (hg_trainer_init_random(&r->c, &r->p, r->init_seed, &r->tr, &r->err)) {
        return cli_fail_err(&r->err);
    }
    return 0;
}

/* The row buffers, OUT/ and OUT/log.csv (appended to on --resume), then the run's one-line summary. */
static int open_outputs(train_run *r) {
    r->T = r->p.seq_len, r->rows = r->p.rows * r->p.accum;
    r->tok = malloc((size_t)(r->rows * (r->T + 1)) * sizeof *r->tok);
    r->mask = malloc((size_t)(r->rows * (r->T + 1)));
    if (!r->tok || !r->mask) return cli_fail("out of memory");
    if (r->rank == 0 && mkdir(r->out, 0777) != 0) { /* exists is fine */
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/log.csv", r->out);
    r->log = r->rank == 0 ? fopen(path, r->resume ? "a" : "w") : fopen("/dev/null", "w");
    if (!r->log) return cli_fail("%s: cannot write", path);
    if (!r->resume)
        fprintf(r->log, "kind,step,loss,grad_norm,lr,n,k,tokens_per_s,elapsed_s,depth,eval_loss,eval_acc\n");
    int64_t n_params = 0;
    for (int64_t i = 0; i < hg_trainer_n_tensors(r->tr); i++) {
        int64_t n;
        hg_trainer_tensor(r->tr, i, &n, NULL, NULL);
        n_params += n;
    }
    if (r->rank == 0)
        printf("huginn train: %lld parameters, %lld rows x %lld tokens per step%s, %lld steps -> %s\n",
               (long long)n_params, (long long)(r->rows * r->size), (long long)r->T, r->size > 1 ? " (all ranks)" : "",
               (long long)r->p.max_steps, r->out);
    return 0;
}

/* This process's rows of the next step (from global row `first`): shard rows, or chain problems at the
 * curriculum's hop cap; 0, or 1 with a message. */
static int fill_rows(train_run *r, uint64_t first) {
    const int64_t T = r->T;
    if (r->shard) return hg_shard_read(r->shard, first, r->rows, r->tok, &r->err) ? cli_fail_err(&r->err) : 0;
    const int cap = hg_chain_hops_cap(&r->cc, hg_trainer_step_count(r->tr) + 1);
    for (int64_t i = 0; i < r->rows; i++) {
        int row_cap = cap, hops = -1;
        if (r->hops_within_depth || r->cc.depth_hops_pct > 0) {
            int64_t n, k;
            if (hg_trainer_next_depth(r->tr, i / r->p.rows, &n, &k, &r->err)) return cli_fail_err(&r->err);
            if (r->hops_within_depth) { /* a hop takes an iteration and the answer one more: r - 1 hops at depth r */
                if (n + k - 1 < row_cap) row_cap = (int)(n + k - 1);
                if (row_cap < r->cc.min_hops) row_cap = r->cc.min_hops;
            }
            hops = hg_chain_depth_hops(&r->cc, first + (uint64_t)i, n + k, row_cap);
        }
        if (!hg_chain_row(&r->cc, r->data_seed, first + (uint64_t)i, hops, row_cap, T, r->tok + i * (T + 1),
                          r->mask + i * (T + 1), true))
            return cli_fail("a problem does not fit in seq_len %lld: raise train.seq_len", (long long)T);
    }
    return 0;
}

/* Loss and accuracy at every evaluated depth, on the validation shard or held-out chain problems,
 * printed and logged; 0, or 1 with a message. */
static int evaluate(train_run *r, int64_t step, double t0) {
    const int64_t T = r->T, eval_rows = r->eval_rows, batch = r->p.rows;
    hg_chain_rows one_query = r->cc; /* evaluation asks the task's own single question */
    one_query.queries = 1, one_query.backward_pct = 0, one_query.decoy_pct = 0;
    for (int64_t di = 0; di < r->n_depths; di++) {
        double ls = 0, ac = 0;
        int64_t nb = 0;
        for (int64_t e0 = 0; e0 < eval_rows; e0 += batch, nb++) {
            const int64_t nr = eval_rows - e0 < batch ? eval_rows - e0 : batch;
            if (r->val_shard) { /* next-token loss and accuracy over every target */
                if (hg_shard_read(r->val_shard, (uint64_t)e0, nr, r->tok, &r->err)) return cli_fail_err(&r->err);
            } else
                for (int64_t i = 0; i < nr; i++) /* held-out stream: a different seed */
                    hg_chain_row(&one_query, r->data_seed ^ 0x5eedfeedull, (uint64_t)(e0 + i), -1, r->cc.max_hops, T,
                                 r->tok + i * (T + 1), r->mask + i * (T + 1), false); /* the one answer only */
            double l, a;
            if (hg_trainer_eval(r->tr, r->tok, r->val_shard ? NULL : r->mask, nr, r->depths[di], &l, &a, &r->err))
                return cli_fail_err(&r->err);
            ls += l, ac += a;
        }
        printf("  eval step %lld  r=%-3lld loss %.4f  acc %.3f\n", (long long)step, (long long)r->depths[di],
               ls / (double)nb, ac / (double)nb);
        fprintf(r->log, "eval,%lld,,,,,,,%.2f,%lld,%.6f,%.4f\n", (long long)step, cli_now() - t0,
                (long long)r->depths[di], ls / (double)nb, ac / (double)nb);
    }
    fflush(r->log);
    return 0;
}

/* Steps until max_steps or stop_after: fill rows, step the trainer; rank 0 logs, prints, evaluates and
 * saves on schedule (and when stopping early). 0, or 1 with a message. */
static int train_loop(train_run *r) {
    const hg_train_params *p = &r->p;
    const double t0 = cli_now();
    const int64_t step0 = hg_trainer_step_count(r->tr);
    int64_t tokens_done = 0;
    int rc;
    while (hg_trainer_step_count(r->tr) < p->max_steps && hg_trainer_step_count(r->tr) - step0 < r->stop_after) {
        const uint64_t cur = hg_trainer_cursor(r->tr);
        if ((rc = fill_rows(r, cur + (uint64_t)(r->rank * r->rows)))) return rc;
        hg_trainer_set_cursor(r->tr, cur + (uint64_t)(r->rows * r->size));
        hg_train_stats st;
        if (hg_trainer_step(r->tr, r->tok, r->shard ? NULL : r->mask, r->comm, &st, &r->err))
            return cli_fail_err(&r->err);
        const int64_t step = hg_trainer_step_count(r->tr);
        tokens_done += r->rows * r->size * r->T;
        /* Rule: a non-finite loss ends the run without saving. Reason: the weights that produced it are
         * already non-finite or diverged, every later step would only spread the NaN, and a saved
         * checkpoint would replace a good `latest` (the loss is all-reduced, so every rank stops). */
        if (!isfinite(st.loss)) {
            char latest[4200], target[256], good[4600] = "none (no checkpoint was saved before)";
            snprintf(latest, sizeof latest, "%s/latest", r->out);
            const ssize_t n = readlink(latest, target, sizeof target - 1);
            if (n > 0) target[n] = 0, snprintf(good, sizeof good, "%s/%s", r->out, target);
            return cli_fail("step %lld: the loss is %s (diverged: lower train.lr or raise warmup); stopped without "
                            "saving, the last good checkpoint is %s",
                            (long long)step, isnan(st.loss) ? "NaN" : "infinite", good);
        }
        if (r->rank != 0) continue; /* rank 0 reports, evaluates and saves */
        const double el = cli_now() - t0, tps = (double)tokens_done / el;
        const double eta = el / (double)(step - step0) * (double)(p->max_steps - step);
        fprintf(r->log, "train,%lld,%.6f,%.5f,%.3g,%lld,%lld,%.1f,%.2f,,,\n", (long long)step, st.loss, st.grad_norm,
                st.lr, (long long)st.depth_n, (long long)st.depth_k, tps, el);
        if (step % 10 == 0 || step == 1)
            printf("step %6lld  loss %.4f  |g| %.3f  lr %.2e  depth n=%lld k=%lld  %.0f tok/s  ETA %.0fs%s\n",
                   (long long)step, st.loss, st.grad_norm, st.lr, (long long)st.depth_n, (long long)st.depth_k, tps,
                   eta, st.skipped ? "  (skipped: non-finite gradient)" : "");
        if (((r->eval_every > 0 && step % r->eval_every == 0) || step == p->max_steps) && (!r->shard || r->val_shard))
            if ((rc = evaluate(r, step, t0))) return rc;
        const bool stopping = step - step0 >= r->stop_after;
        if ((r->save_every > 0 && step % r->save_every == 0) || step == p->max_steps || stopping)
            if (hg_trainer_save(r->tr, r->out, tokenizer_path(r), KEEP_CHECKPOINTS, &r->err)) return cli_fail_err(&r->err);
        fflush(stdout);
    }
    return 0;
}

/* Everything after the command line: config, data, trainer, outputs, then the training itself; what
 * it leaves in r is released by the caller. 0, or 1 with a message. */
static int train_setup_and_run(train_run *r) {
    int rc;
    if ((rc = read_config(r))) return rc;
    const cJSON *jo = section(r, "out_dir");
    if (!cJSON_IsString(jo)) return cli_fail("%s: `out_dir` (string) is required", r->cfg_path);
    r->out = jo->valuestring;
    if ((rc = model_config(r))) return rc;
    train_params(r);
    if ((rc = chain_config(r))) return rc;
    eval_config(r);
    if ((rc = claim_out_dir(r)) || (rc = make_trainer(r)) || (rc = open_shards(r)) || (rc = open_outputs(r)))
        return rc;
    return train_loop(r);
}

/* `huginn train` on process `rank` of `size` (0 of 1 without MPI); comm sums across processes. */
static int train_main(int argc, char **argv, int rank, int size, const hg_train_comm *comm) {
    train_run r = {.rank = rank, .size = size, .comm = comm, .cc = {.bos = TOK_BOS, .eos = TOK_EOS, .pad = TOK_PAD}};
    int rc = parse_args(&r, argc, argv);
    if (rc != TRAIN_GO_ON) return rc;
    rc = train_setup_and_run(&r);
    if (r.log) fclose(r.log);
    hg_shard_close(r.shard), hg_shard_close(r.val_shard);
    hg_tokenizer_free(r.cc.tok);
    free(r.tok), free(r.mask);
    hg_trainer_free(r.tr);
    cJSON_Delete(r.root);
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
