/*
 * transpose_avx512.h — a 16 x 16 transpose of 32-bit lanes in zmm registers, shared by the blocked
 * kernels that pack W rows into column-major panels (gemm_avx512.c: f32 lanes; gemm_bf16dot_avx512.c:
 * bf16 pairs). Included by AVX-512 files only, so it compiles with their flags.
 */
#ifndef HG_KERNELS_TRANSPOSE_AVX512_H
#define HG_KERNELS_TRANSPOSE_AVX512_H

#include <immintrin.h>

/* In place: v[r] lane j  ->  v[j] lane r. Unpack pairs, shuffle quads, then a 4x4 transpose of the
 * 128-bit lanes in two rounds of shuffle_f32x4. */
static inline __attribute__((always_inline)) void transpose16(__m512 v[16]) {
    __m512 a[16], b[16];
    _Pragma("GCC unroll 16")
    for (int i = 0; i < 16; i += 2) { /* per 128-bit lane l: a[i] = (i,4l) (i+1,4l) (i,4l+1) (i+1,4l+1) */
        a[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
        a[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]); /* columns 4l+2, 4l+3 */
    }
    _Pragma("GCC unroll 16")
    for (int i = 0; i < 16; i += 4) { /* b[i+c] lane l: column 4l+c of rows i..i+3 */
        b[i] = _mm512_shuffle_ps(a[i], a[i + 2], 0x44);
        b[i + 1] = _mm512_shuffle_ps(a[i], a[i + 2], 0xee);
        b[i + 2] = _mm512_shuffle_ps(a[i + 1], a[i + 3], 0x44);
        b[i + 3] = _mm512_shuffle_ps(a[i + 1], a[i + 3], 0xee);
    }
    _Pragma("GCC unroll 4")
    for (int c = 0; c < 4; c++) { /* column 4l+c: lane q from b[4q+c] lane l */
        const __m512 e0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x88);     /* b[c].l0 b[c].l2 b[4+c].l0 .l2 */
        const __m512 e1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xdd);     /* lanes 1, 3 */
        const __m512 e2 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x88);
        const __m512 e3 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xdd);
        v[c] = _mm512_shuffle_f32x4(e0, e2, 0x88);
        v[8 + c] = _mm512_shuffle_f32x4(e0, e2, 0xdd);
        v[4 + c] = _mm512_shuffle_f32x4(e1, e3, 0x88);
        v[12 + c] = _mm512_shuffle_f32x4(e1, e3, 0xdd);
    }
}

#endif
