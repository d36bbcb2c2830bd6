/*
 * roofline.h — this machine's measured ceilings, for bench programs to print their results as
 * ratios (docs/conventions.md rule 20): streaming read bandwidth (all threads), and the FP32 FMA and BF16 dot
 * (vdpbf16ps) peaks. The host changes memory-bandwidth state (about 73 vs 40 GB/s), so callers
 * measure bandwidth right beside each timing rather than once.
 */
#ifndef HG_BENCH_ROOFLINE_H
#define HG_BENCH_ROOFLINE_H

#include <stddef.h>

/* A buffer of `bytes` (>= 4x the last-level cache) for hg_roof_bandwidth; NULL on failure. */
void *hg_roof_buffer(size_t bytes);
/* Streaming read bandwidth in GB/s (1e9 B/s) over buf, all OpenMP threads: the best of `reps` passes in
 * each of several access patterns (one plain stream; 2-4 interleaved streams with software prefetch). */
double hg_roof_bandwidth(const void *buf, size_t bytes, int reps);
/* FP32 FMA peak in GFLOP/s (2 per lane per FMA), all threads, widest ISA available. */
double hg_roof_fma_peak(void);
/* The same on 256-bit FMAs (the AVX2 level's peak; 0 without AVX2 + FMA). */
double hg_roof_fma_peak_avx2(void);
/* vdpbf16ps peak in GFLOP/s (4 per f32 lane: two products, two adds); 0 without AVX512-BF16. */
double hg_roof_bf16_peak(void);

#endif
