/*
 * step.c — one micro-batch of training: the forward pass of docs/forward-pass.md over B rows of T tokens that
 * keeps what the backward needs, the loss, and the backward with truncated backpropagation through
 * the recurrence (docs/training.md "Truncated backpropagation"):
 *
 *     e = prelude(√h·wte[ids])                     activations kept
 *     s = s0;  n_nograd × s = core(A·[s; e])       activations NOT kept (one scratch set is reused)
 *     k_grad × s = core(A·[s; e])                  activations kept per iteration
 *     logits = ln_f(coda(ln_f(s)))·wteᵀ ;  loss = Σ CE over labelled positions
 *
 * Backward walks the same list in reverse. The state entering the first gradient iteration is a
 * constant (its gradient is dropped), e receives one contribution per gradient iteration, the core
 * and the adapter sum theirs over the k iterations, ln_f gets both uses, and wte gets the head part
 * plus the scattered embedding part (×√h): the tied embedding is one tensor, so both land in it.
 *
 * The block is the architecture's: Huginn's sandwich, or a retrofitted model's Llama (pre-norm) or
 * OLMo-2 (post-norm, q/k norms) block with grouped-query attention and rotate-half RoPE; a retrofitted
 * model also scales the embedding by embed_scale, runs the coda on the raw state with ln_f once after
 * it, and has an untied lm_head (docs/training.md "Fine-tuning a retrofitted model"). One dispatch
 * (block_forward / block_backward) picks the block; everything around it is shared.
 *
 * Memory: activations for P + k·R + C layer applications, each ≈ (10h + 3I + H·T) floats per token,
 * allocated once in hg_tstep_init. No-grad iterations run through the very same layer code (into the
 * scratch set), so a split (n, k) gives bit-identical losses to (n + k, 0).
 *
 * Also here: the recurrence sampler and the like-init random state (both seeded per micro-batch).
 */
#include "train/train.h"
#include "kernels/kernels.h"
#include "model/ctx.h" /* hg_retrofit_inv_freq */

#include <math.h>

/* ---- buffers -------------------------------------------------------------------------------------- */

typedef struct lact {   /* one layer application; all [N, ...] */
    float *x_in;        /* [N, h]  block input */
    float *rs;          /* [4, N]  1/rms of the four norms */
    float *a1;          /* [N, h]  norm_1 output */
    float *qkv;         /* [N, (H + 2·Hkv)·d] (≤ 3h: H·d = h) after q/k bias and RoPE */
    float *prob;        /* [B, H, T, T] attention probabilities */
    float *att;         /* [N, h]  attention output, heads concatenated */
    float *r1;          /* [N, h]  x_in + attn.proj(att) */
    float *x1;          /* [N, h]  norm_2(r1) */
    float *a3;          /* [N, h]  norm_3(x1) */
    float *fc;          /* [N, 2I] gate | up */
    float *act;         /* [N, I]  silu(gate)·up */
    float *r2;          /* [N, h]  x1 + mlp.proj(act) */
} lact;

struct hg_tstep {
    const hg_tlayout *L;
    int64_t B, T, N, max_k, n_apps;
    hg_tview pv, gv;    /* params / grads views, re-pointed each call */
    float *inv_freq;    /* [d/2] */
    lact *apps;         /* [P + max_k·R + C] kept activations */
    lact ng;            /* scratch for no-grad iterations */
    float *emb;         /* [N, h] √h·wte[ids] */
    float *e;           /* [N, h] prelude output */
    float *s;           /* [N, h] state */
    float *cat;         /* [max(1,max_k), N, 2h] adapter inputs [s; e] per gradient iteration */
    float *sfin;        /* [N, h] final state (ln_f input) */
    float *rsf;         /* [2, N] 1/rms of the two ln_f uses */
    float *z;           /* [N, h] ln_f(sfin) = coda input */
    float *cout;        /* [N, h] coda output */
    float *xf;          /* [N, h] ln_f(cout) = head input */
    float *logits;      /* [N, V] */
    float *dlogits;     /* [N, V] */
    float *d0, *d1, *d2, *de, *tmp; /* [N, h] each */
    float *dqkv;        /* [N, (H + 2·Hkv)·d] ≤ [N, 3h] */
    float *dfc;         /* [N, 2I] */
    float *dact;        /* [N, I] */
    float *dcat;        /* [N, 2h] */
    float *mm;          /* hg_tmm / hg_tmm_backward work (hg_sgemm's packed operand) */
    int32_t *hsel;      /* [2, N] the head's rows: labels, then positions (labelled targets only) */
    float *block;       /* the float allocation */
};

static int64_t lact_floats(const hg_config *c, int64_t N, int64_t T) {
    const int64_t h = c->n_embd, I = c->intermediate_size;
    return N * (10 * h + 3 * I + 4 + c->n_head * T);
}

static void lact_carve(lact *a, float **f, const hg_config *c, int64_t N, int64_t T) {
    const int64_t h = c->n_embd, I = c->intermediate_size;
    a->x_in = *f, *f += N * h;
    a->rs = *f, *f += 4 * N;
    a->a1 = *f, *f += N * h;
    a->qkv = *f, *f += N * 3 * h;
    a->prob = *f, *f += N * c->n_head * T;
    a->att = *f, *f += N * h;
    a->r1 = *f, *f += N * h;
    a->x1 = *f, *f += N * h;
    a->a3 = *f, *f += N * h;
    a->fc = *f, *f += N * 2 * I;
    a->act = *f, *f += N * I;
    a->r2 = *f, *f += N * h;
}

hg_status hg_tstep_init(const hg_tlayout *L, int64_t B, int64_t T, int64_t max_k, hg_tstep **out, hg_error *err) {
    const hg_config *c = &L->cfg;
    if (B <= 0 || T <= 0 || max_k < 0 || T > c->block_size)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: need rows > 0 and 0 < T <= block_size (%lld), got %lld x %lld",
                      (long long)c->block_size, (long long)B, (long long)T);
    if (B > (1 << 20) || T > (1 << 20) || max_k > 4096)
        return hg_err(err, HG_STATUS_LIMIT, "trainer: batch shape too large");
    const int64_t h = c->n_embd, I = c->intermediate_size, V = c->vocab_size, N = B * T;
    const int64_t n_apps = c->n_layers_prelude + max_k * c->n_layers_core + c->n_layers_coda;
    const int64_t kc = max_k > 0 ? max_k : 1;
    const int64_t wide = hg_max_i64(hg_max_i64(3 * h, 2 * I), hg_max_i64(V, 2 * h));
    /* hg_sgemm's packed operand: K x (N rounded up to 32) for every product of the step (forward: in x
     * out; dx: out x in; dW: N x in), bounded by max(N, wide) x (wide rounded up) */
    const int64_t mm = (int64_t)hg_sgemm_work(hg_max_i64(N, wide), wide);
    const double total = (double)(n_apps + 1) * (double)lact_floats(c, N, T) +
                         (double)N * (double)(h * 13 + 2 + 2 * h * kc + 2 * V + 3 * h + 2 * I + I + 2 * h) +
                         (double)mm + (double)(h / 2);
    if (total * 4.0 > 64.0 * (1u << 30))
        return hg_err(err, HG_STATUS_LIMIT, "trainer: %lld x %lld tokens with %lld gradient iterations need %.1f GB of activations",
                      (long long)B, (long long)T, (long long)max_k, total * 4.0 / 1e9);
    hg_tstep *s = hg_calloc(1, sizeof *s);
    if (!s) return hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory");
    s->L = L, s->B = B, s->T = T, s->N = N, s->max_k = max_k, s->n_apps = n_apps;
    s->apps = hg_calloc((size_t)(n_apps > 0 ? n_apps : 1), sizeof *s->apps);
    s->block = hg_malloc((size_t)total * sizeof(float));
    s->hsel = hg_malloc((size_t)(2 * N) * sizeof(int32_t));
    hg_status st = HG_OK;
    if (!s->apps || !s->block || !s->hsel) {
        st = hg_err(err, HG_STATUS_NOMEM, "trainer: out of memory for %.1f MB of activations", total * 4.0 / 1e6);
        goto fail;
    }
    if ((st = hg_tview_init(&s->pv, L, s->block, err)) || (st = hg_tview_init(&s->gv, L, s->block, err))) goto fail;
    float *f = s->block;
    s->inv_freq = f, f += h / 2;
    for (int64_t i = 0; i < n_apps; i++) lact_carve(&s->apps[i], &f, c, N, T);
    lact_carve(&s->ng, &f, c, N, T);
    s->emb = f, f += N * h;
    s->e = f, f += N * h;
    s->s = f, f += N * h;
    s->cat = f, f += kc * N * 2 * h;
    s->sfin = f, f += N * h;
    s->rsf = f, f += 2 * N;
    s->z = f, f += N * h;
    s->cout = f, f += N * h;
    s->xf = f, f += N * h;
    s->logits = f, f += N * V;
    s->dlogits = f, f += N * V;
    s->d0 = f, f += N * h;
    s->d1 = f, f += N * h;
    s->d2 = f, f += N * h;
    s->de = f, f += N * h;
    s->tmp = f, f += N * h;
    s->dqkv = f, f += N * 3 * h;
    s->dfc = f, f += N * 2 * I;
    s->dact = f, f += N * I;
    s->dcat = f, f += N * 2 * h;
    s->mm = f, f += mm;
    HG_ASSERT((double)(f - s->block) <= total);
    if (hg_arch_is_retrofit(c->arch)) hg_retrofit_inv_freq(c, s->inv_freq); /* the inference context's tables */
    else hg_rope_inv_freq(s->inv_freq, c->head_dim, c->rope_base);
    *out = s;
    return HG_OK;
fail:
    hg_tstep_free(s);
    return st;
}

void hg_tstep_free(hg_tstep *s) {
    if (!s) return;
    hg_tview_free(&s->pv);
    hg_tview_free(&s->gv);
    hg_free(s->apps);
    hg_free(s->block);
    hg_free(s->hsel);
    hg_free(s);
}

/* ---- one sandwich block ------------------------------------------------------------------------- */

/* RoPE on the q and k parts of qkv [N, (H + 2·Hkv)·d] (inverse: the backward), in the architecture's
 * pair layout: Huginn's adjacent pairs, or Hugging Face's rotate-half for a retrofit model. */
static void rope_qk(const hg_tstep *s, float *qkv, bool inverse) {
    const hg_config *c = &s->L->cfg;
    const int64_t stride = hg_cfg_qkv_dim(c), d = c->head_dim;
    const bool half = hg_arch_is_retrofit(c->arch);
    hg_trope(qkv, stride, s->N, s->T, c->n_head, d, s->inv_freq, half, inverse);
    hg_trope(qkv + hg_cfg_q_dim(c), stride, s->N, s->T, c->n_kv_head, d, s->inv_freq, half, inverse);
}

static void sandwich_forward(hg_tstep *s, const hg_tlayer *W, lact *A, const float *x, float *y) {
    const hg_config *c = &s->L->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size, N = s->N;
    const float eps = c->norm_eps;
    if (A->x_in != x) memcpy(A->x_in, x, (size_t)(N * h) * sizeof(float));
    hg_trmsnorm(A->a1, A->rs, A->x_in, W->norm[0], N, h, eps);
    hg_tmm(A->qkv, A->a1, W->wqkv, N, h, 3 * h, s->mm);
    if (W->qk_bias) /* q/k bias before RoPE (docs/forward-pass.md) */
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < 2 * h; j++) A->qkv[n * 3 * h + j] += W->qk_bias[j];
    rope_qk(s, A->qkv, false);
    hg_tattn(A->att, A->prob, A->qkv, s->B, s->T, c->n_head, c->n_head, c->head_dim);
    hg_tmm(s->tmp, A->att, W->attn_proj, N, h, h, s->mm);
    for (int64_t i = 0; i < N * h; i++) A->r1[i] = A->x_in[i] + s->tmp[i];
    hg_trmsnorm(A->x1, A->rs + N, A->r1, W->norm[1], N, h, eps);
    hg_trmsnorm(A->a3, A->rs + 2 * N, A->x1, W->norm[2], N, h, eps);
    hg_tmm(A->fc, A->a3, W->fc, N, h, 2 * I, s->mm);
    hg_tswiglu(A->act, A->fc, N, I);
    hg_tmm(s->tmp, A->act, W->mlp_proj, N, I, h, s->mm);
    for (int64_t i = 0; i < N * h; i++) A->r2[i] = A->x1[i] + s->tmp[i];
    hg_trmsnorm(y, A->rs + 3 * N, A->r2, W->norm[3], N, h, eps);
}

/* dy [N,h] -> dx [N,h] (dx may be dy), accumulating the layer's parameter gradients into G. */
static void sandwich_backward(hg_tstep *s, const hg_tlayer *W, hg_tlayer *G, const lact *A, const float *dy, float *dx) {
    const hg_config *c = &s->L->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size, N = s->N;
    float *dA = s->d1, *dB = s->d2;
    hg_trmsnorm_backward(dB, false, G->norm[3], dy, A->r2, A->rs + 3 * N, W->norm[3], N, h); /* dr2 */
    hg_tmm_backward(s->dact, false, G->mlp_proj, dB, A->act, W->mlp_proj, N, I, h, s->mm);
    hg_tswiglu_backward(s->dfc, s->dact, A->fc, N, I);
    hg_tmm_backward(dA, false, G->fc, s->dfc, A->a3, W->fc, N, h, 2 * I, s->mm);            /* da3 */
    hg_trmsnorm_backward(dB, true, G->norm[2], dA, A->x1, A->rs + 2 * N, W->norm[2], N, h);  /* dx1 = dr2 + … */
    hg_trmsnorm_backward(dA, false, G->norm[1], dB, A->r1, A->rs + N, W->norm[1], N, h);     /* dr1 */
    hg_tmm_backward(s->tmp, false, G->attn_proj, dA, A->att, W->attn_proj, N, h, h, s->mm);  /* datt */
    hg_tattn_backward(s->dqkv, s->tmp, A->prob, A->qkv, s->B, s->T, c->n_head, c->n_head, c->head_dim);
    rope_qk(s, s->dqkv, true);
    if (G->qk_bias)
        for (int64_t j = 0; j < 2 * h; j++) {
            double acc = 0;
            for (int64_t n = 0; n < N; n++) acc += (double)s->dqkv[n * 3 * h + j];
            G->qk_bias[j] += (float)acc;
        }
    hg_tmm_backward(dB, false, G->wqkv, s->dqkv, A->a1, W->wqkv, N, h, 3 * h, s->mm);        /* da1 */
    if (dx != dA) memcpy(dx, dA, (size_t)(N * h) * sizeof(float));                           /* dx = dr1 + … */
    hg_trmsnorm_backward(dx, true, G->norm[0], dB, A->x_in, A->rs, W->norm[0], N, h);
}

/* ---- one retrofit Llama block --------------------------------------------------------------------- */

/* Pre-norm (docs/family.md "The blocks"), block_retrofit.c's hg_block_retrofit_llama on a whole
 * micro-batch:  r1 = x + proj(attn(RoPE½(norm_1(x)·Wqkvᵀ)));  y = r1 + mlp(norm_2(r1)). Kept: x_in,
 * a1 = norm_1(x), qkv after RoPE, prob, att, r1, a3 = norm_2(r1), fc, act (x1, r2 unused). */
static void llama_forward(hg_tstep *s, const hg_tlayer *W, lact *A, const float *x, float *y) {
    const hg_config *c = &s->L->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size, N = s->N, qd = hg_cfg_q_dim(c);
    const float eps = c->norm_eps;
    if (A->x_in != x) memcpy(A->x_in, x, (size_t)(N * h) * sizeof(float));
    hg_trmsnorm(A->a1, A->rs, A->x_in, W->norm[0], N, h, eps);
    hg_tmm(A->qkv, A->a1, W->wqkv, N, h, hg_cfg_qkv_dim(c), s->mm);
    rope_qk(s, A->qkv, false);
    hg_tattn(A->att, A->prob, A->qkv, s->B, s->T, c->n_head, c->n_kv_head, c->head_dim);
    hg_tmm(s->tmp, A->att, W->attn_proj, N, qd, h, s->mm);
    for (int64_t i = 0; i < N * h; i++) A->r1[i] = A->x_in[i] + s->tmp[i];
    hg_trmsnorm(A->a3, A->rs + N, A->r1, W->norm[1], N, h, eps);
    hg_tmm(A->fc, A->a3, W->fc, N, h, 2 * I, s->mm);
    hg_tswiglu(A->act, A->fc, N, I);
    hg_tmm(s->tmp, A->act, W->mlp_proj, N, I, h, s->mm);
    for (int64_t i = 0; i < N * h; i++) y[i] = A->r1[i] + s->tmp[i]; /* y may be x: x_in is the copy read */
}

/* Both residuals pass dy through: dr1 = dy + norm_2ᵀ(mlpᵀ(dy)), dx = dr1 + norm_1ᵀ(attnᵀ(dr1)). */
static void llama_backward(hg_tstep *s, const hg_tlayer *W, hg_tlayer *G, const lact *A, const float *dy, float *dx) {
    const hg_config *c = &s->L->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size, N = s->N, qd = hg_cfg_q_dim(c);
    float *dA = s->d1, *dB = s->d2;
    hg_tmm_backward(s->dact, false, G->mlp_proj, dy, A->act, W->mlp_proj, N, I, h, s->mm);
    hg_tswiglu_backward(s->dfc, s->dact, A->fc, N, I);
    hg_tmm_backward(dA, false, G->fc, s->dfc, A->a3, W->fc, N, h, 2 * I, s->mm);            /* da3 */
    memcpy(dB, dy, (size_t)(N * h) * sizeof(float));
    hg_trmsnorm_backward(dB, true, G->norm[1], dA, A->r1, A->rs + N, W->norm[1], N, h);      /* dr1 */
    hg_tmm_backward(s->tmp, false, G->attn_proj, dB, A->att, W->attn_proj, N, qd, h, s->mm); /* datt */
    hg_tattn_backward(s->dqkv, s->tmp, A->prob, A->qkv, s->B, s->T, c->n_head, c->n_kv_head, c->head_dim);
    rope_qk(s, s->dqkv, true);
    hg_tmm_backward(dA, false, G->wqkv, s->dqkv, A->a1, W->wqkv, N, h, hg_cfg_qkv_dim(c), s->mm); /* da1 */
    if (dx != dB) memcpy(dx, dB, (size_t)(N * h) * sizeof(float));
    hg_trmsnorm_backward(dx, true, G->norm[0], dA, A->x_in, A->rs, W->norm[0], N, h);
}

/* ---- one retrofit OLMo-2 block -------------------------------------------------------------------- */

/* Copy `width` columns at `col` of rows [N, stride] to or from a contiguous [N, width]. */
static void gather_cols(float *dst, const float *src, int64_t N, int64_t stride, int64_t col, int64_t width) {
    for (int64_t n = 0; n < N; n++) memcpy(dst + n * width, src + n * stride + col, (size_t)width * sizeof(float));
}
static void scatter_cols(float *dst, const float *src, int64_t N, int64_t stride, int64_t col, int64_t width) {
    for (int64_t n = 0; n < N; n++) memcpy(dst + n * stride + col, src + n * width, (size_t)width * sizeof(float));
}

/* Post-norm with QK-norm (docs/family.md "The blocks"), block_retrofit.c's hg_block_retrofit_olmo on
 * a whole micro-batch: q, k = q_norm(q), k_norm(k) over the full H·d / Hkv·d widths, then RoPE½;
 * o = proj(attn);  r1 = x + norm_1(o);  m = mlp(r1);  y = r1 + norm_2(m). Kept: x_in, q and k before
 * their norms (in x1 and a3), qkv after norms and RoPE, prob, att, o (in a1), r1, fc, act, m (in r2);
 * rs = 1/rms of norm_1, norm_2, q_norm, k_norm. */
static void olmo_forward(hg_tstep *s, const hg_tlayer *W, lact *A, const float *x, float *y) {
    const hg_config *c = &s->L->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size, N = s->N, qd = hg_cfg_q_dim(c), kvd = hg_cfg_kv_dim(c);
    const int64_t qkvd = hg_cfg_qkv_dim(c);
    const float eps = c->norm_eps;
    if (A->x_in != x) memcpy(A->x_in, x, (size_t)(N * h) * sizeof(float));
    hg_tmm(A->qkv, A->x_in, W->wqkv, N, h, qkvd, s->mm);
    gather_cols(A->x1, A->qkv, N, qkvd, 0, qd);
    gather_cols(A->a3, A->qkv, N, qkvd, qd, kvd);
    hg_trmsnorm(s->tmp, A->rs + 2 * N, A->x1, W->q_norm, N, qd, eps);
    scatter_cols(A->qkv, s->tmp, N, qkvd, 0, qd);
    hg_trmsnorm(s->tmp, A->rs + 3 * N, A->a3, W->k_norm, N, kvd, eps);
    scatter_cols(A->qkv, s->tmp, N, qkvd, qd, kvd);
    rope_qk(s, A->qkv, false);
    hg_tattn(A->att, A->prob, A->qkv, s->B, s->T, c->n_head, c->n_kv_head, c->head_dim);
    hg_tmm(A->a1, A->att, W->attn_proj, N, qd, h, s->mm);
    hg_trmsnorm(s->tmp, A->rs, A->a1, W->norm[0], N, h, eps);
    for (int64_t i = 0; i < N * h; i++) A->r1[i] = A->x_in[i] + s->tmp[i];
    hg_tmm(A->fc, A->r1, W->fc, N, h, 2 * I, s->mm);
    hg_tswiglu(A->act, A->fc, N, I);
    hg_tmm(A->r2, A->act, W->mlp_proj, N, I, h, s->mm);
    hg_trmsnorm(s->tmp, A->rs + N, A->r2, W->norm[1], N, h, eps);
    for (int64_t i = 0; i < N * h; i++) y[i] = A->r1[i] + s->tmp[i]; /* y may be x: x_in is the copy read */
}

/* dr1 = dy + mlpᵀ(norm_2ᵀ(dy)), do = norm_1ᵀ(dr1), dqkv from attention, RoPE⁻¹ and the q/k norms'
 * backward on their parts (v passes), dx = dr1 + dqkv·Wqkv. */
static void olmo_backward(hg_tstep *s, const hg_tlayer *W, hg_tlayer *G, const lact *A, const float *dy, float *dx) {
    const hg_config *c = &s->L->cfg;
    const int64_t h = c->n_embd, I = c->intermediate_size, N = s->N, qd = hg_cfg_q_dim(c), kvd = hg_cfg_kv_dim(c);
    const int64_t qkvd = hg_cfg_qkv_dim(c);
    float *dA = s->d1, *dB = s->d2;
    memcpy(dB, dy, (size_t)(N * h) * sizeof(float));
    hg_trmsnorm_backward(dA, false, G->norm[1], dy, A->r2, A->rs + N, W->norm[1], N, h);     /* dm */
    hg_tmm_backward(s->dact, false, G->mlp_proj, dA, A->act, W->mlp_proj, N, I, h, s->mm);
    hg_tswiglu_backward(s->dfc, s->dact, A->fc, N, I);
    hg_tmm_backward(dB, true, G->fc, s->dfc, A->r1, W->fc, N, h, 2 * I, s->mm);              /* dr1 */
    hg_trmsnorm_backward(dA, false, G->norm[0], dB, A->a1, A->rs, W->norm[0], N, h);         /* do */
    hg_tmm_backward(s->tmp, false, G->attn_proj, dA, A->att, W->attn_proj, N, qd, h, s->mm); /* datt */
    hg_tattn_backward(s->dqkv, s->tmp, A->prob, A->qkv, s->B, s->T, c->n_head, c->n_kv_head, c->head_dim);
    rope_qk(s, s->dqkv, true);
    gather_cols(s->tmp, s->dqkv, N, qkvd, 0, qd);
    hg_trmsnorm_backward(dA, false, G->q_norm, s->tmp, A->x1, A->rs + 2 * N, W->q_norm, N, qd);
    scatter_cols(s->dqkv, dA, N, qkvd, 0, qd);
    gather_cols(s->tmp, s->dqkv, N, qkvd, qd, kvd);
    hg_trmsnorm_backward(dA, false, G->k_norm, s->tmp, A->a3, A->rs + 3 * N, W->k_norm, N, kvd);
    scatter_cols(s->dqkv, dA, N, qkvd, qd, kvd);
    if (dx != dB) memcpy(dx, dB, (size_t)(N * h) * sizeof(float));
    hg_tmm_backward(dx, true, G->wqkv, s->dqkv, A->x_in, W->wqkv, N, h, qkvd, s->mm);
}

/* The architecture's block (hg_tlayout_init admits only these three). */
static void block_forward(hg_tstep *s, const hg_tlayer *W, lact *A, const float *x, float *y) {
    switch (s->L->cfg.arch) {
    case HG_ARCH_RETROFIT_LLAMA: llama_forward(s, W, A, x, y); break;
    case HG_ARCH_RETROFIT_OLMO: olmo_forward(s, W, A, x, y); break;
    default: sandwich_forward(s, W, A, x, y); break;
    }
}

static void block_backward(hg_tstep *s, const hg_tlayer *W, hg_tlayer *G, const lact *A, const float *dy, float *dx) {
    switch (s->L->cfg.arch) {
    case HG_ARCH_RETROFIT_LLAMA: llama_backward(s, W, G, A, dy, dx); break;
    case HG_ARCH_RETROFIT_OLMO: olmo_backward(s, W, G, A, dy, dx); break;
    default: sandwich_backward(s, W, G, A, dy, dx); break;
    }
}

/* ---- the core iteration ------------------------------------------------------------------------- */

/* s <- core(A·[s; e]) with activations into apps[first..first+R) (or the scratch set when NULL). */
static void core_forward(hg_tstep *s, float *cat, lact *apps) {
    const hg_config *c = &s->L->cfg;
    const int64_t h = c->n_embd, N = s->N;
    for (int64_t n = 0; n < N; n++) { /* adapter input: concat(state, embedding), state first */
        memcpy(cat + n * 2 * h, s->s + n * h, (size_t)h * sizeof(float));
        memcpy(cat + n * 2 * h + h, s->e + n * h, (size_t)h * sizeof(float));
    }
    hg_tmm(s->s, cat, s->pv.adapter, N, 2 * h, h, s->mm);
    for (int64_t j = 0; j < c->n_layers_core; j++) {
        const hg_tlayer *W = &s->pv.layers[c->n_layers_prelude + j];
        block_forward(s, W, apps ? &apps[j] : &s->ng, s->s, s->s);
    }
}

/* ---- the step --------------------------------------------------------------------------------------- */

hg_status hg_tstep_run(hg_tstep *s, const float *params, float *grads, const hg_tstep_args *a, double *loss_sum,
                       int64_t *n_labelled, hg_error *err) {
    const hg_config *c = &s->L->cfg;
    const int64_t h = c->n_embd, V = c->vocab_size, P = c->n_layers_prelude, R = c->n_layers_core;
    const int64_t C = c->n_layers_coda;
    if (a->B != s->B || a->T != s->T)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: micro-batch %lld x %lld does not match the buffers (%lld x %lld)",
                      (long long)a->B, (long long)a->T, (long long)s->B, (long long)s->T);
    if (a->n_nograd < 0 || a->k_grad < 0 || a->k_grad > s->max_k)
        return hg_err(err, HG_STATUS_BAD_ARG, "trainer: gradient iterations %lld outside 0..%lld (no-grad %lld)",
                      (long long)a->k_grad, (long long)s->max_k, (long long)a->n_nograd);
    if (a->backward && !grads) return hg_err(err, HG_STATUS_BAD_ARG, "trainer: backward needs a gradient buffer");
    const int64_t N = s->N;
    for (int64_t n = 0; n < N; n++) {
        if (a->ids[n] < 0 || a->ids[n] >= V)
            return hg_err(err, HG_STATUS_BAD_INPUT, "trainer: token id %d at index %lld is outside the vocabulary (0..%lld)",
                          a->ids[n], (long long)n, (long long)(V - 1));
        if (a->labels[n] != -100 && (a->labels[n] < 0 || a->labels[n] >= V))
            return hg_err(err, HG_STATUS_BAD_INPUT, "trainer: label %d at index %lld is neither -100 nor a token id",
                          a->labels[n], (long long)n);
    }
    /* the views only read params through these pointers */
    hg_tview_point(&s->pv, s->L, (float *)(uintptr_t)params);
    if (grads) hg_tview_point(&s->gv, s->L, grads);
    const float eps = c->norm_eps;
    const int64_t k = a->k_grad;

    /* embedding ×√h (the reference multiplies by the f32-rounded sqrt(h)); a retrofit model's by
     * init_values.embed_scale (×1 when it is 1: exact, as the reference's skipped multiply) */
    const bool retro = hg_arch_is_retrofit(c->arch);
    const float emb_scale = retro ? c->embed_scale : (float)sqrt((double)h);
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < h; j++) s->emb[n * h + j] = s->pv.wte[(int64_t)a->ids[n] * h + j] * emb_scale;
    const float *x = s->emb;
    for (int64_t l = 0; l < P; l++) {
        float *y = l + 1 < P ? s->apps[l + 1].x_in : s->e;
        block_forward(s, &s->pv.layers[l], &s->apps[l], x, y);
        x = y;
    }
    if (P == 0) memcpy(s->e, s->emb, (size_t)(N * h) * sizeof(float));

    /* recurrence: n without gradient, then k with */
    if (a->s0) memcpy(s->s, a->s0, (size_t)(N * h) * sizeof(float));
    else memset(s->s, 0, (size_t)(N * h) * sizeof(float));
    for (int64_t it = 0; it < a->n_nograd; it++) core_forward(s, s->cat, NULL);
    if (a->state_out) memcpy(a->state_out, s->s, (size_t)(N * h) * sizeof(float));
    for (int64_t it = 0; it < k; it++) core_forward(s, s->cat + it * N * 2 * h, &s->apps[P + it * R]);
    memcpy(s->sfin, s->s, (size_t)(N * h) * sizeof(float));

    /* Huginn: ln_f, coda, ln_f again (docs/forward-pass.md "Coda"); a retrofit model: the coda on the
     * raw state, ln_f once after it (docs/family.md "Stages"); then the head (wte when tied) */
    if (!retro) hg_trmsnorm(s->z, s->rsf, s->sfin, s->pv.ln_f, N, h, eps);
    const int64_t c0 = P + k * R;
    x = retro ? s->sfin : s->z;
    for (int64_t l = 0; l < C; l++) {
        float *y = l + 1 < C ? s->apps[c0 + l + 1].x_in : s->cout;
        block_forward(s, &s->pv.layers[P + R + l], &s->apps[c0 + l], x, y);
        x = y;
    }
    if (C == 0) memcpy(s->cout, x, (size_t)(N * h) * sizeof(float));
    hg_trmsnorm(s->xf, s->rsf + N, s->cout, s->pv.ln_f, N, h, eps);
    /* The head and the loss run only on the rows with a labelled target, unless the caller wants every
     * logit: with masked tasks most rows have none, and the head is V·h MACs per row (the rows that
     * remain see exactly the same operations). */
    int64_t Nh = 0;
    for (int64_t n = 0; n < N && !a->logits_out; n++)
        if (a->labels[n] != -100) s->hsel[Nh] = a->labels[n], s->hsel[N + Nh] = (int32_t)n, Nh++;
    const bool compact = Nh > 0 && Nh < N;
    if (compact)
        for (int64_t i = 0; i < Nh; i++) memcpy(s->d1 + i * h, s->xf + (int64_t)s->hsel[N + i] * h, (size_t)h * sizeof(float));
    else Nh = N;
    const float *hx = compact ? s->d1 : s->xf; /* d1 is free until the backward's first block */
    const float *head = s->pv.lm_head ? s->pv.lm_head : s->pv.wte;
    hg_tmm(s->logits, hx, head, Nh, h, V, s->mm);
    if (a->logits_out) memcpy(a->logits_out, s->logits, (size_t)(N * V) * sizeof(float));
    *loss_sum = hg_tcross_entropy(s->logits, compact ? s->hsel : a->labels, Nh, V, a->backward ? s->dlogits : NULL,
                                  a->grad_scale, n_labelled);
    if (!a->backward) return HG_OK;

    /* ---- backward ---- */
    hg_tmm_backward(compact ? s->tmp : s->d0, false, s->gv.lm_head ? s->gv.lm_head : s->gv.wte, s->dlogits, hx, head,
                    Nh, h, V, s->mm); /* the head (the head part of a tied wte) */
    if (compact) { /* rows without a target get no gradient from the head */
        memset(s->d0, 0, (size_t)(N * h) * sizeof(float));
        for (int64_t i = 0; i < Nh; i++) memcpy(s->d0 + (int64_t)s->hsel[N + i] * h, s->tmp + i * h, (size_t)h * sizeof(float));
    }
    hg_trmsnorm_backward(s->de, false, s->gv.ln_f, s->d0, s->cout, s->rsf + N, s->pv.ln_f, N, h);
    memcpy(s->d0, s->de, (size_t)(N * h) * sizeof(float));
    for (int64_t l = C - 1; l >= 0; l--)
        block_backward(s, &s->pv.layers[P + R + l], &s->gv.layers[P + R + l], &s->apps[c0 + l], s->d0, s->d0);
    if (!retro) { /* ds through the first ln_f (a retrofit coda reads the state itself) */
        hg_trmsnorm_backward(s->de, false, s->gv.ln_f, s->d0, s->sfin, s->rsf, s->pv.ln_f, N, h);
        memcpy(s->d0, s->de, (size_t)(N * h) * sizeof(float));
    }
    memset(s->de, 0, (size_t)(N * h) * sizeof(float));
    for (int64_t it = k - 1; it >= 0; it--) {
        for (int64_t j = R - 1; j >= 0; j--)
            block_backward(s, &s->pv.layers[P + j], &s->gv.layers[P + j], &s->apps[P + it * R + j], s->d0, s->d0);
        hg_tmm_backward(s->dcat, false, s->gv.adapter, s->d0, s->cat + it * N * 2 * h, s->pv.adapter, N, 2 * h, h,
                        s->mm);
        for (int64_t n = 0; n < N; n++) /* [ds; de] = dcat: the state part flows on, e's part accumulates */
            for (int64_t j = 0; j < h; j++) {
                s->d0[n * h + j] = s->dcat[n * 2 * h + j];
                s->de[n * h + j] += s->dcat[n * 2 * h + h + j];
            }
    }
    /* d0 now holds the gradient of the detached initial state: dropped (docs/training.md "Truncated backpropagation") */
    if (k == 0) return HG_OK; /* e did not reach the output */
    for (int64_t l = P - 1; l >= 0; l--) block_backward(s, &s->pv.layers[l], &s->gv.layers[l], &s->apps[l], s->de, s->de);
    for (int64_t n = 0; n < N; n++) { /* the embedding's part of wte, serial: ids may repeat */
        float *g = s->gv.wte + (int64_t)a->ids[n] * h;
        for (int64_t j = 0; j < h; j++) g[j] += s->de[n * h + j] * emb_scale;
    }
    return HG_OK;
}

/* ---- recurrence sampler and initial state ------------------------------------------------------------ */

static uint64_t mix(uint64_t seed, uint64_t counter) {
    return seed ^ (0x9e3779b97f4a7c15ull * (counter + 1)) ^ 0xd1b54a32d192ed03ull;
}

/* Poisson(λ) by Knuth's product of uniforms, in pieces of λ ≤ 30 (a sum of Poissons is Poisson),
 * exact for any λ at O(λ) cost — λ is a few dozen here. */
static int64_t poisson(hg_rng *r, double lambda) {
    int64_t total = 0;
    while (lambda > 0) {
        const double part = lambda > 30 ? 30 : lambda;
        lambda -= part;
        const double L = exp(-part);
        double p = 1;
        int64_t k = -1;
        do {
            k++;
            p *= hg_rng_uniform(r);
        } while (p > L);
        total += k;
    }
    return total;
}

void hg_sample_depth(uint64_t seed, uint64_t counter, int64_t mean_r, int64_t mean_k, int64_t *n, int64_t *k) {
    hg_rng r;
    hg_rng_seed(&r, mix(seed, counter));
    const double sigma = 0.5, mu = log((double)(mean_r > 0 ? mean_r : 1)) - sigma * sigma / 2;
    double lambda = exp(mu + sigma * hg_rng_normal(&r));
    if (lambda > 1e5) lambda = 1e5; /* a >10-sigma draw; keeps the cost bounded */
    const int64_t total = poisson(&r, lambda) + 1;
    *k = hg_min_i64(mean_k, total);
    *n = total - *k;
}

void hg_tstate_init(float *s, int64_t N, const hg_config *c, uint64_t seed, uint64_t counter) {
    hg_rng r;
    hg_rng_seed(&r, mix(seed ^ 0x5851f42d4c957f2dull, counter));
    const int64_t h = c->n_embd;
    const bool retro = hg_arch_is_retrofit(c->arch);
    const double std = retro ? c->init_std : sqrt(2.0 / (5.0 * (double)h));
    const float scale = retro ? c->embed_scale : (float)sqrt((double)h);
    for (int64_t i = 0; i < N * h; i++) s[i] = (float)hg_rng_trunc_normal(&r, std, -3 * std, 3 * std) * scale;
}
