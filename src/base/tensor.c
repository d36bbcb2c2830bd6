/*
 * tensor.c — the weight dtypes' names and row sizes. In base, below the kernels and the loader,
 * because both name dtypes: tests/test_neon.sh builds test_kernels for aarch64 from src/kernels and
 * src/base alone, without the loader's JSON and file dependencies.
 */
#include "base/tensor.h"

size_t hg_dtype_row_bytes(hg_dtype t, int64_t n) {
    switch (t) {
    case HG_DTYPE_F32: return (size_t)n * 4;
    case HG_DTYPE_F16:
    case HG_DTYPE_BF16: return (size_t)n * 2;
    case HG_DTYPE_Q8_0: return (size_t)(n / 32) * 34;
    case HG_DTYPE_Q4_0: return (size_t)(n / 32) * 18;
    default: return 0;
    }
}

const char *hg_dtype_name(hg_dtype t) {
    static const char *names[] = {"f32", "f16", "bf16", "q8_0", "q4_0"};
    return (unsigned)t < HG_DTYPE_COUNT ? names[t] : "?";
}
