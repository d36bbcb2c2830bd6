/* roofline_main.c — `roofline`: print this machine's measured ceilings (roofline.h). */
#include "roofline.h"

#include "base/base.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const size_t bytes = (size_t)1 << 30;
    void *buf = hg_roof_buffer(bytes);
    if (!buf) {
        fprintf(stderr, "roofline: cannot allocate %zu bytes\n", bytes);
        return 1;
    }
    printf("threads %d, cpu level %s\n", omp_get_max_threads(), hg_cpu_level_name(hg_cpu_features()->level));
    printf("memory read bandwidth  %8.1f GB/s\n", hg_roof_bandwidth(buf, bytes, 5));
    printf("FP32 FMA peak          %8.1f GFLOP/s\n", hg_roof_fma_peak());
    printf("BF16 dot peak          %8.1f GFLOP/s\n", hg_roof_bf16_peak());
    free(buf);
    return 0;
}
