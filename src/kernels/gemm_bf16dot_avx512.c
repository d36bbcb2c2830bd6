/*
 * gemm_bf16dot_avx512.c — y[T, n_out] = x[T, n_in]·Wᵀ for bf16 weights with AVX512-BF16's vdpbf16ps,
 * the blocked product (prefill, verification, batches above the mv path) of the AVX-512 level on
 * CPUs with AVX512-BF16 and no AMX (Zen 4/5, Cooper Lake), opt-in (HG_BF16DOT=1: see below). Decode
 * (T < gemm_min_t) stays on mv_bf16.
 *
 * Exact f32 activations on a bf16 dot unit, as the AMX kernel (gemm_amx_avx512.c): each x is split
 * into three bf16 parts, x = hi + mid + lo exactly (hi = x rounded to bf16, mid = the remainder
 * rounded, lo = what is left, which has at most 8 significant bits), and a product of two bf16 is
 * exact in f32, so W·x is three bf16 dot products accumulated in f32: the accuracy of an f32 dot
 * product, within test_kernels.c's bound. Rejected as the default: one part (llama.cpp's choice: x at
 * 8 bits) and two parts (x at 16 bits, error up to 2⁻¹⁶·Σ|x·w|: it misses the 1e-4 golden tolerance
 * on bf16 prefill; kept as hg_gemm_bf16_dot2 for bench A/B only).
 * Workload fact that decides the default: where vdpbf16ps issues at the FMA rate (Zen 5), three
 * parts leave 32/3 useful multiply-adds per instruction against an FMA's 16, a ceiling of 2/3 of the
 * FP32 FMA peak, which the widening kernel (gemm_avx512.c) already reaches; so the widening kernel
 * stays the default and this one is opt-in (docs/results/kernels.md, "Without AMX").
 * The fast mode (HG_BF16DOT=fast, hg_gemm_bf16_dot1) takes the one part llama.cpp takes, x rounded to
 * bf16: 32 multiply-adds per instruction, up to the BF16 dot peak, at an error of up to 2⁻⁸·Σ|x·w|
 * per output (relative rounding of x) instead of the f32 bound; never the default, its effect on
 * logits is measured in docs/results/kernels.md ("bf16 prefill, fast mode").
 *
 * Layout. x is split once per call (threads share it) into xs[pair][part][position] u32 (positions
 * rounded up to 16, zeros past T), so a tile's x vectors are plain aligned loads. W is packed per
 * thread, per K block of 256 inputs and group of 48 rows, into the pair-interleaved layout vdpbf16ps
 * takes, wp[pair][48 rows] u32 (24 KiB, L1), by 16 x 16 dword transposes (gathers took a quarter of
 * the time). Register tile, lanes along positions: 12 rows x 32 positions = 24 f32 accumulators;
 * per pair 6 x-part loads, 12 weight broadcasts, 72 vdpbf16ps (lanes along rows needed 36
 * broadcasts per pair and ran slower). Partial sums wait per chunk of 192 rows in an L2 buffer
 * between K blocks (exact); the last K block scatters them into y.
 *
 * Determinism: every y[t, o] is one sequence, pairs of k in order, for each pair hi, mid, lo into
 * one f32 accumulator from +0 (odd n_in: a zero pair partner), whatever T, the tile, the row group or
 * the thread. It is not the FMA chain of the widening kernels (dispatch.h: bf16_split). vdpbf16ps
 * reads denormal parts as zero and flushes denormal sums, which matters only below ~1e-38.
 * Non-finite x: hi carries it (rounded as vcvtneps2bf16 rounds it, a NaN stays a NaN) and the other
 * parts are 0; a finite x that rounds to ±inf in bf16 is truncated instead, so hi stays finite.
 */
#include "kernels/dispatch.h"
#include "kernels/transpose_avx512.h"

#include <immintrin.h>
#include <omp.h>

#define HG_INLINE static inline __attribute__((always_inline))

#define BD_RT 12               /* rows per register tile */
#define BD_RG 48               /* rows per packed group: 3 transposes of 16, 4 register tiles */
#define BD_RC 192              /* rows per chunk: their partial sums wait in L2 between K blocks */
#define BD_KC 256              /* inputs per K block: wp is 128 pairs x 48 rows x 4 bytes = 24 KiB */
#define BD_TV 2                /* position vectors per register tile (32 positions) */

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

/* Position t of x [T, K] into xs[pair j][part p][Tp] (pairs over all of K, rounded up to 8; zeros
 * past K); t >= T: zeros. */
static void split_position(uint32_t *xs, const float *x, int64_t t, int64_t T, int64_t Tp, int64_t K) {
    const int64_t nc = (K + 15) / 16;
    uint32_t part[24];
    for (int64_t c = 0; c < nc; c++) {
        if (t < T) {
            const int64_t k = 16 * c;
            const __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
            __m256i h, md, lo;
            split16(x + t * K + k, m, &h, &md, &lo);
            _mm256_storeu_si256((__m256i *)part, h);
            _mm256_storeu_si256((__m256i *)(part + 8), md);
            _mm256_storeu_si256((__m256i *)(part + 16), lo);
        } else
            memset(part, 0, sizeof part);
        uint32_t *d = xs + (size_t)c * 24 * (size_t)Tp + (size_t)t;
        for (int j = 0; j < 8; j++)
            for (int p = 0; p < 3; p++) d[(size_t)(3 * j + p) * (size_t)Tp] = part[8 * p + j];
    }
}

/* ---- packing W -------------------------------------------------------------------------------- */

/* wp[j][r] = the bf16 pair (W[o0+r][k0+2j], W[o0+r][k0+2j+1]) for pairs j < kc/2 rounded up to 16
 * (zeros past K, and for rows r >= R): 16 rows x 16 pairs at a time, one masked load per row and a
 * 16 x 16 transpose of dwords. (Dword gathers over the rows took a quarter of the kernel's time.) The
 * next K block of the same rows is prefetched while this one is packed. */
static void pack_w(const hg_tensor *w, int64_t o0, int64_t R, int64_t k0, int64_t kc, uint32_t *wp) {
    const int64_t K = w->ne[1];
    const uint16_t *base = (const uint16_t *)w->data + o0 * K;
    const bool pf = k0 + BD_KC < K;
    for (int64_t h = 0; h < BD_RG; h += 16) {
        const int64_t rows = hg_max_i64(0, hg_min_i64(16, R - h));
        for (int64_t k = 0; k < kc; k += 32) {
            const __mmask32 m = kc - k >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (kc - k)) - 1);
            __m512 v[16];
            _Pragma("GCC unroll 16")
            for (int r = 0; r < 16; r++) {
                const uint16_t *src = base + (h + r) * K + k0 + k;
                v[r] = r < rows ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, src)) : _mm512_setzero_ps();
                if (pf && r < rows) _mm_prefetch((const char *)(src + BD_KC), _MM_HINT_T1);
            }
            transpose16(v);
            _Pragma("GCC unroll 16")
            for (int j = 0; j < 16; j++) _mm512_store_ps((float *)(wp + (k / 2 + j) * BD_RG + h), v[j]);
        }
    }
}

/* ---- the register tile ------------------------------------------------------------------------ */

typedef struct bd_job {
    float *y;
    const uint32_t *xs; /* [pairs][3][Tp] */
    int64_t T, Tp, n_out;
} bd_job;

/* Rows o .. o+RV-1 (RV <= 12; wp at the tile's first row, rows BD_RG apart per pair) x positions
 * t0 .. t0+16·TV-1, over the K block's np pairs from pair j0 (of all K). Sums start at zero (first)
 * or from park[r][Tp], and go back to park or, at the end of K (last), to y (positions >= T
 * dropped). Lanes are positions: per pair 3·TV x-part loads, 12 weight broadcasts, 36·TV dots. */
HG_INLINE void bd_tile(int P, int TV, const bd_job *j, int64_t o, int RV, int64_t t0, const uint32_t *wp, int64_t j0,
                       int64_t np, float *park, bool first, bool last) {
    __m512 acc[BD_RT][BD_TV];
    _Pragma("GCC unroll 16")
    for (int r = 0; r < BD_RT; r++)
        _Pragma("GCC unroll 4")
        for (int v = 0; v < TV; v++)
            acc[r][v] = first ? _mm512_setzero_ps() : _mm512_load_ps(park + r * j->Tp + t0 + 16 * v);
    const uint32_t *xb = j->xs + (size_t)j0 * 3 * (size_t)j->Tp + (size_t)t0;
    const size_t ldp = (size_t)j->Tp;
    for (int64_t jj = 0; jj < np; jj++, xb += 3 * ldp, wp += BD_RG) {
        __m512bh xv[3][BD_TV];
        _Pragma("GCC unroll 3")
        for (int p = 0; p < P; p++)
            _Pragma("GCC unroll 4")
            for (int v = 0; v < TV; v++) xv[p][v] = (__m512bh)_mm512_load_si512(xb + p * ldp + 16 * v);
        _Pragma("GCC unroll 16")
        for (int r = 0; r < BD_RT; r++) {
            const __m512bh wb = (__m512bh)_mm512_set1_epi32((int)wp[r]);
            _Pragma("GCC unroll 3")
            for (int p = 0; p < P; p++)
                _Pragma("GCC unroll 4")
                for (int v = 0; v < TV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], xv[p][v], wb);
        }
    }
    if (!last) {
        _Pragma("GCC unroll 16")
        for (int r = 0; r < BD_RT; r++)
            _Pragma("GCC unroll 4")
            for (int v = 0; v < TV; v++) _mm512_store_ps(park + r * j->Tp + t0 + 16 * v, acc[r][v]);
        return;
    }
    const __m512i at = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32((int)j->n_out));
    _Pragma("GCC unroll 4")
    for (int v = 0; v < TV; v++) {
        const int64_t tv = t0 + 16 * v, n = hg_min_i64(16, j->T - tv);
        if (n <= 0) break;
        const __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
        _Pragma("GCC unroll 16")
        for (int r = 0; r < BD_RT; r++)
            if (r < RV) _mm512_mask_i32scatter_ps(j->y + tv * j->n_out + o + r, m, at, acc[r][v], 4);
    }
}

/* One packed group (rows o0 .. o0+R-1) over all positions, 32 then 16 at a time. */
HG_INLINE void bd_group(int P, const bd_job *j, int64_t o0, int64_t R, const uint32_t *wp, int64_t j0, int64_t np,
                        float *park, bool first, bool last) {
    for (int64_t r0 = 0; r0 < R; r0 += BD_RT) {
        const int RV = (int)hg_min_i64(BD_RT, R - r0);
        float *pk = park + r0 * j->Tp;
        int64_t t0 = 0;
        for (; t0 + 32 <= j->Tp; t0 += 32) bd_tile(P, 2, j, o0 + r0, RV, t0, wp + r0, j0, np, pk, first, last);
        if (t0 < j->Tp) bd_tile(P, 1, j, o0 + r0, RV, t0, wp + r0, j0, np, pk, first, last);
    }
}

static void bd_group3(const bd_job *j, int64_t o0, int64_t R, const uint32_t *wp, int64_t j0, int64_t np, float *park,
                      bool first, bool last) {
    bd_group(3, j, o0, R, wp, j0, np, park, first, last);
}
static void bd_group1(const bd_job *j, int64_t o0, int64_t R, const uint32_t *wp, int64_t j0, int64_t np, float *park,
                      bool first, bool last) {
    bd_group(1, j, o0, R, wp, j0, np, park, first, last);
}
static void bd_group2(const bd_job *j, int64_t o0, int64_t R, const uint32_t *wp, int64_t j0, int64_t np, float *park,
                      bool first, bool last) {
    bd_group(2, j, o0, R, wp, j0, np, park, first, last);
}

/* ---- the entry point -------------------------------------------------------------------------- */

static void gemm_bf16_dot(int P, float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], K = w->ne[1];
    HG_ASSERT(w->dtype == HG_DTYPE_BF16);
    if (T <= 0 || n_out <= 0) return;
    if (K <= 0) {
        memset(y, 0, (size_t)(T * n_out) * sizeof(float));
        return;
    }
    HG_ASSERT((double)n_out * 16 < 2147483648.0); /* scatter offsets */
    const int64_t Tp = (T + 15) / 16 * 16, nc = (K + 15) / 16, nth = omp_get_max_threads();
    const size_t xs_n = (size_t)nc * 24 * (size_t)Tp, park_n = (size_t)BD_RC * (size_t)Tp;
    uint8_t *mem = hg_malloc((xs_n + (size_t)nth * park_n) * sizeof(uint32_t) + 64);
    if (!mem) { /* out of memory: the widening kernels need no buffer */
        hg_matmul_with(&hg_kern_avx512, y, x, w, T);
        return;
    }
    uint32_t *xs = (uint32_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    const bd_job j = {y, xs, T, Tp, n_out};
    const int64_t n_grp = (n_out + BD_RG - 1) / BD_RG, gpc = BD_RC / BD_RG;
    void (*group)(const bd_job *, int64_t, int64_t, const uint32_t *, int64_t, int64_t, float *, bool, bool) =
        P == 3 ? bd_group3 : P == 2 ? bd_group2 : bd_group1;
#pragma omp parallel if ((double)n_out * (double)K * (double)T >= HG_PAR_MIN_MACS)
    {
#pragma omp for schedule(static)
        for (int64_t t = 0; t < Tp; t++) split_position(xs, x, t, T, Tp, K);
        uint32_t wp[BD_KC / 2 * BD_RG] __attribute__((aligned(64)));
        float *park = (float *)(xs + xs_n + (size_t)omp_get_thread_num() * park_n);
        const int64_t nt = omp_get_num_threads(), it = omp_get_thread_num();
        const int64_t g0 = n_grp * it / nt, g1 = n_grp * (it + 1) / nt;
        for (int64_t c0 = g0; c0 < g1; c0 += gpc) { /* a chunk of up to 4 groups */
            const int64_t c1 = hg_min_i64(g1, c0 + gpc);
            for (int64_t k0 = 0; k0 < K; k0 += BD_KC) {
                const int64_t kc = hg_min_i64(BD_KC, K - k0);
                for (int64_t g = c0; g < c1; g++) {
                    const int64_t o0 = g * BD_RG, R = hg_min_i64(BD_RG, n_out - o0);
                    pack_w(w, o0, R, k0, kc, wp);
                    group(&j, o0, R, wp, k0 / 2, (kc + 15) / 16 * 8, park + (g - c0) * BD_RG * Tp, k0 == 0,
                          k0 + BD_KC >= K);
                }
            }
        }
    }
    hg_free(mem);
}

void hg_gemm_bf16_dot(float *y, const float *x, const hg_tensor *w, int64_t T) { gemm_bf16_dot(3, y, x, w, T); }
void hg_gemm_bf16_dot2(float *y, const float *x, const hg_tensor *w, int64_t T) { gemm_bf16_dot(2, y, x, w, T); }
void hg_gemm_bf16_dot1(float *y, const float *x, const hg_tensor *w, int64_t T) { gemm_bf16_dot(1, y, x, w, T); }
