/*
 * matmul_avx2.c — the AVX2 + FMA + F16C kernel table, for x86-64 CPUs without AVX-512 (compiled with
 * -mavx2 -mfma -mf16c, chosen at run time). Scalar twins: mv_scalar and dot_f32 in matmul.c.
 *
 * Same plan as matmul_avx512.c's matrix-vector path, at 8 lanes: rows of W are widened in registers
 * and meet every position (2 rows x 4 positions, or 1 row x 8, fits the 16 ymm registers); the
 * elements past the last multiple of 8 run in a scalar tail, added after the lane sum. Quantized rows
 * use vpmaddubsw + vpmaddwd (ggml's AVX2 integer dot); no 16-bit overflow is possible because both
 * operands are at most 127 in magnitude (Q4_0: 15 · 127). There is no blocked kernel at this level:
 * for T > 8 the dispatcher runs this path over groups of positions, each row of W staying in L1/L2
 * between the groups of one row block.
 */
#include "kernels/dispatch.h"

#include <immintrin.h>

#define HG_INLINE static inline __attribute__((always_inline))

HG_INLINE __m256 load_w8(hg_dtype dt, const void *row, int64_t i) {
    switch (dt) {
    case HG_DTYPE_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    case HG_DTYPE_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i)));
    default: return _mm256_loadu_ps((const float *)row + i);
    }
}

HG_INLINE float w_at(hg_dtype dt, const void *row, int64_t i) {
    switch (dt) {
    case HG_DTYPE_BF16: return hg_bf16_to_f32(((const uint16_t *)row)[i]);
    case HG_DTYPE_F16: return _cvtsh_ss(((const uint16_t *)row)[i]);
    default: return ((const float *)row)[i];
    }
}

HG_INLINE float hsum8(__m256 s) {
    __m128 v = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

static size_t elem_bytes(hg_dtype dt) { return dt == HG_DTYPE_F32 ? 4 : 2; }

/* ---- matrix-vector, float dtypes -------------------------------------------------------------- */

HG_INLINE void mv_tile_f(hg_dtype dt, int R, int TG, float *y, int64_t ldy, const float *x, int64_t ldx,
                         const hg_tensor *w, int64_t o, int64_t n) {
    const size_t rb = (size_t)w->ne[1] * elem_bytes(dt);
    const uint8_t *row0 = (const uint8_t *)w->data + (size_t)o * rb;
    __m256 acc[2][8];
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++) {
            const __m256 wv = load_w8(dt, row0 + (size_t)r * rb, i);
            _Pragma("GCC unroll 16")
            for (int t = 0; t < TG; t++) acc[r][t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * ldx + i), acc[r][t]);
        }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) {
            float tail = 0;
            for (int64_t j = i; j < n; j++) tail += w_at(dt, row0 + (size_t)r * rb, j) * x[t * ldx + j];
            y[t * ldy + o + r] = hsum8(acc[r][t]) + tail;
        }
}

HG_INLINE void mv_rows_f(hg_dtype dt, int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const hg_tensor *w,
                         int64_t o0, int64_t o1, int64_t n) {
    const int RMAX = TG <= 4 ? 2 : 1;
    int64_t o = o0;
    for (; o + RMAX <= o1; o += RMAX) mv_tile_f(dt, RMAX, TG, y, ldy, x, ldx, w, o, n);
    for (; o < o1; o++) mv_tile_f(dt, 1, TG, y, ldy, x, ldx, w, o, n);
}

HG_INLINE void mv_f(hg_dtype dt, float *y, int64_t ldy, const float *x, int64_t ldx, const hg_tensor *w, int64_t o0,
                    int64_t o1, int64_t n, int64_t T) {
    for (int64_t t0 = 0; t0 < T; t0 += 8) {
        float *yy = y + t0 * ldy;
        const float *xx = x + t0 * ldx;
        switch (hg_min_i64(8, T - t0)) {
        case 1: mv_rows_f(dt, 1, yy, ldy, xx, ldx, w, o0, o1, n); break;
        case 2: mv_rows_f(dt, 2, yy, ldy, xx, ldx, w, o0, o1, n); break;
        case 3: mv_rows_f(dt, 3, yy, ldy, xx, ldx, w, o0, o1, n); break;
        case 4: mv_rows_f(dt, 4, yy, ldy, xx, ldx, w, o0, o1, n); break;
        case 5: mv_rows_f(dt, 5, yy, ldy, xx, ldx, w, o0, o1, n); break;
        case 6: mv_rows_f(dt, 6, yy, ldy, xx, ldx, w, o0, o1, n); break;
        case 7: mv_rows_f(dt, 7, yy, ldy, xx, ldx, w, o0, o1, n); break;
        default: mv_rows_f(dt, 8, yy, ldy, xx, ldx, w, o0, o1, n); break;
        }
    }
}

static void mv_f32(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                   int64_t k0, int64_t n, int64_t T, bool acc) {
    HG_ASSERT(k0 == 0 && !acc);
    mv_f(HG_DTYPE_F32, y, ldy, x, ldx, w, o0, o1, n, T);
}
static void mv_bf16(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    HG_ASSERT(k0 == 0 && !acc);
    mv_f(HG_DTYPE_BF16, y, ldy, x, ldx, w, o0, o1, n, T);
}
static void mv_f16(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                   int64_t k0, int64_t n, int64_t T, bool acc) {
    HG_ASSERT(k0 == 0 && !acc);
    mv_f(HG_DTYPE_F16, y, ldy, x, ldx, w, o0, o1, n, T);
}

/* ---- matrix-vector, quantized dtypes ---------------------------------------------------------- */

/* One block b of the row (blocks start at b0) against TG positions, into acc[TG]. */
HG_INLINE void q_block(hg_dtype dt, int TG, __m256 *acc, const hg_block_q8x *x, int64_t ldx, const void *wdata,
                       int64_t b0, int64_t b) {
    const __m256i ones = _mm256_set1_epi16(1);
    float dw;
    __m256i wv;
    if (dt == HG_DTYPE_Q8_0) {
        const hg_block_q8_0 *q = (const hg_block_q8_0 *)wdata + b0 + b;
        dw = _cvtsh_ss(q->d);
        wv = _mm256_loadu_si256((const __m256i *)q->qs);
    } else {
        const hg_block_q4_0 *q = (const hg_block_q4_0 *)wdata + b0 + b;
        dw = _cvtsh_ss(q->d);
        const __m128i raw = _mm_loadu_si128((const __m128i *)q->qs);
        wv = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(15));
    }
    const __m256i aw = dt == HG_DTYPE_Q8_0 ? _mm256_sign_epi8(wv, wv) : wv; /* unsigned operand */
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) {
        const hg_block_q8x *xb = x + t * ldx + b;
        __m256i xq = _mm256_loadu_si256((const __m256i *)xb->qs);
        if (dt == HG_DTYPE_Q8_0) xq = _mm256_sign_epi8(xq, wv);
        __m256i dp = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xq), ones);
        if (dt == HG_DTYPE_Q4_0) dp = _mm256_sub_epi32(dp, _mm256_set1_epi32(xb->s)); /* 8 lanes: -8·Σq */
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(dw * xb->d), acc[t]);
    }
}

HG_INLINE void mv_row_q(hg_dtype dt, int TG, float *y, int64_t ldy, const hg_block_q8x *x, int64_t ldx,
                        const void *wdata, int64_t b0, int64_t nb, int64_t o, bool accum) {
    __m256 acc[4][2];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) { /* even blocks into acc[.][0], odd into acc[.][1] */
        __m256 a0[8], a1[8];
        _Pragma("GCC unroll 8") for (int t = 0; t < TG; t++) {
            a0[t] = acc[t][0];
            a1[t] = acc[t][1];
        }
        q_block(dt, TG, a0, x, ldx, wdata, b0, b);
        q_block(dt, TG, a1, x, ldx, wdata, b0, b + 1);
        _Pragma("GCC unroll 8") for (int t = 0; t < TG; t++) {
            acc[t][0] = a0[t];
            acc[t][1] = a1[t];
        }
    }
    if (b < nb) {
        __m256 a0[8];
        _Pragma("GCC unroll 8") for (int t = 0; t < TG; t++) a0[t] = acc[t][0];
        q_block(dt, TG, a0, x, ldx, wdata, b0, b);
        _Pragma("GCC unroll 8") for (int t = 0; t < TG; t++) acc[t][0] = a0[t];
    }
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) {
        const float r = hsum8(_mm256_add_ps(acc[t][0], acc[t][1]));
        y[t * ldy + o] = accum ? y[t * ldy + o] + r : r;
    }
}

HG_INLINE void mv_q(hg_dtype dt, float *y, int64_t ldy, const void *xv, int64_t ldx, const hg_tensor *w, int64_t o0,
                    int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {
    const hg_block_q8x *x = xv;
    const int64_t nbr = w->ne[1] / HG_QK, nb = n / HG_QK;
    for (int64_t o = o0; o < o1; o++) {
        const int64_t b0 = o * nbr + k0 / HG_QK;
        for (int64_t t0 = 0; t0 < T; t0 += 4) {
            float *yy = y + t0 * ldy;
            const hg_block_q8x *xx = x + t0 * ldx;
            switch (hg_min_i64(4, T - t0)) {
            case 1: mv_row_q(dt, 1, yy, ldy, xx, ldx, w->data, b0, nb, o, acc); break;
            case 2: mv_row_q(dt, 2, yy, ldy, xx, ldx, w->data, b0, nb, o, acc); break;
            case 3: mv_row_q(dt, 3, yy, ldy, xx, ldx, w->data, b0, nb, o, acc); break;
            default: mv_row_q(dt, 4, yy, ldy, xx, ldx, w->data, b0, nb, o, acc); break;
            }
        }
    }
}

static void mv_q8_0(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(HG_DTYPE_Q8_0, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}
static void mv_q4_0(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(HG_DTYPE_Q4_0, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}

/* ---- vector helpers for attention ------------------------------------------------------------- */

float hg_vec_dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float tail = 0;
    for (; i < n; i++) tail += a[i] * b[i];
    return hsum8(acc) + tail;
}

void hg_vec_axpy_avx2(float *y, float a, const float *x, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* The same with the second operand a KV-cache entry stored in dt (F16 / BF16), widened by load_w8 /
 * w_at; the tail is summed after the lanes, as in hg_vec_dot_avx2. */
HG_INLINE float dot_kv(hg_dtype dt, const float *a, const void *b, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_w8(dt, b, i), acc);
    float tail = 0;
    for (; i < n; i++) tail += a[i] * w_at(dt, b, i);
    return hsum8(acc) + tail;
}

HG_INLINE void axpy_kv(hg_dtype dt, float *y, float a, const void *x, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, load_w8(dt, x, i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * w_at(dt, x, i);
}

float hg_vec_dot_f16_avx2(const float *a, const void *b, int64_t n) { return dot_kv(HG_DTYPE_F16, a, b, n); }
float hg_vec_dot_bf16_avx2(const float *a, const void *b, int64_t n) { return dot_kv(HG_DTYPE_BF16, a, b, n); }
void hg_vec_axpy_f16_avx2(float *y, float a, const void *x, int64_t n) { axpy_kv(HG_DTYPE_F16, y, a, x, n); }
void hg_vec_axpy_bf16_avx2(float *y, float a, const void *x, int64_t n) { axpy_kv(HG_DTYPE_BF16, y, a, x, n); }

const hg_kern_table hg_kern_avx2 = {
    .level = HG_CPU_AVX2,
    .mv = {[HG_DTYPE_F32] = mv_f32, [HG_DTYPE_F16] = mv_f16, [HG_DTYPE_BF16] = mv_bf16, [HG_DTYPE_Q8_0] = mv_q8_0,
           [HG_DTYPE_Q4_0] = mv_q4_0},
    .mv_q8x = {[HG_DTYPE_Q8_0] = true, [HG_DTYPE_Q4_0] = true},
    .dot = hg_vec_dot_avx2,
    .axpy = hg_vec_axpy_avx2,
};
