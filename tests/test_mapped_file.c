/*
 * test_mapped_file.c — releasing the pages of a mapped view (hg_mapped_file_release), alone and as the
 * loader uses it after packing weights:
 *   - only the whole pages inside the range go, and the bytes read back unchanged from the file;
 *   - a view read into memory, a range outside the view, a range within one page: nothing released;
 *   - on Linux, the process's file-backed resident memory falls by what was released;
 *   - a model loaded with packing, mapped or read into memory, still reads every stored weight byte
 *     for byte as the unpacked model does (a release on memory that is the only copy would zero it).
 */
#include "golden.h"
#include "harness.h"
#include "huginn.h"
#include "io/mapped_file.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RssFile of this process in KiB, or -1 where /proc says nothing */
static long rss_file_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "RssFile:", 8)) kib = strtol(line + 8, NULL, 10);
    fclose(f);
    return kib;
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 131u + (i >> 12) * 7u + 1u); }

static void test_release(void) {
    const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    const size_t n_pages = 2048, size = n_pages * ps + 100; /* 8 MiB at 4 KiB pages */
    char path[4096];
    snprintf(path, sizeof path, "%s/pattern.bin", hg_tmp_dir("test_mapped_file"));
    uint8_t *want = malloc(size);
    CHECK(want != NULL);
    if (!want) return;
    for (size_t i = 0; i < size; i++) want[i] = pattern(i);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(want, 1, size, f) == size);
    if (f) fclose(f);

    hg_error err = {0};
    hg_mapped_file mf = {0};
    CHECK_MSG(hg_mapped_file_open(path, true, &mf, &err) == HG_OK, "%s", err.msg);
    if (!mf.data) {
        free(want);
        return;
    }
    if (mf.mapped) {
        unsigned sum = 0;
        for (size_t i = 0; i < size; i += ps) sum += mf.data[i]; /* every page resident */
        const long before = rss_file_kib();
        /* from 17 bytes into page 3 to 5 bytes into page 2000: pages 4..1999 are whole */
        const size_t got = hg_mapped_file_release(&mf, mf.data + 3 * ps + 17, (2000 - 3) * ps - 12);
        CHECK_MSG(got == (2000 - 4) * ps, "released %zu bytes, want %zu", got, (2000 - 4) * ps);
        const long after = rss_file_kib();
        if (before >= 0 && after >= 0)
            CHECK_MSG(before - after >= (long)(got / 1024) * 9 / 10, "RssFile %ld -> %ld KiB after releasing %zu KiB",
                      before, after, got / 1024);
        CHECK_MSG(!memcmp(mf.data, want, size), "bytes changed after the release (sum %u)", sum);
        /* nothing whole inside, outside the view, past its end, empty */
        CHECK(hg_mapped_file_release(&mf, mf.data + ps + 1, ps - 2) == 0);
        CHECK(hg_mapped_file_release(&mf, want, ps * 4) == 0);
        CHECK(hg_mapped_file_release(&mf, mf.data + ps, size) == 0);
        CHECK(hg_mapped_file_release(&mf, mf.data, 0) == 0);
        CHECK(hg_mapped_file_release(NULL, mf.data, size) == 0);
        CHECK(!memcmp(mf.data, want, size));
    } else {
        fprintf(stderr, "mapping unavailable here: the mapped checks are skipped\n");
    }
    hg_mapped_file_close(&mf);

    /* read into memory: its pages are the only copy, so nothing is released */
    CHECK_MSG(hg_mapped_file_open(path, false, &mf, &err) == HG_OK, "%s", err.msg);
    if (mf.data) {
        CHECK(!mf.mapped);
        CHECK(hg_mapped_file_release(&mf, mf.data, size) == 0);
        CHECK(!memcmp(mf.data, want, size));
        hg_mapped_file_close(&mf);
    }
    free(want);
}

/* every product weight of the model (as prepack_all walks them) */
static int weights_of(hg_model *m, hg_tensor **ws, int most) {
    int n = 0;
    if (n < most) ws[n++] = &m->adapter;
    if (n < most) ws[n++] = &m->lm_head;
    if (n < most) ws[n++] = &m->wte;
    for (int64_t l = 0; l < hg_model_n_layers(m); l++) {
        hg_layer *L = &m->layers[l];
        hg_tensor *lw[] = {&L->wqkv, &L->attn_proj, &L->fc, &L->mlp_proj, &L->wq, &L->wk, &L->wv, &L->w_gate, &L->w_up};
        for (size_t i = 0; i < sizeof lw / sizeof lw[0] && n < most; i++)
            if (lw[i]->data) ws[n++] = lw[i];
    }
    return n;
}

static void test_model_bytes(void) {
    hg_error err = {0};
    hg_model *m = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny-bf16.gguf", hg_tmp_dir("test_mapped_file"));
    CHECK_MSG(hg_model_load(golden_model_dir("tiny"), NULL, &m, &err) == HG_OK, "%s", err.msg);
    hg_gguf_export_params xp = {.out_dtype = HG_DTYPE_BF16};
    CHECK_MSG(m && hg_model_export_gguf(m, path, &xp, &err) == HG_OK, "export: %s", err.msg);
    hg_model_free(m);
    hg_model *plain = NULL;
    CHECK_MSG(hg_model_load(path, NULL, &plain, &err) == HG_OK, "%s", err.msg);
    if (!plain) return;
    enum { MOST = 512 };
    hg_tensor *want[MOST];
    const int nw = weights_of(plain, want, MOST);
    for (int mapped = 0; mapped < 2; mapped++) {
        hg_model_params mp = hg_model_default_params();
        mp.prepack = true;
        mp.use_mmap = mapped;
        hg_model *pk = NULL;
        CHECK_MSG(hg_model_load(path, &mp, &pk, &err) == HG_OK, "%s", err.msg);
        if (!pk) continue;
        hg_tensor *got[MOST];
        const int ng = weights_of(pk, got, MOST);
        CHECK(ng == nw);
        int n_packed = 0;
        for (int i = 0; i < nw && i < ng; i++) {
            n_packed += got[i]->packed != NULL;
            CHECK_MSG(got[i]->nbytes == want[i]->nbytes && !memcmp(got[i]->data, want[i]->data, want[i]->nbytes),
                      "weight %d of the %s packed model differs from its file", i, mapped ? "mapped" : "read");
        }
        fprintf(stderr, "%s model: %d of %d weights packed, stored bytes compared\n", mapped ? "mapped" : "read", n_packed,
                ng);
        hg_model_free(pk);
    }
    hg_model_free(plain);
}

int main(void) {
    test_release();
    test_model_bytes();
    return hg_test_finish("test_mapped_file");
}
