/*
 * sgemm_neon.c — the aarch64 NEON tile of hg_sgemm (sgemm.c has the plan and the portable twin):
 * 8 rows × 8 columns of C in 16 q-register accumulators, the packed B panel read as two vectors per k.
 * Every C element is one FMA chain over k = 0..K-1 from +0, as in the AVX2 / AVX-512 tiles (FMLA by
 * element and FMLA by vector both round once), so all SIMD levels give the same bits.
 *
 * op(A) is read as it lies, with FMLA by element (vfmaq_laneq_f32) choosing the scalar from a vector:
 *   - A rows along k (forward y = x·Wᵀ, backward dx = dy·W: sak = 1): one load per row brings 4 k,
 *     the lanes then walk k in order (8 A loads + 8 B loads per 64 FMAs);
 *   - A transposed (dW = dyᵀ·x: sam = 1) in a full tile: the 8 rows at one k are two loads;
 *   - anything else (the last k % 4, partial tiles of transposed A): a broadcast load per row and k.
 * 16 accumulators + 8 A vectors + 2 B vectors fit the 32 registers. NR = 8 divides the 32 columns
 * hg_sgemm_work pads to, and MR = 8 divides the 96-row work item. Speed not measured (no ARM hardware).
 */
#include "kernels/dispatch.h"
#include "kernels/sgemm_panel.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#define HG_INLINE static inline __attribute__((always_inline))

/* c[i] += b * (lane L of a[i]) for both column halves of rows i < mr; L must be a constant */
#define HG_NEON_LANE_STEP(mr, c0, c1, b0, b1, a, L)                            \
    do {                                                                        \
        _Pragma("GCC unroll 8") for (int i_ = 0; i_ < (mr); i_++) {             \
            c0[i_] = vfmaq_laneq_f32(c0[i_], b0, a[i_], L);                     \
            c1[i_] = vfmaq_laneq_f32(c1[i_], b1, a[i_], L);                     \
        }                                                                       \
    } while (0)

HG_INLINE void tile(float *C, int64_t ldc, const float *A, int64_t sam, int64_t sak, const float *Bp, int64_t K,
                    const int mr, int nc, bool acc) {
    float32x4_t c0[8], c1[8];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < mr; i++) c0[i] = c1[i] = vdupq_n_f32(0.0f);
    int64_t k = 0;
    if (sak == 1) { /* rows along k: a[i] = A[i][k..k+3], lane L is k+L */
        for (; k + 4 <= K; k += 4) {
            float32x4_t a[8];
            _Pragma("GCC unroll 8")
            for (int i = 0; i < mr; i++) a[i] = vld1q_f32(A + i * sam + k);
            const float *b = Bp + k * 8;
            float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
            HG_NEON_LANE_STEP(mr, c0, c1, b0, b1, a, 0);
            b0 = vld1q_f32(b + 8), b1 = vld1q_f32(b + 12);
            HG_NEON_LANE_STEP(mr, c0, c1, b0, b1, a, 1);
            b0 = vld1q_f32(b + 16), b1 = vld1q_f32(b + 20);
            HG_NEON_LANE_STEP(mr, c0, c1, b0, b1, a, 2);
            b0 = vld1q_f32(b + 24), b1 = vld1q_f32(b + 28);
            HG_NEON_LANE_STEP(mr, c0, c1, b0, b1, a, 3);
        }
    } else if (sam == 1 && mr == 8) { /* transposed: rows 0-3 and 4-7 at k are contiguous */
        for (; k < K; k++) {
            const float *ak = A + k * sak, *b = Bp + k * 8;
            const float32x4_t lo = vld1q_f32(ak), hi = vld1q_f32(ak + 4), b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
            c0[0] = vfmaq_laneq_f32(c0[0], b0, lo, 0), c1[0] = vfmaq_laneq_f32(c1[0], b1, lo, 0);
            c0[1] = vfmaq_laneq_f32(c0[1], b0, lo, 1), c1[1] = vfmaq_laneq_f32(c1[1], b1, lo, 1);
            c0[2] = vfmaq_laneq_f32(c0[2], b0, lo, 2), c1[2] = vfmaq_laneq_f32(c1[2], b1, lo, 2);
            c0[3] = vfmaq_laneq_f32(c0[3], b0, lo, 3), c1[3] = vfmaq_laneq_f32(c1[3], b1, lo, 3);
            c0[4] = vfmaq_laneq_f32(c0[4], b0, hi, 0), c1[4] = vfmaq_laneq_f32(c1[4], b1, hi, 0);
            c0[5] = vfmaq_laneq_f32(c0[5], b0, hi, 1), c1[5] = vfmaq_laneq_f32(c1[5], b1, hi, 1);
            c0[6] = vfmaq_laneq_f32(c0[6], b0, hi, 2), c1[6] = vfmaq_laneq_f32(c1[6], b1, hi, 2);
            c0[7] = vfmaq_laneq_f32(c0[7], b0, hi, 3), c1[7] = vfmaq_laneq_f32(c1[7], b1, hi, 3);
        }
    }
    for (; k < K; k++) { /* the rest, in the same order: one broadcast per row */
        const float32x4_t b0 = vld1q_f32(Bp + k * 8), b1 = vld1q_f32(Bp + k * 8 + 4);
        _Pragma("GCC unroll 8")
        for (int i = 0; i < mr; i++) {
            const float32x4_t ai = vld1q_dup_f32(A + i * sam + k * sak);
            c0[i] = vfmaq_f32(c0[i], b0, ai);
            c1[i] = vfmaq_f32(c1[i], b1, ai);
        }
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        if (nc == 8) {
            float32x4_t v0 = c0[i], v1 = c1[i];
            if (acc) v0 = vaddq_f32(vld1q_f32(c), v0), v1 = vaddq_f32(vld1q_f32(c + 4), v1);
            vst1q_f32(c, v0);
            vst1q_f32(c + 4, v1);
        } else { /* the last panel: through a buffer, only the valid columns */
            float t[8];
            vst1q_f32(t, c0[i]);
            vst1q_f32(t + 4, c1[i]);
            for (int j = 0; j < nc; j++) c[j] = acc ? c[j] + t[j] : t[j];
        }
    }
}

#undef HG_NEON_LANE_STEP

HG_SGEMM_PANEL(hg_sgemm_panel_neon, tile, 8) /* full tiles, then the tail: sgemm_panel.h */

#else
/* Not aarch64: nothing to compile (the build leaves this file out there; ISO C wants a declaration). */
typedef int hg_sgemm_neon_absent;
#endif
