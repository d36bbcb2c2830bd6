/*
 * matmul_avx512.c — the AVX-512 kernel table (compiled with -mavx512f/bw/vl/dq/vnni/bf16; chosen at
 * run time only when cpu.c reports them). Scalar twins: mv_scalar and dot_f32 in matmul.c.
 *
 * Matrix-vector (decode, T <= 8): up to 4 rows of W are streamed at once and each 16-element piece,
 * widened to f32 in registers (bf16: zero-extend and shift; f16: vcvtph2ps), feeds an FMA for every
 * position, so W is read from memory exactly once per call whatever T is. Each (row, position) keeps
 * one 16-lane accumulator, reduced once at the end: the same operations for every row and position,
 * so which rows share a call (and so the thread count) never changes a result.
 * Q8_0 / Q4_0 rows meet activations quantized to Q8X: per 32-element block one VNNI vpdpbusd (unsigned
 * x signed bytes -> 8 int32 lanes) then one f32 FMA by d_w·d_x. Q8_0 uses ggml's sign trick
 * (|w| · sign(x, w)); Q4_0 feeds its stored nibbles (w+8, already unsigned) and starts the int32 lanes at
 * -Σq_x so the 8 lanes sum to Σ(w-8)·q_x exactly.
 *
 * Blocked (prefill / verification, T > 8): a K block of 256 inputs of x is packed position-major
 * (xp[k][t]) once and shared by all threads; each thread takes groups of 12 W rows, widens them to f32
 * (wp[r][k]), and runs a 12 x 32 register tile: per k, two vector loads of x (32 positions) and 24
 * FMAs against a broadcast weight. Lanes run along positions, so every y element is a plain
 * sequential FMA chain over k — no horizontal sums, identical for any tiling or thread count. The
 * partial tile is gathered from / scattered to y between K blocks (y is [T, n_out], lanes are
 * positions). f32 accumulation throughout: vdpbf16ps would double the peak for bf16 weights but
 * rounds activations to bf16 (8 bits of mantissa), which breaks the 1e-4 golden tolerance; it is
 * not used.
 */
#include "kernels/dispatch.h"

#include <immintrin.h>
#include <omp.h>

#define HG_INLINE static inline __attribute__((always_inline))

/* ---- widening W to f32 ------------------------------------------------------------------------ */

/* 16 elements of a float-dtype row at element i, as f32 (masked lanes read nothing and are 0). */
HG_INLINE __m512 load_w16(hg_dtype dt, const void *row, int64_t i, __mmask16 m) {
    switch (dt) {
    case HG_DTYPE_BF16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case HG_DTYPE_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i));
    default: return _mm512_maskz_loadu_ps(m, (const float *)row + i);
    }
}

static size_t elem_bytes(hg_dtype dt) { return dt == HG_DTYPE_F32 ? 4 : 2; }

/* dst[len] = elements [k0, k0+len) of row o as f32 (quantized: k0, len multiples of 32). */
static void widen_piece(const hg_tensor *w, int64_t o, int64_t k0, int64_t len, float *dst) {
    const int64_t n = w->ne[1];
    if (w->dtype == HG_DTYPE_Q8_0 || w->dtype == HG_DTYPE_Q4_0) {
        const int64_t b0 = (o * n + k0) / HG_QK;
        for (int64_t b = 0; b < len / HG_QK; b++) {
            __m512 lo, hi, d;
            if (w->dtype == HG_DTYPE_Q8_0) {
                const hg_block_q8_0 *q = (const hg_block_q8_0 *)w->data + b0 + b;
                d = _mm512_set1_ps(_cvtsh_ss(q->d));
                lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q->qs)));
                hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q->qs + 16))));
            } else {
                const hg_block_q4_0 *q = (const hg_block_q4_0 *)w->data + b0 + b;
                d = _mm512_set1_ps(_cvtsh_ss(q->d));
                const __m128i raw = _mm_loadu_si128((const __m128i *)q->qs), m4 = _mm_set1_epi8(15);
                const __m128i l = _mm_sub_epi8(_mm_and_si128(raw, m4), _mm_set1_epi8(8));
                const __m128i h = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), _mm_set1_epi8(8));
                lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(l));
                hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(h));
            }
            /* (float)q * d, the same product as hg_dequantize_row_* */
            _mm512_storeu_ps(dst + b * HG_QK, _mm512_mul_ps(lo, d));
            _mm512_storeu_ps(dst + b * HG_QK + 16, _mm512_mul_ps(hi, d));
        }
        return;
    }
    const void *row = (const uint8_t *)w->data + ((size_t)o * (size_t)n + (size_t)k0) * elem_bytes(w->dtype);
    int64_t i = 0;
    for (; i + 16 <= len; i += 16) _mm512_storeu_ps(dst + i, load_w16(w->dtype, row, i, 0xffff));
    if (i < len) {
        const __mmask16 m = (__mmask16)((1u << (len - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, load_w16(w->dtype, row, i, m));
    }
}

/* ---- matrix-vector, float dtypes -------------------------------------------------------------- */

/* R rows (o .. o+R-1) x TG positions; every (row, position) pair runs the identical sequence. */
HG_INLINE void mv_tile_f(hg_dtype dt, int R, int TG, float *y, int64_t ldy, const float *x, int64_t ldx,
                         const hg_tensor *w, int64_t o, int64_t n) {
    const size_t rb = (size_t)w->ne[1] * elem_bytes(dt);
    const uint8_t *row0 = (const uint8_t *)w->data + (size_t)o * rb;
    __m512 acc[4][8];
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) acc[r][t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 xv[8];
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) xv[t] = _mm512_loadu_ps(x + t * ldx + i);
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++) {
            const __m512 wv = load_w16(dt, row0 + (size_t)r * rb, i, 0xffff);
            _Pragma("GCC unroll 16")
            for (int t = 0; t < TG; t++) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 xv[8];
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) xv[t] = _mm512_maskz_loadu_ps(m, x + t * ldx + i);
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++) {
            const __m512 wv = load_w16(dt, row0 + (size_t)r * rb, i, m);
            _Pragma("GCC unroll 16")
            for (int t = 0; t < TG; t++) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) y[t * ldy + o + r] = _mm512_reduce_add_ps(acc[r][t]);
}

/* Rows o0..o1 for TG positions: groups of RMAX rows, then single rows. */
HG_INLINE void mv_rows_f(hg_dtype dt, int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const hg_tensor *w,
                         int64_t o0, int64_t o1, int64_t n) {
    const int RMAX = TG <= 4 ? 4 : 2;
    int64_t o = o0;
    for (; o + RMAX <= o1; o += RMAX) mv_tile_f(dt, RMAX, TG, y, ldy, x, ldx, w, o, n);
    for (; o < o1; o++) mv_tile_f(dt, 1, TG, y, ldy, x, ldx, w, o, n);
}

HG_INLINE void mv_f(hg_dtype dt, float *y, int64_t ldy, const float *x, int64_t ldx, const hg_tensor *w, int64_t o0,
                    int64_t o1, int64_t n, int64_t T) {
    for (int64_t t0 = 0; t0 < T; t0 += 8) {
        const int64_t tg = hg_min_i64(8, T - t0);
        float *yy = y + t0 * ldy;
        const float *xx = x + t0 * ldx;
        switch (tg) {
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

/* One row against TG quantized positions over nb blocks starting at block b0 of the row. Two
 * accumulators per position (even / odd blocks) hide the FMA latency; summed in a fixed order. */
/* One block b of the row (blocks start at b0) against TG positions, into acc[TG]. */
HG_INLINE void q_block(hg_dtype dt, int TG, __m256 *acc, const hg_block_q8x *x, int64_t ldx, const void *wdata,
                       int64_t b0, int64_t b) {
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
    if (dt == HG_DTYPE_Q8_0) {
        const __m256i aw = _mm256_sign_epi8(wv, wv); /* |w| as unsigned bytes */
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) {
            const hg_block_q8x *xb = x + t * ldx + b;
            const __m256i sx = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)xb->qs), wv);
            const __m256i dp = _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(dw * xb->d), acc[t]);
        }
    } else {
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) {
            const hg_block_q8x *xb = x + t * ldx + b;
            const __m256i dp = _mm256_dpbusd_epi32(_mm256_set1_epi32(-xb->s), wv,
                                                   _mm256_loadu_si256((const __m256i *)xb->qs));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(dw * xb->d), acc[t]);
        }
    }
}

HG_INLINE void mv_row_q(hg_dtype dt, int TG, float *y, int64_t ldy, const hg_block_q8x *x, int64_t ldx,
                        const void *wdata, int64_t b0, int64_t nb, int64_t o, bool accum) {
    __m256 acc[8][2];
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
        const __m256 s = _mm256_add_ps(acc[t][0], acc[t][1]);
        __m128 v = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        v = _mm_add_ps(v, _mm_movehl_ps(v, v));
        v = _mm_add_ss(v, _mm_movehdup_ps(v));
        const float r = _mm_cvtss_f32(v);
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

/* ---- blocked matrix-matrix -------------------------------------------------------------------- */

#define GEMM_KC 256 /* inputs per K block: wp is 12 KiB, xp at most 128 KiB */
#define GEMM_TB 128 /* positions per pass (the context chunk) */
#define GEMM_R 12   /* W rows per register tile */

/* y[t0+t, o0+r] (+)= Σ_k xp[k][tb+t] · wp[r][k] for r < R, t < 16·NV (lanes past Tv masked). */
HG_INLINE void gemm_tile(int R, int NV, float *y, int64_t n_out, int64_t o0, int64_t Tv, const float *xp,
                         int64_t Tp, const float *wp, int64_t kc, bool first) {
    __m512 acc[GEMM_R][2];
    __mmask16 m[2];
    const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int32_t)n_out));
    _Pragma("GCC unroll 16")
    for (int v = 0; v < NV; v++) {
        const int64_t left = Tv - 16 * v;
        m[v] = left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
    }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int v = 0; v < NV; v++)
            acc[r][v] = first ? _mm512_setzero_ps()
                              : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m[v], idx,
                                                         y + (16 * v) * n_out + o0 + r, 4);
    for (int64_t k = 0; k < kc; k++) {
        __m512 xv[2];
        _Pragma("GCC unroll 16")
        for (int v = 0; v < NV; v++) xv[v] = _mm512_load_ps(xp + k * Tp + 16 * v);
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++) {
            const __m512 bw = _mm512_set1_ps(wp[r * GEMM_KC + k]);
            _Pragma("GCC unroll 16")
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(xv[v], bw, acc[r][v]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int v = 0; v < NV; v++) _mm512_mask_i32scatter_ps(y + (16 * v) * n_out + o0 + r, m[v], idx, acc[r][v], 4);
}

HG_INLINE void gemm_tile_nv(int R, float *y, int64_t n_out, int64_t o0, int64_t Tv, const float *xp, int64_t Tp,
                            const float *wp, int64_t kc, bool first) {
    if (Tv > 16) gemm_tile(R, 2, y, n_out, o0, Tv, xp, Tp, wp, kc, first);
    else gemm_tile(R, 1, y, n_out, o0, Tv, xp, Tp, wp, kc, first);
}

static void gemm_group(int64_t R, float *y, int64_t n_out, int64_t o0, int64_t Tv, const float *xp, int64_t Tp,
                       const float *wp, int64_t kc, bool first) {
    switch (R) {
    case 12: gemm_tile_nv(12, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 11: gemm_tile_nv(11, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 10: gemm_tile_nv(10, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 9: gemm_tile_nv(9, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 8: gemm_tile_nv(8, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 7: gemm_tile_nv(7, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 6: gemm_tile_nv(6, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 5: gemm_tile_nv(5, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 4: gemm_tile_nv(4, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 3: gemm_tile_nv(3, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    case 2: gemm_tile_nv(2, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    default: gemm_tile_nv(1, y, n_out, o0, Tv, xp, Tp, wp, kc, first); break;
    }
}

static void gemm_avx512(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], n_in = w->ne[1];
    HG_ASSERT(n_out < ((int64_t)1 << 26)); /* 15·n_out fits the int32 gather index */
    HG_ASSERT(!(w->dtype == HG_DTYPE_Q8_0 || w->dtype == HG_DTYPE_Q4_0) || n_in % HG_QK == 0);
    const int64_t n_grp = (n_out + GEMM_R - 1) / GEMM_R;
    _Static_assert(GEMM_KC % HG_QK == 0, "K blocks must hold whole quant blocks");
    float xp[GEMM_KC * GEMM_TB] __attribute__((aligned(64))); /* [kc, Tp] shared by the team */
    for (int64_t t0 = 0; t0 < T; t0 += GEMM_TB) {
        const int64_t Tb = hg_min_i64(GEMM_TB, T - t0), Tp = (Tb + 15) / 16 * 16;
#pragma omp parallel if ((double)n_out * (double)n_in * (double)Tb >= HG_PAR_MIN_MACS)
        {
            float wp[GEMM_R * GEMM_KC] __attribute__((aligned(64))); /* [R, KC] this thread's W rows */
            for (int64_t k0 = 0; k0 < n_in; k0 += GEMM_KC) {
                const int64_t kc = hg_min_i64(GEMM_KC, n_in - k0);
#pragma omp for schedule(static)
                for (int64_t t = 0; t < Tp; t++)
                    for (int64_t k = 0; k < kc; k++) xp[k * Tp + t] = t < Tb ? x[(t0 + t) * n_in + k0 + k] : 0.0f;
#pragma omp for schedule(static)
                for (int64_t g = 0; g < n_grp; g++) {
                    const int64_t o0 = g * GEMM_R, R = hg_min_i64(GEMM_R, n_out - o0);
                    for (int64_t r = 0; r < R; r++) widen_piece(w, o0 + r, k0, kc, wp + r * GEMM_KC);
                    for (int64_t tb = 0; tb < Tp; tb += 32)
                        gemm_group(R, y + (t0 + tb) * n_out, n_out, o0, Tb - tb, xp + tb, Tp, wp, kc, k0 == 0);
                }
            }
        }
    }
}

/* ---- vector helpers for attention ------------------------------------------------------------- */

float hg_vec_dot_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

void hg_vec_axpy_avx512(float *y, float a, const float *x, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* The same with the second operand a KV-cache entry stored in dt (F16 / BF16), widened in registers
 * by load_w16: the KV cache is read at 2 bytes per element, compute stays f32. */
HG_INLINE float dot_kv(hg_dtype dt, const float *a, const void *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load_w16(dt, b, i, 0xffff), acc);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), load_w16(dt, b, i, m), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

HG_INLINE void axpy_kv(hg_dtype dt, float *y, float a, const void *x, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, load_w16(dt, x, i, 0xffff), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, load_w16(dt, x, i, m), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

float hg_vec_dot_f16_avx512(const float *a, const void *b, int64_t n) { return dot_kv(HG_DTYPE_F16, a, b, n); }
float hg_vec_dot_bf16_avx512(const float *a, const void *b, int64_t n) { return dot_kv(HG_DTYPE_BF16, a, b, n); }
void hg_vec_axpy_f16_avx512(float *y, float a, const void *x, int64_t n) { axpy_kv(HG_DTYPE_F16, y, a, x, n); }
void hg_vec_axpy_bf16_avx512(float *y, float a, const void *x, int64_t n) { axpy_kv(HG_DTYPE_BF16, y, a, x, n); }

const hg_kern_table hg_kern_avx512 = {
    .level = HG_CPU_AVX512,
    .mv = {[HG_DTYPE_F32] = mv_f32, [HG_DTYPE_F16] = mv_f16, [HG_DTYPE_BF16] = mv_bf16, [HG_DTYPE_Q8_0] = mv_q8_0,
           [HG_DTYPE_Q4_0] = mv_q4_0},
    .mv_q8x = {[HG_DTYPE_Q8_0] = true, [HG_DTYPE_Q4_0] = true},
    .gemm = {[HG_DTYPE_F32] = gemm_avx512, [HG_DTYPE_F16] = gemm_avx512, [HG_DTYPE_BF16] = gemm_avx512,
             [HG_DTYPE_Q8_0] = gemm_avx512, [HG_DTYPE_Q4_0] = gemm_avx512},
    .dot = hg_vec_dot_avx512,
    .axpy = hg_vec_axpy_avx512,
};
