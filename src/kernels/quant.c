/*
 * quant.c — scalar reference quantization for Q8_0 and Q4_0 (formats in quant.h). These define the
 * bits GGUF files carry, so they follow ggml's reference rounding exactly: the scale is computed in
 * f32, stored as fp16, and the quants use the f32 inverse of the *unrounded* scale (as ggml does).
 * They run once per weight at quantize time and once per activation row per matmul call (Q8_0 for
 * the integer dot), so plain loops are fast enough; the dot kernels live in the dispatch files.
 * Non-finite inputs have no quantized value: they are defined to give the zero code (the exporter
 * refuses weights holding them before it gets here, naming the tensor).
 */
#include "kernels/quant.h"

#include "base/base.h"
#include "kernels/kernels.h"

#include <math.h>

void hg_quantize_row_q8_0(const float *x, void *dst, int64_t n) {
    HG_ASSERT(n % HG_QK == 0);
    hg_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / HG_QK; i++, x += HG_QK) {
        float amax = 0;
        for (int j = 0; j < HG_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = hg_f32_to_f16(d);
        for (int j = 0; j < HG_QK; j++) { /* NaN (from a NaN or Inf input) becomes 0: casting NaN is undefined */
            const float q = roundf(x[j] * id);
            b[i].qs[j] = (int8_t)(q == q ? q : 0.0f);
        }
    }
}

void hg_quantize_row_q4_0(const float *x, void *dst, int64_t n) {
    HG_ASSERT(n % HG_QK == 0);
    hg_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / HG_QK; i++, x += HG_QK) {
        float amax = 0, max = 0; /* max = the signed value of largest magnitude */
        for (int j = 0; j < HG_QK; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        const float d = max / -8.0f; /* maps max to -8, the end of the range with the extra code */
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = hg_f32_to_f16(d);
        for (int j = 0; j < HG_QK / 2; j++) {
            /* x*id lies in [-8, 8]; +8.5 then truncation rounds into 0..16, and 16 (x = -max) clamps to 15 */
            /* NaN (from a NaN or Inf input) becomes code 8, the zero: casting NaN is undefined */
            const float f0 = x[j] * id + 8.5f, f1 = x[j + HG_QK / 2] * id + 8.5f;
            const int q0 = f0 == f0 ? (int)(int8_t)f0 : 8, q1 = f1 == f1 ? (int)(int8_t)f1 : 8;
            const uint8_t l = (uint8_t)(q0 < 15 ? q0 : 15), h = (uint8_t)(q1 < 15 ? q1 : 15);
            b[i].qs[j] = (uint8_t)(l | (h << 4));
        }
    }
}

void hg_dequantize_row_q8_0(const void *src, float *y, int64_t n) {
    HG_ASSERT(n % HG_QK == 0);
    const hg_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / HG_QK; i++, y += HG_QK) {
        const float d = hg_f16_to_f32(b[i].d);
        for (int j = 0; j < HG_QK; j++) y[j] = (float)b[i].qs[j] * d;
    }
}

void hg_dequantize_row_q4_0(const void *src, float *y, int64_t n) {
    HG_ASSERT(n % HG_QK == 0);
    const hg_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / HG_QK; i++, y += HG_QK) {
        const float d = hg_f16_to_f32(b[i].d);
        for (int j = 0; j < HG_QK / 2; j++) {
            y[j] = (float)((b[i].qs[j] & 15) - 8) * d;
            y[j + HG_QK / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void hg_row_from_f32(const float *x, int64_t n, hg_dtype to, void *dst) {
    uint8_t *d = dst;
    switch (to) {
    case HG_DTYPE_F32: memcpy(d, x, (size_t)n * 4); break;
    case HG_DTYPE_F16:
    case HG_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            const uint16_t u = to == HG_DTYPE_BF16 ? hg_f32_to_bf16(x[i]) : hg_f32_to_f16(x[i]);
            memcpy(d + 2 * i, &u, 2);
        }
        break;
    case HG_DTYPE_Q8_0: hg_quantize_row_q8_0(x, d, n); break;
    case HG_DTYPE_Q4_0: hg_quantize_row_q4_0(x, d, n); break;
    default: HG_ASSERT(!"hg_row_from_f32: dtype");
    }
}
