/*
 * test_gqa.c — grouped-query attention in the block pipeline and the KV cache: a model whose K/V
 * have fewer heads (Hkv = H/2, each K/V head read by two query heads) must compute exactly what the
 * same model with every K/V head repeated for its query heads (plain multi-head attention) computes.
 * Both are built in memory (the Huginn config format has no grouped K/V; architectures that do load
 * through the same pipeline). The q, k and v rows are the same dot products in both, and attention
 * reads the same K/V values, so logits must be bit-identical: prefill, cached decode, and a batch.
 * The GQA context's KV cache must also be half as wide.
 */
#include "harness.h"
#include "model/ctx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { H = 4, HKV = 2, D = 8, HID = H * D, I = 48, V = 64, P = 1, RC = 2, C = 1, T = 7 };

static uint64_t g_rng = 12345;
static float frand(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((float)(g_rng >> 40) / (float)(1u << 24) - 0.5f) * 0.4f;
}

static hg_tensor mat(float *data, int64_t rows, int64_t cols) {
    hg_tensor t = {.dtype = HG_DTYPE_F32, .n_dims = 2, .ne = {rows, cols, 1, 1}, .data = data,
                   .nbytes = (size_t)(rows * cols) * sizeof(float)};
    return t;
}

/* Two models: m[0] with Hkv K/V heads, m[1] with each K/V head repeated (H heads), same weights. */
static void build(hg_model *m[2]) {
    const int64_t nl = P + RC + C, group = H / HKV;
    hg_config c = {0};
    c.arch = HG_ARCH_HUGINN;
    c.n_embd = HID, c.n_head = H, c.head_dim = D, c.intermediate_size = I, c.vocab_size = V;
    c.n_layers_prelude = P, c.n_layers_core = RC, c.n_layers_coda = C, c.mean_recurrence = 4;
    c.mean_backprop_depth = 2, c.block_size = 32, c.rope_base = 10000.0, c.norm_eps = 1e-6f, c.tie_embeddings = true;
    const size_t per_layer = (size_t)((H + 2 * H) * D * HID + HID * HID + 2 * I * HID + HID * I + 4 * HID);
    for (int k = 0; k < 2; k++) {
        m[k] = calloc(1, sizeof *m[k]);
        m[k]->cfg = c;
        m[k]->cfg.n_kv_head = k == 0 ? HKV : H;
        m[k]->layers = hg_calloc((size_t)nl, sizeof(hg_layer));
        m[k]->owned_weights = hg_calloc((size_t)nl * per_layer + (size_t)(V * HID + 2 * HID * HID + HID), sizeof(float));
    }
    float *w0 = m[0]->owned_weights, *w1 = m[1]->owned_weights;
    /* shared tensors: embedding, adapter, ln_f */
    float *wte = w0, *adapter = wte + V * HID, *lnf = adapter + 2 * HID * HID;
    for (int64_t i = 0; i < V * HID + 2 * HID * HID; i++) wte[i] = frand();
    for (int64_t i = 0; i < HID; i++) lnf[i] = 1.0f + frand();
    for (int k = 0; k < 2; k++) {
        m[k]->wte = m[k]->lm_head = mat(wte, V, HID);
        m[k]->adapter = mat(adapter, HID, 2 * HID);
        m[k]->ln_f = lnf;
    }
    float *f0 = lnf + HID, *f1 = w1;
    for (int64_t l = 0; l < nl; l++) {
        const int64_t rows0 = (H + 2 * HKV) * D, rows1 = 3 * H * D;
        float *qkv0 = f0, *qkv1 = f1;
        for (int64_t i = 0; i < rows0 * HID; i++) qkv0[i] = frand();
        memcpy(qkv1, qkv0, (size_t)(H * D * HID) * sizeof(float)); /* q rows */
        for (int part = 0; part < 2; part++)                         /* k, then v: head hh reads hh / group */
            for (int64_t hh = 0; hh < H; hh++)
                memcpy(qkv1 + ((1 + part) * H * D + hh * D) * HID, qkv0 + ((H + part * HKV) * D + (hh / group) * D) * HID,
                       (size_t)(D * HID) * sizeof(float));
        f0 += rows0 * HID, f1 += rows1 * HID;
        float *rest = f0; /* proj, fc, mlp proj, 4 norms: shared */
        for (int64_t i = 0; i < HID * HID + 2 * I * HID + HID * I; i++) rest[i] = frand();
        for (int64_t i = 0; i < 4 * HID; i++) rest[HID * HID + 2 * I * HID + HID * I + i] = 1.0f + frand();
        for (int k = 0; k < 2; k++) {
            hg_layer *L = &m[k]->layers[l];
            L->wqkv = mat(k == 0 ? qkv0 : qkv1, k == 0 ? rows0 : rows1, HID);
            L->attn_proj = mat(rest, HID, HID);
            L->fc = mat(rest + HID * HID, 2 * I, HID);
            L->mlp_proj = mat(rest + HID * HID + 2 * I * HID, HID, I);
            for (int n = 0; n < 4; n++) L->norm[n] = rest + HID * HID + 2 * I * HID + HID * I + n * HID;
        }
        f0 += HID * HID + 2 * I * HID + HID * I + 4 * HID;
    }
}

static void forward_both(hg_model *m[2]) {
    int32_t ids[T + 3];
    for (int i = 0; i < T + 3; i++) ids[i] = (int32_t)((i * 29 + 5) % V);
    float lg[2][(T + 3) * V];
    int64_t width[2];
    for (int k = 0; k < 2; k++) {
        hg_ctx_params cp = hg_ctx_default_params();
        cp.n_ctx = 16;
        cp.max_steps = 4;
        hg_ctx *ctx = NULL;
        hg_error err = {0};
        CHECK_MSG(hg_ctx_init(m[k], &cp, &ctx, &err) == HG_OK, "%s", err.msg);
        if (!ctx) return;
        width[k] = hg_ctx_kv_bytes_per_token(ctx);
        hg_forward_params fp = hg_forward_default_params();
        fp.n_steps = 3;
        CHECK(hg_ctx_forward(ctx, ids, T, 0, &fp, NULL, lg[k], &err) == HG_OK); /* prefill */
        for (int i = T; i < T + 3; i++)                                          /* cached decode */
            CHECK(hg_ctx_forward(ctx, ids + i, 1, i, &fp, NULL, lg[k] + i * V, &err) == HG_OK);
        hg_ctx_free(ctx);
    }
    CHECK_MSG(memcmp(lg[0], lg[1], sizeof lg[0]) == 0, "GQA logits differ from the repeated-head model");
    CHECK_MSG(width[0] * H == width[1] * HKV, "KV bytes per token: %lld with %d K/V heads, %lld with %d",
              (long long)width[0], HKV, (long long)width[1], H);
    bool finite = true;
    for (int i = 0; i < (T + 3) * V; i++) finite &= isfinite(lg[0][i]);
    CHECK(finite);
    /* a batch of two GQA sequences: row results equal the solo ones */
    hg_batch_params bp = hg_batch_default_params();
    bp.n_seq = 2;
    bp.ctx.n_ctx = 16;
    bp.ctx.max_steps = 4;
    hg_batch *b = NULL;
    hg_error err = {0};
    CHECK(hg_batch_init(m[0], &bp, &b, &err) == HG_OK);
    if (!b) return;
    hg_forward_params fp = hg_forward_default_params();
    fp.n_steps = 3;
    for (int s = 0; s < 2; s++) CHECK(hg_ctx_forward(hg_batch_ctx(b, s), ids, T, 0, &fp, NULL, NULL, &err) == HG_OK);
    float blg[2 * V];
    const int32_t next[2] = {ids[T], ids[T]};
    CHECK(hg_batch_decode(b, next, &fp, NULL, blg, &err) == HG_OK);
    CHECK(memcmp(blg, lg[0] + T * V, V * sizeof(float)) == 0 && memcmp(blg + V, lg[0] + T * V, V * sizeof(float)) == 0);
    hg_batch_free(b);
}

int main(void) {
    hg_model *m[2];
    build(m);
    forward_both(m);
    for (int k = 0; k < 2; k++) {
        hg_free(m[k]->layers);
        hg_free(m[k]->owned_weights);
        free(m[k]);
    }
    return hg_test_finish("test_gqa");
}
