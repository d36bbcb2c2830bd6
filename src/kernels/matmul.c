/*
 * matmul.c — y = x·Wᵀ for weights in any stored dtype: the scalar reference, the portable (scalar)
 * kernel table, and the dispatcher that picks a path from T and splits the work over threads.
 *
 * Workload: decode is T = 1..8 positions (a matrix-vector product, bound by reading W once: Huginn's
 * 3.5 G weights per token), prefill and batched verification are T up to the context chunk (128;
 * bound by FLOPs). So hg_matmul has two paths:
 *   - matrix-vector (T below the table's gemm_min_t, or no blocked kernel for this ISA/dtype):
 *     threads take blocks of HG_MV_ROWS output rows; each streams its rows of W once per group of up
 *     to HG_MV_T positions and dots every row with them.
 *     For Q8_0/Q4_0 weights x is quantized to Q8X once per call (master thread, HG_QX_PIECE elements
 *     at a time, on the stack when small) so the ISA kernels can use integer dots, as ggml does.
 *   - blocked (T >= gemm_min_t: 9 for AMX tiles and VNNI, 17 on AVX2, 33 on AVX-512): every thread widens a
 *     group of W rows to f32 per K block and reuses it for every position, in a register tile on x
 *     as it lies: 32 rows × 12 positions on AVX-512 (gemm_avx512.c), 16 × 6 on AVX2 (matmul_avx2.c);
 *     AMX tiles for bf16 and Q8_0/Q4_0 (gemm_amx_avx512.c, gemm_q8_amx_avx512.c); without AMX,
 *     VNNI dots for Q8_0/Q4_0 (gemm_q8_vnni_avx512.c) and, opt-in, BF16 dots (gemm_bf16dot_avx512.c);
 *     on the AVX2 level with AVX-VNNI, Q8_0/Q4_0 on its 256-bit dots (gemm_q8_avxvnni.c).
 * Both split over output rows and never split a dot, so every y element is computed by one thread in
 * an order that depends neither on the thread count nor on which thread takes it. The matrix-vector
 * path hands out its blocks dynamically, ~HG_MV_GRAB bytes of W per grab: a decode step is a chain
 * of W-streaming products each ended by a barrier, and on a host whose cores are shared (a 2-core
 * VM) a statically split product waits for its slowest core. Dynamic grabs of 2-4 blocks gain
 * 10-20 % on full-shape decode there (docs/results/kernels.md, "Decode work split").
 *
 * The scalar reference (hg_matmul_ref) widens each W row to f32 and sums in 8 lanes; quantized
 * weights are dequantized exactly, activations stay f32. The SIMD quantized paths round x to 8 bits
 * as well, so they differ from the reference by at most Σ|w|·d_x/2 per block (tests derive their
 * tolerance from that bound).
 */
#include "kernels/dispatch.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

/* ---- reading weights as f32 ------------------------------------------------------------------- */

/* dst[len] = elements [k0, k0+len) of row `row` of w as f32; for Q8_0/Q4_0, k0 and len are multiples
 * of 32. */
static void row_piece_f32(const hg_tensor *w, int64_t row, int64_t k0, int64_t len, float *dst) {
    const int64_t n = w->ne[1];
    switch (w->dtype) {
    case HG_DTYPE_F32: memcpy(dst, (const float *)w->data + row * n + k0, (size_t)len * sizeof(float)); break;
    case HG_DTYPE_BF16: {
        const uint16_t *p = (const uint16_t *)w->data + row * n + k0;
        for (int64_t i = 0; i < len; i++) dst[i] = hg_bf16_to_f32(p[i]);
        break;
    }
    case HG_DTYPE_F16: {
        const uint16_t *p = (const uint16_t *)w->data + row * n + k0;
        for (int64_t i = 0; i < len; i++) dst[i] = hg_f16_to_f32(p[i]);
        break;
    }
    case HG_DTYPE_Q8_0:
        hg_dequantize_row_q8_0((const hg_block_q8_0 *)w->data + (row * n + k0) / HG_QK, dst, len);
        break;
    case HG_DTYPE_Q4_0:
        hg_dequantize_row_q4_0((const hg_block_q4_0 *)w->data + (row * n + k0) / HG_QK, dst, len);
        break;
    default: HG_ASSERT(!"row_piece_f32: dtype without a row reader");
    }
}

void hg_tensor_row_f32(const hg_tensor *w, int64_t row, float *dst) {
    HG_ASSERT(!(w->dtype == HG_DTYPE_Q8_0 || w->dtype == HG_DTYPE_Q4_0) || w->ne[1] % HG_QK == 0);
    row_piece_f32(w, row, 0, w->ne[1], dst);
}

/* Q8X: Q8_0's rounding (scale max|x|/127, round to nearest) with an f32 scale and the sum of quants.
 * A block holding a NaN or an infinity gets d = NaN and zero quants, so every product with it is NaN,
 * as in f32 (rounding it would be undefined, and a silent 0 would hide the fault). */
void hg_quantize_row_q8x(const float *x, hg_block_q8x *dst, int64_t n) {
    HG_ASSERT(n % HG_QK == 0);
    for (int64_t i = 0; i < n / HG_QK; i++, x += HG_QK) {
        float amax = 0;
        bool bad = false;
        for (int j = 0; j < HG_QK; j++) {
            amax = fmaxf(amax, fabsf(x[j]));
            bad = bad || !isfinite(x[j]);
        }
        if (bad) {
            memset(dst[i].qs, 0, sizeof dst[i].qs);
            dst[i].d = NAN;
            dst[i].s = 0;
            continue;
        }
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t s = 0;
        for (int j = 0; j < HG_QK; j++) {
            dst[i].qs[j] = (int8_t)roundf(x[j] * id);
            s += dst[i].qs[j];
        }
        dst[i].d = d;
        dst[i].s = s;
    }
}

/* ---- the reference ---------------------------------------------------------------------------- */

void hg_tensor_widen(const hg_tensor *w, float *dst, int64_t n) {
    hg_tensor row = *w;
    row.ne[1] = n;
    hg_tensor_row_f32(&row, 0, dst);
}

static float dot_f32(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void hg_matmul_ref(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], n_in = w->ne[1];
    float *row = hg_malloc((size_t)n_in * sizeof(float));
    HG_ASSERT(row);
    for (int64_t o = 0; o < n_out; o++) {
        hg_tensor_row_f32(w, o, row);
        for (int64_t t = 0; t < T; t++) y[t * n_out + o] = dot_f32(x + t * n_in, row, n_in);
    }
    hg_free(row);
}

/* ---- the portable kernel table ---------------------------------------------------------------- */

/* Rows are widened in pieces of this many elements (stack buffer; a multiple of 32). */
#define HG_MATMUL_PIECE 4096

/* Every dtype: widen a piece of the row, dot it with all T inputs; x stays f32 (mv_q8x = false). */
static void mv_scalar(float *y, int64_t ldy, const void *xv, int64_t ldx, const hg_tensor *w, int64_t o0,
                      int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {
    const float *x = xv;
    float piece[HG_MATMUL_PIECE];
    for (int64_t o = o0; o < o1; o++) {
        if (!acc)
            for (int64_t t = 0; t < T; t++) y[t * ldy + o] = 0;
        for (int64_t i0 = 0; i0 < n; i0 += HG_MATMUL_PIECE) {
            const int64_t len = hg_min_i64(HG_MATMUL_PIECE, n - i0);
            row_piece_f32(w, o, k0 + i0, len, piece);
            for (int64_t t = 0; t < T; t++) y[t * ldy + o] += dot_f32(x + t * ldx + i0, piece, len);
        }
    }
}

static void axpy_scalar(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* KV-cache operands stored as f16 / bf16: the references widen each element exactly (both formats
 * are subsets of f32) and then do what dot_f32 / axpy_scalar do, in the same order. */
static inline float kv_at(hg_dtype dt, const void *p, int64_t i) {
    const uint16_t u = ((const uint16_t *)p)[i];
    return dt == HG_DTYPE_BF16 ? hg_bf16_to_f32(u) : hg_f16_to_f32(u);
}
static inline float dot_kv_ref(hg_dtype dt, const float *a, const void *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * kv_at(dt, b, i + k);
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * kv_at(dt, b, i);
    return s;
}
static float dot_f16_scalar(const float *a, const void *b, int64_t n) { return dot_kv_ref(HG_DTYPE_F16, a, b, n); }
static float dot_bf16_scalar(const float *a, const void *b, int64_t n) { return dot_kv_ref(HG_DTYPE_BF16, a, b, n); }
static void axpy_f16_scalar(float *y, float a, const void *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * kv_at(HG_DTYPE_F16, x, i);
}
static void axpy_bf16_scalar(float *y, float a, const void *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * kv_at(HG_DTYPE_BF16, x, i);
}
/* f32 entries through the void-pointer signature of dot_kv / axpy_kv */
static float dot_f32_kv(const float *a, const void *b, int64_t n) { return dot_f32(a, b, n); }
static void axpy_f32_kv(float *y, float a, const void *x, int64_t n) { axpy_scalar(y, a, x, n); }
#if defined(__x86_64__)
static float dot_f32_kv_avx2(const float *a, const void *b, int64_t n) { return hg_vec_dot_avx2(a, b, n); }
static void axpy_f32_kv_avx2(float *y, float a, const void *x, int64_t n) { hg_vec_axpy_avx2(y, a, x, n); }
static float dot_f32_kv_avx512(const float *a, const void *b, int64_t n) { return hg_vec_dot_avx512(a, b, n); }
static void axpy_f32_kv_avx512(float *y, float a, const void *x, int64_t n) { hg_vec_axpy_avx512(y, a, x, n); }
#endif
#if defined(__aarch64__)
static float dot_f32_kv_neon(const float *a, const void *b, int64_t n) { return hg_vec_dot_neon(a, b, n); }
static void axpy_f32_kv_neon(float *y, float a, const void *x, int64_t n) { hg_vec_axpy_neon(y, a, x, n); }
#endif

const hg_kern_table hg_kern_scalar = {
    .level = HG_CPU_SCALAR,
    .mv = {mv_scalar, mv_scalar, mv_scalar, mv_scalar, mv_scalar},
    .dot = dot_f32,
    .axpy = axpy_scalar,
};

const hg_kern_table *hg_kern_level(hg_cpu_level l) {
    if (!hg_cpu_level_runs(l)) return NULL;
    switch (l) {
#if defined(__x86_64__)
    case HG_CPU_AVX512: {
        const hg_cpu_info *c = hg_cpu_features();
        return c->amx ? &hg_kern_avx512_amx
               : c->gemm_bf16fast ? &hg_kern_avx512_bf16fast
               : c->gemm_bf16dot ? &hg_kern_avx512_bf16dot
               : c->gemm_vnni    ? &hg_kern_avx512_vnni
                                 : &hg_kern_avx512;
    }
    case HG_CPU_AVX2: return hg_cpu_features()->gemm_avxvnni ? &hg_kern_avx2_vnni : &hg_kern_avx2;
#endif
#if defined(__aarch64__)
    case HG_CPU_NEON: return hg_cpu_features()->dotprod ? &hg_kern_neon_dotprod : &hg_kern_neon;
#endif
    default: return &hg_kern_scalar;
    }
}

const hg_kern_table *hg_kern(void) { return hg_kern_level(hg_cpu_features()->level); }

const char *hg_kernels_name(void) {
    const hg_cpu_info *c = hg_cpu_features();
    if (c->level == HG_CPU_AVX512 && c->amx) return "avx512+amx";
    if (c->level == HG_CPU_AVX512 && c->gemm_bf16fast) return "avx512+bf16fast";
    if (c->level == HG_CPU_AVX512 && c->gemm_bf16dot) return "avx512+bf16dot";
    if (c->level == HG_CPU_AVX512 && c->gemm_vnni) return "avx512+vnni";
    if (c->level == HG_CPU_AVX2 && c->gemm_avxvnni) return "avx2+vnni";
    if (c->level == HG_CPU_NEON && c->dotprod) return "neon+sdot";
    return hg_cpu_level_name(c->level);
}

static const hg_vec_ops k_vec_ops[HG_CPU_LEVEL_COUNT] = {
    [HG_CPU_SCALAR] = {.dot = dot_f32, .axpy = axpy_scalar,
                       .dot_kv = {dot_f32_kv, dot_f16_scalar, dot_bf16_scalar},
                       .axpy_kv = {axpy_f32_kv, axpy_f16_scalar, axpy_bf16_scalar},
                       .silu_mul = hg_silu_mul_scalar, .attend_kv = {NULL, NULL, NULL}},
#if defined(__x86_64__)
    [HG_CPU_AVX2] = {.dot = hg_vec_dot_avx2, .axpy = hg_vec_axpy_avx2,
                     .dot_kv = {dot_f32_kv_avx2, hg_vec_dot_f16_avx2, hg_vec_dot_bf16_avx2},
                     .axpy_kv = {axpy_f32_kv_avx2, hg_vec_axpy_f16_avx2, hg_vec_axpy_bf16_avx2},
                     .silu_mul = hg_silu_mul_avx2, .attend_kv = {NULL, NULL, NULL}},
    [HG_CPU_AVX512] = {.dot = hg_vec_dot_avx512, .axpy = hg_vec_axpy_avx512,
                       .dot_kv = {dot_f32_kv_avx512, hg_vec_dot_f16_avx512, hg_vec_dot_bf16_avx512},
                       .axpy_kv = {axpy_f32_kv_avx512, hg_vec_axpy_f16_avx512, hg_vec_axpy_bf16_avx512},
                       .silu_mul = hg_silu_mul_avx512,
                       .attend_kv = {hg_attend_f32_avx512, hg_attend_f16_avx512, hg_attend_bf16_avx512}},
#endif
#if defined(__aarch64__)
    [HG_CPU_NEON] = {.dot = hg_vec_dot_neon, .axpy = hg_vec_axpy_neon,
                     .dot_kv = {dot_f32_kv_neon, hg_vec_dot_f16_neon, hg_vec_dot_bf16_neon},
                     .axpy_kv = {axpy_f32_kv_neon, hg_vec_axpy_f16_neon, hg_vec_axpy_bf16_neon},
                     .silu_mul = hg_silu_mul_scalar, .attend_kv = {NULL, NULL, NULL}},
#endif
};

const hg_vec_ops *hg_vec_level(hg_cpu_level l) {
    if (!hg_cpu_level_runs(l)) return NULL;
    return k_vec_ops[l].dot ? &k_vec_ops[l] : &k_vec_ops[HG_CPU_SCALAR];
}

const hg_vec_ops *hg_vec(void) { return hg_vec_level(hg_cpu_features()->level); }

/* ---- the dispatcher --------------------------------------------------------------------------- */

void hg_matmul_with(const hg_kern_table *k, float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], n_in = w->ne[1];
    const hg_dtype dt = w->dtype;
    HG_ASSERT(dt >= 0 && dt < HG_DTYPE_COUNT && k->mv[dt]);
    if (T <= 0 || n_out <= 0) return;
    const int64_t n_blk = (n_out + HG_MV_ROWS - 1) / HG_MV_ROWS;
    if (k->gemm[dt] && (T >= hg_gemm_min_t(k, dt) || hg_packed_for(w, k->gemm[dt]))) {
        k->gemm[dt](y, x, w, T);
        return;
    }
    /* a parallel region costs microseconds (more when cores are shared); small products run on one */
    const bool par = (double)n_out * (double)n_in * (double)T >= HG_PAR_MIN_MACS;
    /* a grab is `grab` blocks of HG_MV_ROWS rows, handed to one mv call: a call lays out its x once
     * (the quantized kernels' per-call layout cost 8 % of Q4_0 decode when every 16 rows paid it) */
    const int64_t grab = hg_max_i64(1, HG_MV_GRAB / hg_max_i64(1, HG_MV_ROWS * (int64_t)hg_dtype_row_bytes(dt, n_in)));
    const int64_t rows_per = grab * HG_MV_ROWS, n_grab = (n_blk + grab - 1) / grab;
    if (!k->mv_q8x[dt]) {
#pragma omp parallel for schedule(dynamic, 1) if (par)
        for (int64_t g = 0; g < n_grab; g++)
            k->mv[dt](y, n_out, x, n_in, w, g * rows_per, hg_min_i64(n_out, (g + 1) * rows_per), 0, n_in, T, false);
        return;
    }
    HG_ASSERT(n_in % HG_QK == 0);
    /* x as Q8X, [Tg, piece/32]: on the stack when small (any T = 1 product up to 21,000 inputs), else
     * on the heap, so a caller's small-stack thread is safe (the largest case is 320 KiB) */
    enum { QX_STACK = 24 * 1024 / sizeof(hg_block_q8x) };
    hg_block_q8x qx_stack[QX_STACK];
    const int64_t qx_need = hg_min_i64(T, HG_MV_T) * (hg_min_i64(n_in, HG_QX_PIECE) / HG_QK);
    hg_block_q8x *qx = qx_need <= (int64_t)QX_STACK ? qx_stack : hg_malloc((size_t)qx_need * sizeof(hg_block_q8x));
    if (!qx) { /* out of memory: the portable kernel reads x as f32 and needs no buffer */
        hg_matmul_with(&hg_kern_scalar, y, x, w, T);
        return;
    }
    void (*quant)(const float *, hg_block_q8x *, int64_t) = k->quant_q8x ? k->quant_q8x : hg_quantize_row_q8x;
    for (int64_t t0 = 0; t0 < T; t0 += HG_MV_T) {
        const int64_t Tg = hg_min_i64(HG_MV_T, T - t0);
        for (int64_t k0 = 0; k0 < n_in; k0 += HG_QX_PIECE) {
            const int64_t len = hg_min_i64(HG_QX_PIECE, n_in - k0), nb = len / HG_QK;
            for (int64_t t = 0; t < Tg; t++) quant(x + (t0 + t) * n_in + k0, qx + t * nb, len);
#pragma omp parallel for schedule(dynamic, 1) if (par)
            for (int64_t g = 0; g < n_grab; g++)
                k->mv[dt](y + t0 * n_out, n_out, qx, nb, w, g * rows_per, hg_min_i64(n_out, (g + 1) * rows_per), k0, len,
                          Tg, k0 > 0);
        }
    }
    if (qx != qx_stack) hg_free(qx);
}

void hg_matmul(float *y, const float *x, const hg_tensor *w, int64_t T) { hg_matmul_with(hg_kern(), y, x, w, T); }

void *hg_matmul_prepack_with(const hg_kern_table *k, const hg_tensor *w) {
    const hg_dtype dt = w->dtype;
    if (dt < 0 || dt >= HG_DTYPE_COUNT || !k->prepack[dt] || w->n_dims != 2 || !w->data) return NULL;
    const char *env = getenv("HG_PREPACK");
    if (env && !strcmp(env, "0")) return NULL;
    return k->prepack[dt](w);
}

void *hg_matmul_prepack(const hg_tensor *w) { return hg_matmul_prepack_with(hg_kern(), w); }
