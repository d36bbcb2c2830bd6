/*
 * matmul_neon.c — the aarch64 Advanced SIMD (NEON) kernel table: matrix-vector products for every
 * weight dtype and the f32 / f16 / bf16 vector helpers of attention. Scalar twins: mv_scalar, dot_f32
 * and the *_kv references in matmul.c. Compiled only for aarch64, where Advanced SIMD is part of the
 * base architecture (no extra flags); speed was not measured on ARM hardware (tested under qemu).
 *
 * Float weights (F32 / F16 / BF16): the plan of matmul_avx2.c with two 4-lane registers for its one
 * 8-lane register: rows of W are widened in registers (FCVTL for f16, a 16-bit shift for bf16, both
 * exact) and meet up to 8 positions; each (row, position) sums in 8 lanes with FMA, the elements
 * past the last multiple of 8 run in a scalar tail added after the lane sum. The lanes and the tail
 * depend only on n, so a result depends on neither T nor the rows sharing a call.
 *
 * Quantized weights (Q8_0 / Q4_0) take Q8X activations (dispatch.h) and use integer dots, as ggml
 * does: a block's 32 int8 products are summed exactly in int32, four blocks at a time land in the
 * four lanes of a vector (lane j holds blocks ≡ j mod 4), which is converted to f32 and multiplied
 * into the lane accumulators by d_w·d_x; the lanes are summed at the end of the row. Q4_0 nibbles are
 * made signed (q - 8) before the dot, so no Σx correction is needed. The integer sum comes from
 * SMULL + SADALP (any aarch64) or, on CPUs with the dot-product extension (HWCAP_ASIMDDP), from SDOT:
 * both are exact, so hg_kern_neon and hg_kern_neon_dotprod give identical bits. The SDOT functions
 * carry a target attribute instead of a file-wide flag, so the rest of the file stays baseline Armv8.0;
 * the shared loop takes the block dot as a constant function pointer that the compiler inlines.
 * |product| <= 128 · 127 fits int16 (SMULL), and a block's sum (< 2^19) is exact in f32.
 *
 * No blocked kernel (gemm = NULL): T > 8 runs the matrix-vector path in groups of 8 positions.
 */
#include "kernels/dispatch.h"
#include "kernels/mv_float.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#define HG_INLINE static inline __attribute__((always_inline))
/* The dot-product instructions (SDOT) in functions chosen at run time, whatever -march the file has:
 * gcc takes an architecture in the target attribute and then declares vdotq_s32; clang takes the
 * feature, and its arm_neon.h (clang 14) declares vdotq_s32 only where the whole file targets the dot
 * product, so its builtin (what that vdotq_s32 calls, 34 = int32x4_t) is used directly. */
#if defined(__clang__)
#define HG_SDOT __attribute__((target("dotprod")))
#define HG_VDOT(acc, a, b) ((int32x4_t)__builtin_neon_vdotq_v((int8x16_t)(acc), (a), (b), 34))
#else
#define HG_SDOT __attribute__((target("arch=armv8.2-a+dotprod")))
#define HG_VDOT(acc, a, b) vdotq_s32((acc), (a), (b))
#endif

/* ---- widening weights ------------------------------------------------------------------------- */

HG_INLINE float32x4_t load_w4(hg_dtype dt, const void *row, int64_t i) {
    switch (dt) {
    case HG_DTYPE_BF16: return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)row + i), 16));
    case HG_DTYPE_F16: return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)row + i)));
    default: return vld1q_f32((const float *)row + i);
    }
}

HG_INLINE float w_at(hg_dtype dt, const void *row, int64_t i) {
    switch (dt) {
    case HG_DTYPE_BF16: return hg_bf16_to_f32(((const uint16_t *)row)[i]);
    case HG_DTYPE_F16: return hg_f16_to_f32(((const uint16_t *)row)[i]);
    default: return ((const float *)row)[i];
    }
}

/* the 8 lanes (lo, hi) summed in a fixed tree: ((l0+l4) + (l1+l5)) + ((l2+l6) + (l3+l7)) */
HG_INLINE float hsum8(float32x4_t lo, float32x4_t hi) { return vaddvq_f32(vaddq_f32(lo, hi)); }

static size_t elem_bytes(hg_dtype dt) { return dt == HG_DTYPE_F32 ? 4 : 2; }

/* ---- matrix-vector, float dtypes -------------------------------------------------------------- */

/* R rows from o against TG positions: 2·R·TG accumulators (<= 16 of the 32 registers). */
HG_INLINE void mv_tile_f(hg_dtype dt, int R, int TG, float *y, int64_t ldy, const float *x, int64_t ldx,
                         const hg_tensor *w, int64_t o, int64_t n) {
    const size_t rb = (size_t)w->ne[1] * elem_bytes(dt);
    const uint8_t *row0 = (const uint8_t *)w->data + (size_t)o * rb;
    float32x4_t lo[2][8], hi[2][8];
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) lo[r][t] = hi[r][t] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++) {
            const float32x4_t w0 = load_w4(dt, row0 + (size_t)r * rb, i), w1 = load_w4(dt, row0 + (size_t)r * rb, i + 4);
            _Pragma("GCC unroll 16")
            for (int t = 0; t < TG; t++) {
                lo[r][t] = vfmaq_f32(lo[r][t], w0, vld1q_f32(x + t * ldx + i));
                hi[r][t] = vfmaq_f32(hi[r][t], w1, vld1q_f32(x + t * ldx + i + 4));
            }
        }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) {
            float tail = 0;
            for (int64_t j = i; j < n; j++) tail += w_at(dt, row0 + (size_t)r * rb, j) * x[t * ldx + j];
            y[t * ldy + o + r] = hsum8(lo[r][t], hi[r][t]) + tail;
        }
}

HG_INLINE void mv_rows_f(hg_dtype dt, int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const hg_tensor *w,
                         int64_t o0, int64_t o1, int64_t n) {
    const int RMAX = TG <= 4 ? 2 : 1;
    int64_t o = o0;
    for (; o + RMAX <= o1; o += RMAX) mv_tile_f(dt, RMAX, TG, y, ldy, x, ldx, w, o, n);
    for (; o < o1; o++) mv_tile_f(dt, 1, TG, y, ldy, x, ldx, w, o, n);
}

HG_MV_FLOAT_ENTRIES(mv_rows_f) /* mv_f32 / mv_f16 / mv_bf16: mv_float.h */

/* ---- matrix-vector, quantized dtypes (Q8X activations) ---------------------------------------- */

/* The integer dot of one block, w (w0: elements 0-15, w1: 16-31) against x, as 4 int32 lanes whose
 * sum is the dot. Two versions with the same (exact) sum. */
typedef int32x4_t (*idot_fn)(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1);

HG_INLINE int32x4_t idot_mull(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    int32x4_t p = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    p = vpadalq_s16(p, vmull_high_s8(w0, x0));
    p = vpadalq_s16(p, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    return vpadalq_s16(p, vmull_high_s8(w1, x1));
}

HG_INLINE HG_SDOT int32x4_t idot_sdot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    return HG_VDOT(HG_VDOT(vdupq_n_s32(0), w0, x0), w1, x1);
}

/* Block b of a row as signed int8 (w0: elements 0-15, w1: 16-31) and its scale's f16 bits. */
HG_INLINE uint16_t load_block(hg_dtype dt, const void *row, int64_t b, int8x16_t *w0, int8x16_t *w1) {
    if (dt == HG_DTYPE_Q8_0) {
        const hg_block_q8_0 *q = (const hg_block_q8_0 *)row + b;
        *w0 = vld1q_s8(q->qs);
        *w1 = vld1q_s8(q->qs + 16);
        return q->d;
    }
    const hg_block_q4_0 *q = (const hg_block_q4_0 *)row + b;
    const uint8x16_t raw = vld1q_u8(q->qs);
    const int8x16_t eight = vdupq_n_s8(8);
    *w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), eight);
    *w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
    return q->d;
}

/* One row (its first block at `row`, nb blocks) against TG <= 4 positions. Blocks go four at a time
 * into the four lanes; a last group of fewer than four leaves the missing lanes' dots and scales 0. */
HG_INLINE void mv_row_q(idot_fn idot, hg_dtype dt, int TG, float *y, int64_t ldy, const hg_block_q8x *x, int64_t ldx,
                        const void *row, int64_t nb, int64_t o, bool accum) {
    float32x4_t acc[4];
    _Pragma("GCC unroll 4")
    for (int t = 0; t < TG; t++) acc[t] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b += 4) {
        const int nq = nb - b < 4 ? (int)(nb - b) : 4;
        int8x16_t w0[4], w1[4];
        uint16_t dbits[4] = {0, 0, 0, 0};
        _Pragma("GCC unroll 4")
        for (int j = 0; j < 4; j++) {
            if (j < nq) dbits[j] = load_block(dt, row, b + j, &w0[j], &w1[j]);
            else w0[j] = w1[j] = vdupq_n_s8(0);
        }
        const float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(dbits)));
        _Pragma("GCC unroll 4")
        for (int t = 0; t < TG; t++) {
            const hg_block_q8x *xb = x + t * ldx + b;
            int32x4_t p[4];
            float dx[4] = {0, 0, 0, 0};
            _Pragma("GCC unroll 4")
            for (int j = 0; j < 4; j++) {
                if (j < nq) {
                    p[j] = idot(w0[j], w1[j], vld1q_s8(xb[j].qs), vld1q_s8(xb[j].qs + 16));
                    dx[j] = xb[j].d;
                } else p[j] = vdupq_n_s32(0);
            }
            const int32x4_t s = vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3])); /* lane j: block b+j */
            acc[t] = vfmaq_f32(acc[t], vcvtq_f32_s32(s), vmulq_f32(dw, vld1q_f32(dx)));
        }
    }
    _Pragma("GCC unroll 4")
    for (int t = 0; t < TG; t++) {
        const float r = vaddvq_f32(acc[t]);
        y[t * ldy + o] = accum ? y[t * ldy + o] + r : r;
    }
}

HG_INLINE void mv_q(idot_fn idot, hg_dtype dt, float *y, int64_t ldy, const void *xv, int64_t ldx, const hg_tensor *w,
                    int64_t o0, int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {
    const hg_block_q8x *x = xv;
    const int64_t nbr = w->ne[1] / HG_QK, nb = n / HG_QK;
    const size_t bb = dt == HG_DTYPE_Q8_0 ? sizeof(hg_block_q8_0) : sizeof(hg_block_q4_0);
    for (int64_t o = o0; o < o1; o++) {
        const void *row = (const uint8_t *)w->data + (size_t)(o * nbr + k0 / HG_QK) * bb;
        for (int64_t t0 = 0; t0 < T; t0 += 4) {
            float *yy = y + t0 * ldy;
            const hg_block_q8x *xx = x + t0 * ldx;
            switch (hg_min_i64(4, T - t0)) {
            case 1: mv_row_q(idot, dt, 1, yy, ldy, xx, ldx, row, nb, o, acc); break;
            case 2: mv_row_q(idot, dt, 2, yy, ldy, xx, ldx, row, nb, o, acc); break;
            case 3: mv_row_q(idot, dt, 3, yy, ldy, xx, ldx, row, nb, o, acc); break;
            default: mv_row_q(idot, dt, 4, yy, ldy, xx, ldx, row, nb, o, acc); break;
            }
        }
    }
}

static void mv_q8_0(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(idot_mull, HG_DTYPE_Q8_0, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}
static void mv_q4_0(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(idot_mull, HG_DTYPE_Q4_0, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}
HG_SDOT static void mv_q8_0_sdot(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0,
                                 int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(idot_sdot, HG_DTYPE_Q8_0, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}
HG_SDOT static void mv_q4_0_sdot(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0,
                                 int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(idot_sdot, HG_DTYPE_Q4_0, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}

/* ---- vector helpers for attention ------------------------------------------------------------- */

/* Σ a·b in 8 lanes (two registers), then the scalar tail after the lane sum, as hg_vec_dot_avx2. The
 * KV variants widen b with load_w4 / w_at and otherwise run the same sequence (test_kv_types checks
 * they equal the f32 versions on the widened operand, bit for bit). */
HG_INLINE float dot_any(hg_dtype dt, const float *a, const void *b, int64_t n) {
    float32x4_t lo = vdupq_n_f32(0.0f), hi = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        lo = vfmaq_f32(lo, vld1q_f32(a + i), load_w4(dt, b, i));
        hi = vfmaq_f32(hi, vld1q_f32(a + i + 4), load_w4(dt, b, i + 4));
    }
    float tail = 0;
    for (; i < n; i++) tail += a[i] * w_at(dt, b, i);
    return hsum8(lo, hi) + tail;
}

HG_INLINE void axpy_any(hg_dtype dt, float *y, float a, const void *x, int64_t n) {
    const float32x4_t av = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), av, load_w4(dt, x, i)));
    for (; i < n; i++) y[i] += a * w_at(dt, x, i);
}

float hg_vec_dot_neon(const float *a, const float *b, int64_t n) { return dot_any(HG_DTYPE_F32, a, b, n); }
void hg_vec_axpy_neon(float *y, float a, const float *x, int64_t n) { axpy_any(HG_DTYPE_F32, y, a, x, n); }
float hg_vec_dot_f16_neon(const float *a, const void *b, int64_t n) { return dot_any(HG_DTYPE_F16, a, b, n); }
float hg_vec_dot_bf16_neon(const float *a, const void *b, int64_t n) { return dot_any(HG_DTYPE_BF16, a, b, n); }
void hg_vec_axpy_f16_neon(float *y, float a, const void *x, int64_t n) { axpy_any(HG_DTYPE_F16, y, a, x, n); }
void hg_vec_axpy_bf16_neon(float *y, float a, const void *x, int64_t n) { axpy_any(HG_DTYPE_BF16, y, a, x, n); }

/* ---- the tables ------------------------------------------------------------------------------- */

const hg_kern_table hg_kern_neon = {
    .level = HG_CPU_NEON,
    .mv = {[HG_DTYPE_F32] = mv_f32, [HG_DTYPE_F16] = mv_f16, [HG_DTYPE_BF16] = mv_bf16, [HG_DTYPE_Q8_0] = mv_q8_0,
           [HG_DTYPE_Q4_0] = mv_q4_0},
    .mv_q8x = {[HG_DTYPE_Q8_0] = true, [HG_DTYPE_Q4_0] = true},
    .dot = hg_vec_dot_neon,
    .axpy = hg_vec_axpy_neon,
};

const hg_kern_table hg_kern_neon_dotprod = {
    .level = HG_CPU_NEON,
    .mv = {[HG_DTYPE_F32] = mv_f32, [HG_DTYPE_F16] = mv_f16, [HG_DTYPE_BF16] = mv_bf16,
           [HG_DTYPE_Q8_0] = mv_q8_0_sdot, [HG_DTYPE_Q4_0] = mv_q4_0_sdot},
    .mv_q8x = {[HG_DTYPE_Q8_0] = true, [HG_DTYPE_Q4_0] = true},
    .dot = hg_vec_dot_neon,
    .axpy = hg_vec_axpy_neon,
};

#else
/* Not aarch64: nothing to compile (the build leaves this file out there; ISO C wants a declaration). */
typedef int hg_matmul_neon_absent;
#endif
