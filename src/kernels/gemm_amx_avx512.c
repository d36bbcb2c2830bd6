/*
 * gemm_amx_avx512.c — y[T, n_out] = x[T, n_in]·Wᵀ for bf16 weights on AMX tiles (Sapphire Rapids and
 * later), the blocked product of the AVX-512 level when cpu.c reports AMX usable: prefill, speculative
 * verification and batches of more than HG_MV_T sequences (decode, T <= 8, stays on mv_bf16: see the
 * table in matmul_avx512.c).
 *
 * Exact f32 activations on a bf16 unit: each x is split into three bf16 parts by truncation,
 * x = hi + mid + lo exactly (hi keeps the top 8 significant bits, mid the next 8, lo the last 8), and
 * every bf16 product is exact in f32, so W·x is three tile dot products accumulated in f32 — the
 * accuracy of an f32 dot product (measured ~1e-8 relative), not of bf16 activations. Tiles: C [16
 * rows][N <= 16 positions] f32 (two for a 32-row block), A = 16 rows x 32 bf16 of W loaded straight
 * from the row-major weights (no packing, no widening), B = 16 pairs of k x N positions of one x part,
 * laid out once per call. Measured on the 2-core Xeon (fifth session, bf16, two threads): [5280,
 * 5280] at T = 128 18.3 ms vs 48.9 ms for the AVX-512 blocked kernel (~390 vs 146 GFLOP/s, 2.7x);
 * [35840, 5280] at T = 16 24 ms vs 82 ms.
 *
 * Determinism: every y[t, o] is one fixed sequence (K blocks of 32 in order: hi, mid, lo parts; then
 * the n_in % 32 tail as an FMA chain), whatever T, the position group, the row block or the thread;
 * rows past the last whole 16-row tile are sequential FMA chains. The sums are not the other blocked
 * kernels' FMA chain (dispatch.h: amx). Denormal parts read as zero (TDPBF16PS), which matters only
 * for |x| below ~1e-33.
 */
#include "kernels/amx_tiles.h"
#include "kernels/dispatch.h"
#include "kernels/mv_float.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>

enum { TILE_R = 16, TILE_K = 32, TILE_N = 16 };

/* Tiles 0-1: C [16][N] f32; 2-3: A [16][32] bf16; 4-6: B [16 pairs][N][2] bf16 (hi, mid, lo). */
static void tiles_config(int N) {
    uint8_t rows[7];
    uint16_t colsb[7];
    for (int i = 0; i < 7; i++) {
        rows[i] = TILE_R;
        colsb[i] = (uint16_t)(i == 2 || i == 3 ? TILE_K * 2 : N * 4);
    }
    hg_amx_configure(7, rows, colsb);
}

/* v = hi + mid + lo exactly (bf16 bit patterns); a non-finite v goes whole into hi. */
static inline void split3(float v, uint16_t *hi, uint16_t *mid, uint16_t *lo) {
    uint32_t u;
    memcpy(&u, &v, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) {
        *hi = (uint16_t)((u >> 16) | ((u & 0x7fffffu) ? 0x40u : 0u)); /* a NaN stays a NaN */
        *mid = *lo = 0;
        return;
    }
    *hi = (uint16_t)(u >> 16);
    const float r1 = v - hg_bf16_to_f32(*hi);
    memcpy(&u, &r1, 4);
    *mid = (uint16_t)(u >> 16);
    const float r2 = r1 - hg_bf16_to_f32(*mid);
    memcpy(&u, &r2, 4);
    *lo = (uint16_t)(u >> 16);
}

/* The K tail and the rows below a tile: the sequential FMA chain from `acc`. */
static inline float chain(float acc, const uint16_t *w, const float *x, int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++) acc = fmaf(hg_bf16_to_f32(w[k]), x[k], acc);
    return acc;
}

/* Position t of x [T, K] into the B layout: group g0 = t - t % 16 of N positions holds, from
 * xb + 3·K32·g0, three parts [K32/2 pairs][N][2] (hi, mid, lo). */
static void split_x(uint16_t *xb, const float *x, int64_t t, int64_t T, int64_t K, int64_t K32) {
    const int64_t g0 = t / TILE_N * TILE_N, N = hg_min_i64(TILE_N, T - g0), n = t - g0;
    uint16_t *g = xb + (size_t)g0 * (size_t)K32 * 3;
    const size_t part = (size_t)(K32 / 2) * (size_t)N * 2;
    for (int64_t k = 0; k < K32; k++) {
        const size_t at = ((size_t)(k / 2) * (size_t)N + (size_t)n) * 2 + (size_t)(k & 1);
        split3(x[t * K + k], g + at, g + part + at, g + 2 * part + at);
    }
}

typedef struct amx_job {
    float *y;
    const float *x;
    const uint16_t *w;
    const uint16_t *xb; /* per position group g (16 positions each but the last): [3][K32/2][Ng][2] */
    int64_t T, n_out, K, K32;
    bool pf;
} amx_job;

/* Rows o0 .. o0+R-1 (R = 16: tiles 0, 2; R = 32: also 1, 3) for every position group. */
static void amx_block(const amx_job *j, int64_t o0, int R, int *cur_n) {
    const size_t rb = (size_t)j->K * 2;
    const uint8_t *a = (const uint8_t *)(j->w + o0 * j->K);
    const int64_t nkb = j->K32 / TILE_K;
    float tmp[TILE_R * TILE_N];
    for (int64_t t0 = 0; t0 < j->T; t0 += TILE_N) {
        const int N = (int)hg_min_i64(TILE_N, j->T - t0);
        if (N != *cur_n) tiles_config(N), *cur_n = N;
        const size_t part = (size_t)(j->K32 / 2) * (size_t)N * 2; /* one x part of this group */
        const uint16_t *bx = j->xb + (size_t)t0 * (size_t)j->K32 * 3;
        const int bstride = N * 4;
        _tile_zero(0);
        _tile_zero(1);
        for (int64_t kb = 0; kb < nkb; kb++) {
            if (j->pf && t0 == 0) /* the first group streams W from memory */
                hg_mv_prefetch_rows(a, rb, R, (size_t)kb * TILE_K * 2);
            const uint16_t *b = bx + (size_t)kb * (TILE_K / 2) * (size_t)N * 2;
            _tile_loadd(2, a + (size_t)kb * TILE_K * 2, rb);
            if (R == 2 * TILE_R) _tile_loadd(3, a + TILE_R * rb + (size_t)kb * TILE_K * 2, rb);
            _tile_loadd(4, b, bstride);
            _tile_loadd(5, b + part, bstride);
            _tile_loadd(6, b + 2 * part, bstride);
            _tile_dpbf16ps(0, 2, 4);
            _tile_dpbf16ps(0, 2, 5);
            _tile_dpbf16ps(0, 2, 6);
            if (R == 2 * TILE_R) {
                _tile_dpbf16ps(1, 3, 4);
                _tile_dpbf16ps(1, 3, 5);
                _tile_dpbf16ps(1, 3, 6);
            }
        }
        for (int h = 0; h < R / TILE_R; h++) {
            if (h == 0)
                _tile_stored(0, tmp, N * 4);
            else
                _tile_stored(1, tmp, N * 4);
            for (int m = 0; m < TILE_R; m++) {
                const int64_t o = o0 + h * TILE_R + m;
                const uint16_t *wr = j->w + o * j->K;
                for (int t = 0; t < N; t++)
                    j->y[(t0 + t) * j->n_out + o] = chain(tmp[m * N + t], wr, j->x + (t0 + t) * j->K, j->K32, j->K);
            }
        }
    }
}

void hg_gemm_bf16_amx(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], K = w->ne[1], K32 = K / TILE_K * TILE_K;
    HG_ASSERT(w->dtype == HG_DTYPE_BF16);
    if (T <= 0 || n_out <= 0) return;
    const size_t xb_n = (size_t)3 * (size_t)K32 * (size_t)T; /* bf16 elements */
    enum { XB_STACK = 16384 };
    uint16_t xb_stack[XB_STACK];
    uint16_t *xb = xb_n <= XB_STACK ? xb_stack : hg_malloc(xb_n * sizeof(uint16_t));
    if (!xb) { /* out of memory: the AVX-512 kernels need no buffer */
        hg_matmul_with(&hg_kern_avx512, y, x, w, T);
        return;
    }
    const amx_job j = {y, x, (const uint16_t *)w->data, xb, T, n_out, K, K32, w->nbytes >= HG_MV_PF_MIN};
    /* Row blocks: one tile of 16 rows while a single position group streams W once (T <= 16; 16
     * row streams kept the bandwidth better than 32 when this kernel was tried for decode: [7168,
     * 1024] at T = 1, 12.9 -> 18.9 GB/s; equal at T = 8), two tiles sharing the B tiles when several
     * groups reuse the block from L2 (prefill [5280, 5280] T = 128: 42 -> 18 ms). A row's sums are
     * the same in either block. */
    const int R = T <= TILE_N ? TILE_R : 2 * TILE_R;
    const int64_t nR = n_out / R, has16 = R > TILE_R && (n_out % R) >= TILE_R;
    const int64_t o_tail = nR * R + has16 * TILE_R, items = nR + has16 + (n_out - o_tail);
    const bool par = (double)n_out * (double)K * (double)T >= HG_PAR_MIN_MACS;
    /* decode-sized activations are split by the calling thread: cheaper than the team's barrier */
    const bool split_alone = xb_n <= 3 * 32768;
    if (split_alone)
        for (int64_t t = 0; t < T; t++) split_x(xb, x, t, T, K, K32);
#pragma omp parallel if (par)
    {
        if (!split_alone) {
#pragma omp for schedule(static)
            for (int64_t t = 0; t < T; t++) split_x(xb, x, t, T, K, K32);
        }
        int cur_n = 0; /* tiles configured for this many positions (0: not yet) */
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {
            if (it < nR)
                amx_block(&j, it * R, R, &cur_n);
            else if (it < nR + has16)
                amx_block(&j, nR * R, TILE_R, &cur_n);
            else {
                const int64_t o = o_tail + (it - nR - has16);
                for (int64_t t = 0; t < T; t++) y[t * n_out + o] = chain(0.0f, j.w + o * K, x + t * K, 0, K);
            }
        }
        if (cur_n) _tile_release();
    }
    if (xb != xb_stack) hg_free(xb);
}
