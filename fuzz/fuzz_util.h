/*
 * fuzz_util.h — what the libFuzzer targets of fuzz/ share: a per-process scratch directory for
 * parsers that read paths (the input is written there first), whole-file reading (gunzipping the
 * tests/data goldens through `gzip -dc`, as tests/test_tokenizer_util.h does, so no zlib), and the
 * source tree's location (HG_SOURCE_DIR, compiled in by fuzz/CMakeLists.txt). Header-only: each
 * target is one translation unit linked with the library; nothing here is part of the engine.
 */
#ifndef HG_FUZZ_UTIL_H
#define HG_FUZZ_UTIL_H

#include "huginn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory of this process's own under $TMPDIR (or /tmp), created once. */
static inline const char *fz_dir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/hg-fuzz-%d", t && *t ? t : "/tmp", (int)getpid());
        mkdir(dir, 0777);
    }
    return dir;
}

/* dir/name as a path in a static buffer per slot (0..3). */
static inline const char *fz_path(int slot, const char *name) {
    static char paths[4][640];
    snprintf(paths[slot & 3], sizeof paths[0], "%s/%s", fz_dir(), name);
    return paths[slot & 3];
}

/* Writes data [size] to path; false on failure. */
static inline int fz_write(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    const int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* The whole file (gunzipped when the name ends in .gz), NUL-terminated, malloc'ed; NULL if missing. */
static inline char *fz_read(const char *path, size_t *len) {
    const size_t pl = strlen(path);
    FILE *f;
    char cmd[1200];
    const int gz = pl > 3 && !strcmp(path + pl - 3, ".gz");
    if (gz) {
        snprintf(cmd, sizeof cmd, "gzip -dc '%s' 2>/dev/null", path);
        f = popen(cmd, "r");
    } else
        f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(b, cap * 2);
            if (!nb) free(b);
            b = nb, cap *= 2;
        }
    }
    const int bad = gz ? pclose(f) != 0 : fclose(f) != 0;
    if (!b || bad || n == 0) {
        free(b);
        return NULL;
    }
    b[n] = 0;
    *len = n;
    return b;
}

/* HG_SOURCE_DIR/rel in a static buffer. */
static inline const char *fz_src(const char *rel) {
    static char p[2][1024];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", HG_SOURCE_DIR, rel);
    return p[k];
}

/* Aborts the fuzzer on a broken invariant of ours (a crash is what libFuzzer reports). */
#define FZ_CHECK(cond)                                                                                  \
    do {                                                                                                \
        if (!(cond)) {                                                                                  \
            fprintf(stderr, "fuzz: invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);       \
            abort();                                                                                    \
        }                                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
