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
 * laid out once per call. About 2.7x the AVX-512 blocked kernel on bf16 weights (docs/results/kernels.md).
 *
 * The bound is the tile loads, not the products (perf samples). Walking all of K per position group
 * would stream x's parts for all positions (3·K·T bf16: 4 MB at K = 5280, T = 128) from L3 once per
 * 32 rows, so K is walked in chunks (KC_BYTES of x parts for all positions, ~32 blocks at T = 128)
 * that stay in L2 while every row block of the thread passes over them, the sums waiting in memory
 * between chunks (a tile store and reload are exact, so the bits do not change); and two position
 * groups run together (2 x 2 C tiles), so each A tile of W serves two groups and each B tile two row
 * tiles: 8 tile loads per 12 products instead of 5 per 6. Each step shortens [5280, 5280] at T = 128
 * (docs/results/kernels.md, "AMX bf16").
 *
 * Determinism: every y[t, o] is one fixed sequence (K blocks of 32 in order: hi, mid, lo parts; then
 * the n_in % 32 tail as an FMA chain), whatever T, the position group, the row block, the K chunk or
 * the thread;
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
#define KC_BYTES (768 * 1024) /* x of one K chunk, all positions, 3 parts */

/* Tiles for two position groups a and b (Nb = 0: a alone) of Na, Nb positions: 0-1 C [16][Na] f32
 * (rows 0-15, 16-31 of the block) for a, 2-3 the same for b, 4-5 A [16][32] bf16 (the two row
 * tiles), 6 B [16 pairs][Na][2] bf16 of a, 7 that of b. */
static void tiles_config(int Na, int Nb) {
    static const int8_t group[8] = {0, 0, 1, 1, -1, -1, 0, 1};
    uint8_t rows[8];
    uint16_t colsb[8];
    for (int i = 0; i < 8; i++) {
        const int n = group[i] < 0 ? TILE_K / 2 : group[i] ? Nb : Na; /* A: 32 bf16 = 16 f32 wide */
        rows[i] = n ? TILE_R : 0;
        colsb[i] = (uint16_t)(n * 4);
    }
    hg_amx_configure(8, rows, colsb);
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
    float *cb;          /* several K chunks: row tile i's sums for the group at t0, [16][N] from (i·T + t0)·16 */
    int64_t T, n_out, K, K32;
    bool pf;
} amx_job;

/* Rows o .. o+15 of one position group at the end of K (tmp: the C tile, [16][N]): K tail added, into y. */
static void amx_finish(const amx_job *j, const float *tmp, int64_t o, int64_t t0, int N) {
    for (int m = 0; m < TILE_R; m++) {
        const uint16_t *wr = j->w + (o + m) * j->K;
        for (int t = 0; t < N; t++)
            j->y[(t0 + t) * j->n_out + o + m] = chain(tmp[m * N + t], wr, j->x + (t0 + t) * j->K, j->K32, j->K);
    }
}

#define C_OFF(j, o, t0) ((j)->cb + ((o) / TILE_R * (j)->T + (t0)) * TILE_R) /* [16][N] of rows o.., group t0 */

/* Rows o0 .. o0+R-1 (R = 16 or 32), K blocks kb0 .. kb1-1, every position group, two groups at a
 * time: each B tile serves both row tiles and each A tile both groups (8 tile loads per 12 products
 * instead of 5 per 6). The sums start from zero at kb0 = 0, else from cb, and go back to cb unless
 * kb1 ends K, where the tails are added and y written. next: the rows of the block this thread takes
 * after this one (prefetched into L2 over the same K blocks while the first groups run), or NULL. */
static void amx_block(const amx_job *j, int64_t o0, int R, int64_t kb0, int64_t kb1, const uint8_t *next,
                      int *cur_cfg) {
    const size_t rb = (size_t)j->K * 2;
    const uint8_t *a = (const uint8_t *)(j->w + o0 * j->K);
    const bool first = kb0 == 0, last = kb1 == j->K32 / TILE_K, two = R == 2 * TILE_R;
    float tmp[TILE_R * TILE_N];
    for (int64_t t0 = 0; t0 < j->T; t0 += 2 * TILE_N) {
        const int Na = (int)hg_min_i64(TILE_N, j->T - t0);
        const int Nb = (int)hg_max_i64(0, hg_min_i64(TILE_N, j->T - t0 - TILE_N));
        if (Na * 32 + Nb != *cur_cfg) tiles_config(Na, Nb), *cur_cfg = Na * 32 + Nb;
        const int64_t t1 = t0 + TILE_N;
        /* one x part of each group, and where the groups' parts start */
        const size_t pa = (size_t)(j->K32 / 2) * (size_t)Na * 2, pb = (size_t)(j->K32 / 2) * (size_t)Nb * 2;
        const uint16_t *ba = j->xb + (size_t)t0 * (size_t)j->K32 * 3, *bb = j->xb + (size_t)t1 * (size_t)j->K32 * 3;
        const int sa = Na * 4, sb = Nb * 4;
/* OP(tile, first row, first position, row stride in bytes) for each C tile in use (tile ids must be
 * constants; the tiles of b have no shape without b) */
#define EACH_C(OP)                                                                                                     \
    do {                                                                                                               \
        OP(0, o0, t0, sa);                                                                                             \
        if (two) OP(1, o0 + TILE_R, t0, sa);                                                                           \
        if (Nb) {                                                                                                      \
            OP(2, o0, t1, sb);                                                                                         \
            if (two) OP(3, o0 + TILE_R, t1, sb);                                                                       \
        }                                                                                                              \
    } while (0)
#define C_ZERO(i, o, t, s) _tile_zero(i)
#define C_LOAD(i, o, t, s) _tile_loadd(i, C_OFF(j, o, t), s)
#define C_STORE(i, o, t, s) _tile_stored(i, C_OFF(j, o, t), s)
#define C_FINISH(i, o, t, s)                                                                                           \
    do {                                                                                                               \
        _tile_stored(i, tmp, s);                                                                                       \
        amx_finish(j, tmp, o, t, (s) / 4);                                                                             \
    } while (0)
        if (first) EACH_C(C_ZERO);
        else EACH_C(C_LOAD);
        for (int64_t kb = kb0; kb < kb1; kb++) {
            if (j->pf && t0 == 0) { /* the first groups stream W from memory */
                if (first && last)
                    hg_mv_prefetch_rows(a, rb, R, (size_t)kb * TILE_K * 2);
                else if (next)
                    for (int r = 0; r < R; r++)
                        __builtin_prefetch(next + (size_t)r * rb + (size_t)kb * TILE_K * 2, 0, 2);
            }
            const size_t kx = (size_t)kb * (TILE_K / 2) * 2; /* pairs before this block, x 2 bf16 */
            _tile_loadd(4, a + (size_t)kb * TILE_K * 2, rb);
            if (two) _tile_loadd(5, a + TILE_R * rb + (size_t)kb * TILE_K * 2, rb);
#define PART(p)                                                                                                        \
    do {                                                                                                               \
        _tile_loadd(6, ba + kx * (size_t)Na + (p) * pa, sa);                                                          \
        _tile_dpbf16ps(0, 4, 6);                                                                                       \
        if (two) _tile_dpbf16ps(1, 5, 6);                                                                              \
        if (Nb) {                                                                                                      \
            _tile_loadd(7, bb + kx * (size_t)Nb + (p) * pb, sb);                                                      \
            _tile_dpbf16ps(2, 4, 7);                                                                                   \
            if (two) _tile_dpbf16ps(3, 5, 7);                                                                          \
        }                                                                                                              \
    } while (0)
            PART(0); /* hi */
            PART(1); /* mid */
            PART(2); /* lo */
#undef PART
        }
        if (last) EACH_C(C_FINISH); /* K tails added, into y */
        else EACH_C(C_STORE);       /* the next K chunk goes on from here */
#undef EACH_C
#undef C_ZERO
#undef C_LOAD
#undef C_STORE
#undef C_FINISH
    }
}

void hg_gemm_bf16_amx_kc(float *y, const float *x, const hg_tensor *w, int64_t T, int64_t kcb) {
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
    /* Row blocks: one tile of 16 rows while a single position group streams W once (T <= 16; 16
     * row streams keep the bandwidth better than 32), two tiles sharing the B tiles when several
     * groups reuse the block from L2 (prefill [5280, 5280] T = 128: 2.3x; docs/results/kernels.md).
     * A row's sums are the same in either block. */
    const int R = T <= TILE_N ? TILE_R : 2 * TILE_R;
    const int64_t nR = n_out / R, has16 = R > TILE_R && (n_out % R) >= TILE_R;
    const int64_t o_tail = nR * R + has16 * TILE_R, items = nR + has16 + (n_out - o_tail);
    const int64_t nkb = K32 / TILE_K;
    /* K chunks: x of one chunk for all positions (3 parts) stays in L2 while every row block of the
     * thread passes over it; the sums wait in cb between chunks (a tile store and load are exact) */
    if (kcb < 1) kcb = hg_max_i64(1, KC_BYTES / ((int64_t)6 * TILE_K * T));
    float *cb = NULL;
    if (kcb < nkb && o_tail > 0) {
        cb = hg_malloc((size_t)o_tail * (size_t)T * sizeof(float));
        if (!cb) kcb = nkb; /* out of memory: one chunk, no buffer */
    }
    kcb = hg_min_i64(kcb, hg_max_i64(nkb, 1));
    const amx_job j = {y, x, (const uint16_t *)w->data, xb, cb, T, n_out, K, K32, w->nbytes >= HG_MV_PF_MIN};
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
        int cur_cfg = 0; /* tiles configured for Na·32 + Nb positions (0: not yet) */
        const int64_t nth = omp_get_num_threads(), ith = omp_get_thread_num();
        const int64_t i0 = items * ith / nth, i1 = items * (ith + 1) / nth;
        for (int64_t kb0 = 0; kb0 < hg_max_i64(nkb, 1); kb0 += kcb) {
            const int64_t kb1 = hg_min_i64(nkb, kb0 + kcb);
            for (int64_t it = i0; it < i1; it++) {
                if (it < nR) {
                    const uint8_t *next = it + 1 < nR && it + 1 < i1 ? (const uint8_t *)(j.w + (it + 1) * R * K) : NULL;
                    amx_block(&j, it * R, R, kb0, kb1, next, &cur_cfg);
                } else if (it < nR + has16)
                    amx_block(&j, nR * R, TILE_R, kb0, kb1, NULL, &cur_cfg);
                else if (kb1 == nkb) {
                    const int64_t o = o_tail + (it - nR - has16);
                    for (int64_t t = 0; t < T; t++) y[t * n_out + o] = chain(0.0f, j.w + o * K, x + t * K, 0, K);
                }
            }
        }
        if (cur_cfg) _tile_release();
    }
    hg_free(cb);
    if (xb != xb_stack) hg_free(xb);
}

void hg_gemm_bf16_amx(float *y, const float *x, const hg_tensor *w, int64_t T) { hg_gemm_bf16_amx_kc(y, x, w, T, 0); }
