/*
 * quant.h — the quantized block formats Q8_0 and Q4_0, bit-exact with ggml's (docs/conventions.md rule 14), and
 * their scalar quantize/dequantize reference. GGUF read/write, `huginn quantize` and the quantized
 * matmul kernels all build on these definitions.
 *
 * Layouts (32 weights per block, blocks laid end to end along a row):
 *   Q8_0: d (IEEE fp16 scale), qs[32] int8;              x[j] = d * qs[j]                    34 bytes
 *   Q4_0: d (IEEE fp16 scale), qs[16] bytes of nibbles;  x[j]    = d * ((qs[j] & 15) - 8)     18 bytes
 *                                                        x[j+16] = d * ((qs[j] >> 4) - 8),  j < 16
 * Row lengths must be multiples of HG_QK (32); callers validate sizes that come from files.
 */
#ifndef HG_QUANT_H
#define HG_QUANT_H

#include <stdint.h>

#define HG_QK 32 /* weights per block, both formats */

typedef struct hg_block_q8_0 {
    uint16_t d;         /* fp16 scale */
    int8_t qs[HG_QK];   /* quants */
} hg_block_q8_0;
_Static_assert(sizeof(hg_block_q8_0) == 2 + HG_QK, "block_q8_0 must be 34 bytes (ggml layout)");

typedef struct hg_block_q4_0 {
    uint16_t d;            /* fp16 scale */
    uint8_t qs[HG_QK / 2]; /* nibbles: low = elements 0..15, high = elements 16..31 */
} hg_block_q4_0;
_Static_assert(sizeof(hg_block_q4_0) == 2 + HG_QK / 2, "block_q4_0 must be 18 bytes (ggml layout)");

/* The names ggml uses. */
typedef hg_block_q8_0 block_q8_0;
typedef hg_block_q4_0 block_q4_0;

/* Quantize n floats (n % 32 == 0) into n/32 blocks at dst. Round to nearest, scale = max|x| / 127
 * (Q8_0) or (the value of largest magnitude) / -8 (Q4_0), exactly as ggml's *_ref functions; an
 * all-zero block gets d = 0 and zero quants. Not thread-safe only in the sense that dst is written. */
void hg_quantize_row_q8_0(const float *x, void *dst, int64_t n);
void hg_quantize_row_q4_0(const float *x, void *dst, int64_t n);
/* Dequantize n values (n % 32 == 0) from n/32 blocks at src into y[n]. */
void hg_dequantize_row_q8_0(const void *src, float *y, int64_t n);
void hg_dequantize_row_q4_0(const void *src, float *y, int64_t n);

#endif
