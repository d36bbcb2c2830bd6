/*
 * fuzz_safetensors.c — libFuzzer target: a model.safetensors file (src/io/safetensors.c). The input is
 * written to a file (the reader maps paths) and opened mapped and read; every tensor it accepts must
 * lie inside the file, which touching its first and last byte checks under ASan.
 */
#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_path(0, "model.safetensors");
    if (!fz_write(path, data, size)) return 0;
    for (int mmap = 0; mmap < 2; mmap++) {
        hg_st_file f;
        hg_error err = {0};
        if (hg_st_open(path, mmap == 1, &f, &err) != HG_OK) {
            FZ_CHECK(err.msg[0]);
            continue;
        }
        volatile uint8_t sink = 0;
        for (int64_t i = 0; i < f.n_tensors; i++) {
            const hg_st_tensor *t = &f.tensors[i];
            if (t->nbytes) sink ^= t->data[0] ^ t->data[t->nbytes - 1];
            FZ_CHECK(hg_st_find(&f, t->name) != NULL);
        }
        (void)sink;
        hg_st_close(&f);
    }
    return 0;
}
