/*
 * gemm_bf16dot_avx512.c — y[T, n_out] = x[T, n_in]·Wᵀ for bf16 weights with AVX512-BF16's vdpbf16ps,
 * the blocked product (prefill, verification, batches above the mv path) of the AVX-512 level on
 * CPUs with AVX512-BF16 and no AMX (Zen 4/5, Cooper Lake). Decode (T < gemm_min_t) stays on mv_bf16.
 *
 * Exact f32 activations on a bf16 dot unit, as the AMX kernel (gemm_amx_avx512.c): each x is split
 * into three bf16 parts, x = hi + mid + lo exactly (hi = x rounded to bf16, mid = the remainder
 * rounded, lo = what is left, which has at most 8 significant bits), and a product of two bf16 is
 * exact in f32, so W·x is three bf16 dot products accumulated in f32: the accuracy of an f32 dot
 * product, within test_kernels.c's bound. Rejected: two parts (16 bits of x, relative error up to
 * 2⁻¹⁶ per term: outside the f32 bound for short rows) and one part (llama.cpp's choice: x at 8 bits).
 * Three parts cost three vdpbf16ps per 32 multiply-adds, so the ceiling is 2/3 of the FP32 FMA peak
 * in useful FLOPs; the widening kernel (gemm_avx512.c) sits below that because it converts W on the
 * fly and re-reads x as f32.
 *
 * Layout. x is split once per call (threads share it): xs[c][t][part][8 pairs] u32, c = 16-input
 * chunk, so one register tile's broadcasts sit at constant offsets from one pointer. W is packed per
 * thread, per K block of KC inputs and group of 32 rows, into the pair-interleaved layout vdpbf16ps
 * takes, wp[pair][32 rows] u32 (16 KiB, L1), by dword gathers over the 32 rows; every position then
 * reuses it. Register tile: 32 rows (two zmm) x 12 positions = 24 f32 accumulators; per pair two W
 * loads, 36 broadcasts, 72 vdpbf16ps. Partial sums wait in y between K blocks (exact).
 *
 * Determinism: every y[t, o] is one sequence, pairs of k in order, for each pair hi, mid, lo into
 * one f32 accumulator from +0 (odd n_in: a zero pair partner), whatever T, the tile, the row group or
 * the thread. It is not the FMA chain of the widening kernels (dispatch.h: bf16_split). vdpbf16ps
 * reads denormal parts as zero and flushes denormal sums, which matters only below ~1e-38.
 * Non-finite x: hi carries it (rounded as vcvtneps2bf16 rounds it, a NaN stays a NaN) and the other
 * parts are 0; a finite x that rounds to ±inf in bf16 is truncated instead, so hi stays finite.
 */
#include "kernels/dispatch.h"

#include <immintrin.h>
#include <omp.h>

#define HG_INLINE static inline __attribute__((always_inline))

#define BD_R 32                /* W rows per group */
#define BD_TG 12               /* positions per register tile */
#define BD_KC 256              /* inputs per K block: wp is 128 pairs x 32 rows x 4 bytes = 16 KiB */
#define BD_XB (512 * 1024)     /* bytes of x parts per K block and pass (kept in L2) */
#define BD_CH 24               /* u32 per position per 16-input chunk: 3 parts x 8 pairs */

/* ---- x into bf16 parts ------------------------------------------------------------------------ */

HG_INLINE __m512 widen_bh(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

/* 16 inputs (lanes outside m are 0) into three 256-bit vectors of 16 bf16 each (8 pairs). */
HG_INLINE void split16(const float *x, __mmask16 m, __m256i *hi, __m256i *mid, __m256i *lo) {
    const __m512 v = _mm512_maskz_loadu_ps(m, x);
    const __mmask16 fin = (__mmask16)~_mm512_fpclass_ps_mask(v, 0x99); /* not NaN, not ±inf */
    __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
    __m512 hf = widen_bh(h);
    const __mmask16 ovf = _mm512_mask_fpclass_ps_mask(fin, hf, 0x18); /* finite, rounded to ±inf */
    if (ovf) {
        hf = _mm512_mask_mov_ps(hf, ovf, _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v),
                                                                             _mm512_set1_epi32((int)0xffff0000u))));
        h = _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(hf), 16));
    }
    const __m512 r1 = _mm512_maskz_sub_ps(fin, v, hf); /* exact */
    const __m256i md = (__m256i)_mm512_cvtneps_pbh(r1);
    const __m512 r2 = _mm512_sub_ps(r1, widen_bh(md)); /* exact, at most 8 significant bits */
    *hi = h;
    *mid = md;
    *lo = (__m256i)_mm512_cvtneps_pbh(r2);
}

/* Position t of x [T, K] into xs[c][t][3][8] for every chunk c of 16 inputs (zeros past K). */
static void split_position(uint32_t *xs, const float *x, int64_t t, int64_t T, int64_t K) {
    const int64_t nc = (K + 15) / 16;
    for (int64_t c = 0; c < nc; c++) {
        const int64_t k = 16 * c;
        const __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m256i h, md, lo;
        split16(x + t * K + k, m, &h, &md, &lo);
        uint32_t *d = xs + ((size_t)c * (size_t)T + (size_t)t) * BD_CH;
        _mm256_storeu_si256((__m256i *)d, h);
        _mm256_storeu_si256((__m256i *)(d + 8), md);
        _mm256_storeu_si256((__m256i *)(d + 16), lo);
    }
}

/* ---- packing W -------------------------------------------------------------------------------- */

/* wp[j][r] = the bf16 pair (W[o0+r][k0+2j], W[o0+r][k0+2j+1]) for pairs j < kc/2 rounded up to 8
 * (zeros past K, and for rows r >= R). */
static void pack_w(const hg_tensor *w, int64_t o0, int64_t R, int64_t k0, int64_t kc, uint32_t *wp) {
    const int64_t K = w->ne[1];
    const uint16_t *base = (const uint16_t *)w->data + o0 * K;
    const int64_t np = (kc + 15) / 16 * 8, whole = kc / 2; /* pairs stored; pairs with both elements in K */
    const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32((int)(K * 2)));
    for (int h = 0; h < BD_R; h += 16) {
        const int64_t rows = hg_max_i64(0, hg_min_i64(16, R - h));
        const __mmask16 m = (__mmask16)((1u << rows) - 1);
        const uint16_t *b = base + h * K + k0;
        int64_t j = 0;
        if (m == 0xffff)
            for (; j < whole; j++) _mm512_store_si512(wp + j * BD_R + h, _mm512_i32gather_epi32(at, b + 2 * j, 1));
        else
            for (; j < whole; j++)
                _mm512_store_si512(wp + j * BD_R + h,
                                   _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, at, b + 2 * j, 1));
        for (; j < np; j++) { /* past K: an odd last element with a zero partner, then zeros */
            uint32_t *d = wp + j * BD_R + h;
            for (int r = 0; r < 16; r++) d[r] = 2 * j < kc && r < rows ? b[r * K + 2 * j] : 0;
        }
    }
}

/* ---- the register tile ------------------------------------------------------------------------ */

/* y[t][r] (+)= Σ pairs (xs parts of position t) · wp for t < TG, r < 32 (lanes outside m0 | m1
 * neither read nor written); xs points at (chunk 0 of this K block, the tile's first position), its
 * chunks ldc u32 apart; nc chunks of 16 inputs. */
HG_INLINE void bd_tile(int TG, float *y, int64_t ldy, const uint32_t *xs, int64_t ldc, const uint32_t *wp, int64_t nc,
                       __mmask16 m0, __mmask16 m1, bool first) {
    __m512 acc[BD_TG][2];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) {
        if (first) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
        else {
            acc[t][0] = _mm512_maskz_loadu_ps(m0, y + t * ldy);
            acc[t][1] = _mm512_maskz_loadu_ps(m1, y + t * ldy + 16);
        }
    }
    for (int64_t c = 0; c < nc; c++, xs += ldc, wp += 8 * BD_R) {
        _Pragma("GCC unroll 2")
        for (int j = 0; j < 8; j++) {
            const __m512bh w0 = (__m512bh)_mm512_load_si512(wp + j * BD_R);
            const __m512bh w1 = (__m512bh)_mm512_load_si512(wp + j * BD_R + 16);
            _Pragma("GCC unroll 16")
            for (int t = 0; t < TG; t++) {
                _Pragma("GCC unroll 3")
                for (int p = 0; p < 3; p++) {
                    const __m512bh xb = (__m512bh)_mm512_set1_epi32((int)xs[t * BD_CH + p * 8 + j]);
                    acc[t][0] = _mm512_dpbf16_ps(acc[t][0], w0, xb);
                    acc[t][1] = _mm512_dpbf16_ps(acc[t][1], w1, xb);
                }
            }
        }
    }
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) {
        _mm512_mask_storeu_ps(y + t * ldy, m0, acc[t][0]);
        _mm512_mask_storeu_ps(y + t * ldy + 16, m1, acc[t][1]);
    }
}

/* One packed group of R rows against positions [t0, t0+Tb), 12 at a time, then the rest. */
static void bd_group(float *y, int64_t ldy, const uint32_t *xs, int64_t ldc, const uint32_t *wp, int64_t nc, int64_t R,
                     int64_t Tb, bool first) {
    const __mmask16 m0 = R >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << R) - 1);
    const __mmask16 m1 = R >= 32 ? (__mmask16)0xffff : R <= 16 ? (__mmask16)0 : (__mmask16)((1u << (R - 16)) - 1);
    int64_t t = 0;
    for (; t + BD_TG <= Tb; t += BD_TG) bd_tile(BD_TG, y + t * ldy, ldy, xs + t * BD_CH, ldc, wp, nc, m0, m1, first);
    float *yt = y + t * ldy;
    const uint32_t *xt = xs + t * BD_CH;
    switch (Tb - t) {
    case 11: bd_tile(11, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 10: bd_tile(10, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 9: bd_tile(9, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 8: bd_tile(8, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 7: bd_tile(7, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 6: bd_tile(6, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 5: bd_tile(5, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 4: bd_tile(4, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 3: bd_tile(3, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 2: bd_tile(2, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    case 1: bd_tile(1, yt, ldy, xt, ldc, wp, nc, m0, m1, first); break;
    default: break;
    }
}

/* ---- the entry point -------------------------------------------------------------------------- */

void hg_gemm_bf16_dot(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], K = w->ne[1];
    HG_ASSERT(w->dtype == HG_DTYPE_BF16);
    if (T <= 0 || n_out <= 0) return;
    if (K <= 0) {
        memset(y, 0, (size_t)(T * n_out) * sizeof(float));
        return;
    }
    const int64_t nc = (K + 15) / 16; /* 16-input chunks */
    uint32_t *xs = hg_malloc((size_t)nc * (size_t)T * BD_CH * sizeof(uint32_t));
    if (!xs) { /* out of memory: the widening kernels need no buffer */
        hg_matmul_with(&hg_kern_avx512, y, x, w, T);
        return;
    }
    const int64_t n_grp = (n_out + BD_R - 1) / BD_R;
    const int64_t kc_max = hg_min_i64(BD_KC, K), per_t = (kc_max + 15) / 16 * BD_CH * 4;
    const int64_t tb_max = hg_max_i64(BD_TG, BD_XB / per_t), n_pass = (T + tb_max - 1) / tb_max;
    const int64_t ldc = T * BD_CH;
#pragma omp parallel if ((double)n_out * (double)K * (double)T >= HG_PAR_MIN_MACS)
    {
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) split_position(xs, x, t, T, K);
        uint32_t wp[BD_KC / 2 * BD_R] __attribute__((aligned(64)));
        const int64_t nt = omp_get_num_threads(), it = omp_get_thread_num();
        const int64_t g0 = n_grp * it / nt, g1 = n_grp * (it + 1) / nt;
        for (int64_t p = 0; p < n_pass; p++) {
            const int64_t t0 = T * p / n_pass, Tb = T * (p + 1) / n_pass - t0;
            for (int64_t k0 = 0; k0 < K; k0 += BD_KC) {
                const int64_t kc = hg_min_i64(BD_KC, K - k0);
                for (int64_t g = g0; g < g1; g++) {
                    const int64_t o0 = g * BD_R, R = hg_min_i64(BD_R, n_out - o0);
                    pack_w(w, o0, R, k0, kc, wp);
                    bd_group(y + t0 * n_out + o0, n_out, xs + ((size_t)(k0 / 16) * (size_t)T + (size_t)t0) * BD_CH, ldc,
                             wp, (kc + 15) / 16, R, Tb, k0 == 0);
                }
            }
        }
    }
    hg_free(xs);
}
