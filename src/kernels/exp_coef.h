/*
 * exp_coef.h — the constants of the SIMD exp (exp_avx512.h, ops_avx2.c), one table for every ISA so
 * the levels evaluate the same polynomial: n = round(x·log2 e), r = x − n·ln2 with fdlibm's two-part
 * ln2 (n·ln2_hi exact), e^r by its Taylor polynomial to degree 10 in Horner order from the highest
 * coefficient (|r| <= 0.347: truncation < 2e-13 relative), then times 2^n.
 */
#ifndef HG_EXP_COEF_H
#define HG_EXP_COEF_H

#define HG_EXP_LOG2E 1.4426950408889634
#define HG_EXP_LN2_HI 6.93147180369123816490e-01
#define HG_EXP_LN2_LO 1.90821492927058770002e-10
/* 1/10!, 1/9!, ..., 1/1!, 1/0! */
static const double hg_exp_taylor[11] = {1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
                                         1.0 / 720.0,     1.0 / 120.0,    1.0 / 24.0,    1.0 / 6.0,
                                         0.5,             1.0,            1.0};

#endif
