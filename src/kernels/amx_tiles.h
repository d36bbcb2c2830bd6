/*
 * amx_tiles.h — internal: the AMX tile configuration shared by the tile kernels (gemm_amx_avx512.c,
 * gemm_q8_amx_avx512.c). Include only from *_amx_avx512.c files (compiled with -mamx-tile).
 */
#ifndef HG_AMX_TILES_H
#define HG_AMX_TILES_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* The 64-byte operand of LDTILECFG, palette 1. */
typedef struct hg_amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} hg_amx_cfg;

/* Configure tiles 0 .. n-1 with rows[i] rows of colsb[i] bytes; the others unused. */
static inline void hg_amx_configure(int n, const uint8_t *rows, const uint16_t *colsb) {
    hg_amx_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < n; i++) {
        c.rows[i] = rows[i];
        c.colsb[i] = colsb[i];
    }
    /* GCC does not see LDTILECFG read c: without the barrier it dropped or sank the stores above
     * when this was inlined (a zero-shaped configuration, #GP) */
    __asm__ volatile("" : : "r"(&c) : "memory");
    _tile_loadconfig(&c);
}

#endif
