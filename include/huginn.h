/*
 * huginn.h — the public API of huginn.c, a C11 engine for recurrent-depth language models
 * (Geiping et al. 2025, "Scaling up Test-Time Compute with Latent Reasoning"; Huginn-0125).
 *
 * The model is three stage functions (docs/architecture.md):
 *     prelude(ids)          -> e        embedding + P layers, once per token
 *     core_step(s, e, t)    -> s'       adapter([s, e]) + R layers, iteration t
 *     coda(s)               -> logits   ln_f, C layers, ln_f, lm_head
 * Everything else (fixed-depth forward, generation, adaptive exit, speculative decoding, training)
 * is a loop over them. This header is the only installed one; everything in src/ is internal.
 *
 * Conventions
 *   - Every fallible function returns hg_status (HG_OK = 0) and, when `err` is not NULL, fills it with
 *     a message a person can act on. On failure, out-parameters are left untouched unless stated.
 *   - Handles are opaque; *_free(NULL) is a no-op.
 *   - Buffers carry their shape in a comment: T = positions in the call, h = n_embd, V = vocab.
 *   - A model is immutable after loading and may be shared by threads; a context is not thread-safe
 *     (one thread at a time per context).
 *   - A thread that runs the model needs about 256 KiB of stack (the quantized matrix-vector kernels
 *     lay out x there, ~150 KiB at most); larger buffers come from the heap. glibc's default is 8 MiB.
 */
#ifndef HUGINN_H
#define HUGINN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HG_API __attribute__((visibility("default")))
#else
#define HG_API
#endif

/* ================================================================================================
 * Status and errors
 * ================================================================================================ */

typedef enum hg_status {
    HG_OK = 0,
    HG_STATUS_BAD_ARG = 1,      /* a caller-supplied argument is invalid (range, NULL, shape) */
    HG_STATUS_IO = 2,           /* the OS refused: open/read/write/mmap failed */
    HG_STATUS_BAD_FILE = 3,     /* a file is malformed: truncated, broken JSON, lying offsets */
    HG_STATUS_UNSUPPORTED = 4,  /* well-formed but not implemented (config value, dtype, component) */
    HG_STATUS_NOMEM = 5,        /* allocation failed */
    HG_STATUS_BAD_INPUT = 6,    /* user data is invalid: token id out of range, invalid UTF-8, NaN */
    HG_STATUS_LIMIT = 7,        /* a capacity was exceeded: context full, more steps than the cache */
} hg_status;

typedef struct hg_error {
    hg_status status;
    char msg[1024];
} hg_error;

/* A static string naming the status ("bad file", ...). Never NULL. */
HG_API const char *hg_status_str(hg_status s);

/* ================================================================================================
 * Data types of stored tensors
 * ================================================================================================ */

typedef enum hg_dtype {
    HG_DTYPE_F32 = 0,
    HG_DTYPE_F16 = 1,
    HG_DTYPE_BF16 = 2,
    HG_DTYPE_Q8_0 = 3, /* ggml block layout: fp16 scale + 32 x int8 */
    HG_DTYPE_Q4_0 = 4, /* ggml block layout: fp16 scale + 16 bytes of nibbles */
    HG_DTYPE_COUNT
} hg_dtype;

HG_API const char *hg_dtype_name(hg_dtype t);
/* The kernels this process runs, chosen once at first use from the CPU (and HG_CPU / HG_AMX):
 * "scalar", "avx2", "avx512", "avx512+amx", "neon", "neon+sdot". */
HG_API const char *hg_kernels_name(void);

/* ================================================================================================
 * Model: configuration and weights
 * ================================================================================================ */

/* The block architecture of a model: which block function, tensor schema and config keys apply
 * (docs/architecture.md "Adding an architecture"). */
typedef enum hg_arch {
    HG_ARCH_HUGINN = 0, /* Huginn-0125 / Raven: sandwich norms, fused QKV, concat adapter, sqrt(h) embedding
                           scale, ln_f before and after the coda */
    HG_ARCH_OURO = 1,   /* Ouro (ByteDance Seed, model_type "ouro"): the whole layer stack is looped, four norms
                           per layer, separate q/k/v/o and gate/up/down, the final norm after every loop
                           feeds the next one, rotate-half RoPE, a learned early-exit gate (docs/family.md) */
    HG_ARCH_RETROFIT_LLAMA, /* retrofitted recurrence (McLeish et al. 2025) on Llama blocks: Raven layout,
                               pre-norm blocks with 2 norms, GQA, rotate-half RoPE with llama3 scaling,
                               embedding scale from the config, ln_f once after the coda */
    HG_ARCH_RETROFIT_OLMO,  /* the same on OLMo-2 blocks: norms on the sublayer outputs, full-width q/k
                               RMSNorm before RoPE (docs/family.md) */
    HG_ARCH_COUNT
} hg_arch;

/* "huginn", "ouro", "retrofit-llama", "retrofit-olmo2". */
HG_API const char *hg_arch_name(hg_arch a);

/* The configuration of a recurrent-depth model, as read from config.json (docs/forward-pass.md). */
typedef struct hg_config {
    hg_arch arch;              /* the block architecture */
    int64_t n_embd;            /* h */
    int64_t n_head;            /* H; head_dim = h / H */
    int64_t n_kv_head;         /* heads of K and V (grouped-query attention when < H; H divisible by it) */
    int64_t head_dim;          /* d */
    int64_t intermediate_size; /* I */
    int64_t vocab_size;        /* V (padded vocabulary) */
    int64_t n_layers_prelude;  /* P */
    int64_t n_layers_core;     /* R */
    int64_t n_layers_coda;     /* C */
    int64_t mean_recurrence;   /* default r */
    int64_t mean_backprop_depth;
    int64_t block_size;        /* maximum positions */
    double rope_base;
    float norm_eps;
    bool qk_bias;
    bool tie_embeddings;
    /* Ouro only (zero / NAN / -1 for Huginn). The loop count total_ut_steps is mean_recurrence;
     * P = C = 0 and R = num_hidden_layers, so core iteration t is loop t and its KV slots are t·R + l. */
    double early_exit_threshold; /* the config's default exit threshold; NAN when null (no threshold) */
    int64_t eos_token_id;        /* the config's stop id, or -1 when it has none */
    /* Retrofitted-recurrence models (HG_ARCH_RETROFIT_*; docs/family.md). Huginn ignores these: its
     * embedding scale is sqrt(h), its RoPE unscaled with adjacent pairs. rope_base holds rope_theta. */
    float embed_scale;         /* init_values.embed_scale: the embedding (and a random s0) is multiplied by it */
    double init_std;           /* init_values.std: the std of a random initial state at init_scale 1 */
    double rope_factor;        /* rope_scaling (rope_type "llama3"): factor; 0 = no scaling */
    double rope_low_freq_factor, rope_high_freq_factor;
    int64_t rope_orig_ctx;     /* rope_scaling.original_max_position_embeddings */
} hg_config;

typedef struct hg_model hg_model;

typedef struct hg_model_params {
    bool use_mmap; /* default true: map the files; false reads them into memory */
    /* default false: lay the weights out once for batched decode where the kernels have such a layout
     * (Q8_0 on the VNNI kernels without AMX, bf16 on the AVX-512 and AVX2 kernels without AMX). The
     * packed copy takes the place of the stored bytes in memory: where those lie in a mapped file their
     * pages are released (re-read from the file if something touches them); a model read into memory
     * (use_mmap false) holds both. Every product then runs one kernel whatever the number
     * of positions: a batch of any size equals each sequence alone bit for bit, and batched decode
     * reads the weights once at nearly the cost of one sequence. Q8_0: prefill skips its per-call
     * packing, one sequence decodes ~15-25 % slower; bf16: prefill and (AVX-512) one sequence run
     * faster too (docs/results/kernels.md "Packed Q8_0", "Packed bf16"). The environment's
     * HG_PREPACK=1 / 0 overrides it. */
    bool prepack;
} hg_model_params;

HG_API hg_model_params hg_model_default_params(void);

/* Load a model from a Hugging Face directory (config.json + model.safetensors, or shards with
 * model.safetensors.index.json) or a GGUF file (recognised by its magic bytes or a .gguf name; see
 * hg_model_export_gguf). Weights stay in their stored dtype (mapped); compute is f32.
 * Returns HG_STATUS_IO / BAD_FILE / UNSUPPORTED with a message naming the file and the key or tensor.
 * *out is set only on success; free with hg_model_free. */
HG_API hg_status hg_model_load(const char *path, const hg_model_params *params, hg_model **out, hg_error *err);
HG_API void hg_model_free(hg_model *m);
HG_API const hg_config *hg_model_config(const hg_model *m);
/* Number of parameters (tied embeddings counted once) and bytes of weights as stored. */
HG_API int64_t hg_model_n_params(const hg_model *m);
HG_API int64_t hg_model_n_bytes(const hg_model *m);
/* How many weights were laid out for this CPU's kernels at load (hg_model_params.prepack); 0 where
 * packing was off or the kernels have no packed layout for the weights' dtype. */
HG_API int64_t hg_model_n_packed(const hg_model *m);
/* The directory or file the model was loaded from (owned by the model). */
HG_API const char *hg_model_path(const hg_model *m);

/* ================================================================================================
 * Context: KV cache and scratch for running a model on one sequence
 * ================================================================================================ */

typedef struct hg_ctx hg_ctx;

typedef struct hg_ctx_params {
    int64_t n_ctx;       /* positions the cache can hold; 0 = the model's block_size */
    int64_t max_steps;   /* core iterations the cache has slots for (strategy `full`); 0 = mean_recurrence */
    const char *kv_cache; /* cache strategy string (docs/test-time.md "KV-cache strategies"); NULL or "full" */
    int n_threads;       /* 0 = all cores */
    hg_dtype kv_type;    /* KV-cache entries: HG_DTYPE_F32 (default, exact), F16 or BF16 (half the bytes;
                            rounded to nearest-even on write; F16 overflows to inf beyond ±65504). Any
                            other type: hg_ctx_init returns HG_STATUS_BAD_ARG. */
} hg_ctx_params;

HG_API hg_ctx_params hg_ctx_default_params(void);

/* Create a context for `model` (which must outlive it). Allocates the KV cache and all scratch once:
 * nothing in the stage functions allocates. */
HG_API hg_status hg_ctx_init(const hg_model *model, const hg_ctx_params *params, hg_ctx **out, hg_error *err);
HG_API void hg_ctx_free(hg_ctx *ctx);
/* Bytes of KV cache per position (all slots of the strategy, both K and V) and in total. */
HG_API int64_t hg_ctx_kv_bytes_per_token(const hg_ctx *ctx);
HG_API int64_t hg_ctx_kv_bytes(const hg_ctx *ctx);
/* KV-cache bytes per position a context of `model` would hold with strategy `kv_cache` (NULL = full)
 * and an iteration budget of max_steps (f32 entries). */
HG_API hg_status hg_model_kv_bytes_per_token(const hg_model *model, const char *kv_cache, int64_t max_steps,
                                             int64_t *bytes, hg_error *err);
/* The same for entries of kv_type (F32, F16 or BF16; HG_STATUS_BAD_ARG for others). */
HG_API hg_status hg_model_kv_bytes_per_token_typed(const hg_model *model, const char *kv_cache, int64_t max_steps,
                                                   hg_dtype kv_type, int64_t *bytes, hg_error *err);
/* Parse "f32", "f16" or "bf16" (KV-cache entry types); HG_STATUS_BAD_ARG naming them otherwise. */
HG_API hg_status hg_kv_type_parse(const char *name, hg_dtype *out, hg_error *err);
/* Positions currently held in the cache (the next position to write is hg_ctx_n_past). */
HG_API int64_t hg_ctx_n_past(const hg_ctx *ctx);
HG_API int64_t hg_ctx_n_ctx(const hg_ctx *ctx);
/* Work done by a context since it was made: layer applications times positions, by stage (a core
 * iteration over T positions adds R·T to `core`). Lets callers and tests see that an early exit
 * really skipped the work. */
typedef struct hg_ctx_counters {
    int64_t prelude, core, coda;
} hg_ctx_counters;
HG_API hg_ctx_counters hg_ctx_get_counters(const hg_ctx *ctx);
/* Forget every position >= n_keep in every slot (cache surgery for samplers). n_keep <= n_past. */
HG_API hg_status hg_ctx_truncate(hg_ctx *ctx, int64_t n_keep, hg_error *err);
/* dst takes positions [0, n) of src (KV entries of every slot and their ids, bit for bit) and holds
 * nothing beyond: a shared prefix computed once, reused by another context (a cache copy, not a
 * recomputation). Both must run the same model with the same KV-cache strategy, depth and type;
 * n <= hg_ctx_n_past(src) and <= dst's n_ctx. HG_STATUS_BAD_ARG otherwise, dst unchanged. */
HG_API hg_status hg_ctx_copy_prefix(hg_ctx *dst, const hg_ctx *src, int64_t n, hg_error *err);

/* ---- the three stage functions ---------------------------------------------------------------
 * Each works on T consecutive positions pos0 .. pos0+T-1 and writes their K/V into the slots it owns;
 * attention at a slot sees every earlier position that has an entry there, plus the call's own
 * positions causally. pos0 must be <= hg_ctx_n_past (a call may rewrite the newest positions, as the
 * adaptive coda does) and pos0 + T <= n_ctx. All buffers are f32, row-major. */

/* e[T,h] = prelude(wte[ids] * sqrt(h)); ids must be < vocab_size. */
HG_API hg_status hg_ctx_prelude(hg_ctx *ctx, const int32_t *ids, int64_t T, int64_t pos0,
                                float *e /* [T,h] */, hg_error *err);
/* s[T,h] <- core iteration `step` (cache slots P + step*R + j) applied to s given e. */
HG_API hg_status hg_ctx_core_step(hg_ctx *ctx, float *s /* [T,h] in/out */, const float *e /* [T,h] */,
                                  int64_t T, int64_t pos0, int64_t step, hg_error *err);
/* latents[T,h] = ln_f(s) (may be NULL); logits[T,V] = lm_head(ln_f(coda(ln_f(s)))) (may be NULL:
 * then only the coda's K/V are written). */
HG_API hg_status hg_ctx_coda(hg_ctx *ctx, const float *s /* [T,h] */, int64_t T, int64_t pos0,
                             float *latents /* [T,h] */, float *logits /* [T,V] */, hg_error *err);
/* The coda of n alternative states of the one position `pos` (the logit lens of several iterations):
 * row i equals what hg_ctx_coda(ctx, s + i*h, 1, pos, ...) would return, bit for bit, but the coda's
 * weights are read once for all rows and nothing is written to the cache (row i attends to the cached
 * positions below pos and to its own K/V). pos must have been through the prelude (pos < n_past) and
 * the positions below it through the coda. Needs an f32 KV cache (HG_STATUS_UNSUPPORTED otherwise). */
HG_API hg_status hg_ctx_coda_lens(hg_ctx *ctx, const float *s /* [n,h] */, int64_t n, int64_t pos,
                                  float *latents /* [n,h] */, float *logits /* [n,V] */, hg_error *err);

/* The initial latent state: zeros when init_scale == 0, else truncated normal (±3σ) with
 * σ = sqrt(2/(5h)) * init_scale, times sqrt(h) (docs/forward-pass.md). The generator is documented in
 * src/base/rng.c: xoshiro256** seeded by splitmix64(seed); it is not torch's. */
HG_API void hg_init_state(const hg_model *m, float *s /* [T,h] */, int64_t T, float init_scale, uint64_t *rng_state);

/* ---- fixed-depth forward ---------------------------------------------------------------------- */

typedef struct hg_forward_params {
    int64_t n_steps;         /* r >= 0 */
    float init_scale;        /* 0 = zero state */
    uint64_t seed;           /* for init_scale > 0 */
    const float *init_state; /* [T,h] explicit initial state, or NULL */
} hg_forward_params;

HG_API hg_forward_params hg_forward_default_params(void);

/* prelude + r core steps + coda on T positions starting at pos0 (the cache must hold r steps). */
HG_API hg_status hg_ctx_forward(hg_ctx *ctx, const int32_t *ids, int64_t T, int64_t pos0,
                                const hg_forward_params *p, float *latents /* [T,h] or NULL */,
                                float *logits /* [T,V] or NULL */, hg_error *err);

/* ================================================================================================
 * Sampling and generation
 * ================================================================================================ */

typedef struct hg_sampler_params {
    float temperature;        /* 0 = greedy (argmax) */
    int64_t top_k;            /* 0 = off */
    float top_p;              /* 0 or >= 1 = off */
    float min_p;              /* 0 = off */
    float repetition_penalty; /* 1 = off */
    uint64_t seed;
} hg_sampler_params;

HG_API hg_sampler_params hg_sampler_default_params(void);

/* A sampler owns its scratch ([V] floats and ids) so choosing a token never allocates. The order
 * of operations is the reference's custom sampler (docs/test-time.md "Sampler"): repetition penalty,
 * argmax if greedy, else temperature, softmax, top-k, top-p (a token is dropped when the cumulative
 * probability including itself exceeds p; the top one is always kept), min-p, renormalise, draw. */
typedef struct hg_sampler hg_sampler;
HG_API hg_status hg_sampler_init(const hg_sampler_params *p, int64_t n_vocab, hg_sampler **out, hg_error *err);
HG_API void hg_sampler_free(hg_sampler *s);
/* Choose a token from logits[V] given the context so far (history, for the repetition penalty).
 * logits are not modified. */
HG_API int32_t hg_sampler_sample(hg_sampler *s, const float *logits, const int32_t *history, int64_t n_history);

typedef struct hg_generate_params {
    int64_t n_steps;          /* r */
    int64_t max_new_tokens;
    float init_scale;
    uint64_t seed;            /* initial states */
    const float *init_state;  /* [T_prompt,h] initial state of the prompt positions, or NULL */
    bool continuous;          /* warm start: each token starts from the previous token's state */
    const int32_t *eos_ids;   /* extra stop ids (65504, 65505, 65508 always stop) */
    int64_t n_eos;
    hg_sampler_params sampler;
    bool reuse_prefix;        /* keep the cache of positions whose ids equal the prompt's (chat turns) */
} hg_generate_params;

HG_API hg_generate_params hg_generate_default_params(void);

/* Called once per generated token with its id and the recurrent steps that produced it; return
 * false to stop. `logits` [V] are the logits that chose the token. */
typedef bool (*hg_token_callback)(void *user, int32_t id, int64_t steps, const float *logits);

/* Prefill `prompt` in one call, then generate one token at a time through the cache, as the
 * reference's generate_minimal does. Writes up to max_new_tokens ids to out_ids (stop token kept)
 * and their count to *n_out. The context is reset first (with reuse_prefix, only back to the longest
 * prefix of `prompt` it already holds); it must have n_ctx >= n_prompt + max_new_tokens. */
HG_API hg_status hg_generate(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *p,
                             hg_token_callback cb, void *user, int32_t *out_ids, int64_t *n_out, hg_error *err);

/* ================================================================================================
 * Test-time compute: adaptive exit, warm start, self-speculative decoding, parallel sampler
 * (docs/test-time.md). Loops of src/generate/ over the three stage
 * functions, hg_ctx_truncate and the sampler: they reset the context (hg_ctx_truncate(ctx, 0)) and
 * use its KV-cache strategy (hg_ctx_params.kv_cache). The context needs slots for every depth used
 * (max_steps >= n_steps, draft_steps, inner_steps). Not thread-safe per context.
 * ================================================================================================ */

/* Per-token exit criteria (docs/test-time.md "Exit criteria"). Every check compares with the previous check. */
typedef enum hg_exit_criterion {
    HG_EXIT_NONE = 0,         /* never exit: n_steps iterations for every token */
    HG_EXIT_ENTROPY_DIFF,     /* |H_t - H_prev| < thr; runs the coda at every check; auto 1e-3 */
    HG_EXIT_LATENT_DIFF,      /* ||s_t - s_prev|| / ||s_t|| < thr (mean over the call's positions); auto 0.03 */
    HG_EXIT_KL,               /* KL(p_prev || p_t) < thr; p_prev starts uniform; auto 1e-3 */
    HG_EXIT_MINP_KL,          /* KL after min-p smoothing (p < 0.1 max p -> 1/V, renormalised); auto 1e-5 */
    HG_EXIT_ARGMAX_STABILITY, /* consecutive checks with an unchanged argmax >= thr; auto 5 */
    HG_EXIT_COSINE,           /* 1 - cos(s_t, s_prev) < thr (mean over positions); auto 1e-3 */
    HG_EXIT_COUNT
} hg_exit_criterion;

/* Which state a warm-started token starts from (docs/test-time.md "Warm start"). */
typedef enum hg_warm_state {
    HG_WARM_STATE_DEFAULT = 0, /* the reference's default of the loop: raw for hg_generate_adaptive */
    HG_WARM_STATE_RAW,         /* the previous token's final recurrent state (adaptive loop of the reference) */
    HG_WARM_STATE_NORMALIZED,  /* ln_f of it, the `latent_states` output (generate_minimal; hg_generate) */
} hg_warm_state;

/* "entropy-diff", "latent-diff", "kl", "minp-kl", "argmax-stability", "cosine", "none". Returns
 * HG_STATUS_BAD_ARG naming the accepted values for anything else. */
HG_API hg_status hg_exit_criterion_parse(const char *name, hg_exit_criterion *out, hg_error *err);
HG_API const char *hg_exit_criterion_name(hg_exit_criterion c);
/* The reference's "auto" threshold of a criterion (0 for none). */
HG_API double hg_exit_auto_threshold(hg_exit_criterion c);

typedef struct hg_adaptive_params {
    hg_exit_criterion criterion; /* default HG_EXIT_NONE */
    double threshold;            /* NAN (default) = auto, the reference's value for the criterion */
    int64_t min_steps;           /* no check before iteration min_steps (0-based t < min_steps); default 0 */
    int64_t check_every;         /* check when (t - min_steps) % check_every == 0; default 1 */
    bool no_exit_in_prefill;     /* the prompt call runs all n_steps; default false */
    hg_warm_state warm_state;    /* with hg_generate_params.continuous; default raw (the reference's) */
} hg_adaptive_params;

HG_API hg_adaptive_params hg_adaptive_default_params(void);

/* What a test-time loop reports. Arrays are caller-owned and optional (NULL = not wanted); each holds
 * one entry per generated token (capacity: see each loop). Counters are always filled. */
typedef struct hg_ttc_report {
    int64_t *steps;        /* [cap] core iterations that produced each token (parallel: iterations its
                              position received) */
    float *exit_values;    /* [cap] the exit value of the token's last check; NaN when none was made */
    float *trace;          /* [trace_cap] every check's value, token after token (adaptive only) */
    int64_t trace_cap;
    int64_t n_trace;       /* out: checks made (values beyond trace_cap are counted, not stored) */
    /* counters (out) */
    int64_t n_tokens;      /* tokens returned */
    int64_t core_passes;   /* hg_ctx_core_step calls */
    int64_t core_iterations; /* sum over calls of positions x 1 iteration (work in position-iterations) */
    int64_t coda_calls;
    int64_t draft_tokens, accepted_tokens, verify_calls; /* speculative */
    int64_t outer_steps, tokens_processed, cache_clears, standing_waves; /* parallel sampler */
} hg_ttc_report;

/* Generation with per-token adaptive exit, as the reference's generate_with_adaptive_compute (batch 1):
 * the prompt is one group (it exits as a whole), then one token per call; each token iterates up to
 * gp->n_steps times and exits when the criterion says so; the coda's logits at exit choose the token.
 * With gp->continuous every token after the prompt starts from the previous token's state (ap->warm_state).
 * HG_EXIT_NONE gives fixed depth (with a raw warm start: the reference's adaptive loop without exit).
 * out_ids [gp->max_new_tokens]; rep arrays [gp->max_new_tokens]. Needs n_ctx >= n_prompt + max_new_tokens. */
HG_API hg_status hg_generate_adaptive(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt,
                                      const hg_generate_params *gp, const hg_adaptive_params *ap,
                                      hg_token_callback cb, void *user, int32_t *out_ids, int64_t *n_out,
                                      hg_ttc_report *rep, hg_error *err);

typedef struct hg_speculative_params {
    int64_t draft_steps;    /* iterations of a draft token; default 32 (the reference's) */
    int64_t lookahead;      /* drafts per round; default 8 */
    float verify_threshold; /* >= 1: a draft passes when it is the verifier's argmax; < 1: when
                               p_verify(draft) >= threshold * max p_verify; default 1 */
} hg_speculative_params;

HG_API hg_speculative_params hg_speculative_default_params(void);

/* Self-speculative decoding (generate_speculative): prefill at gp->n_steps, then rounds of `lookahead`
 * drafts at draft_steps, their KV dropped, one verifying call at gp->n_steps over [last accepted, drafts
 * 1..L-1], the longest passing prefix accepted plus, on a failure, the verifier's token. Greedy output
 * equals hg_generate at gp->n_steps. Like the reference it may return up to max_new_tokens + lookahead - 1
 * tokens: out_ids and rep arrays need that capacity. gp->continuous is refused (HG_STATUS_UNSUPPORTED):
 * the reference's one-position warm state cannot feed the multi-position verifying call.
 * Needs n_ctx >= n_prompt + max_new_tokens + lookahead. */
HG_API hg_status hg_generate_speculative(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt,
                                         const hg_generate_params *gp, const hg_speculative_params *sp,
                                         hg_token_callback cb, void *user, int32_t *out_ids, int64_t *n_out,
                                         hg_ttc_report *rep, hg_error *err);

/* Freeze rules of the parallel sampler (docs/test-time.md "Parallel sampler"). */
typedef enum hg_freeze_rule {
    HG_FREEZE_LATENT_DIFF = 0,     /* relative state change < exit_t */
    HG_FREEZE_LATENT_ACCEL_1,      /* ||Δ_t - Δ_{t-1}|| / ||s_t|| < exit_t */
    HG_FREEZE_LATENT_ACCEL_2,      /* the same over three aligned steps, / (||s_t|| + 1e-6) */
    HG_FREEZE_TOKEN_STABILITY,     /* token unchanged for more than n_steps / inner_steps outer steps */
    HG_FREEZE_FIXED,               /* headway tokens per outer step after n_steps / inner_steps steps */
    HG_FREEZE_COUNT
} hg_freeze_rule;

/* "latent-diff", "latent-acceleration-1", "latent-acceleration-2", "token-stability", "fixed". */
HG_API hg_status hg_freeze_rule_parse(const char *name, hg_freeze_rule *out, hg_error *err);
HG_API const char *hg_freeze_rule_name(hg_freeze_rule r);

/* What one outer step of the parallel sampler did (for tracing and tests; the reference's "tablets"). */
typedef struct hg_parallel_step {
    int64_t step;          /* outer step, from 0 */
    int64_t cache_index;   /* first active position (KV held before the step) */
    int64_t n_active;      /* active positions iterated this step */
    int64_t n_frozen;      /* frozen tokens (prompt included) after the step */
    int64_t n_past;        /* KV positions kept after the step's cache clearing */
    int64_t n_active_next; /* active states carried to the next step */
    bool froze;            /* the freeze rule (or a mature-front commit) froze something */
    bool standing;         /* the wavefront was full (a standing wave) */
} hg_parallel_step;
typedef void (*hg_parallel_step_fn)(void *user, const hg_parallel_step *s);

typedef struct hg_parallel_params {
    int64_t inner_steps;     /* r': core iterations per outer step on every active position; default 4 */
    int64_t max_wavefront;   /* most active positions (0 = unbounded); default 128 */
    int64_t headway;         /* positions appended per outer step; default 1 */
    float exit_t;            /* freeze threshold of the latent rules; default 0.03 */
    hg_freeze_rule freeze;   /* default latent-diff */
    float state_noise;       /* β: weight of fresh noise mixed into active states; default 0.5 */
    bool dampened_mixer;     /* β / (1 + iterations the position already had); default true */
    bool sqrt_mixer;         /* s·sqrt(1-β) + ξ·sqrt(β) instead of s(1-β) + ξβ; default false */
    float ema_embeds;        /* η: smoothing of re-embedded prelude outputs; default 0.1 */
    bool full_prefill;       /* prefill the prompt at gp->n_steps; default true */
    int64_t max_outer_steps; /* safety cap; default 4096 */
    bool commit_mature_front; /* a full wavefront that froze nothing commits its oldest position and that
                                 position's prediction once it received gp->n_steps iterations (the
                                 reference spins instead; with max_wavefront 1 and inner_steps = n_steps
                                 this makes the sampler plain generation); default true */
    hg_parallel_step_fn on_step; /* called after every outer step, or NULL (default) */
    void *on_step_user;
} hg_parallel_params;

HG_API hg_parallel_params hg_parallel_default_params(void);

/* The diffusion-style parallel sampler of arXiv 2510.14961 (generate_diffusion_style, batch 1). gp gives
 * n_steps (prefill depth, the reference total depth), max_new_tokens, init_scale/seed, continuous (new
 * positions start from copies of the last states), stop ids and the sampler. Returns the frozen tokens
 * after the prompt; a step can freeze several, so out_ids and rep arrays need max_new_tokens + the
 * wavefront (max_wavefront, or n_ctx when 0) + headway entries. rep->steps gets, per token, the core
 * iterations of the position that predicted it (prefill: n_steps). Generation also stops when the
 * active window reaches the end of the context. The reference's default cache is latest-m4-compress-s4
 * (set it on the context); the context needs slots for max(n_steps, inner_steps) iterations. */
HG_API hg_status hg_generate_parallel(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt,
                                      const hg_generate_params *gp, const hg_parallel_params *pp,
                                      hg_token_callback cb, void *user, int32_t *out_ids, int64_t *n_out,
                                      hg_ttc_report *rep, hg_error *err);

/* ---- tracing the recurrence (docs/trace.md) ------------------------------------------------------
 * hg_generate_traced generates as hg_generate (adaptive false) or hg_generate_adaptive (adaptive true)
 * would — same initial-state seed schedule, warm start, exits, sampler, tokens — while showing the
 * caller every core iteration of every position: after the initial state (t = 0) and after each
 * iteration t = 1 .. its exit (or n_steps), the raw state, ln_f of it, and the coda's logits on it
 * (the "logit lens"). The prompt is one group; each generated token is a group of one; the last
 * generated token is run as a group too (its prediction is shown, not sampled), so every returned
 * id has a traced position. The lens coda runs at every iteration in chunks of lens_chunk positions;
 * each coda call overwrites the coda K/V of its positions, and the group's last coda is the one at its
 * final iteration, so later positions see exactly what generation without tracing leaves there (where
 * a logit criterion's last check precedes the final iteration, check_every > 1, the token comes from
 * that check, as in the reference, and that check's coda K/V are written once more at the group's end).
 * Nothing else is recomputed: tracing costs one coda per iteration on top of generation. */
typedef struct hg_trace_step {
    int64_t group_pos0, group_T; /* the group (prompt, or one generated token) */
    int64_t pos0, T;             /* the chunk of it shown in this call */
    int64_t t;                   /* iterations applied: 0 = the initial state */
    const float *s;              /* [T,h] raw state */
    const float *latents;        /* [T,h] ln_f(s) */
    const float *logits;         /* [T,V] coda(s): the logit lens */
    double exit_value;           /* the exit check made after iteration t (adaptive), NaN when none */
} hg_trace_step;

typedef struct hg_trace_params {
    bool adaptive;            /* the adaptive loop with `exit` (else the plain loop of hg_generate) */
    hg_adaptive_params exit;  /* criterion, threshold, min_steps, check_every, warm_state */
    int64_t lens_chunk;       /* positions per lens coda call (bounds the [chunk, V] logits); 0 = 64 */
    /* Called for every chunk of every iteration of every group, in order; an error stops generation
     * and is returned. Buffers are valid during the call only. */
    hg_status (*on_step)(void *user, const hg_trace_step *st, hg_error *err);
    /* Called when a group is done: it ran `steps` iterations (t = steps was its last on_step). */
    hg_status (*on_group)(void *user, int64_t pos0, int64_t T, int64_t steps, hg_error *err);
    void *user;
} hg_trace_params;

HG_API hg_trace_params hg_trace_default_params(void);

/* Generate with tracing (see above). out_ids [gp->max_new_tokens]; rep as hg_generate_adaptive's
 * (steps per generated token, exit values). The context must hold n_prompt + max_new_tokens positions
 * and gp->n_steps iterations. Not thread-safe per context. */
HG_API hg_status hg_generate_traced(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt,
                                    const hg_generate_params *gp, const hg_trace_params *tp, hg_token_callback cb,
                                    void *user, int32_t *out_ids, int64_t *n_out, hg_ttc_report *rep,
                                    hg_error *err);

/* ================================================================================================
 * Batch: several sequences decoded together (src/model/batch.c)
 * ================================================================================================ */

/* N contexts of one model (each its own KV cache, position and prefix) advanced together: every
 * weight matrix is read once per call for all N sequences, attention stays per sequence. Decode is
 * bound by reading the weights, so N sequences cost little more than one (docs/kernels.md). Not
 * thread-safe per batch; the model may be shared. */
typedef struct hg_batch hg_batch;

typedef struct hg_batch_params {
    int64_t n_seq;     /* N, 1..64 */
    hg_ctx_params ctx; /* every sequence's context (n_ctx, max_steps, kv_cache, kv_type, n_threads) */
} hg_batch_params;

HG_API hg_batch_params hg_batch_default_params(void);
/* Create N contexts and the batch scratch (all allocation happens here). *out set only on success;
 * free with hg_batch_free (which frees the contexts). */
HG_API hg_status hg_batch_init(const hg_model *model, const hg_batch_params *params, hg_batch **out, hg_error *err);
HG_API void hg_batch_free(hg_batch *b);
HG_API int64_t hg_batch_n_seq(const hg_batch *b);
/* Sequence i's context, owned by the batch (NULL when i is out of range): prefill a prompt with
 * hg_ctx_forward on it, inspect or truncate it; hg_batch_decode continues from its hg_ctx_n_past. */
HG_API hg_ctx *hg_batch_ctx(hg_batch *b, int64_t i);
/* Append one token to every sequence i with ids[i] >= 0 (ids[i] < 0: sequence i is idle and untouched)
 * at its position hg_ctx_n_past, through prelude, p->n_steps core iterations and coda; sequence i's
 * initial state is drawn as hg_ctx_forward on its context alone would draw it with p (the same seed
 * for every sequence), or read from p->init_state[i] ([N,h] when not NULL). logits[i] ([N,V]) and
 * latents[i] ([N,h]) receive the rows of active sequences; idle rows are left as they were (either
 * array may be NULL). For N <= 8 each sequence's results are bit-identical to hg_ctx_forward on it
 * alone; above, within f32 rounding.
 * Every argument and capacity (ids < vocab_size, a free position, KV slots for n_steps) is checked
 * before anything is written: on failure no sequence has changed. */
HG_API hg_status hg_batch_decode(hg_batch *b, const int32_t *ids /* [N] */, const hg_forward_params *p,
                                 float *latents /* [N,h] or NULL */, float *logits /* [N,V] or NULL */,
                                 hg_error *err);
/* Batch stage functions: the three stages on one position of each of the n sequences seqs[n]
 * (distinct indices of the batch; any subset, in any order), the rows of e, s, latents and logits
 * following seqs. Sequences may join (prefilled on their own context with the hg_ctx_* functions),
 * leave, and run different depths between calls: this is what continuous batching and a per-row
 * adaptive exit are built from (src/generate/). hg_batch_prelude appends ids[i] at sequence seqs[i]'s
 * next position; hg_batch_core_step and hg_batch_coda work on each sequence's newest position, like
 * hg_ctx_core_step / hg_ctx_coda with T = 1 there (bit-identical up to the limit of hg_batch_decode).
 * Everything is checked before the first write. */
HG_API hg_status hg_batch_prelude(hg_batch *b, const int64_t *seqs, int64_t n, const int32_t *ids /* [n] */,
                                  float *e /* [n,h] */, hg_error *err);
HG_API hg_status hg_batch_core_step(hg_batch *b, const int64_t *seqs, int64_t n, float *s /* [n,h] in/out */,
                                    const float *e /* [n,h] */, int64_t step, hg_error *err);
HG_API hg_status hg_batch_coda(hg_batch *b, const int64_t *seqs, int64_t n, const float *s /* [n,h] */,
                               float *latents /* [n,h] or NULL */, float *logits /* [n,V] or NULL */, hg_error *err);

/* hg_generate for N prompts at once (src/generate/sched.c): sequence i is prefilled alone on its
 * context and then decoded together with the others until every sequence stopped (stop ids,
 * max_new_tokens). Sequence i's tokens equal hg_generate(prompt i, gp) on one context (same seeds, one
 * sampler per sequence with gp->sampler; bit for bit within hg_batch_decode's exact range). Writes
 * out_ids[i * max_new_tokens + j] and n_out[i] ([N]). gp->init_state is refused (HG_STATUS_UNSUPPORTED).
 * No callback: the caller reads the ids afterwards. */
HG_API hg_status hg_generate_batch(hg_batch *b, const int32_t *const *prompts /* [N] */,
                                   const int64_t *n_prompt /* [N] */, const hg_generate_params *gp,
                                   int32_t *out_ids /* [N, max_new_tokens] */, int64_t *n_out /* [N] */,
                                   hg_error *err);

/* ================================================================================================
 * Scheduler: continuous batching of generation requests, each with its own parameters
 * (src/generate/sched.c)
 * ================================================================================================ */

/* One generation request. Each has its own depth (gen.n_steps), seed and init scale, sampler, stop ids,
 * warm start and — with `adaptive` — its own exit criterion, threshold, min_steps and check_every. */
typedef struct hg_request {
    const int32_t *prompt;   /* [n_prompt]; read only while hg_sched_add runs */
    int64_t n_prompt;
    hg_generate_params gen;
    bool adaptive;           /* hg_generate_adaptive's loop (per-token exit under `exit`, the prompt one
                                group, raw warm start by default); false: hg_generate's loop */
    hg_adaptive_params exit;
    hg_token_callback cb;    /* per token, or NULL; returning false ends the request */
    void *user;
    int32_t *out_ids;        /* [gen.max_new_tokens], caller-owned, filled as tokens come */
    int64_t *n_out;          /* tokens in out_ids so far, or NULL */
    hg_ttc_report *rep;      /* per-token steps and exit values, counters; or NULL */
} hg_request;

/* A request with the defaults of hg_generate_default_params / hg_adaptive_default_params. */
HG_API hg_request hg_request_default(void);

/* A scheduler owns a batch of n_seq slots (huginn.h "Batch"). Requests join free slots with
 * hg_sched_add (prefilled alone on the slot's context, first token chosen) or several at once with
 * hg_sched_add_many (their prompts prefilled together); every hg_sched_step
 * decodes one token for every running request together — one read of the weights per layer
 * application for all of them — with each request at its own depth, leaving the core loop at its own
 * exit (a request that exited does no further core work for that token). A request that finishes
 * (stop id, max_new_tokens, callback false) or is cancelled frees its slot at once. A request's tokens,
 * steps and exit values equal the same request run alone with hg_generate / hg_generate_adaptive, bit
 * for bit while the running requests stay within hg_batch_decode's exact range. Not thread-safe. */
typedef struct hg_sched hg_sched;
HG_API hg_status hg_sched_init(const hg_model *model, const hg_batch_params *params, hg_sched **out, hg_error *err);
HG_API void hg_sched_free(hg_sched *s);
/* Admit a request into the first free slot (*slot, when not NULL): HG_STATUS_LIMIT when none is free;
 * argument errors as hg_generate. The callback may already run here (the first token). */
HG_API hg_status hg_sched_add(hg_sched *s, const hg_request *r, int64_t *slot, hg_error *err);
/* Admit n requests together, each into a free slot (slots[i], or -1 when it was not admitted) with its
 * outcome in errs[i] (status HG_OK, or the error hg_sched_add would give; HG_STATUS_LIMIT for those
 * beyond the free slots). The plain requests' prompts share the prefill's calls (every weight read
 * once for all of them; with every product weight packed, hg_model_params.prepack, each request's
 * cache and tokens equal hg_sched_add's bit for bit, else they are prefilled one after another) and
 * their first tokens come from one step together; adaptive requests are admitted as hg_sched_add
 * does. The callbacks of first tokens run here. Returns HG_OK when every request was admitted, else
 * the first failure's status; HG_STATUS_BAD_ARG without writing errs for NULL arguments. */
HG_API hg_status hg_sched_add_many(hg_sched *s, const hg_request *reqs, int64_t n, int64_t *slots, hg_error *errs);
/* One token for every running request. */
HG_API hg_status hg_sched_step(hg_sched *s, hg_error *err);
HG_API int64_t hg_sched_n_slots(const hg_sched *s);
HG_API int64_t hg_sched_n_running(const hg_sched *s);
HG_API bool hg_sched_running(const hg_sched *s, int64_t slot);
/* End the request in `slot` now (a client that went away); its slot is free. */
HG_API void hg_sched_cancel(hg_sched *s, int64_t slot);
/* The context of a slot (owned by the scheduler): counters, KV size. */
HG_API hg_ctx *hg_sched_ctx(hg_sched *s, int64_t slot);

/* ================================================================================================
 * Random checkpoints
 * ================================================================================================ */

/* The Huginn-0125 configuration (h 5280, 55 heads, I 17920, V 65536, 2/4/2 layers, r 32). */
HG_API hg_config hg_config_huginn_0125(void);
/* Read a config.json (a file, or a directory holding one). */
HG_API hg_status hg_config_load(const char *path, hg_config *out, hg_error *err);

/* Write a random-weight checkpoint in the Hugging Face layout (config.json + model.safetensors) to
 * dir (created if missing), deterministic from seed, with the reference's initialisation
 * (truncated normals of the "takase" scheme, norms = 1). dtype: F32, BF16 or F16. Files are written
 * to temporaries and renamed, so a failure leaves no half-written checkpoint. Every architecture:
 * Huginn and the retrofits in the Raven layout, Ouro in Hugging Face's (OuroConfig keys, the authors'
 * tensor names, the exit gate's bias 0). */
HG_API hg_status hg_checkpoint_init(const hg_config *cfg, const char *dir, hg_dtype dtype, uint64_t seed, hg_error *err);

/* ================================================================================================
 * GGUF export
 * ================================================================================================ */

typedef struct hg_gguf_export_params {
    int out_dtype;          /* an hg_dtype for every matrix, or -1: keep each matrix's stored dtype */
    const char *tokenizer;  /* directory holding tokenizer.json (+ tokenizer_config.json), or NULL */
    const char *name;       /* general.name; NULL: taken from the source */
    bool no_tokenizer;      /* embed no tokenizer, not even a GGUF source's */
} hg_gguf_export_params;

/* Write model m as a GGUF file at path (atomically; docs/gguf.md). Matrices get out_dtype when their
 * rows allow it (Q8_0/Q4_0 need n_in % 32 == 0; others fall back to F32); norms, ln_f and the q/k
 * bias are always F32 (as llama.cpp keeps them). The tokenizer is embedded from p->tokenizer when
 * given, else copied (every tokenizer.* key) from the model's own GGUF when it was loaded from one,
 * unless p->no_tokenizer. No file is left on failure. hg_model_load reads the result back. */
HG_API hg_status hg_model_export_gguf(const hg_model *m, const char *path, const hg_gguf_export_params *p,
                                      hg_error *err);

/* ================================================================================================
 * Tokenizer (src/tokenizer/)
 * ================================================================================================ */
/* HG-TOKENIZER-API-BEGIN */
/* A byte-level BPE tokenizer read from a Hugging Face `tokenizer.json` (+ `tokenizer_config.json`),
 * producing exactly the ids of Hugging Face tokenizers (docs/tokenizer.md lists what is supported).
 * Thread-safety: a tokenizer is immutable after loading EXCEPT for an internal word cache and scratch
 * used by hg_tokenizer_encode / hg_chat_encode, so those two need one thread at a time per handle
 * (load one tokenizer per thread, or lock), and hg_tokenizer_set_chat_format, which is called before
 * the handle is shared. Every other function only reads and may run concurrently. */
typedef struct hg_tokenizer hg_tokenizer;

/* Load from `path`: a tokenizer.json file, or a directory holding one. tokenizer_config.json next to
 * it is read when present (chat template, bos/eos tokens). Returns HG_STATUS_IO (cannot read),
 * HG_STATUS_BAD_FILE (malformed JSON, missing or mistyped keys, ids out of range, merges naming
 * unknown tokens) or HG_STATUS_UNSUPPORTED (a component type or option this implementation does not
 * have; the message names it), each with a message naming the file. *out is set only on success;
 * free with hg_tokenizer_free. */
HG_API hg_status hg_tokenizer_load(const char *path, hg_tokenizer **out, hg_error *err);
/* The same from memory: `json` [json_len] is the tokenizer.json text, `config_json` [config_len] the
 * tokenizer_config.json text or NULL. The buffers are not kept. */
HG_API hg_status hg_tokenizer_load_json(const char *json, size_t json_len, const char *config_json,
                                        size_t config_len, hg_tokenizer **out, hg_error *err);
HG_API void hg_tokenizer_free(hg_tokenizer *tok);

/* Encode `text` [len bytes, UTF-8; NUL bytes allowed] to ids. add_special = true applies the
 * post-processor (e.g. Huginn's `<|begin_text|> $A <|end_text|>`); special-token text inside `text`
 * is recognised either way, as in Hugging Face. On success *ids is a new array of *n_ids ids (NULL
 * when *n_ids == 0) that the caller frees with hg_tokenizer_mem_free. Returns HG_STATUS_BAD_INPUT for
 * invalid UTF-8 (the message gives the byte offset), HG_STATUS_NOMEM, HG_STATUS_LIMIT (a regex ran out
 * of stack on a pathological piece). On failure *ids and *n_ids are untouched. Not thread-safe per
 * handle (see above). */
HG_API hg_status hg_tokenizer_encode(hg_tokenizer *tok, const char *text, size_t len, bool add_special,
                                     int32_t **ids, int64_t *n_ids, hg_error *err);
/* Decode ids to text as Hugging Face's decode(ids, skip_special): token bytes concatenated, invalid
 * UTF-8 replaced by U+FFFD per maximal subpart (Rust's from_utf8_lossy). Ids inside the vocabulary
 * range that have no token are skipped (as Hugging Face does); ids < 0 or >= hg_tokenizer_n_vocab give
 * HG_STATUS_BAD_INPUT. On success *text is a new NUL-terminated string of *len bytes (it may contain
 * NUL bytes), freed with hg_tokenizer_mem_free; on failure both are untouched. Thread-safe. */
HG_API hg_status hg_tokenizer_decode(const hg_tokenizer *tok, const int32_t *ids, int64_t n_ids, bool skip_special,
                                     char **text, size_t *len, hg_error *err);
/* Free memory returned by hg_tokenizer_encode, hg_tokenizer_decode, hg_chat_render, hg_chat_encode.
 * NULL is a no-op. */
HG_API void hg_tokenizer_mem_free(void *p);

/* Number of ids: 1 + the largest id of the vocabulary and the added tokens (some may have no token). */
HG_API int32_t hg_tokenizer_n_vocab(const hg_tokenizer *tok);
/* The token string of `id` as written in tokenizer.json (byte-level alphabet, e.g. "Ġthe"), owned by
 * the tokenizer; NULL when id is out of range or has no token. */
HG_API const char *hg_tokenizer_id_to_token(const hg_tokenizer *tok, int32_t id);
/* The id of a token string (added tokens first, then the model vocabulary), or -1. */
HG_API int32_t hg_tokenizer_token_to_id(const hg_tokenizer *tok, const char *token);
/* Whether id is a special added token (skipped by decode with skip_special). */
HG_API bool hg_tokenizer_is_special(const hg_tokenizer *tok, int32_t id);
/* bos_token / eos_token of tokenizer_config.json as ids, or -1 when absent or unknown. */
HG_API int32_t hg_tokenizer_bos_id(const hg_tokenizer *tok);
HG_API int32_t hg_tokenizer_eos_id(const hg_tokenizer *tok);
/* Whether a prompt gets the bos id in front: the tokenizer has a bos_token and tokenizer_config.json's
 * add_bos_token (GGUF: tokenizer.ggml.add_bos_token) is not false. */
HG_API bool hg_tokenizer_add_bos(const hg_tokenizer *tok);

/* ---- streaming detokenizer (generation) ----------------------------------------------------------
 * Push ids one at a time; each push returns the text that is complete so far. It never returns part
 * of a UTF-8 character: bytes of an unfinished character wait for the next id. The concatenation of
 * every push and the final flush equals hg_tokenizer_decode of all ids (same skip_special). */
typedef struct hg_detok hg_detok;

/* The tokenizer must outlive the decoder. *out set only on success; free with hg_detok_free. */
HG_API hg_status hg_detok_init(const hg_tokenizer *tok, bool skip_special, hg_detok **out, hg_error *err);
/* Add one id. *text / *len receive the newly completed text (possibly empty), owned by the decoder
 * and valid until the next call on it. HG_STATUS_BAD_INPUT for an id out of range (state unchanged). */
HG_API hg_status hg_detok_push(hg_detok *d, int32_t id, const char **text, size_t *len, hg_error *err);
/* End of stream: returns what is still pending (an unfinished character becomes U+FFFD) and resets
 * the decoder for a new stream. Same ownership as push. */
HG_API hg_status hg_detok_flush(hg_detok *d, const char **text, size_t *len, hg_error *err);
HG_API void hg_detok_free(hg_detok *d);

/* ---- chat format ---------------------------------------------------------------------------------
 * No general Jinja engine: a chat_template is recognised by its exact text among the Huginn-0125,
 * Llama 3 (base and Instruct) and ChatML (plain, and Qwen2's with a default system message) templates
 * and rendered natively, byte for byte as Jinja renders it (docs/tokenizer.md, "Chat formats"). A
 * tokenizer whose template is not recognised can be given a built-in format by name:
 * hg_tokenizer_set_chat_format. Anything else is refused with HG_STATUS_UNSUPPORTED. */
typedef struct hg_chat_msg {
    const char *role;    /* "system", "user", "assistant" (Huginn: "Huginn" too), or any */
    const char *content; /* UTF-8; Huginn and Llama 3 trim surrounding whitespace, ChatML keeps it */
} hg_chat_msg;

/* Whether `chat_template` (the string of tokenizer_config.json) is one this library renders. */
HG_API bool hg_chat_template_supported(const char *chat_template);
/* The built-in format a template text is recognised as ("huginn", "llama3", "chatml"), or NULL. */
HG_API const char *hg_chat_template_format(const char *chat_template);
/* The names hg_tokenizer_set_chat_format takes, for messages: "huginn, llama3, chatml". */
HG_API const char *hg_chat_format_names(void);
/* Whether the tokenizer has a chat format (recognised or forced) and the bos_token it needs. */
HG_API bool hg_tokenizer_has_chat(const hg_tokenizer *tok);
/* Force the built-in format `name` (see hg_chat_format_names) whatever the tokenizer's chat_template
 * is; NULL goes back to the recognised template. A forced "llama3" is the Instruct template (the
 * assistant header only with add_generation_prompt), a forced "chatml" the plain one. HG_STATUS_BAD_ARG
 * for an unknown name (the message lists the names), HG_STATUS_UNSUPPORTED when the vocabulary lacks
 * the format's special tokens or the format needs a bos_token the tokenizer has not. Changes the
 * handle: call it before sharing the tokenizer between threads. */
HG_API hg_status hg_tokenizer_set_chat_format(hg_tokenizer *tok, const char *name, hg_error *err);
/* The name of the format hg_chat_render uses for this tokenizer, or NULL (no chat). */
HG_API const char *hg_tokenizer_chat_format(const hg_tokenizer *tok);
/* The id of the token that ends a turn in the tokenizer's chat format (Huginn <|end_turn|>, Llama 3
 * <|eot_id|>, ChatML <|im_end|>): a reply stops there. -1 without a chat format or that token. */
HG_API int32_t hg_tokenizer_chat_end_id(const hg_tokenizer *tok);
/* The ids a reply stops at: the EOS (a plain completion stops there too) and, when chat is true, the
 * format's end of turn (Llama 3's <|eot_id|> and ChatML's <|im_end|> are not every checkpoint's EOS,
 * and a Llama's stop ids are only these), each once. Writes up to 2 ids to out; returns how many
 * (0 for a NULL tokenizer). */
HG_API int hg_tokenizer_stop_ids(const hg_tokenizer *tok, bool chat, int32_t out[2]);
/* Render msgs [n_msgs] to text in the tokenizer's chat format; add_generation_prompt appends the
 * assistant header (the Llama 3 base template appends it always, as its text does). On success *out is
 * a new NUL-terminated string (free with hg_tokenizer_mem_free). HG_STATUS_UNSUPPORTED when the
 * tokenizer has no supported template, HG_STATUS_BAD_ARG for a NULL role/content, HG_STATUS_BAD_INPUT
 * for invalid UTF-8. *out untouched on failure. Thread-safe. */
HG_API hg_status hg_chat_render(const hg_tokenizer *tok, const hg_chat_msg *msgs, size_t n_msgs,
                                bool add_generation_prompt, char **out, hg_error *err);
/* Render, then encode with add_special = false (the template already holds the special tokens), as
 * the model card does after apply_chat_template. Ownership and failure as hg_tokenizer_encode. */
HG_API hg_status hg_chat_encode(hg_tokenizer *tok, const hg_chat_msg *msgs, size_t n_msgs,
                                bool add_generation_prompt, int32_t **ids, int64_t *n_ids, hg_error *err);
/* The tokenizer of a model: tokenizer.json (+ tokenizer_config.json) of its directory, or the one a
 * GGUF carries (tokenizer.huggingface.json). HG_STATUS_IO / UNSUPPORTED when the model has none. */
HG_API hg_status hg_model_tokenizer(const hg_model *m, hg_tokenizer **out, hg_error *err);
/* HG-TOKENIZER-API-END */

/* ================================================================================================
 * Scoring: log-likelihoods for evaluation (src/generate/score.c; docs/eval.md)
 * ================================================================================================ */

/* How sequences are scored: every position runs n_steps core iterations from an initial state that is
 * zero (init_scale 0, the default: deterministic) or drawn per request from `seed` for the request's
 * positions 0..n-1 in order (hg_init_state), so every choice of a question starts from the same state. */
typedef struct hg_score_params {
    int64_t n_steps;  /* r >= 0 (default 32) */
    float init_scale; /* 0 = zero state (default) */
    uint64_t seed;
    int64_t chunk;    /* positions per forward call while prefilling (bounds the [chunk, V] logits); 0 = 64 */
} hg_score_params;

HG_API hg_score_params hg_score_default_params(void);

/* Thread safety: each call uses only the context or batch it is given (one call at a time per ctx /
 * batch; the model may be shared). */

/* Per-token log-probabilities of one window: resets ctx, runs ids [n] from position 0 and writes
 * logprob[i] = log softmax(logits[i-1])[ids[i]] (computed in double) for n_skip <= i < n, i >= 1;
 * other entries are NAN. greedy[i] (may be NULL) tells whether ids[i] was the argmax. n <= n_ctx of ctx,
 * whose KV cache must hold n_steps iterations. Allocates [chunk, V] floats per call. */
HG_API hg_status hg_score_tokens(hg_ctx *ctx, const int32_t *ids, int64_t n, int64_t n_skip, const hg_score_params *p,
                                 double *logprob /* [n] */, bool *greedy /* [n] or NULL */, hg_error *err);

/* Rolling log-likelihood of a text longer than one window, as llama-perplexity scores it: windows of
 * `window` tokens starting every `stride` tokens (0 < stride <= window); the first window scores every
 * token after the first, each later one only the tokens no earlier window scored (its first
 * window - stride tokens are warm-up context). logprob[0] is NAN; every other token is scored once.
 * progress (may be NULL) is called after each window with the tokens scored so far. */
typedef void (*hg_score_progress)(void *user, int64_t done, int64_t total);
HG_API hg_status hg_score_rolling(hg_ctx *ctx, const int32_t *ids, int64_t n, int64_t window, int64_t stride,
                                  const hg_score_params *p, double *logprob /* [n] */, hg_score_progress progress,
                                  void *user, hg_error *err);

/* One question: a context and its continuations (choices), scored as lm-eval's loglikelihood requests:
 * logprob[j] = sum over the tokens of continuation j of log p(token | context, earlier tokens);
 * greedy[j] = every one of those tokens was the argmax. */
typedef struct hg_score_request {
    const int32_t *context;        /* [n_context], n_context >= 1 (starts with BOS where the model has one) */
    int64_t n_context;
    const int32_t *const *conts;   /* [n_conts] continuations, each [cont_len[j]] with cont_len[j] >= 1 */
    const int64_t *cont_len;
    int64_t n_conts;
    double *logprob;               /* [n_conts] out */
    bool *greedy;                  /* [n_conts] out, or NULL */
} hg_score_request;

/* Score reqs [n] on a batch (huginn.h "Batch"): each batch slot takes a question, prefills its context
 * once on the slot's context (the shared prefix), then scores the continuations one after another,
 * truncating back to the context between them; the continuation tokens of all slots are fed together,
 * one position per slot per step, through hg_batch_prelude / core_step / coda (one weight read for
 * every slot). The result of a request does not depend on the batch size or on which requests share
 * a step: bit for bit within hg_batch_decode's exact range (n_seq <= 8), else within f32 rounding.
 * progress (may be NULL) is called as requests finish. Arguments are checked before anything runs (ids
 * < vocab_size, context + longest continuation - 1 <= n_ctx; HG_STATUS_BAD_ARG / LIMIT); after a later
 * failure the outputs are unspecified. Allocates per call, never per token. */
HG_API hg_status hg_score_batch(hg_batch *b, hg_score_request *reqs, int64_t n, const hg_score_params *p,
                                hg_score_progress progress, void *user, hg_error *err);

/* ================================================================================================
 * Training (src/train/; docs/training.md)
 * ================================================================================================ */
/* HG-TRAIN-API-BEGIN */
/* A trainer owns an f32 copy of a model's parameters, their gradients and the optimizer state
 * (Adam-atan2 with update clipping and running init, decoupled decay; docs/training.md "Optimizer"), and
 * the activation buffers for micro-batches of `rows` × `seq_len` tokens. Architectures with a backward:
 * HG_ARCH_HUGINN, HG_ARCH_RETROFIT_LLAMA and HG_ARCH_RETROFIT_OLMO (docs/training.md "Fine-tuning a
 * retrofitted model"); the constructors return HG_STATUS_UNSUPPORTED, naming the architecture, for any
 * other (Ouro). Not thread-safe (one thread at a time per trainer; the kernels use OpenMP inside). */
typedef struct hg_trainer hg_trainer;

typedef struct hg_train_params {
    int64_t rows;            /* sequences per micro-batch */
    int64_t seq_len;         /* T: tokens per sequence (a data row holds T + 1 tokens) */
    int64_t accum;           /* micro-batches per optimizer step (gradient accumulation) */
    int64_t max_steps;       /* optimizer steps of the schedule (S) */
    int64_t warmup, cooldown; /* trapezoid schedule, in optimizer steps */
    double lr, beta1, beta2, eps, weight_decay, grad_clip;
    bool update_clipping;
    int64_t mean_recurrence; /* r̄ of the sampler; 0 = the model config's */
    int64_t backprop_depth;  /* k of the sampler; 0 = the model config's mean_backprop_depth */
    int64_t fixed_n, fixed_k; /* >= 0: use this (n, k) every micro-batch instead of sampling (tests, baseline) */
    float init_scale;        /* initial state: 1 = the reference's random state (Huginn's like-init; a retrofit
                              * model's initialize_state), 0 = zeros */
    uint64_t seed;           /* sampler and initial states (model init has its own seed) */
} hg_train_params;

HG_API hg_train_params hg_train_default_params(void);

/* A trainer for a new model with random "takase" initialisation (seed `init_seed`). */
HG_API hg_status hg_trainer_init_random(const hg_config *cfg, const hg_train_params *p, uint64_t init_seed,
                                        hg_trainer **out, hg_error *err);
/* A trainer starting from a checkpoint directory (config.json + safetensors). If the directory also
 * holds optimizer.safetensors and trainer_state.json (written by hg_trainer_save), the optimizer
 * state, step counters and data cursor are restored too, so training continues bit-identically; p
 * then only supplies what the saved state lacks (the saved schedule and sampler settings win). */
HG_API hg_status hg_trainer_load(const char *dir, const hg_train_params *p, hg_trainer **out, hg_error *err);
HG_API void hg_trainer_free(hg_trainer *tr);

typedef struct hg_train_stats {
    double loss;          /* mean CE over the labelled targets of the step (all micro-batches, all ranks) */
    double grad_norm;     /* global L2 norm before clipping */
    double lr;            /* learning rate used */
    int64_t n_tokens;     /* labelled targets in the step */
    int64_t depth_n, depth_k; /* (n, k) of the last micro-batch */
    bool skipped;         /* non-finite gradient: no update was made */
} hg_train_stats;

/* Data-parallel hook: sum `n` doubles/floats across ranks in place (MPI_Allreduce with MPI_SUM). NULL
 * for a single process. Called once per optimizer step for the gradients and once for the counts. */
typedef struct hg_train_comm {
    void (*sum_f32)(void *user, float *buf, int64_t n);
    void (*sum_f64)(void *user, double *buf, int64_t n);
    void *user;
    int rank; /* this process's index: its rows' random initial states come from their own stream */
} hg_train_comm;

/* One optimizer step over `accum` micro-batches. tokens [accum·rows, T+1] (inputs tokens[:, :T],
 * targets tokens[:, 1:]); mask [same] or NULL: mask[r][t+1] == 0 excludes target t from the loss.
 * The objective is the mean CE over every labelled target of the global batch (all micro-batches
 * and ranks), so accumulation and data parallelism give the same update as one big batch. One
 * (n, k) is drawn per micro-batch from (seed, micro-batch counter): identical on every rank.
 * On failure nothing is updated. */
HG_API hg_status hg_trainer_step(hg_trainer *tr, const int32_t *tokens, const uint8_t *mask, const hg_train_comm *comm,
                                 hg_train_stats *stats, hg_error *err);
/* The (n, k) that micro-batch `mb` (0 ≤ mb < accum) of the next hg_trainer_step will run: a data loader
 * that fits its rows to the depth (e.g. asks only what r = n + k iterations can answer) reads it first. */
HG_API hg_status hg_trainer_next_depth(const hg_trainer *tr, int64_t mb, int64_t *n, int64_t *k, hg_error *err);
/* Mean CE of rows [n_rows ≤ rows, T+1] at a fixed depth r (no gradient; zero initial state when
 * init_scale is 0, else a fixed-seed random one). Also returns the exact-match accuracy of masked
 * targets (greedy argmax) in *acc when not NULL. */
HG_API hg_status hg_trainer_eval(hg_trainer *tr, const int32_t *tokens, const uint8_t *mask, int64_t n_rows, int64_t r,
                                 double *loss, double *acc, hg_error *err);
/* Loss and gradients of one sequence at a fixed (n, k) with a zero initial state (huginn grad):
 * ids/labels [T] (-100 = ignored), T ≤ seq_len. Gradients are replaced, not accumulated; read them
 * with hg_trainer_tensor. */
HG_API hg_status hg_trainer_grad(hg_trainer *tr, const int32_t *ids, const int32_t *labels, int64_t T, int64_t n,
                                 int64_t k, double *loss, hg_error *err);
/* Tensor i (0 ≤ i < hg_trainer_n_tensors) : its official name, element count, and pointers (owned by
 * the trainer) to its parameters and gradient, f32, row-major in the stored shape. */
HG_API int64_t hg_trainer_n_tensors(const hg_trainer *tr);
HG_API const char *hg_trainer_tensor(const hg_trainer *tr, int64_t i, int64_t *n, float **param, float **grad);
HG_API const hg_config *hg_trainer_config(const hg_trainer *tr);
HG_API int64_t hg_trainer_step_count(const hg_trainer *tr); /* optimizer steps taken */
/* A free counter saved with the checkpoint (the data loader's position). */
HG_API uint64_t hg_trainer_cursor(const hg_trainer *tr);
HG_API void hg_trainer_set_cursor(hg_trainer *tr, uint64_t cursor);

/* Save a checkpoint as out_dir/step-NNNNNNNN (config.json, model.safetensors in F32, tokenizer.json
 * copied from `tokenizer` when not NULL, optimizer.safetensors, trainer_state.json), then point the
 * symlink out_dir/latest at it, keeping the `keep` newest step directories. The directory is built
 * under a temporary name, synced, and renamed; `latest` is replaced by an atomic rename, so a crash
 * at any moment leaves `latest` naming a complete checkpoint. `huginn run -m out_dir/latest` loads it.
 * A parameter or optimizer moment that is NaN or infinite fails with HG_STATUS_BAD_INPUT (naming the
 * tensor) before anything is written, so `latest` keeps naming the last good checkpoint. */
HG_API hg_status hg_trainer_save(hg_trainer *tr, const char *out_dir, const char *tokenizer, int keep, hg_error *err);

/* ---- token shards (docs/training.md "Packing"; format in src/train/shard.c) -------------------------
 * Packing: documents (already tokenized, with their bos/eos) go into a block; before each document
 * is added, a block holding >= row_len tokens is emitted as one row of its first row_len tokens and
 * the rest is discarded ("keep_all": cut into full rows instead, remainder kept). finish emits a
 * complete row still pending and drops the unfinished rest. Every row starts at a document start
 * (keep_all: or continues a document at a row boundary). emit gets row_len tokens; an error it
 * returns stops the packer and is returned. Not thread-safe per handle. */
typedef struct hg_packer hg_packer;
typedef hg_status (*hg_pack_emit)(void *user, const int32_t *row, int64_t row_len, hg_error *err);
HG_API hg_status hg_packer_init(int64_t row_len, bool keep_all, hg_packer **out, hg_error *err);
HG_API hg_status hg_packer_add(hg_packer *p, const int32_t *doc, int64_t n, hg_pack_emit emit, void *user,
                               hg_error *err);
HG_API hg_status hg_packer_finish(hg_packer *p, hg_pack_emit emit, void *user, hg_error *err);
HG_API void hg_packer_free(hg_packer *p);

/* A shard file: magic "HGSHARD", version 1, rows of row_len int32 ids < n_vocab. The writer builds
 * PATH.tmp and renames it on close (abort removes it), so PATH is complete or absent. Rows with an id
 * outside [0, n_vocab) are refused (HG_STATUS_BAD_INPUT). */
typedef struct hg_shard_writer hg_shard_writer;
HG_API hg_status hg_shard_writer_open(const char *path, int64_t row_len, int32_t n_vocab, int32_t bos, int32_t eos,
                                      hg_shard_writer **out, hg_error *err);
HG_API hg_status hg_shard_writer_row(hg_shard_writer *w, const int32_t *row /* [row_len] */, hg_error *err);
HG_API int64_t hg_shard_writer_rows(const hg_shard_writer *w);
/* Finish and rename; frees w on every path (NULL: no-op). */
HG_API hg_status hg_shard_writer_close(hg_shard_writer *w, hg_error *err);
HG_API void hg_shard_writer_abort(hg_shard_writer *w);

/* Streaming reader: the header is validated against the file size on open (HG_STATUS_BAD_FILE for a
 * wrong magic or a truncated file, HG_STATUS_UNSUPPORTED for another version); rows are read on
 * demand with pread, nothing else is kept in memory. hg_shard_read copies rows cursor .. cursor+n-1
 * (modulo n_rows: epochs wrap) into rows [n, row_len], validating every id. */
typedef struct hg_shard hg_shard;
HG_API hg_status hg_shard_open(const char *path, hg_shard **out, hg_error *err);
HG_API void hg_shard_close(hg_shard *s);
HG_API int64_t hg_shard_rows(const hg_shard *s);
HG_API int64_t hg_shard_row_len(const hg_shard *s);
HG_API int32_t hg_shard_vocab(const hg_shard *s);
HG_API hg_status hg_shard_read(hg_shard *s, uint64_t cursor, int64_t n, int32_t *rows, hg_error *err);
/* HG-TRAIN-API-END */

/* ================================================================================================
 * Learned exit gate (Ouro; docs/family.md "Ouro")
 * The model computes, generate/ decides: hg_ctx_exit_gate gives the gate logits of a state, the loops
 * below turn them into the exit distribution and pick the loop whose logits are used.
 * ================================================================================================ */

/* g[T] = early_exit_gate(s) = w·s_i + b for each row s_i of s [T,h] (a loop's normed output).
 * HG_STATUS_UNSUPPORTED for an architecture without a gate (Huginn). */
HG_API hg_status hg_ctx_exit_gate(hg_ctx *ctx, const float *s /* [T,h] */, int64_t T, float *g /* [T] */,
                                  hg_error *err);

/* Which loop's logits a position takes (after exit_at, which wins when 0 <= exit_at < n_loops). */
typedef enum hg_gate_rule {
    HG_GATE_DEFAULT = 0, /* the reference's default: THRESHOLD at the config's early_exit_threshold, LAST
                            when the config has none */
    HG_GATE_THRESHOLD,   /* the first loop t whose cumulative exit probability c_t >= threshold (f32) */
    HG_GATE_WEIGHTED,    /* Σ_t p_t · logits_t over every loop (no threshold in force) */
    HG_GATE_LAST,        /* the last loop */
} hg_gate_rule;

/* skip: a generated token that exits at loop t runs no loop after t (later tokens read its K/V of
 * deeper loops through the context's KV lookup rule, docs/family.md); all: every loop runs for every
 * token and writes its K/V, the exit only picks the logits (the reference). */
typedef enum hg_gate_compute { HG_GATE_COMPUTE_SKIP = 0, HG_GATE_COMPUTE_ALL } hg_gate_compute;

typedef struct hg_gate_params {
    int64_t n_loops;         /* loops (Ouro's total_ut_steps); 0 = the config's */
    hg_gate_rule rule;       /* default HG_GATE_DEFAULT */
    double threshold;        /* for HG_GATE_THRESHOLD */
    int64_t exit_at;         /* 0-based loop to exit at, as the reference's exit_at_step; -1 = off (default);
                                a value >= n_loops is ignored, as the reference ignores it */
    hg_gate_compute compute; /* default skip */
} hg_gate_params;

HG_API hg_gate_params hg_gate_default_params(void);
/* "skip" / "all" -> compute; HG_STATUS_BAD_ARG otherwise. */
HG_API hg_status hg_gate_compute_parse(const char *name, hg_gate_compute *out, hg_error *err);

/* The exit distribution of gate logits g[n] (n >= 1), in f32 and the reference's order:
 * λ_t = σ(g_t); p_t = λ_t · Π_{i<t}(1 − λ_i) for t < n−1, p_{n−1} = Π_{i<n−1}(1 − λ_i). */
HG_API void hg_gate_exit_pdf(const float *g, int64_t n, float *p /* [n] */);
/* The first t with the sequential f32 cumulative sum of p[0..t] >= threshold, else n−1. */
HG_API int64_t hg_gate_exit_step(const float *p, int64_t n, double threshold);

/* Optional outputs of hg_ctx_forward_gate (NULL = not wanted). L = loops. */
typedef struct hg_gate_outputs {
    float *logits;      /* [T,V] the logits the rule picks */
    float *step_hidden; /* [L,T,h] normed state after each loop */
    float *gates;       /* [L,T] gate logits */
    float *exit_pdf;    /* [T,L] exit distribution */
    int64_t *exit_step; /* [T] the loop whose logits were taken (L−1 for weighted) */
} hg_gate_outputs;

/* Every loop of a gated model (Ouro) on T positions from pos0, as the reference's forward (all loops
 * run and write their K/V whatever the exit; p->compute is not used). The context needs slots for
 * n_loops iterations. Scratch for every loop's states of one chunk is allocated per call (a forward,
 * not a per-token loop: hg_generate_gate allocates once per generation). HG_STATUS_UNSUPPORTED for a
 * model without a gate, LIMIT when the cache lacks slots or positions; after a failure the cache may
 * hold the loops that ran. One thread at a time per context, as every context call. */
HG_API hg_status hg_ctx_forward_gate(hg_ctx *ctx, const int32_t *ids, int64_t T, int64_t pos0,
                                     const hg_gate_params *p, hg_gate_outputs *out, hg_error *err);

/* Greedy or sampled generation of a gated model: the prompt in one call at full depth, then one token
 * per call; each token runs up to xp->n_loops loops (0: the config's total_ut_steps; gp->n_steps is not used) and the exit
 * rule picks the logits that choose it; with HG_GATE_COMPUTE_SKIP the token stops at its exit loop.
 * steps reported per token (callback, rep->steps) = its exit loop + 1 (n_loops for weighted);
 * rep->exit_values = the cumulative exit probability at that loop. gp->init_scale, init_state and
 * continuous do not apply (the embedding is the initial state). out_ids [gp->max_new_tokens]. */
HG_API hg_status hg_generate_gate(hg_ctx *ctx, const int32_t *prompt, int64_t n_prompt, const hg_generate_params *gp,
                                  const hg_gate_params *xp, hg_token_callback cb, void *user, int32_t *out_ids,
                                  int64_t *n_out, hg_ttc_report *rep, hg_error *err);

#ifdef __cplusplus
}
#endif
#endif /* HUGINN_H */
