/*
 * mapped_file.c — mmap or read a file (see mapped_file.h). Mapping keeps 7 GB checkpoints out of
 * anonymous memory and lets the OS share pages between processes; the read path exists for
 * filesystems that cannot map and for tests of the non-mmap loader.
 *
 * Huge pages: decode streams every weight once per token, tens of GB per second, and with 4 KiB
 * pages that is a TLB miss every 4 KiB. Both paths ask Linux for 2 MiB pages (MADV_HUGEPAGE): a
 * mapping so advised makes readahead fill the page cache with 2 MiB folios, which the kernel then
 * maps with one PMD entry each (a file already cached in small folios stays as it is); the read
 * path reads into 2 MiB-aligned transparent huge pages. Full-shape Q8_0 decode gains ~10 % from
 * huge pages (docs/results/kernels.md, "Huge pages").
 */
#include "io/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

hg_status hg_mapped_file_open(const char *path, bool use_mmap, hg_mapped_file *out, hg_error *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hg_err(err, HG_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hg_err(err, HG_STATUS_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    hg_mapped_file f = {0};
    f.size = size;
    if (size == 0) {
        close(fd); /* an empty file is a valid view of nothing; callers reject it by size */
        *out = f;
        return HG_OK;
    }
    if (use_mmap) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
            if (size >= HG_HUGE_PAGE) (void)madvise(p, size, MADV_HUGEPAGE); /* advice: failure changes nothing */
#endif
            close(fd);
            f.data = p;
            f.mapped = true;
            *out = f;
            return HG_OK;
        }
    }
    uint8_t *buf = size >= HG_HUGE_PAGE ? hg_malloc_huge(size) : hg_malloc(size);
    if (!buf) {
        close(fd);
        return hg_err(err, HG_STATUS_NOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            hg_free(buf);
            close(fd);
            return hg_err(err, HG_STATUS_IO, "%s: read failed", path);
        }
        got += (size_t)k;
    }
    close(fd);
    f.data = buf;
    f.mapped = false;
    *out = f;
    return HG_OK;
}

void hg_mapped_file_close(hg_mapped_file *f) {
    if (!f || !f->data) return;
    if (f->mapped)
        munmap((void *)(uintptr_t)f->data, f->size);
    else
        hg_free((void *)(uintptr_t)f->data);
    f->data = NULL;
    f->size = 0;
}

hg_status hg_read_text_file(const char *path, size_t max_bytes, char **out, size_t *len, hg_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return hg_err(err, HG_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return hg_err(err, HG_STATUS_IO, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max_bytes) {
        fclose(fp);
        return hg_err(err, HG_STATUS_BAD_FILE, "%s: file is %lld bytes, more than the %zu allowed", path,
                      (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = hg_malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return hg_err(err, HG_STATUS_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    if (fread(buf, 1, n, fp) != n) {
        hg_free(buf);
        fclose(fp);
        return hg_err(err, HG_STATUS_IO, "%s: read failed", path);
    }
    fclose(fp);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return HG_OK;
}

size_t hg_mapped_file_release(const hg_mapped_file *f, const void *p, size_t n) {
#ifdef MADV_DONTNEED
    if (!f || !f->mapped || !f->data || !p || !n) return 0;
    const uintptr_t lo = (uintptr_t)f->data, hi = lo + f->size, a = (uintptr_t)p;
    if (a < lo || a > hi || n > hi - a) return 0;
    const long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0) return 0;
    const uintptr_t pg = (uintptr_t)ps;
    const uintptr_t b = (a + pg - 1) / pg * pg, e = (a + n) / pg * pg; /* whole pages only: a neighbour's stay */
    if (e <= b) return 0;
    return madvise((void *)b, e - b, MADV_DONTNEED) == 0 ? e - b : 0;
#else
    (void)f, (void)p, (void)n;
    return 0;
#endif
}
