/*
 * gemm_q8_avxvnni.c — y[T, n_out] = x[T, n_in]·Wᵀ for Q8_0 and Q4_0 weights with AVX-VNNI's vpdpbusd
 * (the VEX-encoded, 256-bit form: Intel Alder Lake and later client cores, AMD Zen 4/5), the blocked
 * product (prefill, verification, batches above the mv path) of the AVX2 level. Compiled with
 * -mavx2 -mfma -mf16c -mavxvnni (CMakeLists.txt); chosen at run time when the CPU has AVX-VNNI and
 * HG_BF16DOT=0 is not set (cpu.c: gemm_avxvnni). Decode (T < gemm_min_t) stays on mv_q8_0 / mv_q4_0.
 *
 * Arithmetic: the AMX-INT8 and AVX512-VNNI kernels' (gemm_q8_amx_avx512.c, gemm_q8_vnni_avx512.c),
 * bit for bit. x is rounded to Q8X per position (hg_quantize_row_q8x_avx2, the scalar quantizer's
 * twin, what the mv path feeds its integer dots), and every y[t, o] is the chain over the row's blocks in order from +0,
 *     acc = fmaf((float)isum_b, d_w[o, b] · d_x[t, b], acc),
 * isum_b = Σ q_w·q_x exact in int32. vpdpbusd multiplies unsigned by signed bytes, so W goes in
 * unsigned — Q8_0 as q + 128, Q4_0 as its stored nibbles (q + 8) — and the offset's share is taken
 * back exactly by starting the block's int32 sum at -128·Σq_x (-8·Σq_x), the Q8X block's s. So an
 * AVX2 host gets the same prefill numbers as an AVX-512 one, and the error bound of decode
 * (activations at 8 bits) instead of the widening kernel's exact dequantization.
 *
 * Layout. Q8X blocks are re-laid per call block-major, xl[b][t] (threads share them), so a register
 * tile's broadcasts sit at constant offsets from one pointer. Per thread, K block of QA_KB blocks and
 * group of 16 rows, W is packed to wq[b][4-byte group g][16 rows] (the quads vpdpbusd takes: 8 rows'
 * quant bytes by plain loads and 8 x 8 dword transposes; 16 KiB) and d_w to dw[b][16] f32.
 *
 * Register tile, 16 rows x 6 positions, for the 16 ymm registers: per block 8 x (2 W loads, 6
 * broadcasts, 12 vpdpbusd) into 12 int32 sums + 2 W vectors + 1 broadcast = 15 registers. The f32
 * accumulators (12 more) do not fit beside them, so they live in a 384-byte tile buffer in L1: per
 * block and sum one load, convert, scale product and FMA, one store — 24 memory operations per 96
 * vpdpbusd. Why not keep them in registers with a smaller tile (reasoned, not measured): 16 rows x 3
 * positions (6 + 6 + 3) or 8 x 6 (6 + 6 + 2) leaves 6 independent vpdpbusd chains, and at a latency
 * of ~4 cycles and 2 per cycle the dots need 8 or more in flight; 12 int chains keep the dot ports
 * busy and the loads (64 per 96 dots, under the 3 per cycle the load ports take) are not the limit.
 * Measured: near the width ratio of the 512-bit kernel's speed on Zen 5 (docs/results/kernels.md). 16 rows x 6
 * positions is also the AVX2 widening kernel's tile (matmul_avx2.c), as 32 x 6 is the AVX-512 one's.
 * Partial sums wait in y between K blocks (exact).
 * Workload: prefill chunks of 9..128 positions on rows of 1024..17,920 inputs. W is packed once per
 * call and reused by every position, where mv reads it once per 8 positions; gemm_min_t is measured
 * (docs/results/kernels.md, "AVX2 level: AVX-VNNI prefill").
 */
#include "kernels/dispatch.h"
#include "kernels/gemm_q8x_rows.h"

#include <immintrin.h>
#include <omp.h>

#define HG_INLINE static inline __attribute__((always_inline))

#define QA_R 16            /* W rows per group: two ymm of outputs */
#define QA_TG 6            /* positions per register tile */
#define QA_KB 32           /* blocks of 32 per K block: wq is 32 x 8 x 16 x 4 bytes = 16 KiB */
#define QA_XB (512 * 1024) /* bytes of Q8X per K block and pass (kept in L2) */
_Static_assert(QA_KB * 8 * QA_R <= HG_Q8X_WQ_MAX && QA_KB * QA_R <= HG_Q8X_DW_MAX, "wq and dw fit the nest's buffers");

/* ---- packing W -------------------------------------------------------------------------------- */

/* In place: v[r] dword j  ->  v[j] dword r (8 x 8; matmul_avx2.c's transpose8 on integer lanes). */
HG_INLINE void transpose8_epi32(__m256i v[8]) {
    __m256 a[8], b[8], c[8];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 8; i++) c[i] = _mm256_castsi256_ps(v[i]);
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 8; i += 2) {
        a[i] = _mm256_unpacklo_ps(c[i], c[i + 1]);
        a[i + 1] = _mm256_unpackhi_ps(c[i], c[i + 1]);
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 8; i += 4) {
        b[i] = _mm256_shuffle_ps(a[i], a[i + 2], 0x44);
        b[i + 1] = _mm256_shuffle_ps(a[i], a[i + 2], 0xee);
        b[i + 2] = _mm256_shuffle_ps(a[i + 1], a[i + 3], 0x44);
        b[i + 3] = _mm256_shuffle_ps(a[i + 1], a[i + 3], 0xee);
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_castps_si256(_mm256_permute2f128_ps(b[i], b[i + 4], 0x20));
        v[i + 4] = _mm256_castps_si256(_mm256_permute2f128_ps(b[i], b[i + 4], 0x31));
    }
}

/* Blocks [b0, b0+nb) of rows o0 .. o0+R-1: wq[b][g][r] = the 4 unsigned weights 4g..4g+3 of row r,
 * dw[b][r] = its d as f32 (rows r >= R: 0; blocks up to nb rounded up to 1 (Q8_0) or 2 (Q4_0): 0).
 * Per 8 rows a ymm load takes one Q8_0 block's 32 quant bytes (8 dwords) or two Q4_0 blocks' 16,
 * and one 8 x 8 dword transpose turns them into the quads of 8 rows. */
HG_INLINE void pack_wq(bool q4, const hg_tensor *w, int64_t o0, int64_t R, int64_t b0, int64_t nb, uint32_t *wq,
                       float *dw) {
    const int bs = q4 ? (int)sizeof(hg_block_q4_0) : (int)sizeof(hg_block_q8_0);
    const int64_t rowb = w->ne[1] / HG_QK * bs, step = q4 ? 2 : 1;
    const uint8_t *base = (const uint8_t *)w->data + (size_t)o0 * (size_t)rowb + (size_t)b0 * (size_t)bs;
    for (int h = 0; h < QA_R; h += 8) {
        const int64_t rows = hg_max_i64(0, hg_min_i64(8, R - h));
        const uint8_t *hb = base + (size_t)h * (size_t)rowb;
        for (int64_t b = 0; b < nb; b++) {
            uint16_t d[8] = {0};
            for (int64_t r = 0; r < rows; r++) memcpy(&d[r], hb + (size_t)r * (size_t)rowb + (size_t)b * (size_t)bs, 2);
            _mm256_store_ps(dw + b * QA_R + h, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d)));
        }
        for (int64_t b = 0; b < nb; b += step) {
            __m256i v[8];
            _Pragma("GCC unroll 8")
            for (int r = 0; r < 8; r++) {
                v[r] = _mm256_setzero_si256();
                if (r < rows) {
                    const uint8_t *q = hb + (size_t)r * (size_t)rowb + (size_t)b * (size_t)bs + 2;
                    if (!q4) v[r] = _mm256_loadu_si256((const __m256i *)q);
                    else if (b + 1 < nb)
                        v[r] = _mm256_loadu2_m128i((const __m128i *)(q + bs), (const __m128i *)q);
                    else v[r] = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)q));
                }
            }
            transpose8_epi32(v); /* v[j] dword r: dword j of row r's loaded bytes */
            const __m256i lo4 = _mm256_set1_epi8(15);
            _Pragma("GCC unroll 8")
            for (int j = 0; j < 8; j++) {
                if (q4) { /* dword j: block b + j/4, quants 4(j%4).. (low nibbles) and 16 + 4(j%4).. (high) */
                    uint32_t *d = wq + ((b + j / 4) * 8 + j % 4) * QA_R + h;
                    _mm256_store_si256((__m256i *)d, _mm256_and_si256(v[j], lo4));
                    _mm256_store_si256((__m256i *)(d + 4 * QA_R), _mm256_and_si256(_mm256_srli_epi32(v[j], 4), lo4));
                } else { /* dword j: quants 4j.. of block b */
                    _mm256_store_si256((__m256i *)(wq + (b * 8 + j) * QA_R + h),
                                       _mm256_xor_si256(v[j], _mm256_set1_epi8((char)0x80)));
                }
            }
        }
    }
}

/* ---- the register tile ------------------------------------------------------------------------ */

/* acc[t][r] (+)= Σ_b fmaf-chain for t < TG, r < 16; xl points at (block 0 of this K block, the tile's
 * first position), blocks ldb apart. acc is the tile's f32 accumulators, in memory (see the top). */
HG_INLINE void qa_tile(bool q4, int TG, float *acc, const hg_block_q8x *xl, int64_t ldb, const uint32_t *wq,
                       const float *dw, int64_t nb) {
    const int32_t off = q4 ? -8 : -128;
    for (int64_t b = 0; b < nb; b++, xl += ldb, wq += 8 * QA_R, dw += QA_R) {
        __m256i is[QA_TG][2];
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++) is[t][0] = is[t][1] = _mm256_set1_epi32(off * xl[t].s);
        _Pragma("GCC unroll 8")
        for (int g = 0; g < 8; g++) {
            const __m256i w0 = _mm256_load_si256((const __m256i *)(wq + g * QA_R));
            const __m256i w1 = _mm256_load_si256((const __m256i *)(wq + g * QA_R + 8));
            _Pragma("GCC unroll 8")
            for (int t = 0; t < TG; t++) {
                int32_t q;
                memcpy(&q, xl[t].qs + 4 * g, 4);
                const __m256i xb = _mm256_set1_epi32(q);
                is[t][0] = _mm256_dpbusd_avx_epi32(is[t][0], w0, xb);
                is[t][1] = _mm256_dpbusd_avx_epi32(is[t][1], w1, xb);
            }
        }
        const __m256 d0 = _mm256_load_ps(dw), d1 = _mm256_load_ps(dw + 8);
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++) {
            const __m256 dx = _mm256_set1_ps(xl[t].d);
            float *a = acc + t * QA_R;
            _mm256_store_ps(a, _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[t][0]), _mm256_mul_ps(d0, dx), _mm256_load_ps(a)));
            _mm256_store_ps(a + 8,
                            _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[t][1]), _mm256_mul_ps(d1, dx), _mm256_load_ps(a + 8)));
        }
    }
}

/* One packed group of R rows against Tb positions, 6 at a time, then the rest; y points at (t0, o0). */
HG_INLINE void qa_group(bool q4, float *y, int64_t ldy, const hg_block_q8x *xl, int64_t ldb, const uint32_t *wq,
                        const float *dw, int64_t nb, int64_t R, int64_t Tb, bool first) {
    float acc[QA_TG * QA_R] __attribute__((aligned(32)));
    for (int64_t t0 = 0; t0 < Tb; t0 += QA_TG) {
        const int TG = (int)hg_min_i64(QA_TG, Tb - t0);
        float *yt = y + t0 * ldy;
        for (int t = 0; t < TG; t++) {
            float *a = acc + t * QA_R;
            if (first) {
                _mm256_store_ps(a, _mm256_setzero_ps());
                _mm256_store_ps(a + 8, _mm256_setzero_ps());
            } else if (R == QA_R) {
                _mm256_store_ps(a, _mm256_loadu_ps(yt + t * ldy));
                _mm256_store_ps(a + 8, _mm256_loadu_ps(yt + t * ldy + 8));
            } else
                for (int64_t r = 0; r < R; r++) a[r] = yt[t * ldy + r];
        }
        const hg_block_q8x *xt = xl + t0;
        switch (TG) {
        case 6: qa_tile(q4, 6, acc, xt, ldb, wq, dw, nb); break;
        case 5: qa_tile(q4, 5, acc, xt, ldb, wq, dw, nb); break;
        case 4: qa_tile(q4, 4, acc, xt, ldb, wq, dw, nb); break;
        case 3: qa_tile(q4, 3, acc, xt, ldb, wq, dw, nb); break;
        case 2: qa_tile(q4, 2, acc, xt, ldb, wq, dw, nb); break;
        default: qa_tile(q4, 1, acc, xt, ldb, wq, dw, nb); break;
        }
        for (int t = 0; t < TG; t++) {
            const float *a = acc + t * QA_R;
            if (R == QA_R) {
                _mm256_storeu_ps(yt + t * ldy, _mm256_load_ps(a));
                _mm256_storeu_ps(yt + t * ldy + 8, _mm256_load_ps(a + 8));
            } else
                for (int64_t r = 0; r < R; r++) yt[t * ldy + r] = a[r];
        }
    }
}

/* the group walk and the pack for the shared loop nest (gemm_q8x_rows.h), specialised per type here */
static void qa_group_any(bool q4, float *y, int64_t ldy, const hg_block_q8x *xl, int64_t ldb, const uint32_t *wq,
                         const float *dw, int64_t nb, int64_t R, int64_t Tb, bool first, int64_t kb, size_t slot) {
    (void)kb, (void)slot; /* walks one K block at a time (hg_q8x_nest.whole_groups false) */
    if (q4) qa_group(true, y, ldy, xl, ldb, wq, dw, nb, R, Tb, first);
    else qa_group(false, y, ldy, xl, ldb, wq, dw, nb, R, Tb, first);
}
static void qa_pack_any(bool q4, const hg_tensor *w, int64_t o0, int64_t R, int64_t b0, int64_t nb, uint32_t *wq,
                        float *dw) {
    if (q4) pack_wq(true, w, o0, R, b0, nb, wq, dw);
    else pack_wq(false, w, o0, R, b0, nb, wq, dw);
}

/* ---- the entry point -------------------------------------------------------------------------- */

static const hg_q8x_nest qa_nest = {QA_R, QA_TG, QA_KB, QA_XB, 4, false, hg_quantize_row_q8x_avx2,
                                    qa_pack_any, qa_group_any, &hg_kern_avx2};

void hg_gemm_q8_avxvnni(float *y, const float *x, const hg_tensor *w, int64_t T) {
    hg_gemm_q8x_rows(&qa_nest, (const hg_q8x_packed *)hg_packed_for(w, hg_gemm_q8_avxvnni), y, x, w, T);
}

void *hg_prepack_q8_avxvnni(const hg_tensor *w) { return hg_q8x_prepack(&qa_nest, hg_gemm_q8_avxvnni, w); }
