/*
 * roofline.c — measures the ceilings of roofline.h. The ISA loops carry target attributes and are
 * entered only when cpu.c reports the features; otherwise AVX2, otherwise plain C.
 *
 * Bandwidth: every thread streams its static share of a buffer far larger than the caches with
 * 64-byte loads XORed into 8 independent registers (no FP, so no latency chain), best of several
 * passes over slices of the buffer, in several access patterns, the best of them: one sequential
 * stream left to the hardware prefetchers, and 2-4 interleaved streams (256 KiB apart, one line of
 * each per step) with a software prefetch 4-8 KiB ahead in each: on some hosts the plain stream alone
 * reads well below what prefetched streams, and the engine's own walks, reach (docs/results/kernels.md
 * "The bandwidth probe"), and a roofline below what a kernel reaches is none. FMA peak: 16 independent
 * accumulator chains per thread (more than latency 4 x 2 ports), a multiply-add by a constant near 1
 * so the values stay finite; the result is consumed so the loop survives optimisation; best of
 * several short passes, like the bandwidth. The chain loops are
 * unrolled by pragma: without it GCC -O2 kept the accumulators in memory and measured the
 * store/load ports (a third to a half of the real FMA peak). `roofline` run alone prints all three.
 */
#include "roofline.h"

#include "base/base.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

void *hg_roof_buffer(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes)) return NULL;
    memset(p, 1, bytes); /* fault every page in */
    return p;
}

__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *p, size_t n) {
    __m512i a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm512_setzero_si512();
    for (size_t i = 0; i + 512 <= n; i += 512)
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) a[j] = _mm512_xor_si512(a[j], _mm512_load_si512((const void *)(p + i + 64 * j)));
    for (int j = 1; j < 8; j++) a[0] = _mm512_xor_si512(a[0], a[j]);
    return (uint64_t)_mm512_reduce_add_epi64(a[0]);
}

__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n) {
    __m256i a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_si256();
    for (size_t i = 0; i + 256 <= n; i += 256)
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) a[j] = _mm256_xor_si256(a[j], _mm256_load_si256((const __m256i *)(p + i + 32 * j)));
    for (int j = 1; j < 8; j++) a[0] = _mm256_xor_si256(a[0], a[j]);
    return (uint64_t)_mm256_extract_epi64(a[0], 0);
}

/* S streams: the share in blocks of S x HG_ROOF_SPAN bytes, per step one 64-byte line of each stream and a
 * prefetch pf bytes ahead in it; the tail past the last whole block read as one stream. */
#define HG_ROOF_SPAN (256u * 1024u)
/* Each pass is timed over slices of at most this many bytes (still far beyond any cache): the engine's
 * products stream a few to a few hundred MB between their barriers, and the memory system can serve
 * such bursts faster than a whole gigabyte (docs/results/kernels.md "The bandwidth probe"). */
#define HG_ROOF_SLICE ((size_t)256 << 20)
__attribute__((target("avx512f"))) static uint64_t read_streams_avx512(const uint8_t *p, size_t n, int S, size_t pf) {
    __m512i a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm512_setzero_si512();
    const size_t blk = (size_t)S * HG_ROOF_SPAN;
    size_t b = 0;
    for (; b + blk <= n; b += blk)
        for (size_t i = 0; i < HG_ROOF_SPAN; i += 64)
            for (int s = 0; s < S; s++) {
                const uint8_t *q = p + b + (size_t)s * HG_ROOF_SPAN + i;
                _mm_prefetch((const char *)q + pf, _MM_HINT_T0);
                a[s] = _mm512_xor_si512(a[s], _mm512_load_si512((const void *)q));
            }
    for (; b + 64 <= n; b += 64) a[7] = _mm512_xor_si512(a[7], _mm512_load_si512((const void *)(p + b)));
    for (int j = 1; j < 8; j++) a[0] = _mm512_xor_si512(a[0], a[j]);
    return (uint64_t)_mm512_reduce_add_epi64(a[0]);
}

__attribute__((target("avx2"))) static uint64_t read_streams_avx2(const uint8_t *p, size_t n, int S, size_t pf) {
    __m256i a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_si256();
    const size_t blk = (size_t)S * HG_ROOF_SPAN;
    size_t b = 0;
    for (; b + blk <= n; b += blk)
        for (size_t i = 0; i < HG_ROOF_SPAN; i += 64)
            for (int s = 0; s < S; s++) {
                const uint8_t *q = p + b + (size_t)s * HG_ROOF_SPAN + i;
                _mm_prefetch((const char *)q + pf, _MM_HINT_T0);
                a[s] = _mm256_xor_si256(a[s], _mm256_load_si256((const __m256i *)q));
                a[s + 4] = _mm256_xor_si256(a[s + 4], _mm256_load_si256((const __m256i *)(q + 32)));
            }
    for (; b + 32 <= n; b += 32) a[7] = _mm256_xor_si256(a[7], _mm256_load_si256((const __m256i *)(p + b)));
    for (int j = 1; j < 8; j++) a[0] = _mm256_xor_si256(a[0], a[j]);
    return (uint64_t)_mm256_extract_epi64(a[0], 0);
}

static uint64_t read_scalar(const uint8_t *p, size_t n) {
    uint64_t a[8] = {0};
    for (size_t i = 0; i + 64 <= n; i += 64)
        for (int j = 0; j < 8; j++) {
            uint64_t v;
            memcpy(&v, p + i + 8 * j, 8);
            a[j] ^= v;
        }
    return a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5] ^ a[6] ^ a[7];
}

/* The access patterns tried: streams (1 = the plain loop) and prefetch distance in bytes. */
static const struct {
    int streams;
    size_t pf;
} k_patterns[] = {{1, 0}, {2, 4096}, {2, 8192}, {3, 8192}, {4, 4096}, {4, 8192}};

double hg_roof_bandwidth(const void *buf, size_t bytes, int reps) {
    const hg_cpu_info *c = hg_cpu_features();
    double best = 0;
    volatile uint64_t sink = 0;
    const int n_pat = c->avx2 ? (int)(sizeof k_patterns / sizeof k_patterns[0]) : 1; /* plain C: one stream */
    const size_t slice = bytes < HG_ROOF_SLICE ? bytes : HG_ROOF_SLICE;
    for (int pt = 0; pt < n_pat; pt++)
        for (int r = 0; r < reps; r++)
            for (size_t s0 = 0; s0 + slice <= bytes; s0 += slice) {
                uint64_t acc = 0;
                const double t0 = hg_time_s();
#pragma omp parallel reduction(^ : acc)
                {
                    const size_t nth = (size_t)omp_get_num_threads(), ith = (size_t)omp_get_thread_num();
                    const size_t share = slice / nth / 512 * 512;
                    const uint8_t *p = (const uint8_t *)buf + s0 + ith * share;
                    const int S = k_patterns[pt].streams;
                    const size_t pf = k_patterns[pt].pf;
                    if (S == 1)
                        acc ^= c->avx512f ? read_avx512(p, share) : c->avx2 ? read_avx2(p, share) : read_scalar(p, share);
                    else acc ^= c->avx512f ? read_streams_avx512(p, share, S, pf) : read_streams_avx2(p, share, S, pf);
                }
                const double dt = hg_time_s() - t0;
                sink ^= acc;
                if ((double)slice / dt > best) best = (double)slice / dt;
            }
    (void)sink;
    return best / 1e9;
}

#define FMA_ITERS 20000000L

__attribute__((target("avx512f"))) static float fma_avx512(long iters) {
    __m512 a[16];
    const __m512 m = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int j = 0; j < 16; j++) a[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++) a[j] = _mm512_fmadd_ps(a[j], m, b);
    for (int j = 1; j < 16; j++) a[0] = _mm512_add_ps(a[0], a[j]);
    return _mm512_reduce_add_ps(a[0]);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters) {
    __m256 a[12];
    const __m256 m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int j = 0; j < 12; j++) a[j] = _mm256_set1_ps((float)j);
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 12") for (int j = 0; j < 12; j++) a[j] = _mm256_fmadd_ps(a[j], m, b);
    for (int j = 1; j < 12; j++) a[0] = _mm256_add_ps(a[0], a[j]);
    float o[8];
    _mm256_storeu_ps(o, a[0]);
    return o[0];
}

__attribute__((target("avx512f,avx512bf16"))) static float bf16_avx512(long iters) {
    __m512 a[16];
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380); /* 1, ~6e-8 */
    for (int j = 0; j < 16; j++) a[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++) a[j] = _mm512_dpbf16_ps(a[j], x, y);
    for (int j = 1; j < 16; j++) a[0] = _mm512_add_ps(a[0], a[j]);
    return _mm512_reduce_add_ps(a[0]);
}

/* Best of PEAK_REPS short passes: one long pass on a shared host measures the other jobs as much as
 * the core (a descheduled thread stretches the whole region's wall time), as the bandwidth probe's
 * best-of-passes already avoids. One untimed pass first: started cold (`roofline --fma` alone) the
 * first passes read ~210 instead of ~320 GFLOP/s here (thread start-up, clocks). */
#define PEAK_REPS 7

/* kind 0: FMA on the widest vectors, 1: vdpbf16ps, 2: FMA on ymm (the AVX2 level's peak) */
static double run_peak(int kind) {
    const hg_cpu_info *c = hg_cpu_features();
    volatile float sink = 0;
    const long iters = FMA_ITERS / 8;
    double best = 0;
    for (int rep = -1; rep < PEAK_REPS; rep++) {
        double flops = 0;
        const double t0 = hg_time_s();
#pragma omp parallel reduction(+ : flops)
        {
            float r = 0;
            if (kind == 1) {
                r = bf16_avx512(iters / 2);
                flops = (double)(iters / 2) * 16 * 16 * 4;
            } else if (c->avx512f && kind != 2) {
                r = fma_avx512(iters);
                flops = (double)iters * 16 * 16 * 2;
            } else if (c->avx2 && c->fma) {
                r = fma_avx2(iters);
                flops = (double)iters * 12 * 8 * 2;
            }
#pragma omp critical
            sink = sink + r;
        }
        const double rate = flops / (hg_time_s() - t0) / 1e9;
        if (rep >= 0 && rate > best) best = rate;
    }
    return best;
}

double hg_roof_fma_peak(void) { return run_peak(0); }
double hg_roof_fma_peak_avx2(void) {
    const hg_cpu_info *c = hg_cpu_features();
    return c->avx2 && c->fma ? run_peak(2) : 0.0;
}
double hg_roof_bf16_peak(void) { return hg_cpu_features()->avx512bf16 ? run_peak(1) : 0.0; }
