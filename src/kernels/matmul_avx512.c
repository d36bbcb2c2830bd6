/*
 * matmul_avx512.c — the AVX-512 kernel table (compiled with -mavx512f/bw/vl/dq/vnni/bf16; chosen at
 * run time only when cpu.c reports them). Scalar twins: mv_scalar and dot_f32 in matmul.c.
 *
 * Matrix-vector (decode, T <= 8): up to 4 rows of W are streamed at once and each 16-element piece,
 * widened to f32 in registers (bf16: zero-extend and shift; f16: vcvtph2ps), feeds an FMA for every
 * position, so W is read from memory exactly once per call whatever T is. Each (row, position) keeps
 * one 16-lane accumulator, reduced once at the end: the same operations for every row and position,
 * so which rows share a call (and so the thread count) never changes a result.
 * Q8_0 / Q4_0 rows meet activations quantized to Q8X and are read as they lie, in 64-byte windows
 * that straddle blocks: x is laid out once per call at the byte offsets of the weights, so one
 * 512-bit VNNI vpdpbusd per window yields 16 int32 lanes that each belong to a single block; lanes
 * to f32, times d_w·d_x of their block, one FMA. Software prefetch keeps the row stream at the memory
 * bandwidth (details and measurements at the section).
 *
 * Blocked (prefill / verification, T > 8): hg_gemm_rows_avx512 in gemm_avx512.c — lanes along output
 * rows, a 32 x 12 register tile, x read in place, y loaded/stored per K block, nothing shared between
 * threads. Not lanes along positions (x packed position-major for the team, a 12 x 32 tile, y
 * gathered/scattered per K block): 1.1-5x slower on every shape measured
 * (docs/results/kernels.md). f32 accumulation throughout. Without AMX, Q8_0/Q4_0 take vpdpbusd on
 * Q8X activations instead (gemm_q8_vnni_avx512.c), and with HG_BF16DOT=1 bf16 weights vdpbf16ps on
 * x split into three exact bf16 parts (gemm_bf16dot_avx512.c: one or two parts break the 1e-4
 * golden tolerance; three are slower than widening here, see the table below).
 */
#include "kernels/dispatch.h"
#include "kernels/mv_float.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>

#define HG_INLINE static inline __attribute__((always_inline))

/* ---- widening W to f32 ------------------------------------------------------------------------ */

/* 16 elements of a float-dtype row at element i, as f32 (masked lanes read nothing and are 0). */
HG_INLINE __m512 load_w16(hg_dtype dt, const void *row, int64_t i, __mmask16 m) {
    switch (dt) {
    case HG_DTYPE_BF16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case HG_DTYPE_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i));
    default: return _mm512_maskz_loadu_ps(m, (const float *)row + i);
    }
}

static size_t elem_bytes(hg_dtype dt) { return dt == HG_DTYPE_F32 ? 4 : 2; }

/* ---- matrix-vector, float dtypes -------------------------------------------------------------- */

/* T >= 2 (compute-bound): x is read in chunks of MV_KC elements ([8, 512] f32 = 16 KiB, in L1), each
 * serving a group of MV_GROUP rows, 4 rows at a time (4 x TG accumulators; at T = 8 GCC keeps a few
 * on the stack and it is still the fastest). Every x vector loaded feeds 4 FMAs. Weights that cannot
 * be cache-resident (>= HG_MV_PF_MIN, mv_float.h) are prefetched HG_MV_PF_L1 bytes ahead in each row: the chunked walk
 * is 16 short streams the hardware prefetcher follows poorly. With 2 rows per tile every x vector
 * fed only 2 FMAs and the loads set the pace (in cache, bf16 96 x 5280, one thread: 43 GFLOP/s with
 * 2 rows, 100 with 4). The prefetch costs ~10 % on weights that sit in cache (0.97 MiB), hence the
 * size test; the threshold is 1 MiB, not more, because the 1024-wide bench model's 2-14 MB matrices
 * stream from DRAM too (its 4.3 GB per token do not stay in a 300 MB L3).
 * T = 1 streams whole rows 4 at a time, and the same prefetch pays there too (10-30 %); whole-row
 * walks also prefetch into L2 and across tiles (mv_float.h). The chunked walk prefetches each row's
 * next chunk into L2 as well, so a new tile of 4 rows does not start on lines nobody asked for
 * (figures for each step: docs/results/kernels.md, "Matrix-vector" and "Batched decode"). */
#define MV_KC 512
#define MV_GROUP 16

/* R rows (o .. o+R-1) x TG positions over elements [i0, i1) (i0 a multiple of 16; the masked tail
 * only when i1 >= n); every (row, position) pair runs the identical sequence. The accumulators start
 * at zero (i0 == 0) or from park[r][t], and end reduced into y (i1 >= n) or back in park (which may be
 * NULL only for a whole row, i0 = 0 and i1 = n):
 * parking a 16-lane partial sum is exact, so a row done in K chunks equals the row done in one go. */
HG_INLINE void mv_tile_f(hg_dtype dt, int R, int TG, float *y, int64_t ldy, const float *x, int64_t ldx,
                         const hg_tensor *w, int64_t o, int64_t n, int64_t i0, int64_t i1, __m512 (*park)[8]) {
    const size_t rb = (size_t)w->ne[1] * elem_bytes(dt);
    const uint8_t *row0 = (const uint8_t *)w->data + (size_t)o * rb;
    __m512 acc[4][8];
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) acc[r][t] = i0 > 0 ? park[r][t] : _mm512_setzero_ps();
    const int64_t end = i1 < n ? i1 : n;
    int64_t i = i0;
    const bool pf = w->nbytes >= HG_MV_PF_MIN;
    for (; i + 16 <= end; i += 16) { /* R widened rows in registers, one x vector at a time */
        if (pf && (i & 31) == 0) {
            const size_t at = (size_t)i * elem_bytes(dt);
            if (park) { /* chunked walk: the row's next bytes into L1, its next chunk into L2 (past the row's
                         * end, the same row of the next group) */
                _Pragma("GCC unroll 16")
                for (int r = 0; r < R; r++) _mm_prefetch((const char *)(row0 + (size_t)r * rb + at + HG_MV_PF_L1), _MM_HINT_T0);
                const size_t ahead = at + (size_t)MV_KC * elem_bytes(dt);
                const size_t a2 = ahead < rb ? ahead : ahead - rb + (size_t)MV_GROUP * rb;
                _Pragma("GCC unroll 16")
                for (int r = 0; r < R; r++) _mm_prefetch((const char *)(row0 + (size_t)r * rb + a2), _MM_HINT_T1);
            } else { /* whole rows: each row stream runs on into the same row of the tiles that follow */
                hg_mv_prefetch_rows(row0, rb, R, at);
            }
        }
        __m512 wv[4];
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++) wv[r] = load_w16(dt, row0 + (size_t)r * rb, i, 0xffff);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) {
            const __m512 xv = _mm512_loadu_ps(x + t * ldx + i);
            _Pragma("GCC unroll 16")
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (i < end) {
        const __mmask16 m = (__mmask16)((1u << (end - i)) - 1);
        __m512 wv[4];
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++) wv[r] = load_w16(dt, row0 + (size_t)r * rb, i, m);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + t * ldx + i);
            _Pragma("GCC unroll 16")
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (end < n) {
        _Pragma("GCC unroll 16")
        for (int r = 0; r < R; r++)
            _Pragma("GCC unroll 16")
            for (int t = 0; t < TG; t++) park[r][t] = acc[r][t];
        return;
    }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < TG; t++) y[t * ldy + o + r] = _mm512_reduce_add_ps(acc[r][t]);
}

/* Rows o0..o1 for TG positions: groups of RMAX rows, then single rows. */
HG_INLINE void mv_rows_f(hg_dtype dt, int TG, float *y, int64_t ldy, const float *x, int64_t ldx, const hg_tensor *w,
                         int64_t o0, int64_t o1, int64_t n) {
    const int RMAX = 4;
    if (TG == 1 || n <= MV_KC) { /* T = 1 streams each row once, x stays in L1 anyway */
        int64_t o = o0;
        for (; o + RMAX <= o1; o += RMAX) mv_tile_f(dt, RMAX, TG, y, ldy, x, ldx, w, o, n, 0, n, NULL);
        for (; o < o1; o++) mv_tile_f(dt, 1, TG, y, ldy, x, ldx, w, o, n, 0, n, NULL);
        return;
    }
    __m512 park[MV_GROUP][8];
    for (int64_t g = o0; g < o1; g += MV_GROUP) {
        const int64_t g1 = hg_min_i64(o1, g + MV_GROUP);
        for (int64_t i0 = 0; i0 < n; i0 += MV_KC) {
            int64_t o = g;
            for (; o + RMAX <= g1; o += RMAX)
                mv_tile_f(dt, RMAX, TG, y, ldy, x, ldx, w, o, n, i0, i0 + MV_KC, park + (o - g));
            for (; o < g1; o++) mv_tile_f(dt, 1, TG, y, ldy, x, ldx, w, o, n, i0, i0 + MV_KC, park + (o - g));
        }
    }
}

HG_MV_FLOAT_ENTRIES(mv_rows_f) /* mv_f32 / mv_f16 / mv_bf16: mv_float.h */

/* ---- matrix-vector, quantized dtypes ---------------------------------------------------------- */

/* hg_quantize_row_q8x, vectorized, bit for bit: max|x| is exact in any order, d and 1/d are the same
 * scalar divisions, x·(1/d) the same product, and roundf's half-away-from-zero is trunc(v) plus
 * sign(v) where |v - trunc(v)| >= 0.5 (v - trunc(v) is exact). A block with a NaN or an infinity
 * gets d = NaN and zero quants, as there. */
void hg_quantize_row_q8x_avx512(const float *x, hg_block_q8x *dst, int64_t n) {
    HG_ASSERT(n % HG_QK == 0);
    const __m512 sign = _mm512_set1_ps(-0.0f), half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n / HG_QK; i++, x += HG_QK) {
        const __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
        if (_mm512_fpclass_ps_mask(a, 0x99) | _mm512_fpclass_ps_mask(b, 0x99)) { /* QNaN, SNaN, ±inf */
            memset(dst[i].qs, 0, sizeof dst[i].qs);
            dst[i].d = NAN;
            dst[i].s = 0;
            continue;
        }
        const __m512 m = _mm512_max_ps(_mm512_andnot_ps(sign, b), _mm512_max_ps(_mm512_andnot_ps(sign, a), _mm512_setzero_ps()));
        const float amax = _mm512_reduce_max_ps(m), d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        __m512i q[2];
        for (int h = 0; h < 2; h++) {
            const __m512 v = _mm512_mul_ps(h ? b : a, _mm512_set1_ps(id));
            const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __mmask16 up = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, _mm512_sub_ps(v, t)), half, _CMP_GE_OQ);
            q[h] = _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, _mm512_or_ps(one, _mm512_and_ps(v, sign))));
        }
        _mm_storeu_si128((__m128i *)dst[i].qs, _mm512_cvtepi32_epi8(q[0]));
        _mm_storeu_si128((__m128i *)(dst[i].qs + 16), _mm512_cvtepi32_epi8(q[1]));
        dst[i].d = d;
        dst[i].s = _mm512_reduce_add_epi32(_mm512_add_epi32(q[0], q[1]));
    }
}

/*
 * The row is read as it lies: Q8_0 is a stream of 34-byte blocks (d, qs[32]), Q4_0 of 18-byte blocks
 * (d, 16 bytes of nibbles), loaded in 64-byte windows — one plain zmm load per 64 bytes, nothing
 * shuffled. x is laid out to match instead, once per call (q_lay): its quants sit at the byte
 * offsets of the weights they multiply (Q8_0: q_x under q_w; Q4_0: two streams, elements 0..15 and
 * 16..31 of each block under its nibble bytes), zeros under every d. No dword holds quants of two
 * blocks (a block starts at 0 or 2 mod 4, and the dword that crosses into the next block is
 * [q30 q31 | d d]), so one vpdpbusd of a window gives 16 int32 lanes that are each a partial dot of a
 * single block. The lane -> block map repeats every 32 blocks (a group: 1088 bytes = 17 windows for
 * Q8_0, 576 = 9 for Q4_0; q8_lane_blk / q4_lane_blk). Per window and position: lanes to f32, times
 * d_w·d_x of their block (a permute picks it from the group's 32 products), one FMA into one of two
 * 16-lane accumulators (even and odd windows: one chain of dependent FMAs, 4 cycles each, was the
 * limit at T = 1). The group's 32 d_w come from two gathers of the block heads and two vcvtph2ps.
 * Signs: vpdpbusd multiplies unsigned by signed bytes. Q8_0 feeds w+128 (xor 0x80), Q4_0 the stored
 * nibbles (w+8), so each lane holds Σ (q_w+128)·q_x (or +8), exact in int32 and in f32 (< 2^17).
 * The offset's share, -128·Σq_x (-8·Σq_x) per block, is taken back once per group: the layout keeps
 * c = d_x·(-128·Σq_x) per block (one rounding), and two FMAs add d_w·c for the group's 32 blocks.
 * Not a per-lane start at -128·Σ of its x bytes (an int32 vector per window laid out with x): that
 * keeps every lane's integer exact but costs a load per window and doubles the layout (41 KiB for a
 * 17,920-wide row, most of L1 beside the stream), and without that load the two accumulators pay
 * (docs/results/kernels.md, "Quantized decode"). The price is rounding: the lanes carry the offset, so the f32 sums
 * see terms up to ~255/|q_w| times larger that cancel against c — an error of order
 * 2^-24 · 128·Σ|q_x|·d_x·d_w per block, far below the rounding of x to Q8X that test_kernels bounds.
 * Per window this is 5 vector operations (Q8_0) or 8 (Q4_0), against ~13 per 32 weights for one
 * 256-bit vpdpbusd per block with a scalar scale conversion and broadcast per block.
 * Prefetch: one row stream per core with no software prefetch reached only ~55 % of the read
 * bandwidth, even with compute to spare; a T1 prefetch 12 KiB ahead plus a T0 prefetch 2 KiB ahead
 * brings it to ~90 % (measured on the 2-core Xeon, Q8_0 [n, 5280], weights from DRAM).
 * T = 1 streams the rows one after another (x takes ~8 KiB at 5280 inputs, ~24 KiB at 17,920, in
 * L1). T >= 2 goes group by group over the rows of the call, parking each (row, position) partial
 * sum in memory (exact), so x of one group for 8 positions (~18 KiB) stays in L1 instead of coming
 * from L2 for every row (measured 1.4x at T = 8). Each (row, position) runs the same operations in
 * the same order on both paths (d_w·d_x is one rounding either way, the group's two offset FMAs
 * first, then one FMA per window into the accumulator of the window's parity), so no result depends
 * on T or on which rows share the call.
 * Not used, being slower: the d_w of a group picked out of the windows already loaded by a chain of
 * 9 masked vpermi2w (the chain's latency; also as 9 independent permutes and an OR tree) or by VBMI's
 * one-uop vpermt2b (9 picks from window pairs, an OR tree of vpternlogd) instead of two gathers.
 */

#define QW 64 /* bytes per window */
#define Q8_GW 17 /* windows per group of 32 Q8_0 blocks: 32 x 34 = 17 x 64 bytes */
#define Q4_GW 9  /* windows per group of 32 Q4_0 blocks: 32 x 18 = 9 x 64 bytes */
#define Q_GROUPS ((HG_QX_PIECE / HG_QK + 31) / 32) /* groups in one activation piece */
#define Q_PF_L2 12288 /* T = 1: prefetch distances in the row stream (bytes), to L2 ... */
#define Q_PF_L1 2048  /* ... and to L1 */
_Static_assert(HG_MV_T <= Q_GROUPS, "q_xlay holds one group for each of HG_MV_T positions");

/* Lane l of window k of a group belongs to the block holding byte 4·(16k + l) of the group. */
#define Q8_LANE(k, l) ((4 * (16 * (k) + (l))) / 34)
#define Q4_LANE(k, l) ((4 * (16 * (k) + (l))) / 18)
#define Q_LANES(F, k)                                                                                                   \
    { F(k, 0), F(k, 1), F(k, 2),  F(k, 3),  F(k, 4),  F(k, 5),  F(k, 6),  F(k, 7),                                      \
      F(k, 8), F(k, 9), F(k, 10), F(k, 11), F(k, 12), F(k, 13), F(k, 14), F(k, 15) }
static const int32_t q8_lane_blk[Q8_GW][16] __attribute__((aligned(64))) = {
    Q_LANES(Q8_LANE, 0),  Q_LANES(Q8_LANE, 1),  Q_LANES(Q8_LANE, 2),  Q_LANES(Q8_LANE, 3),  Q_LANES(Q8_LANE, 4),
    Q_LANES(Q8_LANE, 5),  Q_LANES(Q8_LANE, 6),  Q_LANES(Q8_LANE, 7),  Q_LANES(Q8_LANE, 8),  Q_LANES(Q8_LANE, 9),
    Q_LANES(Q8_LANE, 10), Q_LANES(Q8_LANE, 11), Q_LANES(Q8_LANE, 12), Q_LANES(Q8_LANE, 13), Q_LANES(Q8_LANE, 14),
    Q_LANES(Q8_LANE, 15), Q_LANES(Q8_LANE, 16)};
static const int32_t q4_lane_blk[Q4_GW][16] __attribute__((aligned(64))) = {
    Q_LANES(Q4_LANE, 0), Q_LANES(Q4_LANE, 1), Q_LANES(Q4_LANE, 2), Q_LANES(Q4_LANE, 3), Q_LANES(Q4_LANE, 4),
    Q_LANES(Q4_LANE, 5), Q_LANES(Q4_LANE, 6), Q_LANES(Q4_LANE, 7), Q_LANES(Q4_LANE, 8)};

/* x in the weights' byte layout, a run of windows per position: T = 1 the whole piece from window 0,
 * T >= 2 one group per position (position t from window t·gw). */
typedef struct q_xlay {
    int8_t lo[Q_GROUPS * Q8_GW * QW] __attribute__((aligned(64))); /* Q8_0: q_x; Q4_0: elements 0..15 */
    int8_t hi[Q_GROUPS * Q4_GW * QW + QW] __attribute__((aligned(64))); /* Q4_0: elements 16..31 (+ the
                                                                       last block store's tail) */
    float dxl[Q_GROUPS * Q8_GW * 16] __attribute__((aligned(64)));    /* T >= 2: d_x of each lane's block */
    float dx[Q_GROUPS * 32] __attribute__((aligned(64)));             /* d_x per block, 0 past the end */
    float cx[Q_GROUPS * 32] __attribute__((aligned(64)));             /* offset share: d_x·(-128 or -8)·Σq_x */
} q_xlay;

/* Laying out x: only a few stores per block are needed, but the kernel reads the layout back as
 * 64-byte windows, and a 64-byte load of bytes that narrower stores wrote moments ago cannot be
 * forwarded from the store buffer: it waits for them to retire (storing block by block and summing
 * each window right after spends 40 % of T = 8 there). Measured per dtype, the two
 * ways below win: Q8_0 builds every window in a register from masked loads of the 2-3 blocks it
 * touches and stores it once; Q4_0, whose windows touch 4-5 blocks in each of two streams, stores
 * block by block and sums the windows in a second pass, after the stores of every position. */

/* Q8_0: window k of a group of x (r blocks from x) — the quants of each block touching the window at
 * their weights' offsets, zeros elsewhere; one masked load per block (bytes outside the mask are not
 * read). */
HG_INLINE __m512i q8_xwin(const hg_block_q8x *x, int64_t r, int k) {
    __m512i v = _mm512_setzero_si512();
    for (int64_t j = QW * k / 34; j < r && 34 * j + 2 < QW * k + QW; j++) {
        const int64_t s = 34 * j + 2 - QW * k; /* where the block's quants start, relative to the window */
        const int64_t lo = s > 0 ? s : 0, hi = s + 32 < QW ? s + 32 : QW;
        v = _mm512_mask_loadu_epi8(v, (((__mmask64)1 << (hi - lo)) - 1) << lo, (const char *)x[j].qs - s);
    }
    return v;
}

/* Q8_0: one group (r blocks from xg) at window wg: windows, block scales, offset shares (and lane
 * scales). */
HG_INLINE void q8_lay_group(q_xlay *L, int64_t wg, const hg_block_q8x *xg, int64_t r, bool per_lane) {
    const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32((int)(sizeof(hg_block_q8x) / sizeof(float))));
    const uint32_t m = (uint32_t)((1ull << r) - 1);
    const __m512 dl = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), (__mmask16)m, at, &xg[0].d, 4);
    const __m512 dh = r > 16 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), (__mmask16)(m >> 16), at, &xg[16].d, 4)
                             : _mm512_setzero_ps();
    const __m512i z = _mm512_setzero_si512();
    const __m512i sl = _mm512_mask_i32gather_epi32(z, (__mmask16)m, at, &xg[0].s, 4); /* Σq_x of each block */
    const __m512i sh = r > 16 ? _mm512_mask_i32gather_epi32(z, (__mmask16)(m >> 16), at, &xg[16].s, 4) : z;
    float *dx = L->dx + 32 * (wg / Q8_GW), *cx = L->cx + 32 * (wg / Q8_GW);
    _mm512_store_ps(dx, dl);
    _mm512_store_ps(dx + 16, dh);
    _mm512_store_ps(cx, _mm512_mul_ps(dl, _mm512_cvtepi32_ps(_mm512_slli_epi32(_mm512_sub_epi32(z, sl), 7))));
    _mm512_store_ps(cx + 16, _mm512_mul_ps(dh, _mm512_cvtepi32_ps(_mm512_slli_epi32(_mm512_sub_epi32(z, sh), 7))));
    _Pragma("GCC unroll 17")
    for (int k = 0; k < Q8_GW; k++) {
        const __m512i v = q8_xwin(xg, r, k);
        _mm512_store_si512(L->lo + QW * (wg + k), v);
        if (per_lane)
            _mm512_store_ps(L->dxl + 16 * (wg + k), _mm512_permutex2var_ps(dl, _mm512_load_si512(q8_lane_blk[k]), dh));
    }
}

/* Q4_0, first pass: the two streams, the block scales and offset shares of nblk blocks from window
 * w0, zeros up to whole groups. Each block is one zero-masked load of [0 0 q0..q15] and one store
 * whose tail the next block overwrites. */
static void q4_lay_blocks(q_xlay *L, int64_t w0, const hg_block_q8x *x, int64_t nblk) {
    const int64_t nw = (nblk + 31) / 32 * Q4_GW, end = 18 * nblk + 14; /* the last stores' zeros reach end */
    int8_t *lo = L->lo + QW * w0, *hi = L->hi + QW * w0;
    float *dx = L->dx + 32 * (w0 / Q4_GW), *cx = L->cx + 32 * (w0 / Q4_GW);
    for (int64_t j = 0; j < nblk; j++) {
        _mm256_storeu_si256((__m256i *)(lo + 18 * j), _mm256_maskz_loadu_epi8(0x3fffc, (const char *)x[j].qs - 2));
        _mm256_storeu_si256((__m256i *)(hi + 18 * j), _mm256_maskz_loadu_epi8(0x3fffc, (const char *)x[j].qs + 14));
        dx[j] = x[j].d;
        cx[j] = x[j].d * (float)(-8 * x[j].s);
    }
    if (end < QW * nw) {
        memset(lo + end, 0, (size_t)(QW * nw - end));
        memset(hi + end, 0, (size_t)(QW * nw - end));
    }
    for (int64_t j = nblk; j < nw / Q4_GW * 32; j++) dx[j] = cx[j] = 0.0f;
}

/* Q4_0, second pass over nw windows from w0 (T >= 2): the lane scales. */
static void q4_lay_lanes(q_xlay *L, int64_t w0, int64_t nw) {
    for (int64_t w = w0; w < w0 + nw; w++) {
        const float *dg = L->dx + 32 * (w / Q4_GW);
        const __m512i idx = _mm512_load_si512(q4_lane_blk[w % Q4_GW]);
        _mm512_store_ps(L->dxl + 16 * w, _mm512_permutex2var_ps(_mm512_load_ps(dg), idx, _mm512_load_ps(dg + 16)));
    }
}

/* Lay out nb blocks of x for TG positions: T = 1 the whole piece from window 0; T >= 2 one group per
 * position (position t from window t·gw). */
HG_INLINE void q_lay(bool q8, q_xlay *L, const hg_block_q8x *x, int64_t ldx, int64_t nb, int TG) {
    const int64_t gw = q8 ? Q8_GW : Q4_GW;
    for (int t = 0; t < TG; t++) {
        const hg_block_q8x *xt = x + t * ldx;
        if (!q8) {
            q4_lay_blocks(L, t * gw, xt, nb);
            continue;
        }
        int64_t g = 0;
        for (; 32 * g + 32 <= nb; g++) q8_lay_group(L, t * gw + g * gw, xt + 32 * g, 32, TG > 1);
        if (32 * g < nb) q8_lay_group(L, t * gw + g * gw, xt + 32 * g, nb - 32 * g, TG > 1);
    }
    if (!q8 && TG > 1) q4_lay_lanes(L, 0, TG * ((nb + 31) / 32) * Q4_GW);
}

/* The d_w of a group's blocks (r of them: 32 unless the row ends) as f32, blocks 0..15 and 16..31. */
HG_INLINE void q_dw(int bs, const uint8_t *wg, int64_t r, __m512 *dl, __m512 *dh) {
    const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32(bs)); /* block heads; each read is d + 2 quant bytes */
    __m512i g0, g1;
    if (r == 32) {
        g0 = _mm512_i32gather_epi32(at, wg, 1);
        g1 = _mm512_i32gather_epi32(at, wg + 16 * bs, 1);
    } else {
        const uint32_t m = (uint32_t)((1ull << r) - 1);
        g0 = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), (__mmask16)m, at, wg, 1);
        g1 = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), (__mmask16)(m >> 16), at, wg + 16 * bs, 1);
    }
    *dl = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g0));
    *dh = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g1));
}

/* Window k of a group of `bytes` bytes, as the unsigned vpdpbusd operands: Q8_0 w+128 in *a; Q4_0
 * the low nibbles in *a, the high ones in *b. Bytes past the group read as zero. */
HG_INLINE void q_win(bool q8, const uint8_t *wg, int k, int64_t bytes, __m512i *a, __m512i *b) {
    const __m512i w = QW * k + QW <= bytes
                          ? _mm512_loadu_si512(wg + QW * k)
                          : _mm512_maskz_loadu_epi8((__mmask64)((1ull << (bytes - QW * k)) - 1), wg + QW * k);
    if (q8) {
        *a = _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80));
    } else {
        *a = _mm512_and_si512(w, _mm512_set1_epi8(15));
        *b = _mm512_and_si512(_mm512_srli_epi16(w, 4), _mm512_set1_epi8(15));
    }
}

/* Window wi of the x layout against a weight window: the 16 lanes' Σ (q_w + 128 or 8)·q_x, as f32
 * (exact). */
HG_INLINE __m512 q_dot(bool q8, __m512i a, __m512i b, const q_xlay *L, int64_t wi) {
    __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), a, _mm512_load_si512(L->lo + QW * wi));
    if (!q8) d = _mm512_dpbusd_epi32(d, b, _mm512_load_si512(L->hi + QW * wi));
    return _mm512_cvtepi32_ps(d);
}

/* T = 1: group g (r blocks at wg) of the row into acc; the scales d_w·d_x stay in two registers. */
HG_INLINE void q_group1(bool q8, __m512 *acc, const q_xlay *L, const uint8_t *wg, int64_t g, int64_t r) {
    const int bs = q8 ? 34 : 18, gw = q8 ? Q8_GW : Q4_GW;
    __m512 dl, dh;
    q_dw(bs, wg, r, &dl, &dh);
    const __m512 sl = _mm512_mul_ps(dl, _mm512_load_ps(L->dx + 32 * g)),
                 sh = _mm512_mul_ps(dh, _mm512_load_ps(L->dx + 32 * g + 16));
    acc[0] = _mm512_fmadd_ps(dl, _mm512_load_ps(L->cx + 32 * g), acc[0]);
    acc[1] = _mm512_fmadd_ps(dh, _mm512_load_ps(L->cx + 32 * g + 16), acc[1]);
    _Pragma("GCC unroll 17")
    for (int k = 0; k < gw; k++) {
        if (QW * k >= bs * r) break;
        _mm_prefetch((const char *)wg + QW * k + Q_PF_L2, _MM_HINT_T1);
        _mm_prefetch((const char *)wg + QW * k + Q_PF_L1, _MM_HINT_T0);
        __m512i a, b = _mm512_setzero_si512();
        q_win(q8, wg, k, bs * r, &a, &b);
        const __m512i idx = _mm512_load_si512(q8 ? q8_lane_blk[k] : q4_lane_blk[k]);
        acc[k & 1] = _mm512_fmadd_ps(q_dot(q8, a, b, L, g * gw + k), _mm512_permutex2var_ps(sl, idx, sh), acc[k & 1]);
    }
}

/* T >= 2: one group (r blocks at wg) of one row against TG positions; the scale of each lane is
 * d_w (permuted once per window) times the laid-out d_x of its block. pf: the next group of this row
 * (to L2), pn: the same group of the next row (to L1). */
HG_INLINE void q_groupn(bool q8, int TG, __m512 *acc, const q_xlay *L, const uint8_t *wg, int64_t r, int64_t pn) {
    const int bs = q8 ? 34 : 18, gw = q8 ? Q8_GW : Q4_GW;
    __m512 dl, dh;
    q_dw(bs, wg, r, &dl, &dh);
    _Pragma("GCC unroll 8")
    for (int t = 0; t < TG; t++) {
        acc[2 * t] = _mm512_fmadd_ps(dl, _mm512_load_ps(L->cx + 32 * t), acc[2 * t]);
        acc[2 * t + 1] = _mm512_fmadd_ps(dh, _mm512_load_ps(L->cx + 32 * t + 16), acc[2 * t + 1]);
    }
    _Pragma("GCC unroll 17")
    for (int k = 0; k < gw; k++) {
        if (QW * k >= bs * r) break;
        _mm_prefetch((const char *)wg + QW * k + 32 * bs, _MM_HINT_T1);
        _mm_prefetch((const char *)wg + QW * k + pn, _MM_HINT_T0);
        __m512i a, b = _mm512_setzero_si512();
        q_win(q8, wg, k, bs * r, &a, &b);
        const __m512 dwk = _mm512_permutex2var_ps(dl, _mm512_load_si512(q8 ? q8_lane_blk[k] : q4_lane_blk[k]), dh);
        _Pragma("GCC unroll 8")
        for (int t = 0; t < TG; t++) {
            const int64_t wi = t * gw + k;
            const __m512 sc = _mm512_mul_ps(dwk, _mm512_load_ps(L->dxl + 16 * wi)); /* d_w·d_x per lane */
            acc[2 * t + (k & 1)] = _mm512_fmadd_ps(q_dot(q8, a, b, L, wi), sc, acc[2 * t + (k & 1)]);
        }
    }
}

/* T = 1: nr rows from w0 (row stride rowb bytes), nb blocks each; y[i] (+)= row i · x. */
HG_INLINE void q_rows1(bool q8, float *y, const q_xlay *L, const uint8_t *w0, int64_t rowb, int64_t nr, int64_t nb,
                       bool accum) {
    const int64_t gb = 32 * (q8 ? 34 : 18);
    for (int64_t i = 0; i < nr; i++) {
        const uint8_t *row = w0 + i * rowb;
        __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        int64_t g = 0;
        for (; g < nb / 32; g++) q_group1(q8, acc, L, row + g * gb, g, 32);
        if (nb % 32) q_group1(q8, acc, L, row + g * gb, g, nb % 32);
        const float r = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
        y[i] = accum ? y[i] + r : r;
    }
}

/* T >= 2 (TG positions): for each group, lay out x for all positions, then run every row of the call
 * through it; partial sums wait in part[][]. */
HG_INLINE void q_rowsn(bool q8, int TG, float *y, int64_t ldy, q_xlay *L, const hg_block_q8x *x, int64_t ldx,
                       const uint8_t *w0, int64_t rowb, int64_t nr, int64_t nb, bool accum) {
    const int64_t gb = 32 * (q8 ? 34 : 18);
    __m512 part[HG_MV_ROWS][2 * HG_MV_T];
    for (int64_t i0 = 0; i0 < nr; i0 += HG_MV_ROWS) {
        const int64_t n16 = hg_min_i64(HG_MV_ROWS, nr - i0);
        for (int64_t g = 0; 32 * g < nb; g++) {
            const int64_t r = hg_min_i64(32, nb - 32 * g);
            q_lay(q8, L, x + 32 * g, ldx, r, TG);
            for (int64_t i = 0; i < n16; i++) {
                const uint8_t *wg = w0 + (i0 + i) * rowb + g * gb;
                __m512 acc[2 * HG_MV_T];
                _Pragma("GCC unroll 16")
                for (int t = 0; t < 2 * TG; t++) acc[t] = g ? part[i][t] : _mm512_setzero_ps();
                if (r == 32) q_groupn(q8, TG, acc, L, wg, 32, rowb);
                else q_groupn(q8, TG, acc, L, wg, r, rowb);
                _Pragma("GCC unroll 16")
                for (int t = 0; t < 2 * TG; t++) part[i][t] = acc[t];
            }
        }
        for (int64_t i = 0; i < n16; i++)
            for (int t = 0; t < TG; t++) {
                const float v = _mm512_reduce_add_ps(_mm512_add_ps(part[i][2 * t], part[i][2 * t + 1]));
                float *yo = y + t * ldy + i0 + i;
                *yo = accum ? *yo + v : v;
            }
    }
}

HG_INLINE void mv_q(hg_dtype dt, float *y, int64_t ldy, const void *xv, int64_t ldx, const hg_tensor *w, int64_t o0,
                    int64_t o1, int64_t k0, int64_t n, int64_t T, bool acc) {
    const bool q8 = dt == HG_DTYPE_Q8_0;
    const hg_block_q8x *x = xv;
    const int64_t bs = q8 ? 34 : 18, nbr = w->ne[1] / HG_QK, nb = n / HG_QK, rowb = nbr * bs, nr = o1 - o0;
    HG_ASSERT(nb <= HG_QX_PIECE / HG_QK);
    const uint8_t *w0 = (const uint8_t *)w->data + (o0 * nbr + k0 / HG_QK) * bs;
    q_xlay L;
    for (int64_t t0 = 0; t0 < T; t0 += HG_MV_T) {
        const hg_block_q8x *xx = x + t0 * ldx;
        float *yy = y + t0 * ldy + o0;
        switch (hg_min_i64(HG_MV_T, T - t0)) {
        case 1:
            q_lay(q8, &L, xx, ldx, nb, 1);
            q_rows1(q8, yy, &L, w0, rowb, nr, nb, acc);
            break;
        case 2: q_rowsn(q8, 2, yy, ldy, &L, xx, ldx, w0, rowb, nr, nb, acc); break;
        case 3: q_rowsn(q8, 3, yy, ldy, &L, xx, ldx, w0, rowb, nr, nb, acc); break;
        case 4: q_rowsn(q8, 4, yy, ldy, &L, xx, ldx, w0, rowb, nr, nb, acc); break;
        case 5: q_rowsn(q8, 5, yy, ldy, &L, xx, ldx, w0, rowb, nr, nb, acc); break;
        case 6: q_rowsn(q8, 6, yy, ldy, &L, xx, ldx, w0, rowb, nr, nb, acc); break;
        case 7: q_rowsn(q8, 7, yy, ldy, &L, xx, ldx, w0, rowb, nr, nb, acc); break;
        default: q_rowsn(q8, 8, yy, ldy, &L, xx, ldx, w0, rowb, nr, nb, acc); break;
        }
    }
}

static void mv_q8_0(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(HG_DTYPE_Q8_0, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}
static void mv_q4_0(float *y, int64_t ldy, const void *x, int64_t ldx, const hg_tensor *w, int64_t o0, int64_t o1,
                    int64_t k0, int64_t n, int64_t T, bool acc) {
    mv_q(HG_DTYPE_Q4_0, y, ldy, x, ldx, w, o0, o1, k0, n, T, acc);
}

/* ---- blocked matrix-matrix: hg_gemm_rows_avx512 in gemm_avx512.c ------------------------------ */

/* ---- vector helpers for attention ------------------------------------------------------------- */

float hg_vec_dot_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

void hg_vec_axpy_avx512(float *y, float a, const float *x, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* The same with the second operand a KV-cache entry stored in dt (F16 / BF16), widened in registers
 * by load_w16: the KV cache is read at 2 bytes per element, compute stays f32. */
HG_INLINE float dot_kv(hg_dtype dt, const float *a, const void *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load_w16(dt, b, i, 0xffff), acc);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), load_w16(dt, b, i, m), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

HG_INLINE void axpy_kv(hg_dtype dt, float *y, float a, const void *x, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, load_w16(dt, x, i, 0xffff), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, load_w16(dt, x, i, m), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

float hg_vec_dot_f16_avx512(const float *a, const void *b, int64_t n) { return dot_kv(HG_DTYPE_F16, a, b, n); }
float hg_vec_dot_bf16_avx512(const float *a, const void *b, int64_t n) { return dot_kv(HG_DTYPE_BF16, a, b, n); }
void hg_vec_axpy_f16_avx512(float *y, float a, const void *x, int64_t n) { axpy_kv(HG_DTYPE_F16, y, a, x, n); }
void hg_vec_axpy_bf16_avx512(float *y, float a, const void *x, int64_t n) { axpy_kv(HG_DTYPE_BF16, y, a, x, n); }

#define ATT_PF 4 /* entries ahead that attend_kv prefetches */
HG_INLINE void prefetch_bytes(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i += 64) _mm_prefetch((const char *)p + i, _MM_HINT_T0);
}

/* One query head's attention over cache entries (hg_vec_ops.attend_kv): the arithmetic of dot_kv, expf,
 * a double sum and axpy_kv above, in the same order, so the bits equal that loop's; the output's d
 * floats stay in registers across the entries (up to 128 at a time) instead of a load and a store per
 * entry and call. */
HG_INLINE void attend_kv(hg_dtype dt, float *out, const float *q, const void *k, const void *v, const int64_t *src,
                         size_t rowb, size_t pos_bytes, int64_t np, int64_t d, float scale, float *sc) {
    float mx = -INFINITY;
    const size_t es = dt == HG_DTYPE_F32 ? 4 : 2, hb = (size_t)d * es; /* bytes per element, per head */
    for (int64_t kp = 0; kp < np; kp++) {
        if (src[kp] < 0) continue;
        if (kp + ATT_PF < np && src[kp + ATT_PF] >= 0) /* entries lie a cache row apart: prefetch ahead */
            prefetch_bytes((const uint8_t *)k + (size_t)(kp + ATT_PF) * pos_bytes + (size_t)src[kp + ATT_PF] * rowb, hb);
        sc[kp] = dot_kv(dt, q, (const uint8_t *)k + (size_t)kp * pos_bytes + (size_t)src[kp] * rowb, d) * scale;
        if (sc[kp] > mx) mx = sc[kp];
    }
    double sum = 0;
    for (int64_t kp = 0; kp < np; kp++) {
        if (src[kp] < 0) continue;
        sc[kp] = expf(sc[kp] - mx);
        sum += (double)sc[kp];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t t0 = 0; t0 < d; t0 += 128) {
        const int64_t nt = hg_min_i64(128, d - t0);
        __m512 acc[8];
        for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_ps();
        for (int64_t kp = 0; kp < np; kp++) {
            if (src[kp] < 0) continue;
            const __m512 av = _mm512_set1_ps(sc[kp] * inv);
            const void *vr = (const uint8_t *)v + (size_t)kp * pos_bytes + (size_t)src[kp] * rowb;
            if (kp + ATT_PF < np && src[kp + ATT_PF] >= 0)
                prefetch_bytes((const uint8_t *)v + (size_t)(kp + ATT_PF) * pos_bytes + (size_t)src[kp + ATT_PF] * rowb +
                                   (size_t)t0 * es, (size_t)nt * es);
            for (int j = 0; j < 8 && j * 16 < nt; j++) {
                const __mmask16 m = nt - j * 16 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nt - j * 16)) - 1);
                acc[j] = _mm512_fmadd_ps(av, load_w16(dt, vr, t0 + j * 16, m), acc[j]);
            }
        }
        for (int j = 0; j < 8 && j * 16 < nt; j++) {
            const __mmask16 m = nt - j * 16 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nt - j * 16)) - 1);
            _mm512_mask_storeu_ps(out + t0 + j * 16, m, acc[j]);
        }
    }
}

void hg_attend_f32_avx512(float *out, const float *q, const void *k, const void *v, const int64_t *src, size_t rowb,
                          size_t pos_bytes, int64_t np, int64_t d, float scale, float *sc) {
    attend_kv(HG_DTYPE_F32, out, q, k, v, src, rowb, pos_bytes, np, d, scale, sc);
}
void hg_attend_f16_avx512(float *out, const float *q, const void *k, const void *v, const int64_t *src, size_t rowb,
                          size_t pos_bytes, int64_t np, int64_t d, float scale, float *sc) {
    attend_kv(HG_DTYPE_F16, out, q, k, v, src, rowb, pos_bytes, np, d, scale, sc);
}
void hg_attend_bf16_avx512(float *out, const float *q, const void *k, const void *v, const int64_t *src, size_t rowb,
                           size_t pos_bytes, int64_t np, int64_t d, float scale, float *sc) {
    attend_kv(HG_DTYPE_BF16, out, q, k, v, src, rowb, pos_bytes, np, d, scale, sc);
}

/* Where the blocked kernels start (gemm_min_t): below 33 positions mv in groups of 8 is faster than
 * the f32 blocked kernel, whose W pack dominates at small T; AMX tiles and the VNNI kernel are faster
 * than mv from T = 9 on (the VNNI kernel reads W once where mv reads it once per 8 positions); the
 * vdpbf16ps kernel from T = 48 (mv time / blocked time per dtype and T: docs/results/kernels.md,
 * "Where the blocked path starts").
 * Four tables, with the bf16 and the Q8_0/Q4_0 blocked kernels given: the widening AVX-512 ones
 * (gemm_avx512.c; HG_BF16DOT=0 forces them); without AMX, Q8_0/Q4_0 on VNNI (gemm_q8_vnni_avx512.c:
 * 1.4-2x the widening kernel at T = 128), bf16 still widened; the same with bf16 on vdpbf16ps
 * (gemm_bf16dot_avx512.c), only with HG_BF16DOT=1 on AVX512-BF16 hosts, since exact activations
 * cost three dots per pair and make it 0.4-0.95x the widening kernel on Zen 5; AMX tiles
 * (gemm_amx_avx512.c, gemm_q8_amx_avx512.c).
 * Decode (T <= 8) stays on mv_bf16 / mv_q8_0 / mv_q4_0 in every table: the tiles stream W 10-25 %
 * slower at T = 1 (docs/results/kernels.md, "AMX bf16"), and a batch must equal each sequence alone
 * bit for bit, so T = 2..8 follows T = 1. A weight packed at load (the tables' prepack: Q8_0 on VNNI,
 * bf16 on the widening tables) takes the blocked product at every T instead. */
#define BF16DOT_MIN_T 48
#define BF16FAST_MIN_T 33
#define VNNI_MIN_T 9
#define AVX512_TABLE(BF16_GEMM, BF16_MIN, BF16_SPLIT, Q_GEMM, Q_MIN, Q8X, AMX, PREPACK, BF16_PACK)                                  \
    {                                                                                                          \
        .level = HG_CPU_AVX512,                                                                                \
        .mv = {[HG_DTYPE_F32] = mv_f32, [HG_DTYPE_F16] = mv_f16, [HG_DTYPE_BF16] = mv_bf16,                      \
               [HG_DTYPE_Q8_0] = mv_q8_0, [HG_DTYPE_Q4_0] = mv_q4_0},                                            \
        .mv_q8x = {[HG_DTYPE_Q8_0] = true, [HG_DTYPE_Q4_0] = true},                                            \
        .gemm = {[HG_DTYPE_F32] = hg_gemm_rows_avx512, [HG_DTYPE_F16] = hg_gemm_rows_avx512,                     \
                 [HG_DTYPE_BF16] = BF16_GEMM, [HG_DTYPE_Q8_0] = Q_GEMM, [HG_DTYPE_Q4_0] = Q_GEMM},             \
        .gemm_min_t = {[HG_DTYPE_F32] = 33, [HG_DTYPE_F16] = 33, [HG_DTYPE_BF16] = BF16_MIN,                    \
                       [HG_DTYPE_Q8_0] = Q_MIN, [HG_DTYPE_Q4_0] = Q_MIN},                                      \
        .amx = AMX, .bf16_split = BF16_SPLIT, .gemm_q8x = {[HG_DTYPE_Q8_0] = Q8X, [HG_DTYPE_Q4_0] = Q8X},        \
        .quant_q8x = hg_quantize_row_q8x_avx512, .dot = hg_vec_dot_avx512, .axpy = hg_vec_axpy_avx512,         \
        .prepack = {[HG_DTYPE_Q8_0] = PREPACK, [HG_DTYPE_BF16] = BF16_PACK},                                   \
    }
const hg_kern_table hg_kern_avx512 =
    AVX512_TABLE(hg_gemm_rows_avx512, 33, false, hg_gemm_rows_avx512, 33, false, false, NULL, hg_prepack_bf16_rows);
const hg_kern_table hg_kern_avx512_vnni =
    AVX512_TABLE(hg_gemm_rows_avx512, 33, false, hg_gemm_q8_vnni, VNNI_MIN_T, true, false, hg_prepack_q8_vnni,
                 hg_prepack_bf16_rows);
const hg_kern_table hg_kern_avx512_bf16dot =
    AVX512_TABLE(hg_gemm_bf16_dot, BF16DOT_MIN_T, true, hg_gemm_q8_vnni, VNNI_MIN_T, true, false, hg_prepack_q8_vnni,
                 NULL);
/* HG_BF16DOT=fast: bf16 on vdpbf16ps with x rounded to bf16 (one part; gemm_bf16dot_avx512.c) */
const hg_kern_table hg_kern_avx512_bf16fast = {
    .level = HG_CPU_AVX512,
    .mv = {[HG_DTYPE_F32] = mv_f32, [HG_DTYPE_F16] = mv_f16, [HG_DTYPE_BF16] = mv_bf16, [HG_DTYPE_Q8_0] = mv_q8_0,
           [HG_DTYPE_Q4_0] = mv_q4_0},
    .mv_q8x = {[HG_DTYPE_Q8_0] = true, [HG_DTYPE_Q4_0] = true},
    .gemm = {[HG_DTYPE_F32] = hg_gemm_rows_avx512, [HG_DTYPE_F16] = hg_gemm_rows_avx512,
             [HG_DTYPE_BF16] = hg_gemm_bf16_dot1, [HG_DTYPE_Q8_0] = hg_gemm_q8_vnni, [HG_DTYPE_Q4_0] = hg_gemm_q8_vnni},
    .gemm_min_t = {[HG_DTYPE_F32] = 33, [HG_DTYPE_F16] = 33, [HG_DTYPE_BF16] = BF16FAST_MIN_T,
                   [HG_DTYPE_Q8_0] = VNNI_MIN_T, [HG_DTYPE_Q4_0] = VNNI_MIN_T},
    .bf16_split = true, .bf16_x_rounded = true,
    .gemm_q8x = {[HG_DTYPE_Q8_0] = true, [HG_DTYPE_Q4_0] = true},
    .quant_q8x = hg_quantize_row_q8x_avx512, .dot = hg_vec_dot_avx512, .axpy = hg_vec_axpy_avx512,
    .prepack = {[HG_DTYPE_Q8_0] = hg_prepack_q8_vnni},
};
const hg_kern_table hg_kern_avx512_amx = AVX512_TABLE(hg_gemm_bf16_amx, 9, true, hg_gemm_q8_amx, 9, true, true, NULL, NULL);
