/*
 * checkpoint.c — saving and resuming a trainer (include/huginn.h hg_trainer_save / hg_trainer_load).
 *
 * Layout: OUT/step-NNNNNNNN/ holds a Hugging Face checkpoint (config.json, model.safetensors in F32
 * with the official names, tokenizer.json) that `huginn run` and the official PyTorch code load, plus
 * optimizer.safetensors (exp_avg.<name>, exp_avg_sq.<name>, optimizer.t) and trainer_state.json
 * (counters and hyper-parameters). OUT/latest is a symlink to the newest complete one.
 *
 * Atomicity: a step directory is written under a temporary name, every file is fsync'ed, then the
 * directory is renamed into place and `latest` is swapped by rename(2) of a fresh symlink — both
 * renames are atomic, so a crash at any instant leaves `latest` naming a complete checkpoint (the
 * rejected alternative, renaming OUT/ itself aside and back, has a window with no checkpoint at all).
 */
#include "train/trainer_impl.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small file helpers ------------------------------------------------------------------------- */

static hg_status write_file(const char *path, const void *data, size_t n, hg_error *err) {
    FILE *f = fopen(path, "wb");
    if (!f) return hg_err(err, HG_STATUS_IO, "%s: cannot create: %s", path, strerror(errno));
    const bool ok = fwrite(data, 1, n, f) == n;
    if (fclose(f) != 0 || !ok) return hg_err(err, HG_STATUS_IO, "%s: write failed (disk full?)", path);
    return HG_OK;
}

static hg_status sync_path(const char *path, hg_error *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hg_err(err, HG_STATUS_IO, "%s: cannot open to sync: %s", path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0 && errno != EINVAL) return hg_err(err, HG_STATUS_IO, "%s: fsync failed: %s", path, strerror(errno));
    return HG_OK;
}

/* Remove a flat directory (our checkpoint directories hold files only). */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- safetensors callbacks ---------------------------------------------------------------------- */

typedef struct fill_ctx {
    const hg_trainer *tr;
    const float *bufs[2];
    int n_bufs;
} fill_ctx;

static bool fill_tensors(void *user, int64_t index, uint8_t *buf, size_t nbytes) {
    const fill_ctx *c = user;
    const int64_t nt = c->tr->L.n_tensors;
    if (index == (int64_t)c->n_bufs * nt) { /* optimizer.t */
        memcpy(buf, c->tr->t, nbytes);
        return true;
    }
    const hg_tinfo *t = &c->tr->L.t[index % nt];
    if (nbytes != (size_t)t->n * sizeof(float)) return false;
    memcpy(buf, c->bufs[index / nt] + t->offset, nbytes);
    return true;
}

static hg_status write_tensors(const hg_trainer *tr, const char *path, bool optimizer, hg_error *err) {
    const int64_t nt = tr->L.n_tensors, n = optimizer ? 2 * nt + 1 : nt;
    hg_st_entry *e = hg_calloc((size_t)n, sizeof *e);
    char *names = hg_calloc((size_t)n, 128);
    if (!e || !names) {
        hg_free(e), hg_free(names);
        return hg_err(err, HG_STATUS_NOMEM, "checkpoint: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        char *nm = names + i * 128;
        if (optimizer && i == 2 * nt) {
            snprintf(nm, 128, "optimizer.t");
            e[i] = (hg_st_entry){.name = nm, .dtype = HG_ST_I64, .n_dims = 1, .shape = {nt}};
            continue;
        }
        const hg_tinfo *t = &tr->L.t[i % nt];
        snprintf(nm, 128, "%s%s", !optimizer ? "" : i < nt ? "exp_avg." : "exp_avg_sq.", t->name);
        e[i].name = nm;
        e[i].dtype = HG_ST_F32;
        e[i].n_dims = t->n_dims;
        for (int d = 0; d < t->n_dims; d++) e[i].shape[d] = t->shape[d];
    }
    fill_ctx c = {.tr = tr, .bufs = {optimizer ? tr->m : tr->params, tr->v}, .n_bufs = optimizer ? 2 : 1};
    hg_status st = hg_st_write(path, e, n, fill_tensors, &c, err);
    hg_free(e), hg_free(names);
    return st;
}

/* ---- trainer_state.json --------------------------------------------------------------------------- */

static char *state_json(const hg_trainer *tr) {
    const hg_train_params *p = &tr->p;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "format_version", 1);
    /* counters as strings: 64-bit values do not survive a double */
    char b[3][32];
    snprintf(b[0], 32, "%lld", (long long)tr->step);
    snprintf(b[1], 32, "%llu", (unsigned long long)tr->micro);
    snprintf(b[2], 32, "%llu", (unsigned long long)tr->cursor);
    cJSON_AddStringToObject(o, "step", b[0]);
    cJSON_AddStringToObject(o, "micro_batches", b[1]);
    cJSON_AddStringToObject(o, "data_cursor", b[2]);
    char sd[32];
    snprintf(sd, sizeof sd, "%llu", (unsigned long long)p->seed);
    cJSON_AddStringToObject(o, "seed", sd);
    const struct { const char *k; double v; } nums[] = {
        {"rows", (double)p->rows}, {"seq_len", (double)p->seq_len}, {"accum", (double)p->accum},
        {"max_steps", (double)p->max_steps}, {"warmup", (double)p->warmup}, {"cooldown", (double)p->cooldown},
        {"lr", p->lr}, {"beta1", p->beta1}, {"beta2", p->beta2}, {"eps", p->eps},
        {"weight_decay", p->weight_decay}, {"grad_clip", p->grad_clip},
        {"update_clipping", p->update_clipping ? 1 : 0}, {"mean_recurrence", (double)p->mean_recurrence},
        {"backprop_depth", (double)p->backprop_depth}, {"fixed_n", (double)p->fixed_n},
        {"fixed_k", (double)p->fixed_k}, {"init_scale", (double)p->init_scale}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) cJSON_AddNumberToObject(o, nums[i].k, nums[i].v);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

static hg_status parse_state(const char *path, hg_train_params *p, int64_t *step, uint64_t *micro, uint64_t *cursor,
                             hg_error *err) {
    char *text;
    size_t len;
    hg_status st = hg_read_text_file(path, 1u << 20, &text, &len, err);
    if (st) return st;
    cJSON *o = cJSON_ParseWithLength(text, len);
    hg_free(text);
    if (!o) return hg_err(err, HG_STATUS_BAD_FILE, "%s: not valid JSON", path);
    const char *skeys[4] = {"step", "micro_batches", "data_cursor", "seed"};
    unsigned long long sv[4];
    for (int i = 0; i < 4; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, skeys[i]);
        char *end = NULL;
        errno = 0;
        /* digits only: strtoull would take "-1" as 2^64 - 1 */
        if (cJSON_IsString(it) && it->valuestring[0] >= '0' && it->valuestring[0] <= '9')
            sv[i] = strtoull(it->valuestring, &end, 10);
        if (!cJSON_IsString(it) || !end || *end || errno) {
            cJSON_Delete(o);
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing or not a decimal string", path, skeys[i]);
        }
    }
    const char *nkeys[] = {"rows", "seq_len", "accum", "max_steps", "warmup", "cooldown", "lr", "beta1", "beta2",
                           "eps", "weight_decay", "grad_clip", "update_clipping", "mean_recurrence",
                           "backprop_depth", "fixed_n", "fixed_k", "init_scale"};
    double nv[18];
    for (int i = 0; i < 18; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, nkeys[i]);
        if (!cJSON_IsNumber(it)) {
            cJSON_Delete(o);
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: key `%s` missing or not a number", path, nkeys[i]);
        }
        nv[i] = it->valuedouble;
    }
    cJSON_Delete(o);
    /* Ranges before the casts: a double outside int64_t is undefined behaviour, and a huge depth or
     * step count would make a resumed run last practically forever (trainer_impl.h's bounds). */
    const double S = (double)HG_TRAIN_MAX_STEPS, D = (double)HG_TRAIN_MAX_DEPTH;
    const struct { int i; double lo, hi; bool integer; } ranges[] = {
        {3, 1, S, true}, {4, 0, S, true}, {5, 0, S, true}, {6, 0, 1e300, false}, {7, 0, 0.999999, false},
        {8, 0, 0.999999, false}, {9, 1e-300, 1, false}, {10, 0, 1e300, false}, {11, 0, 1e300, false},
        {12, 0, 1, true}, {13, 0, D, true}, {14, 0, D, true}, {15, -1, D, true}, {16, -1, D, true},
        {17, 0, 1e30, false}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const double v = nv[ranges[i].i];
        if (!(v >= ranges[i].lo && v <= ranges[i].hi) || (ranges[i].integer && floor(v) != v))
            return hg_err(err, HG_STATUS_BAD_FILE, "%s: `%s` = %g is out of range (%s%g..%g)", path,
                          nkeys[ranges[i].i], v, ranges[i].integer ? "an integer in " : "", ranges[i].lo,
                          ranges[i].hi);
    }
    if (sv[0] > (unsigned long long)HG_TRAIN_MAX_STEPS)
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: `step` = %llu is out of range (0..%lld)", path, sv[0],
                      (long long)HG_TRAIN_MAX_STEPS);
    *step = (int64_t)sv[0], *micro = sv[1], *cursor = sv[2], p->seed = sv[3];
    /* rows/seq_len/accum stay the caller's (a resumed run may change its batch shape) */
    p->max_steps = (int64_t)nv[3], p->warmup = (int64_t)nv[4], p->cooldown = (int64_t)nv[5];
    p->lr = nv[6], p->beta1 = nv[7], p->beta2 = nv[8], p->eps = nv[9], p->weight_decay = nv[10];
    p->grad_clip = nv[11], p->update_clipping = nv[12] != 0, p->mean_recurrence = (int64_t)nv[13];
    p->backprop_depth = (int64_t)nv[14], p->fixed_n = (int64_t)nv[15], p->fixed_k = (int64_t)nv[16];
    p->init_scale = (float)nv[17];
    return HG_OK;
}

/* ---- save ----------------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Delete step-* directories beyond the `keep` newest, never `current`. */
static void prune(const char *out_dir, const char *current, int keep) {
    DIR *d = opendir(out_dir);
    if (!d) return;
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (!strncmp(e->d_name, "step-", 5) && strlen(e->d_name) == 13) names[n++] = hg_strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        if (names[i] && i < n - keep && strcmp(names[i], current)) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", out_dir, names[i]);
            remove_dir(p);
        }
        hg_free(names[i]);
    }
}

/* Rule: a checkpoint holds finite numbers only. Reason: a diverged run (a NaN loss) would otherwise
 * write NaN weights and swap `latest` to them, replacing the last good checkpoint; refusing leaves
 * `latest` where it was. The name of the first bad tensor goes into the message. */
static hg_status check_finite(const hg_trainer *tr, hg_error *err) {
    const float *bufs[3] = {tr->params, tr->m, tr->v};
    const char *what[3] = {"", "exp_avg.", "exp_avg_sq."};
    for (int b = 0; b < 3; b++)
        for (int64_t i = 0; i < tr->L.n_tensors; i++) {
            const hg_tinfo *t = &tr->L.t[i];
            for (int64_t j = 0; j < t->n; j++)
                if (!isfinite(bufs[b][t->offset + j]))
                    return hg_err(err, HG_STATUS_BAD_INPUT,
                                  "checkpoint: %s%s holds a non-finite value (the run diverged); not saved",
                                  what[b], t->name);
        }
    return HG_OK;
}

hg_status hg_trainer_save(hg_trainer *tr, const char *out_dir, const char *tokenizer, int keep, hg_error *err) {
    if (!tr || !out_dir) return hg_err(err, HG_STATUS_BAD_ARG, "hg_trainer_save: trainer and directory required");
    hg_status fin = check_finite(tr, err);
    if (fin) return fin;
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST)
        return hg_err(err, HG_STATUS_IO, "%s: cannot create: %s", out_dir, strerror(errno));
    char name[32], tmp[4096], final[4096], p[4200];
    snprintf(name, sizeof name, "step-%08lld", (long long)tr->step);
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%d", out_dir, name, (int)getpid());
    snprintf(final, sizeof final, "%s/%s", out_dir, name);
    remove_dir(tmp);
    if (mkdir(tmp, 0777) != 0) return hg_err(err, HG_STATUS_IO, "%s: cannot create: %s", tmp, strerror(errno));
    hg_status st = HG_OK;
    char *cfg = hg_config_to_json(&tr->L.cfg, "huginn-trained"), *state = state_json(tr), *tok = NULL;
    if (!cfg || !state) {
        st = hg_err(err, HG_STATUS_NOMEM, "checkpoint: out of memory");
        goto out;
    }
    static const char *files[] = {"config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json",
                                  "tokenizer.json", "tokenizer_config.json"};
    snprintf(p, sizeof p, "%s/%s", tmp, files[0]);
    if ((st = write_file(p, cfg, strlen(cfg), err))) goto out;
    snprintf(p, sizeof p, "%s/%s", tmp, files[1]);
    if ((st = write_tensors(tr, p, false, err))) goto out;
    snprintf(p, sizeof p, "%s/%s", tmp, files[2]);
    if ((st = write_tensors(tr, p, true, err))) goto out;
    snprintf(p, sizeof p, "%s/%s", tmp, files[3]);
    if ((st = write_file(p, state, strlen(state), err))) goto out;
    int n_files = 4;
    if (tokenizer) {
        size_t len;
        if ((st = hg_read_text_file(tokenizer, 256u << 20, &tok, &len, err))) goto out;
        snprintf(p, sizeof p, "%s/%s", tmp, files[4]);
        if ((st = write_file(p, tok, len, err))) goto out;
        n_files = 5;
        /* tokenizer_config.json beside it names bos/eos (`huginn run -p` prepends bos): copied too */
        char side[4096];
        const char *slash = strrchr(tokenizer, '/');
        const int dir_len = slash ? (int)(slash - tokenizer + 1) : 0;
        snprintf(side, sizeof side, "%.*stokenizer_config.json", dir_len, tokenizer);
        struct stat cs;
        if (stat(side, &cs) == 0) {
            hg_free(tok), tok = NULL;
            if ((st = hg_read_text_file(side, 16u << 20, &tok, &len, err))) goto out;
            snprintf(p, sizeof p, "%s/%s", tmp, files[5]);
            if ((st = write_file(p, tok, len, err))) goto out;
            n_files = 6;
        }
    }
    for (int i = 0; i < n_files; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
        if ((st = sync_path(p, err))) goto out;
    }
    if ((st = sync_path(tmp, err))) goto out;
    /* a directory of the same step from an earlier run is replaced (latest never points at it here) */
    struct stat sb;
    if (stat(final, &sb) == 0) remove_dir(final);
    if (rename(tmp, final) != 0) {
        st = hg_err(err, HG_STATUS_IO, "%s: rename failed: %s", final, strerror(errno));
        goto out;
    }
    char link_tmp[4096], link[4096];
    snprintf(link_tmp, sizeof link_tmp, "%s/.latest-%d", out_dir, (int)getpid());
    snprintf(link, sizeof link, "%s/latest", out_dir);
    unlink(link_tmp);
    if (symlink(name, link_tmp) != 0 || rename(link_tmp, link) != 0) {
        st = hg_err(err, HG_STATUS_IO, "%s: cannot update the symlink: %s", link, strerror(errno));
        unlink(link_tmp);
        goto out;
    }
    sync_path(out_dir, NULL);
    if (keep > 0) prune(out_dir, name, keep);
out:
    if (st) remove_dir(tmp);
    hg_free(cfg);
    cJSON_free(state);
    hg_free(tok);
    return st;
}

/* ---- load / resume --------------------------------------------------------------------------------- */

static hg_status read_optimizer(hg_trainer *tr, const char *path, hg_error *err) {
    hg_st_file f;
    hg_status st = hg_st_open(path, false, &f, err);
    if (st) return st;
    const int64_t nt = tr->L.n_tensors;
    char nm[160];
    for (int64_t i = 0; i < 2 * nt && !st; i++) {
        const hg_tinfo *t = &tr->L.t[i % nt];
        snprintf(nm, sizeof nm, "%s%s", i < nt ? "exp_avg." : "exp_avg_sq.", t->name);
        const hg_st_tensor *x = hg_st_find(&f, nm);
        if (!x || x->dtype != HG_ST_F32 || x->nbytes != (size_t)t->n * sizeof(float))
            st = hg_err(err, HG_STATUS_BAD_FILE, "%s: tensor %s missing or of the wrong size", path, nm);
        else
            memcpy((i < nt ? tr->m : tr->v) + t->offset, x->data, x->nbytes);
    }
    const hg_st_tensor *x = st ? NULL : hg_st_find(&f, "optimizer.t");
    if (!st && (!x || x->dtype != HG_ST_I64 || x->nbytes != (size_t)nt * sizeof(int64_t)))
        st = hg_err(err, HG_STATUS_BAD_FILE, "%s: optimizer.t missing or of the wrong size", path);
    if (!st) {
        memcpy(tr->t, x->data, x->nbytes);
        for (int64_t i = 0; i < nt; i++)
            if (tr->t[i] < 0) st = hg_err(err, HG_STATUS_BAD_FILE, "%s: negative update count", path);
    }
    hg_st_close(&f);
    return st;
}

hg_status hg_trainer_load(const char *dir, const hg_train_params *p, hg_trainer **out, hg_error *err) {
    if (!dir || !out) return hg_err(err, HG_STATUS_BAD_ARG, "hg_trainer_load: dir and out required");
    hg_train_params q = p ? *p : hg_train_default_params();
    char sp[4096], op[4096];
    snprintf(sp, sizeof sp, "%s/trainer_state.json", dir);
    snprintf(op, sizeof op, "%s/optimizer.safetensors", dir);
    struct stat sb;
    const bool resume = stat(sp, &sb) == 0 && stat(op, &sb) == 0;
    int64_t step = 0;
    uint64_t micro = 0, cursor = 0;
    hg_status st;
    if (resume && (st = parse_state(sp, &q, &step, &micro, &cursor, err))) return st;
    hg_model_params mp = hg_model_default_params();
    mp.use_mmap = false;
    hg_model *m;
    if ((st = hg_model_load(dir, &mp, &m, err))) return st;
    hg_trainer *tr = NULL;
    if ((st = hg_trainer_alloc(&m->cfg, &q, &tr, err))) goto fail;
    if ((st = hg_tparams_from_model(&tr->L, m, tr->params, err))) goto fail;
    if (resume) {
        if ((st = read_optimizer(tr, op, err))) goto fail;
        tr->step = step, tr->micro = micro, tr->cursor = cursor;
    }
    hg_model_free(m);
    *out = tr;
    return HG_OK;
fail:
    hg_trainer_free(tr);
    hg_model_free(m);
    return st;
}
