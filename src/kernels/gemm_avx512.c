/*
 * gemm_avx512.c — the AVX-512 blocked matrix-matrix kernel, lanes along output rows (compiled with
 * the AVX-512 flags; hg_kern_avx512.gemm for every dtype). Scalar twin: the sequential FMA chain
 * tests/test_kernels.c checks every blocked kernel against, bit for bit.
 *
 * y[T, n_out] = x[T, n_in] · Wᵀ for T > 8 (prefill chunks, verification, training batches). The plan
 * of the AVX2 kernel (matmul_avx2.c) at 16 lanes and 32 registers: per K block of 256 inputs a thread
 * widens 32 W rows to f32 and transposes them into wp[k][32] (16x16 register transposes; Q8_0/Q4_0
 * dequantized exactly, (float)q·d as hg_dequantize_row_*), then runs a 32 x 12 register tile over
 * all positions: per k two aligned loads of wp, twelve broadcasts of x read straight from its
 * [T, n_in] rows, 24 FMAs. 24 accumulators + 2 weight vectors + 1 broadcast = 27 of the 32 zmm; 14
 * loads per 24 FMAs leaves the two FMA ports the limit. Not lanes along positions (a 12 x 32 tile on
 * x packed position-major and shared by the team, a barrier per K block, every partial tile gathered
 * from / scattered to y): the same loads per FMA, but that overhead makes it 2-2.5x slower at h = 128
 * .. 1024 and ~1.2x at h = 5280 (one core), 3-5x with few rows (n_out 8-48); docs/results/kernels.md.
 *
 * A tile row is 32 contiguous outputs of y, so partial sums go to and from y between K blocks with
 * plain loads/stores (masked at the n_out tail) and threads take contiguous ranges of 32-row groups,
 * sharing nothing. Every y element is the sequential f32 FMA chain over k from +0 (the partial sums
 * go back to y exactly, as f32), so the result is bit-identical to the other blocked kernels and
 * independent of the tiling and the thread count.
 *
 * A weight packed once at load (hg_prepack_bf16_rows, below) skips all of this: a walk over its
 * k-major groups gives the same chain at every T, faster (docs/kernels.md "Packed bf16 weights").
 *
 * Passes over positions: W is widened and transposed once per pass, and a pass keeps the K slice of
 * x (Tb x kc floats) in L2 while every row group sweeps it. Passes hold up to GEMM5_XB bytes of that
 * slice (so 1024 positions at kc = 256, 2048 at n_in = 128) in equal sizes: at the trainer's shapes
 * (n_in 128..384, T 1024) W is packed once per call instead of once per 128 positions.
 */
#include "kernels/dispatch.h"
#include "kernels/gemm_rows.h"
#include "kernels/transpose_avx512.h"

#include <immintrin.h>
#include <omp.h>

#define HG_INLINE static inline __attribute__((always_inline))

#define GEMM5_KC HG_ROWS_KC            /* inputs per K block: wp is 32 KiB (L1 is 48 KiB here) */
#define GEMM5_R 32              /* W rows per group: two zmm of outputs */
#define GEMM5_TG 12             /* positions per register tile */
#define GEMM5_XB (1024 * 1024)  /* bytes of the x K slice per pass (L2 is 2 MiB per core here) */

/* ---- widening and transposing W --------------------------------------------------------------- */

static size_t row_bytes(hg_dtype dt, int64_t n) {
    switch (dt) {
    case HG_DTYPE_Q8_0: return (size_t)(n / HG_QK) * sizeof(hg_block_q8_0);
    case HG_DTYPE_Q4_0: return (size_t)(n / HG_QK) * sizeof(hg_block_q4_0);
    case HG_DTYPE_F32: return (size_t)n * 4;
    default: return (size_t)n * 2;
    }
}

/* Elements [k, k+16) of the row whose first element (quantized: first block) is at `row`, as f32:
 * the values hg_tensor_row_f32 gives. Float dtypes: lanes outside m read nothing and are 0.
 * Quantized: k % 16 == 0, so the 16 lie in one block (its low or high half). */
HG_INLINE __m512 widen16(hg_dtype dt, const void *row, int64_t k, __mmask16 m) {
    switch (dt) {
    case HG_DTYPE_Q8_0: {
        const hg_block_q8_0 *q = (const hg_block_q8_0 *)row + k / HG_QK;
        const __m128i v = _mm_loadu_si128((const __m128i *)(q->qs + k % HG_QK));
        return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)), _mm512_set1_ps(_cvtsh_ss(q->d)));
    }
    case HG_DTYPE_Q4_0: { /* element j < 16: low nibble of qs[j]; j >= 16: high nibble of qs[j-16]; minus 8 */
        const hg_block_q4_0 *q = (const hg_block_q4_0 *)row + k / HG_QK;
        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q->qs));
        v = k % HG_QK ? _mm512_srli_epi32(v, 4) : _mm512_and_si512(v, _mm512_set1_epi32(15));
        v = _mm512_sub_epi32(v, _mm512_set1_epi32(8));
        return _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(_cvtsh_ss(q->d)));
    }
    case HG_DTYPE_BF16: {
        const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case HG_DTYPE_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k));
    default: return _mm512_maskz_loadu_ps(m, (const float *)row + k);
    }
}

/* wp[k][r] = W[o0 + r][k0 + k] as f32 for k < kc rounded up to 16 (zeros past kc), r < 32 (zeros for
 * r >= R). Quantized: k0 and kc multiples of 32. */
HG_INLINE void pack_w(hg_dtype dt, const hg_tensor *w, int64_t o0, int64_t R, int64_t k0, int64_t kc, float *wp) {
    const size_t rb = row_bytes(dt, w->ne[1]);
    const uint8_t *base = (const uint8_t *)w->data + (size_t)o0 * rb;
    for (int64_t h = 0; h < GEMM5_R; h += 16) {
        if (h >= R) { /* the whole half is past the last row: zeros (never stored to y) */
            for (int64_t k = 0; k < kc; k++) _mm512_store_ps(wp + k * GEMM5_R + h, _mm512_setzero_ps());
            continue;
        }
        for (int64_t k = 0; k < kc; k += 16) {
            const __mmask16 m = kc - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (kc - k)) - 1);
            __m512 v[16];
            _Pragma("GCC unroll 16")
            for (int r = 0; r < 16; r++)
                v[r] = h + r < R ? widen16(dt, base + (size_t)(h + r) * rb, k0 + k, m)
                                 : _mm512_setzero_ps();
            transpose16(v);
            _Pragma("GCC unroll 16")
            for (int j = 0; j < 16; j++) _mm512_store_ps(wp + (k + j) * GEMM5_R + h, v[j]);
        }
    }
}

HG_ROWS_PACK_BY_DTYPE(pack_w_any, pack_w)

/* ---- the register tile ------------------------------------------------------------------------ */

/* y[t][r] (+)= Σ_k x[t][k] · wp[k][r] for t < TG, r < 32 (lanes outside m0 | m1 neither read nor
 * written); y and x already point at (t, o0) and (t, k0). */
HG_INLINE void gemm_tile(int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const float *wp, int64_t kc,
                         __mmask16 m0, __mmask16 m1, bool first) {
    __m512 acc[GEMM5_TG][2];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) {
        if (first) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
        else {
            acc[t][0] = _mm512_maskz_loadu_ps(m0, y + t * ldy);
            acc[t][1] = _mm512_maskz_loadu_ps(m1, y + t * ldy + 16);
        }
    }
    for (int64_t k = 0; k < kc; k++) {
        const __m512 w0 = _mm512_load_ps(wp + k * GEMM5_R), w1 = _mm512_load_ps(wp + k * GEMM5_R + 16);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) {
            const __m512 xb = _mm512_set1_ps(x[t * ldx + k]);
            acc[t][0] = _mm512_fmadd_ps(w0, xb, acc[t][0]);
            acc[t][1] = _mm512_fmadd_ps(w1, xb, acc[t][1]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int t = 0; t < TG; t++) {
        _mm512_mask_storeu_ps(y + t * ldy, m0, acc[t][0]);
        _mm512_mask_storeu_ps(y + t * ldy + 16, m1, acc[t][1]);
    }
}

/* One group of R <= 32 rows (packed in wp) against Tb positions, in tiles of 12 then the rest. */
static void gemm_group(float *y, int64_t ldy, const float *x, int64_t ldx, const float *wp, int64_t kc, int64_t R,
                       int64_t Tb, bool first) {
    const __mmask16 m0 = R >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << R) - 1);
    const __mmask16 m1 = R >= 32 ? (__mmask16)0xffff : R <= 16 ? (__mmask16)0 : (__mmask16)((1u << (R - 16)) - 1);
    int64_t t = 0;
    for (; t + GEMM5_TG <= Tb; t += GEMM5_TG)
        gemm_tile(GEMM5_TG, y + t * ldy, ldy, x + t * ldx, ldx, wp, kc, m0, m1, first);
    float *yt = y + t * ldy;
    const float *xt = x + t * ldx;
    switch (Tb - t) {
    case 11: gemm_tile(11, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 10: gemm_tile(10, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 9: gemm_tile(9, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 8: gemm_tile(8, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 7: gemm_tile(7, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 6: gemm_tile(6, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 5: gemm_tile(5, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 4: gemm_tile(4, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 3: gemm_tile(3, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 2: gemm_tile(2, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    case 1: gemm_tile(1, yt, ldy, xt, ldx, wp, kc, m0, m1, first); break;
    default: break;
    }
}

/* ---- bf16 laid out once (hg_prepack_bf16_rows) ------------------------------------------------ */

/* The packed layout (gemm_rows.h hg_bf16_prepack) at 32 rows: 64 bytes per k. Every product on it is
 * the sequential FMA chain over k from +0 of the stored layout's blocked product (above), bit for bit,
 * so a position's result is the same at every T. The walk (bp_walk) streams a group once per pass of up
 * to 8 positions with their sums in registers: no widened copy of W and no partial sums through y. It
 * outruns the register tile on stored rows at every T measured (1-1536; docs/results/kernels.md
 * "Packed bf16"), so a packed weight takes it at every T. */
#define BP_PF 8192 /* bytes ahead in a group's stream for the walk's prefetch (into L1) */

HG_INLINE void bp_widen(const uint16_t *v, __m512 *w0, __m512 *w1) {
    const __m512i a = _mm512_load_si512(v);
    *w0 = _mm512_castsi512_ps(_mm512_unpacklo_epi16(_mm512_setzero_si512(), a));
    *w1 = _mm512_castsi512_ps(_mm512_unpackhi_epi16(_mm512_setzero_si512(), a));
}

void *hg_prepack_bf16_rows(const hg_tensor *w) { return hg_bf16_prepack(w, GEMM5_R, hg_gemm_rows_avx512); }

/* y[t][r] = Σ_k x[t][k] · W[o0 + r][k] for t < TG over the whole K of one packed group, the sums in
 * registers (the tile's chain: one FMA per k into +0) */
HG_INLINE void bp_walk(int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const uint16_t *g, int64_t K,
                       __mmask16 m0, __mmask16 m1) {
    __m512 acc[HG_MV_T][2];
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        _mm_prefetch((const char *)(g + k * GEMM5_R) + BP_PF, _MM_HINT_T0);
        __m512 w0, w1;
        bp_widen(g + k * GEMM5_R, &w0, &w1);
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++) {
            const __m512 xb = _mm512_set1_ps(x[t * ldx + k]);
            acc[t][0] = _mm512_fmadd_ps(w0, xb, acc[t][0]);
            acc[t][1] = _mm512_fmadd_ps(w1, xb, acc[t][1]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) {
        _mm512_mask_storeu_ps(y + t * ldy, m0, acc[t][0]);
        _mm512_mask_storeu_ps(y + t * ldy + 16, m1, acc[t][1]);
    }
}

/* bp_walk over NG adjacent full groups at once (group j at g + j·K·32 in the layout, its outputs at
 * y + 32·j): at one or two positions a group's chains are two or four FMAs deep per k, so one group alone
 * retires a 64-byte line per FMA latency and cannot catch up after a memory stall; NG groups interleaved
 * multiply the independent chains. Each output's chain is unchanged, so the sums are bp_walk's bit for
 * bit. */
HG_INLINE void bp_walk_groups(int NG, int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const uint16_t *g,
                              int64_t K) {
    __m512 acc[2][4][2];
    _Pragma("GCC unroll 2")
    for (int t = 0; t < TG; t++)
        _Pragma("GCC unroll 4")
        for (int j = 0; j < NG; j++) acc[t][j][0] = acc[t][j][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m512 w[4][2];
        _Pragma("GCC unroll 4")
        for (int j = 0; j < NG; j++) {
            const uint16_t *gk = g + ((size_t)j * (size_t)K + (size_t)k) * GEMM5_R;
            _mm_prefetch((const char *)gk + BP_PF, _MM_HINT_T0);
            bp_widen(gk, &w[j][0], &w[j][1]);
        }
        _Pragma("GCC unroll 2")
        for (int t = 0; t < TG; t++) {
            const __m512 xb = _mm512_set1_ps(x[t * ldx + k]);
            _Pragma("GCC unroll 4")
            for (int j = 0; j < NG; j++) {
                acc[t][j][0] = _mm512_fmadd_ps(w[j][0], xb, acc[t][j][0]);
                acc[t][j][1] = _mm512_fmadd_ps(w[j][1], xb, acc[t][j][1]);
            }
        }
    }
    _Pragma("GCC unroll 2")
    for (int t = 0; t < TG; t++)
        _Pragma("GCC unroll 4")
        for (int j = 0; j < NG; j++) {
            _mm512_storeu_ps(y + t * ldy + 32 * j, acc[t][j][0]);
            _mm512_storeu_ps(y + t * ldy + 32 * j + 16, acc[t][j][1]);
        }
}

/* Threads take grabs of whole groups, each about HG_MV_GRAB bytes of W, and walk a grab's groups in
 * order: the prefetch running ahead of one group then fetches the start of the next. More than 8
 * positions go in equal passes over a group while it is in L2, so W comes from memory once. */
static void bp_products(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], K = w->ne[1], n_grp = (n_out + GEMM5_R - 1) / GEMM5_R;
    /* a grab holds at least the groups walked together (below) */
    const int64_t grab = hg_max_i64(hg_bf16_walk_grab_min(T), HG_MV_GRAB / (K * GEMM5_R * (int64_t)sizeof(uint16_t)));
    const int64_t n_grab = (n_grp + grab - 1) / grab, n_pass = (T + HG_MV_T - 1) / HG_MV_T;
#pragma omp parallel for schedule(dynamic, 1) if ((double)n_out * (double)K * (double)T >= HG_PAR_MIN_MACS)
    for (int64_t gr = 0; gr < n_grab; gr++)
        for (int64_t gi = gr * grab, ge = hg_min_i64(n_grp, (gr + 1) * grab); gi < ge; gi++) {
            const int64_t o0 = gi * GEMM5_R, R = hg_min_i64(GEMM5_R, n_out - o0);
            const int64_t ng = hg_bf16_walk_together(T, GEMM5_R, gi, ge, o0, n_out); /* groups walked together */
            if (ng > 1) {
                const uint16_t *g = hg_bf16_packed_group(w, GEMM5_R, gi);
                if (ng == 4) bp_walk_groups(4, 1, y + o0, n_out, x, K, g, K);
                else if (T == 1) bp_walk_groups(2, 1, y + o0, n_out, x, K, g, K);
                else bp_walk_groups(2, 2, y + o0, n_out, x, K, g, K);
                gi += ng - 1;
                continue;
            }
            const __mmask16 m0 = R >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << R) - 1);
            const __mmask16 m1 =
                R >= 32 ? (__mmask16)0xffff : R <= 16 ? (__mmask16)0 : (__mmask16)((1u << (R - 16)) - 1);
            const uint16_t *g = hg_bf16_packed_group(w, GEMM5_R, gi);
            for (int64_t c = 0; c < n_pass; c++) {
                const int64_t t0 = T * c / n_pass, Tb = T * (c + 1) / n_pass - t0;
                float *yo = y + t0 * n_out + o0;
                const float *xo = x + t0 * K;
                switch (Tb) {
                case 1: bp_walk(1, yo, n_out, xo, K, g, K, m0, m1); break;
                case 2: bp_walk(2, yo, n_out, xo, K, g, K, m0, m1); break;
                case 3: bp_walk(3, yo, n_out, xo, K, g, K, m0, m1); break;
                case 4: bp_walk(4, yo, n_out, xo, K, g, K, m0, m1); break;
                case 5: bp_walk(5, yo, n_out, xo, K, g, K, m0, m1); break;
                case 6: bp_walk(6, yo, n_out, xo, K, g, K, m0, m1); break;
                case 7: bp_walk(7, yo, n_out, xo, K, g, K, m0, m1); break;
                default: bp_walk(8, yo, n_out, xo, K, g, K, m0, m1); break;
                }
            }
        }
}

/* ---- the entry point -------------------------------------------------------------------------- */

/* Passes hold up to GEMM5_XB bytes of x's K slice; the loop nest is gemm_rows.h's. */
void hg_gemm_rows_avx512(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t kc_max = hg_min_i64(GEMM5_KC, w->ne[1] > 0 ? w->ne[1] : 1);
    if (hg_packed_for(w, hg_gemm_rows_avx512)) {
        if (T > 0 && w->ne[0] > 0) bp_products(y, x, w, T);
        return;
    }
    hg_gemm_rows(y, x, w, T, GEMM5_R, hg_max_i64(128, GEMM5_XB / (4 * kc_max)), pack_w_any, gemm_group);
}
