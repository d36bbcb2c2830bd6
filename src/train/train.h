/*
 * train.h — internal view of the trainer (docs/training.md): the f32 parameter set and its named
 * layout, the training forward that keeps activations, its backward, the optimizer and the data
 * loader. Public entry points are in include/huginn.h ("Training"); this header is what the files of
 * src/train/ and the tests share.
 *
 * Memory: parameters, gradients and the two Adam moments are four flat f32 buffers with the same
 * layout (one tensor table gives name, shape, offset); a tensor is `buf + t->offset`. Activations are
 * sized once from (config, rows, T) in hg_tstep_init and reused by every micro-batch.
 */
#ifndef HG_TRAIN_H
#define HG_TRAIN_H

#include "base/base.h"
#include "model/model.h"

/* ---- parameter layout --------------------------------------------------------------------------- */

typedef enum hg_tgroup {
    HG_TGROUP_EMBED = 0, /* wte (tied with the head): decayed */
    HG_TGROUP_NORM = 1,  /* RMSNorm weights and q/k bias: not decayed */
    HG_TGROUP_WEIGHT = 2 /* every other matrix: decayed */
} hg_tgroup;

typedef struct hg_tinfo {
    char name[96];     /* official state_dict key */
    int n_dims;
    int64_t shape[4];  /* as stored in safetensors (qk_bias is [2,1,H,d]) */
    int64_t n;         /* elements */
    int64_t offset;    /* into the flat buffers */
    hg_tgroup group;
} hg_tinfo;

/* Pointers of one layer into one flat buffer (params or grads): a sandwich layer (four norms) or a
 * retrofit Llama / OLMo-2 layer (norm_1, norm_2; norm[2], norm[3] NULL; OLMo-2 adds q_norm, k_norm). */
typedef struct hg_tlayer {
    float *norm[4];   /* [h] each, or NULL */
    float *qk_bias;   /* [2, h] (row 0 -> q, row 1 -> k) or NULL */
    float *wqkv;      /* [(H + 2·Hkv)·d, h]: q, k, v rows */
    float *attn_proj; /* [h, H·d] */
    float *fc;        /* [2I, h] gate rows then up rows */
    float *mlp_proj;  /* [h, I] */
    float *q_norm;    /* [H·d] OLMo-2's q norm, or NULL */
    float *k_norm;    /* [Hkv·d] OLMo-2's k norm, or NULL */
} hg_tlayer;

typedef struct hg_tview {
    float *wte;        /* [V, h] */
    float *adapter;    /* [h, 2h] */
    float *ln_f;       /* [h] */
    float *lm_head;    /* [V, h] the untied head, or NULL (tied: wte) */
    hg_tlayer *layers; /* [P + R + C], owned by the view */
} hg_tview;

/* RMSNorm weights per layer: Huginn's sandwich 4, a retrofit Llama layer 2. */
static inline int hg_tlayer_norms(const hg_config *c) { return hg_arch_is_retrofit(c->arch) ? 2 : 4; }

typedef struct hg_tlayout {
    hg_config cfg;
    hg_tinfo *t;       /* [n_tensors] owned */
    int64_t n_tensors;
    int64_t n_params;  /* total floats */
} hg_tlayout;

hg_status hg_tlayout_init(hg_tlayout *L, const hg_config *cfg, hg_error *err);
void hg_tlayout_free(hg_tlayout *L);
/* Index of a tensor by name, or -1. */
int64_t hg_tlayout_find(const hg_tlayout *L, const char *name);
/* Make a view of `buf` (params or grads) with the layout's pointers. */
hg_status hg_tview_init(hg_tview *v, const hg_tlayout *L, float *buf, hg_error *err);
/* Re-point an initialised view at another buffer of the same layout (no allocation). */
void hg_tview_point(hg_tview *v, const hg_tlayout *L, float *buf);
void hg_tview_free(hg_tview *v);

/* Takase initialisation (docs/training.md "Initialization") of params[n_params], deterministic from seed. */
void hg_tparams_init_random(const hg_tlayout *L, float *params, uint64_t seed);
/* Copy a loaded model's weights (any stored float dtype) into params (f32). */
hg_status hg_tparams_from_model(const hg_tlayout *L, const hg_model *m, float *params, hg_error *err);
/* Build an in-memory hg_model whose weights point into params (F32, no copy); params must outlive it.
 * Lets the inference engine (hg_ctx_*) run the trainer's weights. Free with hg_model_free. */
hg_status hg_tparams_model_view(const hg_tlayout *L, const float *params, hg_model **out, hg_error *err);

/* ---- ops: forward pieces and their backward (backprop.c) ---------------------------------------- */

/* The AVX-512 twins of some ops below (backprop_avx512.c); backprop.c picks them when
 * hg_cpu_features()->level is HG_CPU_AVX512 (and, for attention, hg_tattn_avx512_fits). */
bool hg_tattn_avx512_fits(int64_t T, int64_t d);
void hg_tattn_avx512(float *out, float *prob, const float *qkv, int64_t B, int64_t T, int64_t H, int64_t Hkv,
                     int64_t d);
void hg_tattn_backward_avx512(float *dqkv, const float *dout, const float *prob, const float *qkv, int64_t B,
                              int64_t T, int64_t H, int64_t Hkv, int64_t d);
void hg_tswiglu_avx512(float *act, const float *fc, int64_t N, int64_t I);
void hg_trmsnorm_avx512(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t h, float eps);
void hg_tswiglu_backward_avx512(float *dfc, const float *dact, const float *fc, int64_t N, int64_t I);

/* y[N,out] = x[N,in]·W[out,in]ᵀ through hg_sgemm; work: hg_sgemm_work(in, out) floats. */
void hg_tmm(float *y, const float *x, const float *W, int64_t N, int64_t in, int64_t out, float *work);
/* dx[N,in] (= or +=) dy[N,out]·W ; dW[out,in] += dyᵀ·x. work: hg_sgemm_work(max(N, out), in) floats.
 * dx or dW may be NULL (not needed). */
void hg_tmm_backward(float *dx, bool dx_accumulate, float *dW, const float *dy, const float *x, const float *W,
                     int64_t N, int64_t in, int64_t out, float *work);
/* Row RMSNorm forward keeping 1/rms in rstd[N]; backward adds into dw[h] and writes (or adds) dx. */
void hg_trmsnorm(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t h, float eps);
void hg_trmsnorm_backward(float *dx, bool dx_accumulate, float *dw, const float *dy, const float *x,
                          const float *rstd, const float *w, int64_t N, int64_t h);
/* RoPE in place on [N rows of n_head*d], position of row n = n % T; `half`: Hugging Face's
 * rotate-half pairs (i, i + d/2), else Huginn's adjacent pairs; backward (`inverse`) rotates back. */
void hg_trope(float *x, int64_t stride, int64_t N, int64_t T, int64_t n_head, int64_t d, const float *inv_freq,
              bool half, bool inverse);
/* Causal attention per row of T positions with H query heads and Hkv KV heads (query head i reads KV
 * head ⌊i / (H/Hkv)⌋): qkv [B*T, (H + 2·Hkv)·d] (q, then k, then v; q,k after RoPE), prob [B,H,T,T]
 * saved, out [B*T, H·d]. Backward writes dqkv (q, k, v parts) from dout. */
void hg_tattn(float *out, float *prob, const float *qkv, int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t d);
void hg_tattn_backward(float *dqkv, const float *dout, const float *prob, const float *qkv, int64_t B, int64_t T,
                       int64_t H, int64_t Hkv, int64_t d);
/* act[N,I] = silu(g)⊙u from fc [N,2I]; backward writes dfc [N,2I]. */
void hg_tswiglu(float *act, const float *fc, int64_t N, int64_t I);
void hg_tswiglu_backward(float *dfc, const float *dact, const float *fc, int64_t N, int64_t I);
/* Cross entropy over logits [N,V] with labels (-100 = ignored). Returns the sum of losses over the
 * labelled positions (double) and their count; when dlogits is not NULL writes
 * dlogits = (softmax - onehot)·scale on labelled rows and 0 elsewhere. */
double hg_tcross_entropy(const float *logits, const int32_t *labels, int64_t N, int64_t V, float *dlogits,
                         float scale, int64_t *n_labelled);

/* ---- the training step (step.c) ----------------------------------------------------------------- */

typedef struct hg_tstep hg_tstep;

/* Buffers for micro-batches of up to B rows of T tokens, keeping activations for up to max_k gradient
 * iterations. */
hg_status hg_tstep_init(const hg_tlayout *L, int64_t B, int64_t T, int64_t max_k, hg_tstep **out, hg_error *err);
void hg_tstep_free(hg_tstep *s);

typedef struct hg_tstep_args {
    const int32_t *ids;    /* [B, T] */
    const int32_t *labels; /* [B, T], -100 = ignored */
    int64_t B, T;
    int64_t n_nograd;      /* iterations without gradient, run first */
    int64_t k_grad;        /* iterations with gradient, last (0 = forward only) */
    const float *s0;       /* [B*T, h] initial state, or NULL = zeros */
    float grad_scale;      /* d(objective)/d(loss of one labelled token); e.g. 1/n_labelled */
    bool backward;         /* false: loss only */
    float *logits_out;     /* [B*T, V] copy of the logits, or NULL */
    float *state_out;      /* [B*T, h] the detached state entering the gradient iterations, or NULL */
} hg_tstep_args;

/* Forward (and backward, accumulating into grads) of one micro-batch. *loss_sum gets the summed CE
 * over labelled positions and *n_labelled their count. Token ids are validated. */
hg_status hg_tstep_run(hg_tstep *s, const float *params, float *grads, const hg_tstep_args *a, double *loss_sum,
                       int64_t *n_labelled, hg_error *err);

/* ---- recurrence sampler (step.c) ------------------------------------------------------------------ */

/* Draw (n, k) for micro-batch `counter`: r = Poisson(exp(N(ln r̄ − σ²/2, σ²))) + 1, σ = 0.5,
 * k = min(mean_k, r), n = r − k (docs/training.md "Recurrence sampler"). Deterministic in (seed, counter). */
void hg_sample_depth(uint64_t seed, uint64_t counter, int64_t mean_r, int64_t mean_k, int64_t *n, int64_t *k);
/* The random initial state for [N, h], deterministic in (seed, counter): a normal truncated to ±3σ, times
 * a scale. Huginn's like-init: σ = sqrt(2/(5h)), scale sqrt(h); a retrofit model's initialize_state:
 * σ = init_values.std, scale init_values.embed_scale (docs/family.md "Stages"). */
void hg_tstate_init(float *s, int64_t N, const hg_config *c, uint64_t seed, uint64_t counter);

/* ---- optimizer and schedule (optim.c) --------------------------------------------------------- */

typedef struct hg_optim_params {
    double lr_peak;       /* η_peak */
    double beta1, beta2;
    double eps;           /* floor of v in the update clipping: v = max(v, eps²) */
    double weight_decay;  /* λ, decoupled: θ *= 1 − λ·η/η_peak */
    bool update_clipping;
    double grad_clip;     /* global L2 clip (≤ 0 = off) */
    int64_t warmup, cooldown, max_steps; /* trapezoid schedule, in optimizer steps */
} hg_optim_params;

hg_optim_params hg_optim_default_params(void);
/* η at optimizer step `step` (0-based count of steps already taken, so the first update uses step 0). */
double hg_lr_at(const hg_optim_params *p, int64_t step);
/* Global L2 norm of grads[n] (double accumulation). */
double hg_grad_norm(const float *grads, int64_t n);
/* One ELLIS-Adam step over every tensor of the layout (docs/training.md "Optimizer"): m, v [n_params], t
 * [n_tensors] (updates done per tensor; 0 = never updated: running init). Gradients are clipped
 * first (globally, to p->grad_clip); returns false and changes nothing when the norm is not finite.
 * *norm_out gets the pre-clipping norm. */
bool hg_optim_step(const hg_optim_params *p, const hg_tlayout *L, float *params, float *grads, float *m, float *v,
                   int64_t *t, double lr, double *norm_out);

#endif
