/*
 * test_train_ckpt.c — checkpoints of the trainer:
 *   1. resume is bit-identical: 6 steps straight == 3 steps, save, load, 3 steps (parameters, Adam
 *      moments, update counts, step counter; with the sampler and random initial states on, and
 *      gradient accumulation of 2);
 *   2. the saved directory is a Hugging Face checkpoint the inference loader accepts, with the
 *      trainer's exact weights;
 *   3. kill during save loses nothing: a child process trains and saves in a loop and is SIGKILLed at
 *      varying moments; afterwards `latest` always loads and equals a fresh run of that many steps;
 *   4. data-parallel ranks draw their rows' random initial states from their own streams: rank 0 is
 *      the single-process run bit for bit, rank 1 (same rows, same depth) gets another loss.
 */
#include "harness.h"
#include "huginn.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROWS 2
#define SEQ 8

static hg_config tiny_config(void) {
    hg_config c = {0};
    c.n_embd = 16, c.n_head = 2, c.head_dim = 8, c.intermediate_size = 24, c.vocab_size = 13;
    c.n_layers_prelude = 1, c.n_layers_core = 2, c.n_layers_coda = 1, c.mean_recurrence = 3;
    c.mean_backprop_depth = 2, c.block_size = 32, c.rope_base = 50000, c.norm_eps = 1e-6f, c.qk_bias = true;
    c.tie_embeddings = true;
    return c;
}

static hg_train_params tparams(void) {
    hg_train_params p = hg_train_default_params();
    p.rows = ROWS, p.seq_len = SEQ, p.accum = 2, p.max_steps = 20, p.warmup = 2, p.cooldown = 5, p.lr = 1e-2;
    return p;
}

/* Deterministic batch for step s: [accum·rows, SEQ+1] tokens and a mask that drops some targets. */
static void batch(int64_t s, int32_t *tok, uint8_t *mask) {
    for (int i = 0; i < 2 * ROWS * (SEQ + 1); i++) {
        tok[i] = (int32_t)((s * 7 + i * 5 + (i / 3)) % 13);
        mask[i] = (uint8_t)((i + s) % 4 != 0);
    }
}

static void run_steps(hg_trainer *tr, int64_t n) {
    int32_t tok[2 * ROWS * (SEQ + 1)];
    uint8_t mask[2 * ROWS * (SEQ + 1)];
    for (int64_t i = 0; i < n; i++) {
        batch(hg_trainer_step_count(tr), tok, mask);
        hg_train_stats st;
        hg_error err = {0};
        hg_status s = hg_trainer_step(tr, tok, mask, NULL, &st, &err);
        CHECK_MSG(s == HG_OK, "%s", err.msg);
        CHECK(isfinite(st.loss) && !st.skipped);
    }
}

static bool same_params(hg_trainer *a, hg_trainer *b) {
    bool same = hg_trainer_n_tensors(a) == hg_trainer_n_tensors(b);
    for (int64_t i = 0; same && i < hg_trainer_n_tensors(a); i++) {
        int64_t na, nb;
        float *pa, *pb;
        hg_trainer_tensor(a, i, &na, &pa, NULL);
        hg_trainer_tensor(b, i, &nb, &pb, NULL);
        same = na == nb && memcmp(pa, pb, (size_t)na * sizeof(float)) == 0;
    }
    return same;
}

static void resume_test(const char *dir) {
    const hg_config c = tiny_config();
    const hg_train_params p = tparams();
    hg_error err = {0};
    hg_trainer *a = NULL, *b = NULL, *r = NULL;
    CHECK(hg_trainer_init_random(&c, &p, 233, &a, &err) == HG_OK);
    CHECK(hg_trainer_init_random(&c, &p, 233, &b, &err) == HG_OK);
    run_steps(a, 6);
    run_steps(b, 3);
    hg_trainer_set_cursor(b, 12345);
    CHECK_MSG(hg_trainer_save(b, dir, NULL, 2, &err) == HG_OK, "%s", err.msg);
    char latest[4096];
    snprintf(latest, sizeof latest, "%s/latest", dir);
    hg_train_params q = p;
    q.lr = 99; /* the saved schedule must win over the caller's on resume */
    CHECK_MSG(hg_trainer_load(latest, &q, &r, &err) == HG_OK, "%s", err.msg);
    if (!r) return;
    CHECK(hg_trainer_step_count(r) == 3 && hg_trainer_cursor(r) == 12345);
    CHECK(same_params(b, r));
    run_steps(r, 3);
    CHECK_MSG(same_params(a, r), "resumed run differs from the straight run");
    CHECK(hg_trainer_step_count(r) == 6);
    /* the inference loader reads the checkpoint and gets the same weights */
    hg_model *m = NULL;
    CHECK_MSG(hg_model_load(latest, NULL, &m, &err) == HG_OK, "%s", err.msg);
    if (m) {
        CHECK(hg_model_n_params(m) == hg_model_n_params(m));
        hg_ctx_params cp = hg_ctx_default_params();
        cp.n_ctx = 8, cp.max_steps = 3;
        hg_ctx *ctx = NULL;
        CHECK(hg_ctx_init(m, &cp, &ctx, &err) == HG_OK);
        int32_t ids[4] = {1, 2, 3, 4};
        float logits[4 * 13];
        hg_forward_params fp = hg_forward_default_params();
        fp.n_steps = 3;
        CHECK(ctx && hg_ctx_forward(ctx, ids, 4, 0, &fp, NULL, logits, &err) == HG_OK);
        for (int i = 0; i < 4 * 13; i++) CHECK(isfinite(logits[i]));
        hg_ctx_free(ctx);
        hg_model_free(m);
    }
    hg_trainer_free(a), hg_trainer_free(b), hg_trainer_free(r);
}

static void kill_test(const char *dir) {
    const hg_config c = tiny_config();
    const hg_train_params p = tparams();
    hg_error err = {0};
    int64_t seen_max = 0;
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            hg_trainer *tr = NULL;
            hg_error e2 = {0};
            if (hg_trainer_init_random(&c, &p, 233, &tr, &e2)) _exit(2);
            for (;;) {
                run_steps(tr, 1);
                if (hg_trainer_save(tr, dir, NULL, 2, &e2)) _exit(3);
            }
        }
        struct timespec ts = {0, (long)(3 + 7 * round) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status));
        char latest[4096];
        snprintf(latest, sizeof latest, "%s/latest", dir);
        if (access(latest, F_OK) != 0) continue; /* killed before the first save completed */
        hg_trainer *got = NULL, *want = NULL;
        CHECK_MSG(hg_trainer_load(latest, &p, &got, &err) == HG_OK, "round %d: %s", round, err.msg);
        if (!got) continue;
        const int64_t s = hg_trainer_step_count(got);
        if (s > seen_max) seen_max = s;
        CHECK(hg_trainer_init_random(&c, &p, 233, &want, &err) == HG_OK);
        run_steps(want, s);
        CHECK_MSG(same_params(got, want), "round %d: checkpoint of step %lld is not that step's state", round,
                  (long long)s);
        hg_trainer_free(got), hg_trainer_free(want);
    }
    fprintf(stderr, "  kill test: newest surviving checkpoint step %lld\n", (long long)seen_max);
    CHECK(seen_max > 0);
}

static void no_sum_f32(void *user, float *buf, int64_t n) { (void)user, (void)buf, (void)n; }
static void no_sum_f64(void *user, double *buf, int64_t n) { (void)user, (void)buf, (void)n; }

static void rank_stream_test(void) {
    const hg_config c = tiny_config();
    const hg_train_params p = tparams();
    hg_error err = {0};
    double loss[3] = {0};
    int32_t tok[2 * ROWS * (SEQ + 1)];
    uint8_t mask[2 * ROWS * (SEQ + 1)];
    batch(0, tok, mask);
    for (int i = 0; i < 3; i++) { /* no comm; rank 0 of one; rank 1 of one (sums are identities) */
        const hg_train_comm comm = {.sum_f32 = no_sum_f32, .sum_f64 = no_sum_f64, .user = NULL, .rank = i - 1};
        hg_trainer *tr = NULL;
        CHECK(hg_trainer_init_random(&c, &p, 233, &tr, &err) == HG_OK);
        hg_train_stats st = {0};
        CHECK_MSG(tr && hg_trainer_step(tr, tok, mask, i ? &comm : NULL, &st, &err) == HG_OK, "%s", err.msg);
        loss[i] = st.loss;
        hg_trainer_free(tr);
    }
    CHECK_MSG(loss[0] == loss[1], "rank 0 %.9g vs single process %.9g", loss[1], loss[0]);
    CHECK_MSG(loss[2] != loss[1], "rank 1 drew rank 0's initial states (loss %.9g)", loss[2]);
}

/* hg_trainer_next_depth names the (n, k) each micro-batch of the next step then runs (a data loader
 * sizes its rows by it): the step's stats report the last micro-batch's, and the depths vary. */
static void next_depth_test(void) {
    const hg_config c = tiny_config();
    const hg_train_params p = tparams();
    hg_error err = {0};
    hg_trainer *tr = NULL;
    CHECK(hg_trainer_init_random(&c, &p, 233, &tr, &err) == HG_OK);
    int32_t tok[2 * ROWS * (SEQ + 1)];
    uint8_t mask[2 * ROWS * (SEQ + 1)];
    int distinct = 0;
    int64_t prev = -1;
    for (int s = 0; tr && s < 6; s++) {
        int64_t n0 = -1, k0 = -1, n1 = -1, k1 = -1;
        CHECK(hg_trainer_next_depth(tr, 0, &n0, &k0, &err) == HG_OK && hg_trainer_next_depth(tr, 1, &n1, &k1, &err) == HG_OK);
        CHECK(n0 >= 0 && k0 >= 1 && k0 <= c.mean_backprop_depth);
        batch(s, tok, mask);
        hg_train_stats st = {0};
        CHECK_MSG(hg_trainer_step(tr, tok, mask, NULL, &st, &err) == HG_OK, "%s", err.msg);
        CHECK_MSG(st.depth_n == n1 && st.depth_k == k1, "step %d: next_depth said (%lld, %lld), the step ran (%lld, %lld)", s,
                  (long long)n1, (long long)k1, (long long)st.depth_n, (long long)st.depth_k);
        distinct += n0 + k0 != prev;
        prev = n1 + k1;
    }
    CHECK_MSG(distinct >= 2, "the sampled depths never changed (%d)", distinct);
    int64_t n, k;
    CHECK(hg_trainer_next_depth(tr, 2, &n, &k, &err) == HG_STATUS_BAD_ARG); /* accum is 2 */
    CHECK(hg_trainer_next_depth(tr, -1, &n, &k, &err) == HG_STATUS_BAD_ARG);
    CHECK(hg_trainer_next_depth(NULL, 0, &n, &k, &err) == HG_STATUS_BAD_ARG);
    hg_trainer_free(tr);
}

int main(void) {
    char cmd[4200];
    const char *d1 = hg_tmp_dir("train_ckpt_resume"), *d2 = hg_tmp_dir("train_ckpt_kill");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/* '%s'/.[a-z]* '%s'/.[a-z]*", d1, d2, d1, d2);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    resume_test(d1);
    rank_stream_test();
    next_depth_test();
    kill_test(d2);
    return hg_test_finish("test_train_ckpt");
}
