/*
 * npy.h — NumPy .npy files (format version 1.0) written and read in C, so `huginn trace` output opens
 * with numpy.load and nothing of ours (docs/trace.md "Files").
 */
#ifndef HG_NPY_H
#define HG_NPY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define NPY_MAX_DIM 4

/* A file being written: rows may be written at any element offset (the trace writes position-major
 * arrays iteration by iteration); the shape is fixed on close. Written to PATH.tmp, renamed on close. */
typedef struct npy_file {
    FILE *f;
    char *path, *tmp;
    char descr[4];   /* "<f4" or "<i4" */
    int ndim;
} npy_file;

/* Create with a provisional shape (rewritten by npy_close). false with a message printed on failure. */
bool npy_create(npy_file *n, const char *path, const char *descr, int ndim, const int64_t *shape);
/* Write count elements (4 bytes each) at element offset off. */
bool npy_write_at(npy_file *n, int64_t off, const void *x, int64_t count);
/* Write the final shape (the data must cover it: the file is truncated to it) and rename into place. */
bool npy_close(npy_file *n, const int64_t *shape);
/* Remove the temp file and free (after a failure). NULL-safe on a zeroed struct. */
void npy_abort(npy_file *n);

/* Read a whole 4-byte-element .npy (v1.0 or 2.0, little-endian, C order): descr "<f4" / "<i4", the
 * shape and malloc'ed data. false with a message printed otherwise. */
bool npy_load(const char *path, char descr[4], int *ndim, int64_t shape[NPY_MAX_DIM], void **data);

#endif
