/*
 * fuzz_state.c — libFuzzer target: a `--state` file of `huginn run` / `huginn forward` (tools/cli.c
 * cli_read_f32, the one place it is read). Input byte 0 gives the expected count; the rest is the
 * file. Accepted values must all be finite (NaN/Inf states are refused).
 */
#include "fuzz_util.h"
#include "cli.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const size_t n = data[0];
    const char *path = fz_path(0, "state.bin");
    if (!fz_write(path, data + 1, size - 1)) return 0;
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) return 0;
    if (cli_read_f32(path, x, n)) {
        FZ_CHECK(size - 1 == n * sizeof(float));
        for (size_t i = 0; i < n; i++) FZ_CHECK(isfinite(x[i]));
    }
    free(x);
    return 0;
}
