/*
 * matmul_avx2.c — the AVX2 + FMA + F16C kernel table, for x86-64 CPUs without AVX-512 (compiled with
 * -mavx2 -mfma -mf16c, chosen at run time). Scalar twins: mv_scalar and dot_f32 in matmul.c.
 *
 * Matrix-vector (decode, T <= 8): the plan of matmul_avx512.c at 8 lanes: rows of W are widened in
 * registers and meet every position (4 rows x 2 positions, 2 x 4, or 1 row x 8, fits the 16 ymm registers);
 * the elements past the last multiple of 8 run in a scalar tail, added after the lane sum. Quantized
 * rows use vpmaddubsw + vpmaddwd (ggml's AVX2 integer dot); no 16-bit overflow is possible because
 * both operands are at most 127 in magnitude (Q4_0: 15 · 127). Their row stream is prefetched in
 * software (the hardware prefetchers alone left T = 1 at ~50 % of the read bandwidth).
 *
 * Blocked (prefill / verification, T > 8): lanes run along output rows (as in gemm_avx512.c, which
 * scales the same design to 32 rows x 12 positions). Per K block of 256 inputs a thread widens 16 W rows to f32 and transposes them into
 * wp[k][16] (8x8 register transposes; quantized rows dequantized exactly, (float)q·d as the reference),
 * then runs a 16 x 6 register tile over all positions: per k two aligned loads of wp, six broadcasts of
 * x straight from its [T, n_in] rows, 12 FMAs. 12 accumulators + 2 weight vectors + 1 broadcast = 15
 * of the 16 ymm registers; 8 loads per 12 FMAs stays under the load ports (2-3 per cycle) while the 2
 * FMA ports are the limit. Every y element is a sequential FMA chain over k (the partial tile goes
 * back to y between K blocks, exactly, as f32), so a result depends neither on the tiling nor on the
 * thread count — and is bit-identical to the AVX-512 blocked kernel's (same chain, same rounding).
 * Why lanes along rows: y is [T, n_out], so a tile row of 16 outputs is a contiguous (masked at the
 * n_out tail) load/store, x needs no packing, and threads share nothing (no barrier per K block).
 * Lanes along positions (rejected for AVX-512 too, gemm_avx512.c) would need a team-packed transposed x and,
 * without AVX2 scatters, a transpose of every partial tile to and from y per K block; the price here is the W
 * transpose, ~0.4 shuffles per weight element, amortized over the T positions (~4 cycles of FMAs
 * per element at T = 64).
 *
 * Two tables: hg_kern_avx2, and on CPUs with AVX-VNNI hg_kern_avx2_vnni, the same but for the
 * Q8_0/Q4_0 blocked products, which take Q8X activations and run on vpdpbusd (gemm_q8_avxvnni.c,
 * compiled with -mavxvnni; this file stays AVX2), and Q8_0 decode, whose block dot takes vpdpbusd
 * (inline assembly, same lanes, same bits). Both use hg_quantize_row_q8x_avx2 (below).
 */
#include "kernels/dispatch.h"
#include "kernels/mv_float.h"
#include "kernels/gemm_rows.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>

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
    __m256 acc[4][8];
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    const bool pf = w->nbytes >= HG_MV_PF_MIN;
    for (; i + 8 <= n; i += 8) {
        const size_t at = (size_t)i * elem_bytes(dt);
        if (pf && at % 64 == 0) hg_mv_prefetch_rows(row0, rb, R, at); /* mv_float.h */
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++) {
            const __m256 wv = load_w8(dt, row0 + (size_t)r * rb, i);
            _Pragma("GCC unroll 16")
            for (int t = 0; t < TG; t++) acc[r][t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * ldx + i), acc[r][t]);
        }
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

/* Rows per tile: each (row, position) is one FMA chain of 8 lanes (the order T = 1 and T = 2..8 share,
 * so a batch equals each sequence alone), and a chain adds 16 bytes of bf16 per FMA latency (4
 * cycles): with 2 rows at T = 1 that is ~8 bytes per cycle and core, the memory stream's own rate, so
 * T = 1 and 2 take 4 rows (1.2-1.35x from DRAM on Zen 5; docs/results/kernels.md, "AVX2 decode"). */
HG_INLINE void mv_rows_f(hg_dtype dt, int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const hg_tensor *w,
                         int64_t o0, int64_t o1, int64_t n) {
    const int RMAX = TG <= 2 ? 4 : TG <= 4 ? 2 : 1;
    int64_t o = o0;
    for (; o + RMAX <= o1; o += RMAX) mv_tile_f(dt, RMAX, TG, y, ldy, x, ldx, w, o, n);
    for (; o < o1; o++) mv_tile_f(dt, 1, TG, y, ldy, x, ldx, w, o, n);
}

HG_MV_FLOAT_ENTRIES(mv_rows_f) /* mv_f32 / mv_f16 / mv_bf16: mv_float.h */

/* ---- Q8X activations -------------------------------------------------------------------------- */

/* hg_quantize_row_q8x bit for bit (test_kernels: test_quant_q8x): the same amax, d = amax/127 and
 * id = 1/d, then roundf(x·id) as trunc + (|frac| >= 0.5 ? ±1 : 0), exact for |x·id| <= 127. A block
 * with a NaN or an infinity (x - x is not 0) gets d = NaN and zero quants, as there. */
void hg_quantize_row_q8x_avx2(const float *x, hg_block_q8x *dst, int64_t n) {
    HG_ASSERT(n % HG_QK == 0);
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < n / HG_QK; i++, x += HG_QK) {
        __m256 a[4], bad = _mm256_setzero_ps(), m = _mm256_setzero_ps();
        _Pragma("GCC unroll 4")
        for (int j = 0; j < 4; j++) {
            a[j] = _mm256_loadu_ps(x + 8 * j);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(a[j], a[j]), _mm256_setzero_ps(), _CMP_NEQ_UQ));
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, a[j]));
        }
        if (_mm256_movemask_ps(bad)) {
            memset(dst[i].qs, 0, sizeof dst[i].qs);
            dst[i].d = NAN;
            dst[i].s = 0;
            continue;
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h), d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        __m256i q[4];
        _Pragma("GCC unroll 4")
        for (int j = 0; j < 4; j++) {
            const __m256 v = _mm256_mul_ps(a[j], _mm256_set1_ps(id));
            const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(v, t)), half, _CMP_GE_OQ);
            q[j] = _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(one, _mm256_and_ps(v, sign)))));
        }
        /* 32 int32 -> 32 int8 in order: the packs interleave 128-bit lanes, the permute undoes it */
        const __m256i b8 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        _mm256_storeu_si256((__m256i *)dst[i].qs, _mm256_permutevar8x32_epi32(b8, order));
        __m256i sv = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sv), _mm256_extracti128_si256(sv, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        dst[i].d = d;
        dst[i].s = _mm_cvtsi128_si32(s4);
    }
}

/* ---- matrix-vector, quantized dtypes ---------------------------------------------------------- */

/* Software prefetch of the row stream (bytes ahead), to L2 and to L1: one row stream per core with
 * the hardware prefetchers alone left the integer-dot kernel at ~50-60 % of the read bandwidth even
 * where it had compute to spare (the same distances as the AVX-512 kernel; measured in
 * matmul_avx512.c's notes). */
#define Q_PF_L2 12288
#define Q_PF_L1 2048

/* AVX-VNNI's vpdpbusd (VEX, 256-bit) on zero or c: lane i = c_i + Σ_j u[4i+j]·s[4i+j], exactly
 * what vpmaddubsw + vpmaddwd give when no 16-bit pair saturates (none can here, see the top), so
 * both forms produce the same lanes. Inline assembly: the intrinsic needs -mavxvnni, which this file
 * does not get (it runs on every AVX2 CPU; only hg_kern_avx2_vnni's mv functions reach this). */
HG_INLINE __m256i dpbusd_vex(__m256i c, __m256i u, __m256i sgn) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(c) : "x"(u), "x"(sgn));
    return c;
}

/* One block b of the row (blocks start at b0) against TG positions, into acc[TG]; vnni: the integer
 * dot by vpdpbusd (same lanes). */
HG_INLINE void q_block(hg_dtype dt, bool vnni, int TG, __m256 *acc, const hg_block_q8x *x, int64_t ldx, const void *wdata,
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
        /* low nibbles in the lower 16 bytes, high ones in the upper. At T = 1: a broadcast load and a
         * per-lane shift (no shuffle; +13 % compute, +15 % from DRAM); at T >= 2 a shift and a lane
         * insert (the variable shift competes with the per-position integer work there: -13 %). */
        if (TG == 1) {
            const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q->qs));
            wv = _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(15));
        } else {
            const __m128i raw = _mm_loadu_si128((const __m128i *)q->qs);
            wv = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(15));
        }
    }
    const __m256i aw = dt == HG_DTYPE_Q8_0 ? _mm256_sign_epi8(wv, wv) : wv; /* unsigned operand */
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) {
        const hg_block_q8x *xb = x + t * ldx + b;
        __m256i xq = _mm256_loadu_si256((const __m256i *)xb->qs);
        if (dt == HG_DTYPE_Q8_0) xq = _mm256_sign_epi8(xq, wv);
        __m256i dp;
        if (vnni) /* Q4_0: the lanes start at -Σq (8 lanes: -8·Σq) */
            dp = dpbusd_vex(dt == HG_DTYPE_Q4_0 ? _mm256_set1_epi32(-xb->s) : _mm256_setzero_si256(), aw, xq);
        else {
            dp = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xq), ones);
            if (dt == HG_DTYPE_Q4_0) dp = _mm256_sub_epi32(dp, _mm256_set1_epi32(xb->s)); /* 8 lanes: -8·Σq */
        }
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(dw * xb->d), acc[t]);
    }
}

HG_INLINE void mv_row_q(hg_dtype dt, bool vnni, int TG, float *y, int64_t ldy, const hg_block_q8x *x, int64_t ldx,
                        const void *wdata, int64_t b0, int64_t nb, int64_t o, bool accum) {
    __m256 acc[4][2];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    const char *wb = (const char *)wdata + b0 * (dt == HG_DTYPE_Q8_0 ? 34 : 18); /* the row's bytes */
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) { /* even blocks into acc[.][0], odd into acc[.][1] */
        __m256 a0[8], a1[8];
        const char *at = wb + b * (dt == HG_DTYPE_Q8_0 ? 34 : 18);
        _mm_prefetch(at + Q_PF_L2, _MM_HINT_T1);
        _mm_prefetch(at + Q_PF_L1, _MM_HINT_T0);
        _Pragma("GCC unroll 8") for (int t = 0; t < TG; t++) {
            a0[t] = acc[t][0];
            a1[t] = acc[t][1];
        }
        q_block(dt, vnni, TG, a0, x, ldx, wdata, b0, b);
        q_block(dt, vnni, TG, a1, x, ldx, wdata, b0, b + 1);
        _Pragma("GCC unroll 8") for (int t = 0; t < TG; t++) {
            acc[t][0] = a0[t];
            acc[t][1] = a1[t];
        }
    }
    if (b < nb) {
        __m256 a0[8];
        _Pragma("GCC unroll 8") for (int t = 0; t < TG; t++) a0[t] = acc[t][0];
        q_block(dt, vnni, TG, a0, x, ldx, wdata, b0, b);
        _Pragma("GCC unroll 8") for (int t = 0; t < TG; t++) acc[t][0] = a0[t];
    }
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) {
        const float r = hsum8(_mm256_add_ps(acc[t][0], acc[t][1]));
        y[t * ldy + o] = accum ? y[t * ldy + o] + r : r;
    }
}

HG_INLINE void mv_q(hg_dtype dt, bool vnni, float *y, int64_t ldy, const void *xv, int64_t ldx, const hg_tensor *w, int64_t o0,
                    int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {
    const hg_block_q8x *x = xv;
    const int64_t nbr = w->ne[1] / HG_QK, nb = n / HG_QK;
    for (int64_t o = o0; o < o1; o++) {
        const int64_t b0 = o * nbr + k0 / HG_QK;
        for (int64_t t0 = 0; t0 < T; t0 += 4) {
            float *yy = y + t0 * ldy;
            const hg_block_q8x *xx = x + t0 * ldx;
            switch (hg_min_i64(4, T - t0)) {
            case 1: mv_row_q(dt, vnni, 1, yy, ldy, xx, ldx, w->data, b0, nb, o, acc); break;
            case 2: mv_row_q(dt, vnni, 2, yy, ldy, xx, ldx, w->data, b0, nb, o, acc); break;
            case 3: mv_row_q(dt, vnni, 3, yy, ldy, xx, ldx, w->data, b0, nb, o, acc); break;
            default: mv_row_q(dt, vnni, 4, yy, ldy, xx, ldx, w->data, b0, nb, o, acc); break;
            }
        }
    }
}

static void mv_q8_0(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(HG_DTYPE_Q8_0, false, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}
static void mv_q4_0(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(HG_DTYPE_Q4_0, false, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}
/* Q8_0 on vpdpbusd (hg_kern_avx2_vnni only: AVX-VNNI CPUs), bit for bit mv_q8_0: one instruction for
 * vpmaddubsw + vpmaddwd, 1.06-1.16x in cache at T = 1..8, neutral from DRAM. Q4_0 keeps vpmaddubsw:
 * 0.99x at T = 1 in cache and 0.93-1.00x end to end (docs/results/kernels.md, "AVX2 level: AVX-VNNI
 * prefill"). */
static void mv_q8_0_vnni(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                         int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(HG_DTYPE_Q8_0, true, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}

/* ---- blocked matrix-matrix -------------------------------------------------------------------- */

#define GEMM_KC HG_ROWS_KC /* inputs per K block: wp is 16 KiB (L1), the K slice of x at most 128 KiB (L2) */
#define GEMM_TB 128 /* positions per pass (the context chunk) */
#define GEMM_R 16   /* W rows per group: two ymm of outputs */
#define GEMM_TG 6   /* positions per register tile */

/* Elements [k, k+8) of the row at `row` (its first element) as f32, the values hg_tensor_row_f32
 * gives. Quantized: `row` is the row's first block, k % 8 == 0, so the 8 never straddle a block. */
HG_INLINE __m256 widen8(hg_dtype dt, const void *row, int64_t k) {
    if (dt == HG_DTYPE_Q8_0) {
        const hg_block_q8_0 *q = (const hg_block_q8_0 *)row + k / HG_QK;
        const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q->qs + k % HG_QK)));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(_cvtsh_ss(q->d)));
    }
    if (dt == HG_DTYPE_Q4_0) { /* element j < 16: low nibble of qs[j]; j >= 16: high nibble of qs[j-16] */
        const hg_block_q4_0 *q = (const hg_block_q4_0 *)row + k / HG_QK;
        const int64_t j = k % HG_QK;
        __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q->qs + (j & 15))));
        v = j < 16 ? _mm256_and_si256(v, _mm256_set1_epi32(15)) : _mm256_srli_epi32(v, 4);
        v = _mm256_sub_epi32(v, _mm256_set1_epi32(8));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(_cvtsh_ss(q->d)));
    }
    return load_w8(dt, row, k);
}

/* In place: v[r] lane j  ->  v[j] lane r. Unpack pairs, then quads, then swap 128-bit halves. */
HG_INLINE void transpose8(__m256 v[8]) {
    __m256 a[8], b[8];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 8; i += 2) {
        a[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);     /* r_i k0 r_i+1 k0 r_i k1 r_i+1 k1 | k4, k5 */
        a[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]); /* k2, k3 | k6, k7 */
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 8; i += 4) {
        b[i] = _mm256_shuffle_ps(a[i], a[i + 2], 0x44);     /* r_i..r_i+3 at k0 | k4 */
        b[i + 1] = _mm256_shuffle_ps(a[i], a[i + 2], 0xee); /* k1 | k5 */
        b[i + 2] = _mm256_shuffle_ps(a[i + 1], a[i + 3], 0x44); /* k2 | k6 */
        b[i + 3] = _mm256_shuffle_ps(a[i + 1], a[i + 3], 0xee); /* k3 | k7 */
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(b[i], b[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(b[i], b[i + 4], 0x31);
    }
}

/* wp[k][r] = W[o0 + r][k0 + k] as f32 for k < kc rounded up to 8 (zeros past kc), r < 16 (zeros for
 * r >= R). Float dtypes: any kc, the last partial 8 read element by element; quantized: kc % 32 == 0. */
HG_INLINE void pack_w(hg_dtype dt, const hg_tensor *w, int64_t o0, int64_t R, int64_t k0, int64_t kc, float *wp) {
    const int64_t n = w->ne[1];
    const size_t rb = dt == HG_DTYPE_Q8_0   ? (size_t)(n / HG_QK) * sizeof(hg_block_q8_0)
                      : dt == HG_DTYPE_Q4_0 ? (size_t)(n / HG_QK) * sizeof(hg_block_q4_0)
                                            : (size_t)n * elem_bytes(dt);
    const uint8_t *base = (const uint8_t *)w->data + (size_t)o0 * rb;
    for (int64_t h = 0; h < GEMM_R; h += 8)
        for (int64_t k = 0; k < kc; k += 8) {
            __m256 v[8];
            _Pragma("GCC unroll 8")
            for (int r = 0; r < 8; r++) {
                if (h + r >= R) {
                    v[r] = _mm256_setzero_ps();
                    continue;
                }
                const void *row = base + (size_t)(h + r) * rb;
                if (dt == HG_DTYPE_Q8_0 || dt == HG_DTYPE_Q4_0 || k + 8 <= kc) v[r] = widen8(dt, row, k0 + k);
                else {
                    float tail[8] = {0};
                    for (int64_t j = 0; j < kc - k; j++) tail[j] = w_at(dt, row, k0 + k + j);
                    v[r] = _mm256_loadu_ps(tail);
                }
            }
            transpose8(v);
            _Pragma("GCC unroll 8")
            for (int j = 0; j < 8; j++) _mm256_store_ps(wp + (k + j) * GEMM_R + h, v[j]);
        }
}

/* y[0..15] = a0, a1: rows past the group's end masked (m0, m1) unless the group is full */
HG_INLINE void store16(float *y, __m256 a0, __m256 a1, bool full, __m256i m0, __m256i m1) {
    if (full) {
        _mm256_storeu_ps(y, a0);
        _mm256_storeu_ps(y + 8, a1);
    } else {
        _mm256_maskstore_ps(y, m0, a0);
        _mm256_maskstore_ps(y + 8, m1, a1);
    }
}

/* y[t][r] (+)= Σ_k x[t][k] · wp[k][r] for t < TG, r < 16; y and x already point at (t, o0) and (t, k0).
 * Rows past the group's end are masked (m0, m1) unless the group is full. */
HG_INLINE void gemm_tile(int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const float *wp, int64_t kc,
                         bool full, __m256i m0, __m256i m1, bool first) {
    __m256 acc[GEMM_TG][2];
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) {
        float *yt = y + t * ldy;
        if (first) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        else if (full) {
            acc[t][0] = _mm256_loadu_ps(yt);
            acc[t][1] = _mm256_loadu_ps(yt + 8);
        } else {
            acc[t][0] = _mm256_maskload_ps(yt, m0);
            acc[t][1] = _mm256_maskload_ps(yt + 8, m1);
        }
    }
    for (int64_t k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_load_ps(wp + k * GEMM_R), w1 = _mm256_load_ps(wp + k * GEMM_R + 8);
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++) {
            const __m256 xb = _mm256_broadcast_ss(x + t * ldx + k);
            acc[t][0] = _mm256_fmadd_ps(w0, xb, acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(w1, xb, acc[t][1]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) store16(y + t * ldy, acc[t][0], acc[t][1], full, m0, m1);
}

/* One group of R <= 16 rows (packed in wp) against Tb positions, in tiles of 6 then the rest. */
static void gemm_group(float *y, int64_t ldy, const float *x, int64_t ldx, const float *wp, int64_t kc, int64_t R,
                       int64_t Tb, bool first) {
    const bool full = R == GEMM_R;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), rr = _mm256_set1_epi32((int32_t)R);
    const __m256i m0 = _mm256_cmpgt_epi32(rr, lane); /* lane r on when r < R */
    const __m256i m1 = _mm256_cmpgt_epi32(rr, _mm256_add_epi32(lane, _mm256_set1_epi32(8)));
    int64_t t = 0;
    for (; t + GEMM_TG <= Tb; t += GEMM_TG)
        gemm_tile(GEMM_TG, y + t * ldy, ldy, x + t * ldx, ldx, wp, kc, full, m0, m1, first);
    float *yt = y + t * ldy;
    const float *xt = x + t * ldx;
    switch (Tb - t) {
    case 5: gemm_tile(5, yt, ldy, xt, ldx, wp, kc, full, m0, m1, first); break;
    case 4: gemm_tile(4, yt, ldy, xt, ldx, wp, kc, full, m0, m1, first); break;
    case 3: gemm_tile(3, yt, ldy, xt, ldx, wp, kc, full, m0, m1, first); break;
    case 2: gemm_tile(2, yt, ldy, xt, ldx, wp, kc, full, m0, m1, first); break;
    case 1: gemm_tile(1, yt, ldy, xt, ldx, wp, kc, full, m0, m1, first); break;
    default: break;
    }
}

HG_ROWS_PACK_BY_DTYPE(pack_w_any, pack_w)

/* ---- bf16 laid out once (prepack_bf16): gemm_rows.h's packed layout at 16 rows ------------------ */

/* 32 bytes per k. Every product walks a group once per pass of up to 6 positions (16 registers: 12
 * sums, 2 weights, 1 broadcast) with the FMA chain over k from +0 — the tile's arithmetic on the stored
 * rows, bit for bit — so a position's result is the same at every T. */
#define BP2_PF 8192 /* bytes ahead in a group's stream for the walk's prefetch */

static void gemm_avx2(float *y, const float *x, const hg_tensor *w, int64_t T);

static void *prepack_bf16(const hg_tensor *w) { return hg_bf16_prepack(w, GEMM_R, gemm_avx2); }

HG_INLINE void bp2_walk(int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const uint16_t *g, int64_t K,
                        bool full, __m256i m0, __m256i m1) {
    __m256 acc[GEMM_TG][2];
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        _mm_prefetch((const char *)(g + k * GEMM_R) + BP2_PF, _MM_HINT_T0);
        const __m256i a = _mm256_load_si256((const __m256i *)(const void *)(g + k * GEMM_R));
        const __m256 w0 = _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), a));
        const __m256 w1 = _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), a));
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++) {
            const __m256 xb = _mm256_broadcast_ss(x + t * ldx + k);
            acc[t][0] = _mm256_fmadd_ps(w0, xb, acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(w1, xb, acc[t][1]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) store16(y + t * ldy, acc[t][0], acc[t][1], full, m0, m1);
}

/* bp2_walk over NG adjacent full groups at once (group j at g + j·K·16, outputs y + 16·j), as the
 * AVX-512 walk does at one and two positions (gemm_avx512.c bp_walk_groups): more independent chains
 * per line, each output's chain unchanged, so the sums are bp2_walk's bit for bit. */
HG_INLINE void bp2_walk_groups(int NG, int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const uint16_t *g,
                               int64_t K) {
    __m256 acc[2][4][2];
    _Pragma("GCC unroll 2")
    for (int t = 0; t < TG; t++)
        _Pragma("GCC unroll 4")
        for (int j = 0; j < NG; j++) acc[t][j][0] = acc[t][j][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        _Pragma("GCC unroll 4")
        for (int j = 0; j < NG; j++) {
            const uint16_t *gk = g + ((size_t)j * (size_t)K + (size_t)k) * GEMM_R;
            _mm_prefetch((const char *)gk + BP2_PF, _MM_HINT_T0);
            const __m256i a = _mm256_load_si256((const __m256i *)(const void *)gk);
            const __m256 w0 = _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), a));
            const __m256 w1 = _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), a));
            _Pragma("GCC unroll 2")
            for (int t = 0; t < TG; t++) {
                const __m256 xb = _mm256_broadcast_ss(x + t * ldx + k);
                acc[t][j][0] = _mm256_fmadd_ps(w0, xb, acc[t][j][0]);
                acc[t][j][1] = _mm256_fmadd_ps(w1, xb, acc[t][j][1]);
            }
        }
    }
    const __m256i ones = _mm256_set1_epi32(-1);
    _Pragma("GCC unroll 2")
    for (int t = 0; t < TG; t++)
        _Pragma("GCC unroll 4")
        for (int j = 0; j < NG; j++) store16(y + t * ldy + GEMM_R * j, acc[t][j][0], acc[t][j][1], true, ones, ones);
}

/* Grabs of whole groups (~HG_MV_GRAB bytes, at least the groups walked together) walked in order;
 * equal passes of up to 6 positions over a group while it is in L2. */
static void bp2_products(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], K = w->ne[1], n_grp = (n_out + GEMM_R - 1) / GEMM_R;
    const int64_t grab = hg_max_i64(hg_bf16_walk_grab_min(T), HG_MV_GRAB / (K * GEMM_R * (int64_t)sizeof(uint16_t)));
    const int64_t n_grab = (n_grp + grab - 1) / grab, n_pass = (T + GEMM_TG - 1) / GEMM_TG;
#pragma omp parallel for schedule(dynamic, 1) if ((double)n_out * (double)K * (double)T >= HG_PAR_MIN_MACS)
    for (int64_t gr = 0; gr < n_grab; gr++)
        for (int64_t gi = gr * grab, ge = hg_min_i64(n_grp, (gr + 1) * grab); gi < ge; gi++) {
            const int64_t o0 = gi * GEMM_R, R = hg_min_i64(GEMM_R, n_out - o0);
            const int64_t ng = hg_bf16_walk_together(T, GEMM_R, gi, ge, o0, n_out); /* groups walked together */
            if (ng > 1) {
                const uint16_t *g = hg_bf16_packed_group(w, GEMM_R, gi);
                if (ng == 4) bp2_walk_groups(4, 1, y + o0, n_out, x, K, g, K);
                else if (T == 1) bp2_walk_groups(2, 1, y + o0, n_out, x, K, g, K);
                else bp2_walk_groups(2, 2, y + o0, n_out, x, K, g, K);
                gi += ng - 1;
                continue;
            }
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), rr = _mm256_set1_epi32((int32_t)R);
            const __m256i m0 = _mm256_cmpgt_epi32(rr, lane);
            const __m256i m1 = _mm256_cmpgt_epi32(rr, _mm256_add_epi32(lane, _mm256_set1_epi32(8)));
            const uint16_t *g = hg_bf16_packed_group(w, GEMM_R, gi);
            for (int64_t c = 0; c < n_pass; c++) {
                const int64_t t0 = T * c / n_pass, Tb = T * (c + 1) / n_pass - t0;
                float *yo = y + t0 * n_out + o0;
                const float *xo = x + t0 * K;
                const bool full = R == GEMM_R;
                switch (Tb) {
                case 1: bp2_walk(1, yo, n_out, xo, K, g, K, full, m0, m1); break;
                case 2: bp2_walk(2, yo, n_out, xo, K, g, K, full, m0, m1); break;
                case 3: bp2_walk(3, yo, n_out, xo, K, g, K, full, m0, m1); break;
                case 4: bp2_walk(4, yo, n_out, xo, K, g, K, full, m0, m1); break;
                case 5: bp2_walk(5, yo, n_out, xo, K, g, K, full, m0, m1); break;
                default: bp2_walk(6, yo, n_out, xo, K, g, K, full, m0, m1); break;
                }
            }
        }
}

static void gemm_avx2(float *y, const float *x, const hg_tensor *w, int64_t T) {
    if (hg_packed_for(w, gemm_avx2)) {
        if (T > 0 && w->ne[0] > 0) bp2_products(y, x, w, T);
        return;
    }
    hg_gemm_rows(y, x, w, T, GEMM_R, GEMM_TB, pack_w_any, gemm_group); /* the loop nest: gemm_rows.h */
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

/* Below 17 positions mv in groups of 8 beats the widening blocked kernel, whose W pack dominates at
 * small T (mv time / blocked time at T = 16 and 32: docs/results/kernels.md, "Where the blocked path
 * starts"); the AVX-VNNI kernel's Q8_0/Q4_0 threshold is its own measurement (docs/results/kernels.md,
 * "AVX2 level: AVX-VNNI prefill"). */
#define AVX2_VNNI_MIN_T 9
#define AVX2_TABLE(MV_Q8, MV_Q4, Q_GEMM, Q_MIN, Q8X, PP)                                                                      \
    {                                                                                                          \
        .level = HG_CPU_AVX2,                                                                                  \
        .mv = {[HG_DTYPE_F32] = mv_f32, [HG_DTYPE_F16] = mv_f16, [HG_DTYPE_BF16] = mv_bf16,                      \
               [HG_DTYPE_Q8_0] = MV_Q8, [HG_DTYPE_Q4_0] = MV_Q4},                                                \
        .mv_q8x = {[HG_DTYPE_Q8_0] = true, [HG_DTYPE_Q4_0] = true},                                            \
        .gemm_min_t = {[HG_DTYPE_F32] = 17, [HG_DTYPE_F16] = 17, [HG_DTYPE_BF16] = 17, [HG_DTYPE_Q8_0] = Q_MIN, \
                       [HG_DTYPE_Q4_0] = Q_MIN},                                                               \
        .gemm = {[HG_DTYPE_F32] = gemm_avx2, [HG_DTYPE_F16] = gemm_avx2, [HG_DTYPE_BF16] = gemm_avx2,             \
                 [HG_DTYPE_Q8_0] = Q_GEMM, [HG_DTYPE_Q4_0] = Q_GEMM},                                           \
        .gemm_q8x = {[HG_DTYPE_Q8_0] = Q8X, [HG_DTYPE_Q4_0] = Q8X},                                             \
        .quant_q8x = hg_quantize_row_q8x_avx2, .dot = hg_vec_dot_avx2, .axpy = hg_vec_axpy_avx2,               \
        .prepack = {[HG_DTYPE_Q8_0] = PP, [HG_DTYPE_BF16] = prepack_bf16},                                     \
    }
const hg_kern_table hg_kern_avx2 = AVX2_TABLE(mv_q8_0, mv_q4_0, gemm_avx2, 17, false, NULL);
/* with AVX-VNNI (cpu.c: gemm_avxvnni): Q8_0/Q4_0 prefill on Q8X activations, gemm_q8_avxvnni.c */
const hg_kern_table hg_kern_avx2_vnni = AVX2_TABLE(mv_q8_0_vnni, mv_q4_0, hg_gemm_q8_avxvnni, AVX2_VNNI_MIN_T, true, hg_prepack_q8_avxvnni);
