/*
 * gemm_q8_vnni_avx512.c — y[T, n_out] = x[T, n_in]·Wᵀ for Q8_0 and Q4_0 weights with AVX512-VNNI's
 * vpdpbusd, the blocked product (prefill, verification, batches above the mv path) of the AVX-512
 * level when AMX is absent. Decode (T < gemm_min_t) stays on mv_q8_0 / mv_q4_0.
 *
 * Arithmetic: the AMX-INT8 kernel's (gemm_q8_amx_avx512.c), bit for bit. x is rounded to Q8X per
 * position (hg_quantize_row_q8x, what the mv path feeds its integer dots), and every y[t, o] is the
 * chain over the row's blocks in order from +0,
 *     acc = fmaf((float)isum_b, d_w[o, b] · d_x[t, b], acc),
 * isum_b = Σ q_w·q_x exact in int32. vpdpbusd multiplies unsigned by signed bytes, so W goes in
 * unsigned — Q8_0 as q + 128, Q4_0 as its stored nibbles (q + 8) — and the offset's share is taken
 * back exactly by starting the block's int32 sum at -128·Σq_x (-8·Σq_x), the Q8X block's s. Not x
 * unsigned (x + 128): that needs Σq_w per row and block, one more packed table.
 *
 * Layout. Q8X blocks are re-laid per call block-major, xl[b][t] (threads share them), so a register
 * tile's broadcasts sit at constant offsets from one pointer. Per thread, K block of KB blocks and
 * group of 32 rows, W is packed to wq[b][4-byte group g][32 rows] (the quads vpdpbusd takes, by
 * row loads and 16 x 16 dword transposes; 16 KiB) and d_w to dw[b][32] f16 (widened exactly per block). Register tile: 32 rows x 6
 * positions: per block 8 x (2 W loads, 6 broadcasts, 12 vpdpbusd) into 12 int32 sums, then per sum
 * convert, scale product and one FMA into 12 f32 accumulators (24 + 2 + 1 of the 32 zmm). Partial
 * sums wait in y between K blocks (exact).
 * Workload: prefill chunks of 9..128 positions on rows of 1024..17,920 inputs. W is packed once per
 * call and reused by every position, where mv reads it once per 8 positions; with the transposing
 * pack that wins from T = 9 (gemm_min_t; docs/results/kernels.md, "Without AMX").
 */
#include "kernels/dispatch.h"
#include "kernels/gemm_q8x_rows.h"
#include "kernels/transpose_avx512.h"

#include <immintrin.h>
#include <omp.h>

#define HG_INLINE static inline __attribute__((always_inline))

#define QV_R 32                /* W rows per group */
#define QV_TG 6                /* positions per register tile */
#define QV_KB 16               /* blocks of 32 per K block: wq is 16 x 8 x 32 x 4 bytes = 16 KiB */
#define QV_XB (512 * 1024)     /* bytes of Q8X per K block and pass (kept in L2) */
#define QV_PF_L1 2048          /* a prepacked W streamed at decode: prefetch distances to L1 ... */
#define QV_PF_L2 12288         /* ... and to L2 (bytes) */
_Static_assert(QV_KB * 8 * QV_R <= HG_Q8X_WQ_MAX && QV_KB * QV_R <= HG_Q8X_DW_MAX, "wq and dw fit the nest's buffers");

/* ---- packing W -------------------------------------------------------------------------------- */

/* Blocks [b0, b0+nb) of rows o0 .. o0+R-1: wq[b][g][r] = the 4 unsigned weights 4g..4g+3 of row r,
 * dw[b][r] = its d as stored, f16, two to a float slot (rows r >= R: 0; blocks up to nb rounded up to 2 (Q8_0) or 4 (Q4_0): 0).
 * The quants of 16 rows come by plain loads (Q8_0: two blocks' 32 bytes, Q4_0: four blocks' 16 per
 * row and zmm) and one 16 x 16 dword transpose: dword gathers over the rows, 8 per block and 16
 * rows, cost more than the products below ~24 positions. d_w: one gather per block and 16 rows. */
HG_INLINE void pack_wq(bool q4, const hg_tensor *w, int64_t o0, int64_t R, int64_t b0, int64_t nb, uint32_t *wq,
                       float *dw) {
    const int bs = q4 ? (int)sizeof(hg_block_q4_0) : (int)sizeof(hg_block_q8_0);
    const int64_t rowb = w->ne[1] / HG_QK * bs, step = q4 ? 4 : 2;
    const uint8_t *base = (const uint8_t *)w->data + (size_t)o0 * (size_t)rowb + (size_t)b0 * (size_t)bs;
    const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32((int)rowb));
    for (int h = 0; h < QV_R; h += 16) {
        const int64_t rows = hg_max_i64(0, hg_min_i64(16, R - h));
        const __mmask16 m = (__mmask16)((1u << rows) - 1);
        const uint8_t *hb = base + (size_t)h * (size_t)rowb;
        for (int64_t b = 0; b < nb; b++) { /* each read is d and 2 bytes of the block's quants */
            const __m512i d = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, at, hb + b * bs, 1);
            _mm256_store_si256((__m256i *)(void *)(dw + b * (QV_R / 2) + h / 2), _mm512_cvtepi32_epi16(d));
        }
        for (int64_t b = 0; b < nb; b += step) {
            __m512 v[16];
            _Pragma("GCC unroll 16")
            for (int r = 0; r < 16; r++) {
                __m512i z = _mm512_setzero_si512();
                if (r < rows) {
                    const uint8_t *q = hb + (size_t)r * (size_t)rowb + (size_t)b * (size_t)bs + 2;
                    if (q4) { /* (the lane index of an insert must be a constant) */
                        z = _mm512_zextsi128_si512(_mm_loadu_si128((const __m128i *)q));
                        if (b + 1 < nb) z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(q + bs)), 1);
                        if (b + 2 < nb) z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(q + 2 * bs)), 2);
                        if (b + 3 < nb) z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(q + 3 * bs)), 3);
                    } else {
                        z = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)q));
                        if (b + 1 < nb) z = _mm512_inserti64x4(z, _mm256_loadu_si256((const __m256i *)(q + bs)), 1);
                    }
                }
                v[r] = _mm512_castsi512_ps(z);
            }
            transpose16(v); /* v[j] lane r: dword j of row r's loaded bytes */
            const __m512i lo4 = _mm512_set1_epi8(15);
            _Pragma("GCC unroll 16")
            for (int j = 0; j < 16; j++) {
                const __m512i u = _mm512_castps_si512(v[j]);
                if (q4) { /* dword j: block b + j/4, quants 4(j%4).. (low nibbles) and 16 + 4(j%4).. (high) */
                    uint32_t *d = wq + ((b + j / 4) * 8 + j % 4) * QV_R + h;
                    _mm512_store_si512(d, _mm512_and_si512(u, lo4));
                    _mm512_store_si512(d + 4 * QV_R, _mm512_and_si512(_mm512_srli_epi32(u, 4), lo4));
                } else { /* dword j: block b + j/8, quants 4(j%8).. */
                    _mm512_store_si512(wq + ((b + j / 8) * 8 + j % 8) * QV_R + h,
                                       _mm512_xor_si512(u, _mm512_set1_epi8((char)0x80)));
                }
            }
        }
    }
}

/* ---- the register tile ------------------------------------------------------------------------ */

/* y[t][r] (+)= Σ_b fmaf-chain for t < TG, r < 32 (lanes outside m0 | m1 neither read nor written);
 * xl points at (block 0 of this K block, the tile's first position), blocks ldb apart. A packed
 * weight's group is walked whole (kb < nb): every kb blocks the next slot of `slot` bytes begins, its
 * dw first (at the slot's start), its wq after, so the sums stay in registers across K blocks. */
HG_INLINE void qv_tile(bool q4, int TG, float *y, int64_t ldy, const hg_block_q8x *xl, int64_t ldb, const uint32_t *wq,
                       const float *dw, int64_t nb, __mmask16 m0, __mmask16 m1, bool first, bool stream, int64_t kb,
                       size_t slot) {
    const uint8_t *slot0 = (const uint8_t *)dw;
    int64_t in_slot = 0;
    __m512 acc[QV_TG][2];
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) {
        if (first) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
        else {
            acc[t][0] = _mm512_maskz_loadu_ps(m0, y + t * ldy);
            acc[t][1] = _mm512_maskz_loadu_ps(m1, y + t * ldy + 16);
        }
    }
    const int32_t off = q4 ? -8 : -128;
    for (int64_t b = 0; b < nb; b++, xl += ldb, wq += 8 * QV_R, dw += QV_R / 2) {
        if (in_slot++ == kb) {
            const int64_t nbs = hg_min_i64(kb, nb - b);
            dw = (const float *)(const void *)(slot0 + (size_t)(b / kb) * slot);
            wq = (const uint32_t *)(const void *)(dw + (q4 ? (nbs + 3) / 4 * 4 : (nbs + 1) / 2 * 2) * (QV_R / 2));
            in_slot = 1;
        }
        /* int32 sums are exact in any order: with few positions the 8 dots of a block run as NC chains
         * (a single chain of dependent vpdpbusd set the pace at T = 1) */
        const int NC = TG <= 2 ? 4 / TG : 1;
        __m512i is[QV_TG][4][2];
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++) {
            is[t][0][0] = is[t][0][1] = _mm512_set1_epi32(off * xl[t].s);
            _Pragma("GCC unroll 4")
            for (int c = 1; c < NC; c++) is[t][c][0] = is[t][c][1] = _mm512_setzero_si512();
        }
        _Pragma("GCC unroll 8")
        for (int g = 0; g < 8; g++) {
            if (stream) { /* W streams from memory: its next bytes into L1, further ones into L2 */
                _mm_prefetch((const char *)(wq + g * QV_R) + QV_PF_L1, _MM_HINT_T0);
                _mm_prefetch((const char *)(wq + g * QV_R) + QV_PF_L1 + 64, _MM_HINT_T0);
                _mm_prefetch((const char *)(wq + g * QV_R) + QV_PF_L2, _MM_HINT_T1);
                _mm_prefetch((const char *)(wq + g * QV_R) + QV_PF_L2 + 64, _MM_HINT_T1);
            }
            const __m512i w0 = _mm512_load_si512(wq + g * QV_R), w1 = _mm512_load_si512(wq + g * QV_R + 16);
            _Pragma("GCC unroll 8")
            for (int t = 0; t < TG; t++) {
                int32_t q;
                memcpy(&q, xl[t].qs + 4 * g, 4);
                const __m512i xb = _mm512_set1_epi32(q);
                is[t][g % NC][0] = _mm512_dpbusd_epi32(is[t][g % NC][0], w0, xb);
                is[t][g % NC][1] = _mm512_dpbusd_epi32(is[t][g % NC][1], w1, xb);
            }
        }
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++)
            _Pragma("GCC unroll 4")
            for (int c = 1; c < NC; c++) {
                is[t][0][0] = _mm512_add_epi32(is[t][0][0], is[t][c][0]);
                is[t][0][1] = _mm512_add_epi32(is[t][0][1], is[t][c][1]);
            }
        const __m512 d0 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)dw)),
                     d1 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)(dw + 8)));
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++) {
            const __m512 dx = _mm512_set1_ps(xl[t].d);
            acc[t][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t][0][0]), _mm512_mul_ps(d0, dx), acc[t][0]);
            acc[t][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t][0][1]), _mm512_mul_ps(d1, dx), acc[t][1]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) {
        _mm512_mask_storeu_ps(y + t * ldy, m0, acc[t][0]);
        _mm512_mask_storeu_ps(y + t * ldy + 16, m1, acc[t][1]);
    }
}

/* One packed group of R rows against Tb positions, 6 at a time, then the rest. */
HG_INLINE void qv_group(bool q4, float *y, int64_t ldy, const hg_block_q8x *xl, int64_t ldb, const uint32_t *wq,
                        const float *dw, int64_t nb, int64_t R, int64_t Tb, bool first, bool stream, int64_t kb,
                        size_t slot) {
    const __mmask16 m0 = R >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << R) - 1);
    const __mmask16 m1 = R >= 32 ? (__mmask16)0xffff : R <= 16 ? (__mmask16)0 : (__mmask16)((1u << (R - 16)) - 1);
    int64_t t = 0;
    for (; t + QV_TG <= Tb; t += QV_TG) qv_tile(q4, QV_TG, y + t * ldy, ldy, xl + t, ldb, wq, dw, nb, m0, m1, first, stream, kb, slot);
    float *yt = y + t * ldy;
    const hg_block_q8x *xt = xl + t;
    switch (Tb - t) {
    case 5: qv_tile(q4, 5, yt, ldy, xt, ldb, wq, dw, nb, m0, m1, first, stream, kb, slot); break;
    case 4: qv_tile(q4, 4, yt, ldy, xt, ldb, wq, dw, nb, m0, m1, first, stream, kb, slot); break;
    case 3: qv_tile(q4, 3, yt, ldy, xt, ldb, wq, dw, nb, m0, m1, first, stream, kb, slot); break;
    case 2: qv_tile(q4, 2, yt, ldy, xt, ldb, wq, dw, nb, m0, m1, first, stream, kb, slot); break;
    case 1: qv_tile(q4, 1, yt, ldy, xt, ldb, wq, dw, nb, m0, m1, first, stream, kb, slot); break;
    default: break;
    }
}

/* the group walk and the pack for the shared loop nest (gemm_q8x_rows.h), specialised per type here */
static void qv_group_any(bool q4, float *y, int64_t ldy, const hg_block_q8x *xl, int64_t ldb, const uint32_t *wq,
                         const float *dw, int64_t nb, int64_t R, int64_t Tb, bool first, int64_t kb, size_t slot) {
    /* kb < nb: a packed group walked whole, streamed from memory */
    if (kb < nb) {
        if (q4) qv_group(true, y, ldy, xl, ldb, wq, dw, nb, R, Tb, first, true, kb, slot);
        else qv_group(false, y, ldy, xl, ldb, wq, dw, nb, R, Tb, first, true, kb, slot);
    } else {
        if (q4) qv_group(true, y, ldy, xl, ldb, wq, dw, nb, R, Tb, first, false, nb, 0);
        else qv_group(false, y, ldy, xl, ldb, wq, dw, nb, R, Tb, first, false, nb, 0);
    }
}
static void qv_pack_any(bool q4, const hg_tensor *w, int64_t o0, int64_t R, int64_t b0, int64_t nb, uint32_t *wq,
                        float *dw) {
    if (q4) pack_wq(true, w, o0, R, b0, nb, wq, dw);
    else pack_wq(false, w, o0, R, b0, nb, wq, dw);
}

/* ---- the entry point -------------------------------------------------------------------------- */

static const hg_q8x_nest qv_nest = {QV_R, QV_TG, QV_KB, QV_XB, 2, true, hg_quantize_row_q8x_avx512,
                                    qv_pack_any, qv_group_any, &hg_kern_avx512};

/* The pack's d_w gathers take 32-bit offsets of 16 rows */
static bool gathers_fit(const hg_tensor *w) {
    return (size_t)(w->ne[1] / HG_QK * (w->dtype == HG_DTYPE_Q4_0 ? 18 : 34)) * 16 < ((size_t)1 << 31);
}

void hg_gemm_q8_vnni(float *y, const float *x, const hg_tensor *w, int64_t T) {
    HG_ASSERT(gathers_fit(w));
    hg_gemm_q8x_rows(&qv_nest, (const hg_q8x_packed *)hg_packed_for(w, hg_gemm_q8_vnni), y, x, w, T);
}

void *hg_prepack_q8_vnni(const hg_tensor *w) {
    return !gathers_fit(w) ? NULL : hg_q8x_prepack(&qv_nest, hg_gemm_q8_vnni, w);
}
