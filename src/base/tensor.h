/*
 * tensor.h — a weight tensor as stored (dtype, shape, data) and the dtypes' row sizes: what the
 * kernels read and the model binds, so it sits below both (docs/architecture.md, layering).
 */
#ifndef HG_TENSOR_H
#define HG_TENSOR_H

#include "base/base.h"

/* A weight matrix or vector as stored. Row-major; a Linear weight is [n_out, n_in] (ne[0] = n_out). */
typedef struct hg_tensor {
    hg_dtype dtype;
    int n_dims;
    int64_t ne[4];
    const void *data;
    size_t nbytes;
    /* W laid out once for this host's blocked product (kernels/dispatch.h hg_packed), or NULL: owned by
     * whoever set it; a copy of the struct with another data pointer or shape ignores it */
    const void *packed;
} hg_tensor;

/* Bytes of a row of n elements of dtype t (Q8_0/Q4_0: n is a multiple of their 32-element block). */
size_t hg_dtype_row_bytes(hg_dtype t, int64_t n);

#endif
