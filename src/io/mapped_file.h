/*
 * mapped_file.h — read-only views of whole files: mmap by default (weights are never copied),
 * or read into memory when mapping is off or impossible.
 */
#ifndef HG_MAPPED_FILE_H
#define HG_MAPPED_FILE_H

#include "base/base.h"

typedef struct hg_mapped_file {
    const uint8_t *data; /* [size] */
    size_t size;
    bool mapped; /* true: munmap on close; false: hg_free */
} hg_mapped_file;

hg_status hg_mapped_file_open(const char *path, bool use_mmap, hg_mapped_file *out, hg_error *err);
void hg_mapped_file_close(hg_mapped_file *f);
/* The whole pages inside [p, p + n) of a mapped view are not needed now: the process lets them go
 * (they read back from the file if touched again, so any later read stays correct). A view read into
 * memory, or a range outside the view, is left alone: its pages hold the only copy. Returns the bytes
 * released (0 where nothing was). */
size_t hg_mapped_file_release(const hg_mapped_file *f, const void *p, size_t n);
/* Read a small file (config, index, tokenizer) fully into a NUL-terminated buffer (free with hg_free).
 * Refuses files larger than max_bytes. */
hg_status hg_read_text_file(const char *path, size_t max_bytes, char **out, size_t *len, hg_error *err);

#endif
