/*
 * gemm_q8_amx_avx512.c — y[T, n_out] = x[T, n_in]·Wᵀ for Q8_0 and Q4_0 weights on AMX-INT8 tiles
 * (Sapphire Rapids and later): the blocked product (T > HG_MV_T: prefill, speculative verification,
 * batches of more than 8) of the AVX-512 level when cpu.c reports AMX usable.
 *
 * Arithmetic: x is rounded to Q8X per position (the decode path's activations, hg_quantize_row_q8x,
 * so prefill and decode see the same inputs), and every y[t, o] is the chain over the row's blocks
 * b = 0, 1, ... in order, from +0:
 *     acc = fmaf((float)isum_b, d_w[o, b] · d_x[t, b], acc)
 * where isum_b = Σ_j q_w·q_x is the block's exact integer dot (|isum| <= 32·128·127 < 2²⁴, so the
 * conversion is exact too) and d_w·d_x one f32 rounding. Whatever T, the position group, the row
 * block or the thread, that is the sequence; rows below the last whole tile run it in scalar code.
 * It is not the f32 blocked kernels' FMA chain over widened weights (dispatch.h: gemm_q8x), and its
 * error bound is the matrix-vector path's (activations at 8 bits).
 *
 * Tiles (one 32-element block per tile product, since every block has its own two scales):
 * A = 16 rows x 32 int8 of W, B = 8 rows (k/4) x N positions x 4 int8 of x, C = 16 x N int32.
 * Per work item (3 row tiles when T <= 16, else 2) the rows are first packed block-major (Q4_0
 * unpacked to q - 8), one pass over W with the row-stream prefetch, so every A tile is 512
 * contiguous bytes; x is laid out once per call (B tiles and d_x per position group of 16). After
 * each block's tile products the 16 x N sums go through the vector unit: to f32, times the scale, one
 * FMA into the accumulators (lanes = positions). Block b + 1's products are issued before block b is
 * scaled.
 * 3.4-4.5x the AVX-512 f32 blocked kernel at [5280, 5280], T = 128 (docs/results/kernels.md). The
 * bound is the scaling's 3 vector operations per 16 sums (convert, scale product, FMA): the tile unit
 * and the vector unit do not overlap (a synthetic loop takes 11-15 ns per product for tiles alone,
 * 28-32 with the scaling added).
 */
#include "kernels/amx_tiles.h"
#include "kernels/dispatch.h"
#include "kernels/mv_float.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>

enum { QR = 16, QN = 16 };

/* Tile registers. A step multiplies R row tiles (A, 16 rows of W each) by G position groups (B) into
 * R·G sum tiles: R = 3, G = 1 (T <= 16) or R = 2, G = 2, so 4 to 5 tile products are independent and
 * the tile unit is not waiting on one product's latency (one pair in flight ran 2-3x slower). */
/* (macros, not an enum: the tile intrinsics paste the number into the instruction) */
#define T_C00 0
#define T_C10 1
#define T_C01 2
#define T_C20 2 /* only with G = 1 */
#define T_C11 3
#define T_A2 3 /* only with G = 1 */
#define T_A0 4
#define T_A1 5
#define T_B0 6
#define T_B1 7

/* Shapes for R x G with N0 (N1) positions in group 0 (1): C [16][N] int32, A [16][32] int8, B [8][N·4]. */
static void q_tiles_config(int R, int G, int N0, int N1) {
    uint8_t rows[8] = {0};
    uint16_t colsb[8] = {0};
#define Q_SET(t, r, c) (rows[t] = (uint8_t)(r), colsb[t] = (uint16_t)(c))
    Q_SET(T_A0, QR, HG_QK), Q_SET(T_B0, HG_QK / 4, N0 * 4), Q_SET(T_C00, QR, N0 * 4);
    if (R > 1) Q_SET(T_A1, QR, HG_QK), Q_SET(T_C10, QR, N0 * 4);
    if (R > 2) Q_SET(T_A2, QR, HG_QK), Q_SET(T_C20, QR, N0 * 4);
    if (G > 1) {
        Q_SET(T_B1, HG_QK / 4, N1 * 4), Q_SET(T_C01, QR, N1 * 4);
        if (R > 1) Q_SET(T_C11, QR, N1 * 4);
    }
#undef Q_SET
    hg_amx_configure(8, rows, colsb);
}

typedef struct q_job {
    float *y;
    int64_t T, n_out, nkb; /* positions, rows, blocks per row */
    const uint8_t *w;
    size_t rowb; /* bytes per row */
    int bs;      /* bytes per block: 34 (Q8_0) or 18 (Q4_0) */
    bool q4, pf;
    int32_t *xb;             /* B layout: group at t0·nkb·8 dwords, then [b][8][N] */
    float *dx;               /* d_x: group at t0·nkb, then [b][N] */
    hg_block_q8x *xq;        /* [T][nkb]: the quantized positions (the scalar rows) */
} q_job;

/* Quantize position t and put it into the B layout and the d_x table of its group. */
static void q_lay_position(const q_job *j, hg_block_q8x *xq, const float *x, int64_t t) {
    const int64_t nkb = j->nkb, g0 = t / QN * QN, N = hg_min_i64(QN, j->T - g0), n = t - g0;
    hg_quantize_row_q8x_avx512(x + t * nkb * HG_QK, xq, nkb * HG_QK);
    int32_t *bg = j->xb + g0 * nkb * 8;
    float *dg = j->dx + g0 * nkb;
    for (int64_t b = 0; b < nkb; b++) {
        for (int r = 0; r < 8; r++) memcpy(&bg[(b * 8 + r) * N + n], xq[b].qs + 4 * r, 4);
        dg[b * N + n] = xq[b].d;
    }
}

/* nr rows from o0 (a multiple of 16): d_w of every block (dw[r][b][16] for row tile r) and the quants
 * packed block-major, ap[b][nr][32] (Q4_0 unpacked to q - 8), so each A tile is 512 contiguous bytes:
 * tile loads straight from the strided rows stalled on their 16 cache lines (~30 % of the time at
 * T = 128). */
static void q_prepare(const q_job *j, int64_t o0, int nr, float *dw, int8_t *ap) {
    const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32((int)j->rowb));
    for (int r = 0; r < nr / QR; r++) {
        const uint8_t *w0 = j->w + (size_t)(o0 + QR * r) * j->rowb;
        float *d = dw + (size_t)r * (size_t)j->nkb * 16;
        for (int64_t b = 0; b < j->nkb; b++) /* each read is d and 2 bytes of the block's quants */
            _mm512_store_ps(d + 16 * b, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_i32gather_epi32(at, w0 + b * j->bs, 1))));
    }
    const uint8_t *w0 = j->w + (size_t)o0 * j->rowb;
    const __m128i lo4 = _mm_set1_epi8(15), eight = _mm_set1_epi8(8);
    for (int64_t b = 0; b < j->nkb; b++) {
        if (j->pf && (b & 1) == 0) hg_mv_prefetch_rows(w0, j->rowb, nr, (size_t)b * (size_t)j->bs);
        int8_t *dst = ap + (size_t)b * (size_t)nr * HG_QK;
        for (int m = 0; m < nr; m++, dst += HG_QK) {
            const uint8_t *blk = w0 + (size_t)m * j->rowb + (size_t)b * (size_t)j->bs + 2;
            if (j->q4) {
                const __m128i v = _mm_loadu_si128((const __m128i *)blk);
                _mm_storeu_si128((__m128i *)dst, _mm_sub_epi8(_mm_and_si128(v, lo4), eight));
                _mm_storeu_si128((__m128i *)(dst + 16), _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), lo4), eight));
            } else
                _mm256_storeu_si256((__m256i *)dst, _mm256_loadu_si256((const __m256i *)blk));
        }
    }
}

/* Tile half of block b: R x G products into c[r + 3g][16·16] (int32, rows 64 bytes apart). */
static inline __attribute__((always_inline)) void q_issue(int R, int G, const int8_t *a, size_t astride,
                                                          const int32_t *b0, int N0, const int32_t *b1, int N1,
                                                          int32_t *c) {
    _tile_loadd(T_A0, a, astride);
    if (R > 1) _tile_loadd(T_A1, a + QR * astride, astride);
    if (R > 2) _tile_loadd(T_A2, a + 2 * QR * astride, astride);
    _tile_loadd(T_B0, b0, N0 * 4);
    if (G > 1) _tile_loadd(T_B1, b1, N1 * 4);
    _tile_zero(T_C00);
    if (R > 1) _tile_zero(T_C10);
    if (R > 2) _tile_zero(T_C20);
    if (G > 1) _tile_zero(T_C01);
    if (G > 1 && R > 1) _tile_zero(T_C11);
    _tile_dpbssd(T_C00, T_A0, T_B0);
    if (R > 1) _tile_dpbssd(T_C10, T_A1, T_B0);
    if (R > 2) _tile_dpbssd(T_C20, T_A2, T_B0);
    if (G > 1) _tile_dpbssd(T_C01, T_A0, T_B1);
    if (G > 1 && R > 1) _tile_dpbssd(T_C11, T_A1, T_B1);
    _tile_stored(T_C00, c, 64);
    if (R > 1) _tile_stored(T_C10, c + 256, 64);
    if (R > 2) _tile_stored(T_C20, c + 512, 64);
    if (G > 1) _tile_stored(T_C01, c + 768, 64);
    if (G > 1 && R > 1) _tile_stored(T_C11, c + 1024, 64);
}

/* Vector half: acc[(r·G + g)·16 + m] += (f32) C_rg[m][:] · (d_x[:] · d_w[m]). */
static inline __attribute__((always_inline)) void q_scale(int R, int G, __m512 *acc, const int32_t *c, const __m512 *dxv,
                                                          const float *const *dwb) {
    for (int g = 0; g < G; g++)
        for (int r = 0; r < R; r++) {
            const int32_t *cc = c + 256 * (r + 3 * g);
            __m512 *ac = acc + (r * G + g) * QR;
            _Pragma("GCC unroll 16")
            for (int m = 0; m < QR; m++)
                ac[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(cc + 16 * m)),
                                        _mm512_mul_ps(dxv[g], _mm512_set1_ps(dwb[r][m])), ac[m]);
        }
}

/* Rows o0 .. o0 + 16R - 1 against G position groups from t0 (N0 and N1 positions). */
static inline __attribute__((always_inline)) void q_run(const q_job *j, int R, int G, int64_t o0, int64_t t0, int N0,
                                                        int N1, const float *dw, const int8_t *ap, int32_t *cbuf) {
    const int64_t nkb = j->nkb;
    const size_t astep = (size_t)R * QR * HG_QK, astride = HG_QK;
    const int32_t *bx0 = j->xb + t0 * nkb * 8, *bx1 = j->xb + (t0 + QN) * nkb * 8;
    const float *dx0 = j->dx + t0 * nkb, *dx1 = j->dx + (t0 + QN) * nkb;
    const __mmask16 m0 = (__mmask16)((1u << N0) - 1), m1 = (__mmask16)((1u << N1) - 1);
    __m512 acc[3 * QR * 2];
    for (int i = 0; i < R * G * QR; i++) acc[i] = _mm512_setzero_ps();
    /* block b + 1's tile products are issued before block b is scaled (two sum buffers) */
    q_issue(R, G, ap, astride, bx0, N0, bx1, N1, cbuf);
    for (int64_t b = 0; b < nkb; b++) {
        if (b + 1 < nkb) {
            q_issue(R, G, ap + (size_t)(b + 1) * astep, astride, bx0 + (b + 1) * 8 * N0, N0, bx1 + (b + 1) * 8 * N1, N1,
                    cbuf + ((b + 1) & 1) * 1280);
        }
        __m512 dxv[2];
        dxv[0] = _mm512_maskz_loadu_ps(m0, dx0 + b * N0);
        if (G > 1) dxv[1] = _mm512_maskz_loadu_ps(m1, dx1 + b * N1);
        const float *dwb[3];
        for (int r = 0; r < R; r++) dwb[r] = dw + ((size_t)r * (size_t)nkb + (size_t)b) * 16;
        q_scale(R, G, acc, cbuf + (b & 1) * 1280, dxv, dwb);
    }
    const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32((int)j->n_out));
    for (int g = 0; g < G; g++)
        for (int r = 0; r < R; r++)
            for (int m = 0; m < QR; m++)
                _mm512_mask_i32scatter_ps(j->y + (t0 + QN * g) * j->n_out + o0 + QR * r + m, g ? m1 : m0, at,
                                          acc[(r * G + g) * QR + m], 4);
}

static void q_run_11(const q_job *j, int64_t o0, int64_t t0, int N0, int N1, const float *dw, const int8_t *ap, int32_t *c) {
    q_run(j, 1, 1, o0, t0, N0, N1, dw, ap, c);
}
static void q_run_21(const q_job *j, int64_t o0, int64_t t0, int N0, int N1, const float *dw, const int8_t *ap, int32_t *c) {
    q_run(j, 2, 1, o0, t0, N0, N1, dw, ap, c);
}
static void q_run_31(const q_job *j, int64_t o0, int64_t t0, int N0, int N1, const float *dw, const int8_t *ap, int32_t *c) {
    q_run(j, 3, 1, o0, t0, N0, N1, dw, ap, c);
}
static void q_run_12(const q_job *j, int64_t o0, int64_t t0, int N0, int N1, const float *dw, const int8_t *ap, int32_t *c) {
    q_run(j, 1, 2, o0, t0, N0, N1, dw, ap, c);
}
static void q_run_22(const q_job *j, int64_t o0, int64_t t0, int N0, int N1, const float *dw, const int8_t *ap, int32_t *c) {
    q_run(j, 2, 2, o0, t0, N0, N1, dw, ap, c);
}

/* R row tiles from o0 against every position: groups in pairs when R <= 2. cfg: the configuration
 * loaded in this thread (R, G, N0, N1 packed; 0: none). */
static void q_rows(const q_job *j, int64_t o0, int R, const float *dw, const int8_t *ap, int32_t *cbuf, int *cfg) {
    for (int64_t t0 = 0; t0 < j->T;) {
        const int N0 = (int)hg_min_i64(QN, j->T - t0), N1 = R < 3 ? (int)hg_min_i64(QN, j->T - t0 - N0) : 0;
        const int G = N1 > 0 ? 2 : 1, key = ((R * 4 + G) * 32 + N0) * 32 + N1;
        if (key != *cfg) q_tiles_config(R, G, N0, N1), *cfg = key;
        if (G == 2)
            (R == 1 ? q_run_12 : q_run_22)(j, o0, t0, N0, N1, dw, ap, cbuf);
        else
            (R == 1 ? q_run_11 : R == 2 ? q_run_21 : q_run_31)(j, o0, t0, N0, 0, dw, ap, cbuf);
        t0 += N0 + N1;
    }
}

/* Row o (below the last whole tile), every position: the same chain in scalar code. */
static void q_row_scalar(const q_job *j, int64_t o) {
    const uint8_t *row = j->w + (size_t)o * j->rowb;
    for (int64_t t = 0; t < j->T; t++) {
        const hg_block_q8x *xt = j->xq + t * j->nkb;
        float acc = 0.0f;
        for (int64_t b = 0; b < j->nkb; b++) {
            const uint8_t *blk = row + b * j->bs;
            uint16_t h;
            memcpy(&h, blk, 2);
            int32_t isum = 0;
            for (int k = 0; k < HG_QK; k++) {
                const int wq = j->q4 ? ((blk[2 + k % 16] >> (k < 16 ? 0 : 4)) & 15) - 8 : (int8_t)blk[2 + k];
                isum += wq * xt[b].qs[k];
            }
            acc = fmaf((float)isum, hg_f16_to_f32(h) * xt[b].d, acc);
        }
        j->y[t * j->n_out + o] = acc;
    }
}

void hg_gemm_q8_amx(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], K = w->ne[1], nkb = K / HG_QK;
    const bool q4 = w->dtype == HG_DTYPE_Q4_0;
    HG_ASSERT((w->dtype == HG_DTYPE_Q8_0 || q4) && K % HG_QK == 0);
    if (T <= 0 || n_out <= 0) return;
    if (nkb == 0) {
        memset(y, 0, (size_t)(T * n_out) * sizeof(float));
        return;
    }
    const int bs = q4 ? (int)sizeof(hg_block_q4_0) : (int)sizeof(hg_block_q8_0);
    const size_t rowb = (size_t)nkb * (size_t)bs;
    HG_ASSERT(rowb * QR < ((size_t)1 << 31) && (size_t)n_out * QN < ((size_t)1 << 31)); /* gather/scatter offsets */
    const int nth = omp_get_max_threads();
    /* R row tiles per work item: 3 while one position group streams W once (T <= 16), else 2 (x2 groups) */
    const int R = T <= QN ? 3 : 2;
    /* per call: B layout, d_x, the quantized positions; per thread: the two sum buffers, d_w of R row
     * tiles, Q4_0's unpacked rows */
    const size_t n_xb = (size_t)T * (size_t)nkb * 8, n_dx = (size_t)T * (size_t)nkb, n_xq = (size_t)T * (size_t)nkb;
    const size_t per_th = 2 * 1280 * sizeof(int32_t) + (size_t)R * (size_t)nkb * 16 * sizeof(float) +
                          (size_t)R * QR * (size_t)nkb * HG_QK;
    const size_t per_th_al = (per_th + 63) / 64 * 64;
    uint8_t *mem = hg_malloc(n_xb * 4 + n_dx * 4 + n_xq * sizeof(hg_block_q8x) + 64 + (size_t)nth * per_th_al);
    if (!mem) { /* out of memory: the AVX-512 kernels need less */
        hg_matmul_with(&hg_kern_avx512, y, x, w, T);
        return;
    }
    uint8_t *scratch = (uint8_t *)(((uintptr_t)(mem + n_xb * 4 + n_dx * 4 + n_xq * sizeof(hg_block_q8x)) + 63) & ~(uintptr_t)63);
    const q_job j = {y,       T,  n_out, nkb, (const uint8_t *)w->data, rowb, bs, q4, w->nbytes >= HG_MV_PF_MIN,
                     (int32_t *)mem, (float *)(mem + n_xb * 4), (hg_block_q8x *)(mem + n_xb * 4 + n_dx * 4)};
    /* items: whole R-tile row blocks, one block of the remaining whole tiles, single rows */
    const int64_t nfull = n_out / (QR * R), rest = (n_out - nfull * QR * R) / QR, o_tail = nfull * QR * R + rest * QR;
    const int64_t items = nfull + (rest > 0) + (n_out - o_tail);
    const bool par = (double)n_out * (double)K * (double)T >= HG_PAR_MIN_MACS;
#pragma omp parallel if (par)
    {
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) q_lay_position(&j, j.xq + t * nkb, x, t);
        uint8_t *mine = scratch + (size_t)omp_get_thread_num() * per_th_al;
        int32_t *cbuf = (int32_t *)mine;
        float *dw = (float *)(mine + 2 * 1280 * sizeof(int32_t));
        int8_t *ap = (int8_t *)(dw + (size_t)R * (size_t)nkb * 16);
        int cfg = 0; /* the tile configuration loaded in this thread (0: none yet) */
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {
            if (it < nfull + (rest > 0)) {
                const int64_t o0 = it * QR * R;
                const int r = it < nfull ? R : (int)rest;
                q_prepare(&j, o0, r * QR, dw, ap);
                q_rows(&j, o0, r, dw, ap, cbuf, &cfg);
            } else
                q_row_scalar(&j, o_tail + (it - nfull - (rest > 0)));
        }
        if (cfg) _tile_release();
    }
    hg_free(mem);
}
