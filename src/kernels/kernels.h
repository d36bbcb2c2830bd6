/*
 * kernels.h — the numeric kernels the stage functions are built from. Each has a plain scalar
 * reference (the *_ref functions or the portable path) and may have SIMD variants chosen at run time
 * (docs/conventions.md rules 12-13). All compute in f32; weights are read in their stored dtype.
 *
 * Threading: hg_matmul parallelises over output rows with OpenMP; every output element is computed by
 * one thread in a fixed order, so results do not depend on the thread count.
 */
#ifndef HG_KERNELS_H
#define HG_KERNELS_H

#include "base/base.h"
#include "base/tensor.h"

/* Below this many multiply-adds a kernel runs on the calling thread: a parallel region's fork and
 * barrier (microseconds; far more on oversubscribed cores) would cost more than the work. */
#define HG_PAR_MIN_MACS 262144.0
/* Elementwise work over rows (norms, SiLU of a batch's rows) is spread over the threads from this many
 * elements of the widest row op: below it waking the threads costs more than the work. */
#define HG_PAR_MIN_ROWS 16384.0

/* y[T, n_out] = x[T, n_in] · Wᵀ, W = w [n_out, n_in] in its stored dtype. x and y must not alias. */
void hg_matmul(float *y, const float *x, const hg_tensor *w, int64_t T);
/* W laid out once for this host's blocked product (an owned block: set it as w->packed, hg_free it
 * after the last product), or NULL where the kernels keep the stored layout for this dtype (today: Q8_0
 * on the VNNI kernels without AMX) or HG_PREPACK=0. A packed weight runs one product at every T, so a
 * position's result no longer depends on how many positions share the call (decode, a batch and a
 * prefill agree bit for bit), and batched decode reads W once at the cost of one position. */
void *hg_matmul_prepack(const hg_tensor *w);
/* The scalar reference of hg_matmul (single thread): the spec SIMD variants are tested against. */
void hg_matmul_ref(float *y, const float *x, const hg_tensor *w, int64_t T);
/* Training's product (sgemm.c), f32 row-major: C[M, N] (+= when accumulate) op(A)·op(B), where op(A) is
 * A [M, K] or, with transA, the transpose of A stored [K, M]; op(B) is B [K, N] or, with transB, the
 * transpose of B stored [N, K]. work: hg_sgemm_work(K, N) floats (the packed op(B)). C must not alias
 * A, B or work. Each C element is one thread's in-order sum over k: thread-count independent. */
size_t hg_sgemm_work(int64_t K, int64_t N);
void hg_sgemm(float *C, const float *A, bool transA, const float *B, bool transB, int64_t M, int64_t N, int64_t K,
              bool accumulate, float *work);
/* The same on an explicit ISA level (one hg_cpu_level_runs accepts); tests compare levels. */
void hg_sgemm_level(hg_cpu_level l, float *C, const float *A, bool transA, const float *B, bool transB, int64_t M,
                    int64_t N, int64_t K, bool accumulate, float *work);
/* dst[n_in] = row `row` of w widened to f32. */
void hg_tensor_row_f32(const hg_tensor *w, int64_t row, float *dst);
/* dst = x[n] in dtype `to`, rounded as the half-precision converters and the Q8_0/Q4_0 quantizers do
 * (n % 32 == 0 for those): the inverse direction of hg_tensor_row_f32, used to convert weights. */
void hg_row_from_f32(const float *x, int64_t n, hg_dtype to, void *dst);

/* dst[n] = the first n stored elements of w widened to f32 (a small vector: norm, bias). */
void hg_tensor_widen(const hg_tensor *w, float *dst, int64_t n);

/* y[n] = x / sqrt(mean(x²) + eps) ⊙ w, one row (x and y may alias). Sum of squares in double. */
void hg_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);
/* inv_freq[d/2] = 1 / base^(2i/d), exponent formed in f32 as the reference's precompute_freqs_cis. */
void hg_rope_inv_freq(float *inv_freq, int64_t d, double base);
/* In place: rotate adjacent pairs (x[2i], x[2i+1]) of each of n_head heads of size d by pos·inv_freq[i]. */
void hg_rope(float *x, int64_t n_head, int64_t d, int64_t pos, const float *inv_freq /* [d/2] */);
/* RoPE in Hugging Face's rotate-half layout (Llama, OLMo-2): dimension i of each head pairs with i + d/2,
 * (x_i, x_{i+d/2}) -> (x_i cos - x_{i+d/2} sin, x_{i+d/2} cos + x_i sin), angle pos * inv_freq[i] in f32. */
void hg_rope_half(float *x, int64_t n_head, int64_t d, int64_t pos, const float *inv_freq /* [d/2] */);
/* The two in two halves: cs[d] = cos then sin of the angles pos·inv_freq[i] (f32 product) of one
 * position (hg_rope_angles), applied by hg_rope_cs / hg_rope_half_cs with the same bits as hg_rope /
 * hg_rope_half. A context keeps its positions' cs (ctx.h), so a token's 2·d libm calls are made once, not
 * once per layer application. */
void hg_rope_angles(float *cs, int64_t d, int64_t pos, const float *inv_freq);
void hg_rope_cs(float *x, int64_t n_head, int64_t d, const float *cs);
void hg_rope_half_cs(float *x, int64_t n_head, int64_t d, const float *cs);
/* The dispatched f32 vector helpers (AVX-512 / AVX2 / NEON / scalar, chosen once): hot loops such as
 * attention fetch the table once and call through it. dot sums in SIMD lanes then a fixed tree, so
 * it is deterministic but rounds differently from a sequential sum. */
typedef struct hg_vec_ops {
    float (*dot)(const float *a, const float *b, int64_t n);  /* Σ a[i]·b[i] */
    void (*axpy)(float *y, float a, const float *x, int64_t n); /* y[n] += a·x[n] */
    /* The same with the second operand stored as KV-cache entries of dtype [F32 | F16 | BF16] (index =
     * hg_dtype), widened to f32 element by element; [HG_DTYPE_F32] is dot / axpy themselves. */
    float (*dot_kv[HG_DTYPE_BF16 + 1])(const float *a, const void *b, int64_t n);
    void (*axpy_kv[HG_DTYPE_BF16 + 1])(float *y, float a, const void *x, int64_t n);
    /* out[n] = (g / (1 + e^−g))·u: SIMD levels evaluate e^x in double and round once (libm expf's bits
     * but in rare last-bit cases) */
    void (*silu_mul)(float *out, const float *g, const float *u, int64_t n);
    /* One query head's causal attention over KV-cache entries of dtype [index]: for positions kp < np
     * with src[kp] >= 0, key kp is the d elements at k + kp·pos_bytes + src[kp]·rowb bytes (v likewise);
     * out[d] = Σ softmax(q·key·scale) value, sc[np] scratch. The arithmetic of dot_kv, expf, a double
     * sum and axpy_kv in position order, bit for bit. NULL where a level has none (the caller loops). */
    void (*attend_kv[HG_DTYPE_BF16 + 1])(float *out, const float *q, const void *k, const void *v, const int64_t *src,
                                         size_t rowb, size_t pos_bytes, int64_t np, int64_t d, float scale, float *sc);
} hg_vec_ops;
const hg_vec_ops *hg_vec(void);

/* out[n] = silu(g) ⊙ u on the chosen level (hg_vec_ops.silu_mul) */
void hg_silu_mul(float *out, const float *g, const float *u, int64_t n);

#endif
