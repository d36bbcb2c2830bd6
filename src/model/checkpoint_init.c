/*
 * checkpoint_init.c — random-weight checkpoints in the Hugging Face layout (config.json +
 * model.safetensors), deterministic from a seed: what tests, benchmarks and the trainer start from.
 *
 * Initialisation is the reference's "takase" scheme (raven_modeling_minimal.py `_init_weights`):
 * every matrix is a normal truncated at ±3σ with σ = sqrt(2/(5h)), except the output projections
 * (attn.proj, mlp.proj and the up half of mlp.fc), whose σ is divided by sqrt(2·depth) with
 * depth = P + R·mean_recurrence + C; RMSNorm weights are 1 and the q/k bias 0. With tied embeddings
 * lm_head.weight is not written (as save_pretrained does). The tensors, their shapes and which
 * of these fills each gets come from the architecture's schema (schema.h). Ouro (P = C = 0, R = its
 * layers, depth = R·total_ut_steps) takes the same scheme: q/k/v, gate and the exit gate's weight
 * normal, o_proj / up / down the output-projection std, its four norms 1 and the gate's bias 0; its
 * config.json is Hugging Face's OuroConfig layout (hg_config_to_json -> config_ouro.c).
 *
 * Determinism: each tensor is filled in blocks of 2^20 values, block b of tensor `name` drawn from
 * hg_rng seeded with mix(seed, fnv1a(name), b). Blocks are independent, so they are generated in
 * parallel and the bytes do not depend on the thread count. The full Huginn-0125 shape (3.5 B
 * values, 7 GB in bf16) is streamed tensor by tensor, never held whole.
 */
#include "model/model.h"
#include "model/schema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define HG_INIT_BLOCK ((int64_t)1 << 20)

typedef struct init_tensor {
    char name[128];
    int n_dims;
    int64_t shape[4];
    hg_part_init init; /* GATE_UP: the first half with std, the second with the output-projection std */
    double std;
} init_tensor;

typedef struct init_job {
    init_tensor *t;
    int64_t n;
    hg_st_dtype dtype;
    uint64_t seed;
    double std, out_std;
} init_job;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const init_tensor *)a)->name, ((const init_tensor *)b)->name);
}

static void store(void *buf, hg_st_dtype dt, int64_t i, float v) {
    if (dt == HG_ST_F32) ((float *)buf)[i] = v;
    else if (dt == HG_ST_BF16) ((uint16_t *)buf)[i] = hg_f32_to_bf16(v);
    else ((uint16_t *)buf)[i] = hg_f32_to_f16(v);
}

static bool fill(void *user, int64_t index, uint8_t *buf, size_t nbytes) {
    init_job *job = user;
    const init_tensor *t = &job->t[index];
    int64_t count = 1;
    for (int d = 0; d < t->n_dims; d++) count *= t->shape[d];
    (void)nbytes;
    const uint64_t hname = fnv1a(t->name);
    const int64_t n_blocks = (count + HG_INIT_BLOCK - 1) / HG_INIT_BLOCK;
    const int64_t half = t->init == HG_INIT_GATE_UP ? count / 2 : count;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < n_blocks; b++) {
        hg_rng r;
        hg_rng_seed(&r, job->seed ^ (hname * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)b * 0xd1b54a32d192ed03ull));
        const int64_t i1 = hg_min_i64(count, (b + 1) * HG_INIT_BLOCK);
        for (int64_t i = b * HG_INIT_BLOCK; i < i1; i++) {
            float v;
            if (t->init == HG_INIT_ONES) v = 1.0f;
            else if (t->init == HG_INIT_ZEROS) v = 0.0f;
            else {
                double sd = (t->init == HG_INIT_GATE_UP && i >= half) ? job->out_std : t->std;
                v = (float)hg_rng_trunc_normal(&r, sd, -3 * sd, 3 * sd);
            }
            store(buf, job->dtype, i, v);
        }
    }
    return true;
}

hg_status hg_checkpoint_init(const hg_config *cfg_in, const char *dir, hg_dtype dtype, uint64_t seed, hg_error *err) {
    hg_config c = *cfg_in;
    hg_status st = hg_config_validate(&c, "config", err);
    if (st) return st;
    hg_st_dtype sdt;
    switch (dtype) {
    case HG_DTYPE_F32: sdt = HG_ST_F32; break;
    case HG_DTYPE_BF16: sdt = HG_ST_BF16; break;
    case HG_DTYPE_F16: sdt = HG_ST_F16; break;
    default: return hg_err(err, HG_STATUS_UNSUPPORTED, "init: dtype %s (use f32, bf16 or f16; quantize afterwards)", hg_dtype_name(dtype));
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return hg_err(err, HG_STATUS_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    const hg_schema *sc = hg_schema_for(c.arch);
    if (!sc) return hg_err(err, HG_STATUS_UNSUPPORTED, "init: no tensor schema for architecture %s", hg_arch_name(c.arch));
    const int64_t h = c.n_embd;
    const int64_t depth = c.n_layers_prelude + c.n_layers_core * c.mean_recurrence + c.n_layers_coda;
    const double sd = sqrt(2.0 / (5.0 * (double)h)), out_sd = sd / sqrt(2.0 * (double)(depth > 0 ? depth : 1));
    const int64_t nl = hg_schema_n_layers(&c);
    int64_t cap = (int64_t)sc->n_parts * (nl + 1);
    init_tensor *ts = hg_calloc((size_t)cap, sizeof *ts);
    hg_st_entry *es = hg_calloc((size_t)cap, sizeof *es);
    if (!ts || !es) {
        hg_free(ts), hg_free(es);
        return hg_err(err, HG_STATUS_NOMEM, "out of memory");
    }
    /* every part the config has (a tied head is not written, as save_pretrained does) */
    int64_t n = 0;
    for (hg_schema_iter it = hg_schema_begin(sc, &c); hg_schema_next(&it);) {
        const hg_part *p = it.part;
        init_tensor *t = &ts[n++];
        if (!hg_schema_name(sc, &c, p, it.layer, HG_NAMES_HF, t->name, sizeof t->name)) {
            hg_free(ts), hg_free(es);
            return hg_err(err, HG_STATUS_LIMIT, "init: tensor name too long");
        }
        t->n_dims = p->n_dims;
        for (int d = 0; d < p->n_dims; d++) t->shape[d] = hg_schema_dim(&c, p->dims[d]);
        t->init = p->init;
        t->std = p->init == HG_INIT_OUT_PROJ ? out_sd : sd;
    }
    qsort(ts, (size_t)n, sizeof *ts, cmp_name); /* data ordered by name, as the goldens' writer does */
    for (int64_t i = 0; i < n; i++) {
        es[i].name = ts[i].name;
        es[i].dtype = sdt;
        es[i].n_dims = ts[i].n_dims;
        for (int d = 0; d < ts[i].n_dims; d++) es[i].shape[d] = ts[i].shape[d];
    }
    init_job job = {ts, n, sdt, seed, sd, out_sd};
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st = hg_st_write(path, es, n, fill, &job, err);
    if (!st) {
        char name[64];
        snprintf(name, sizeof name, "huginn-random-seed%llu", (unsigned long long)seed);
        char *json = hg_config_to_json(&c, name);
        snprintf(path, sizeof path, "%s/config.json", dir);
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
        FILE *f = json ? fopen(tmp, "wb") : NULL;
        if (!f || fputs(json, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
            if (f) remove(tmp);
            st = hg_err(err, HG_STATUS_IO, "%s: cannot write", path);
        }
        hg_free(json);
    }
    hg_free(ts);
    hg_free(es);
    return st;
}
