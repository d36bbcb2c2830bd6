/*
 * matmul.c — y = x·Wᵀ for weights in any stored dtype: the scalar reference, and the threaded
 * portable path used when no SIMD variant is available.
 *
 * Workload: decode is T = 1 (a matrix-vector product, bound by reading W once), prefill is T up to
 * the context chunk (bound by FLOPs). The portable path walks W row by row and reuses each widened
 * row for all T inputs, so W is read once per call whatever T is. Dots accumulate in 8 independent
 * f32 lanes (vectorisable without reassociation), then in a fixed order: deterministic for any
 * thread count.
 */
#include "kernels/kernels.h"

#include <omp.h>

void hg_tensor_row_f32(const hg_tensor *w, int64_t row, float *dst) {
    const int64_t n = w->ne[1];
    switch (w->dtype) {
    case HG_DTYPE_F32: memcpy(dst, (const float *)w->data + row * n, (size_t)n * sizeof(float)); break;
    case HG_DTYPE_BF16: {
        const uint16_t *p = (const uint16_t *)w->data + row * n;
        for (int64_t i = 0; i < n; i++) dst[i] = hg_bf16_to_f32(p[i]);
        break;
    }
    case HG_DTYPE_F16: {
        const uint16_t *p = (const uint16_t *)w->data + row * n;
        for (int64_t i = 0; i < n; i++) dst[i] = hg_f16_to_f32(p[i]);
        break;
    }
    default: HG_ASSERT(!"hg_tensor_row_f32: dtype without a row reader");
    }
}

static float dot_f32(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void hg_matmul_ref(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], n_in = w->ne[1];
    float *row = hg_malloc((size_t)n_in * sizeof(float));
    HG_ASSERT(row);
    for (int64_t o = 0; o < n_out; o++) {
        hg_tensor_row_f32(w, o, row);
        for (int64_t t = 0; t < T; t++) y[t * n_out + o] = dot_f32(x + t * n_in, row, n_in);
    }
    hg_free(row);
}

/* Rows wider than this are widened and dotted in pieces of this many elements (stack buffer). */
#define HG_MATMUL_PIECE 4096

void hg_matmul(float *y, const float *x, const hg_tensor *w, int64_t T) {
    const int64_t n_out = w->ne[0], n_in = w->ne[1];
    if (w->dtype == HG_DTYPE_F32) {
        const float *W = w->data;
#pragma omp parallel for schedule(static)
        for (int64_t o = 0; o < n_out; o++)
            for (int64_t t = 0; t < T; t++) y[t * n_out + o] = dot_f32(x + t * n_in, W + o * n_in, n_in);
        return;
    }
    const size_t es = w->dtype == HG_DTYPE_F32 ? 4 : 2;
#pragma omp parallel
    {
        float piece[HG_MATMUL_PIECE];
#pragma omp for schedule(static)
        for (int64_t o = 0; o < n_out; o++) {
            for (int64_t t = 0; t < T; t++) y[t * n_out + o] = 0;
            for (int64_t i0 = 0; i0 < n_in; i0 += HG_MATMUL_PIECE) {
                int64_t len = hg_min_i64(HG_MATMUL_PIECE, n_in - i0);
                hg_tensor sub = *w;
                sub.ne[1] = len;
                sub.data = (const uint8_t *)w->data + ((size_t)o * (size_t)n_in + (size_t)i0) * es;
                hg_tensor_row_f32(&sub, 0, piece);
                for (int64_t t = 0; t < T; t++) y[t * n_out + o] += dot_f32(x + t * n_in + i0, piece, len);
            }
        }
    }
}
