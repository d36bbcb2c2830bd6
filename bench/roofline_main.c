/* roofline_main.c — `roofline`: print this machine's measured ceilings (roofline.h).
 *   roofline                 bandwidth, FP32 FMA and BF16 dot peaks, as a table
 *   roofline --json          the same as one JSON object (bench/run.sh computes its ratios from it)
 *   roofline --bandwidth     only the bandwidth (1 s): run.sh measures it right beside each timing
 *   roofline --fma           only the FP32 FMA peak: run.sh brackets each full-shape prefill with it
 *   roofline --fma-avx2      only the FP32 FMA peak on 256-bit vectors (the AVX2 level's ceiling)
 *   roofline --mib N         stream an N MiB buffer instead of 1 GiB: only for smoke runs (--quick
 *                            modes), since a buffer a cache holds measures the cache, not DRAM */
#include "roofline.h"

#include "base/base.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    bool json = false, bw_only = false, fma_only = false, ymm = false;
    size_t bytes = (size_t)1 << 30;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        long mib = 0;
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--bandwidth")) bw_only = true;
        else if (!strcmp(argv[i], "--fma")) fma_only = true;
        else if (!strcmp(argv[i], "--fma-avx2")) fma_only = ymm = true;
        else if (!strcmp(argv[i], "--mib") && i + 1 < argc && (mib = strtol(argv[i + 1], &end, 10)) >= 1 &&
                 mib <= 65536 && *end == '\0')
            bytes = (size_t)mib << 20, i++;
        else {
            fprintf(stderr, "usage: roofline [--json] [--bandwidth | --fma | --fma-avx2] [--mib N (1..65536)]\n");
            return 1;
        }
    }
    if (fma_only) { /* no buffer: the peak alone */
        const double fma = ymm ? hg_roof_fma_peak_avx2() : hg_roof_fma_peak();
        if (json) printf("{\"threads\":%d,\"fma_GFLOPs\":%.3f}\n", omp_get_max_threads(), fma);
        else printf("FP32 FMA peak%s %8.1f GFLOP/s\n", ymm ? " (ymm)   " : "         ", fma);
        return 0;
    }
    void *buf = hg_roof_buffer(bytes);
    if (!buf) {
        fprintf(stderr, "roofline: cannot allocate %zu bytes\n", bytes);
        return 1;
    }
    const double bw = hg_roof_bandwidth(buf, bytes, bw_only ? 3 : 5);
    const double fma = bw_only ? 0 : hg_roof_fma_peak(), bf16 = bw_only ? 0 : hg_roof_bf16_peak();
    if (json) {
        printf("{\"threads\":%d,\"level\":\"%s\",\"bandwidth_GBps\":%.3f", omp_get_max_threads(),
               hg_cpu_level_name(hg_cpu_features()->level), bw);
        if (!bw_only) printf(",\"fma_GFLOPs\":%.3f,\"bf16_GFLOPs\":%.3f", fma, bf16);
        printf("}\n");
    } else {
        printf("threads %d, cpu level %s\n", omp_get_max_threads(), hg_cpu_level_name(hg_cpu_features()->level));
        printf("memory read bandwidth  %8.1f GB/s\n", bw);
        if (!bw_only) {
            printf("FP32 FMA peak          %8.1f GFLOP/s\n", fma);
            printf("BF16 dot peak          %8.1f GFLOP/s\n", bf16);
        }
    }
    free(buf);
    return 0;
}
