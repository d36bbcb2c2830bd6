/*
 * test_kernels.c — every kernel level this CPU can run (scalar, AVX2, AVX-512, NEON) against the scalar
 * reference, for every weight dtype, at the lengths where tails hide bugs (docs/conventions.md rule 17): outputs
 * poisoned with NaN first, comparisons written so a NaN fails, results bit-identical for 1, 2 and 3
 * threads. Also the Q8_0/Q4_0 block layouts against hand-computed ggml encodings.
 *
 * Tolerances are derived per element, in double:
 *   f32 accumulation in another order: |Δ| <= 2·n·2⁻²⁴·Σ|x_k·w_k| (the γ_n bound of a dot product,
 *   doubled because both sides round);
 *   activations rounded to Q8X (integer dots): + Σ_blocks (Σ|w|) · d_x / 2, d_x = max|x_block| / 127.
 * The blocked kernels (T > 8) promise more: each element is the sequential FMA chain
 * acc = fmaf(w_k, x_k, acc) over k = 0..n-1 from +0, so they must equal that chain bit for bit
 * (whatever the tiling, K blocks, row group or level: AVX2 and AVX-512 agree exactly) — except the
 * bf16 kernels on split activations (AMX tiles, vdpbf16ps; dispatch.h: bf16_split), held to the
 * tolerance and the thread check only; the Q8X blocked kernels (AMX-INT8, VNNI, and AVX-VNNI on the
 * AVX2 level) must equal their block chain bit for bit; the fast mode (HG_BF16DOT=fast: bf16 on x rounded to bf16, dispatch.h:
 * bf16_x_rounded) gets 2⁻⁸·Σ|x_k·w_k| more, the rounding of x. With AMX present the AVX-512 level is
 * tested with it (and, with HG_AMX=0, without); without AMX with the BF16/VNNI dot kernels (and, with HG_BF16DOT=0, the widening ones).
 * Likewise the AVX2 level on an AVX-VNNI CPU: its Q8_0/Q4_0 blocked products on vpdpbusd by default,
 * the widening ones with HG_BF16DOT=0 (test_kernels_nodot).
 * The matrix-vector path (T <= 8) promises that a result depends neither on T nor on which rows share
 * a call (batched decoding = decoding each sequence alone): check_batch_rows compares, bit for bit,
 * T positions against each position alone and whole-range calls against one row per call.
 */
#include "harness.h"
#include "kernels/dispatch.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

static hg_rng g_rng;

static float frand(void) { return (float)(2.0 * hg_rng_uniform(&g_rng) - 1.0); }

/* A weight tensor [n_out, n_in] of dtype dt from f32 values (owned buffer returned in *buf). */
static hg_tensor make_w(hg_dtype dt, int64_t n_out, int64_t n_in, const float *src, void **buf) {
    hg_tensor w;
    memset(&w, 0, sizeof w);
    w.dtype = dt;
    w.n_dims = 2;
    w.ne[0] = n_out;
    w.ne[1] = n_in;
    const int64_t n = n_out * n_in;
    size_t bytes = dt == HG_DTYPE_F32 ? (size_t)n * 4
                   : dt == HG_DTYPE_Q8_0 ? (size_t)(n / 32) * sizeof(hg_block_q8_0)
                   : dt == HG_DTYPE_Q4_0 ? (size_t)(n / 32) * sizeof(hg_block_q4_0)
                                         : (size_t)n * 2;
    uint8_t *p = malloc(bytes + 1);
    switch (dt) {
    case HG_DTYPE_F32: memcpy(p, src, bytes); break;
    case HG_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)p)[i] = hg_f32_to_bf16(src[i]);
        break;
    case HG_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)p)[i] = hg_f32_to_f16(src[i]);
        break;
    case HG_DTYPE_Q8_0: hg_quantize_row_q8_0(src, p, n); break;
    case HG_DTYPE_Q4_0: hg_quantize_row_q4_0(src, p, n); break;
    default: break;
    }
    w.data = p;
    w.nbytes = bytes;
    *buf = p;
    return w;
}

/* Row o of Q8_0/Q4_0 weights against Q8X activations, as the AMX-INT8 blocked kernel promises to sum
 * it: blocks in order from +0, acc = fmaf((float)Σ q_w·q_x, d_w·d_x, acc). */
static float q8x_block_chain(const hg_tensor *w, int64_t o, const hg_block_q8x *xq, int64_t nb) {
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        float dw;
        if (w->dtype == HG_DTYPE_Q8_0) {
            const hg_block_q8_0 *blk = (const hg_block_q8_0 *)w->data + o * nb + b;
            for (int j = 0; j < 32; j++) isum += blk->qs[j] * xq[b].qs[j];
            dw = hg_f16_to_f32(blk->d);
        } else {
            const hg_block_q4_0 *blk = (const hg_block_q4_0 *)w->data + o * nb + b;
            for (int j = 0; j < 16; j++)
                isum += ((blk->qs[j] & 15) - 8) * xq[b].qs[j] + ((blk->qs[j] >> 4) - 8) * xq[b].qs[j + 16];
            dw = hg_f16_to_f32(blk->d);
        }
        acc = fmaf((float)isum, dw * xq[b].d, acc);
    }
    return acc;
}

/* The product by path: 0 = hg_matmul_with's dispatch, 1 = the table's blocked kernel called directly
 * (tested at every T > 8 even where the dispatch sends small T to the matrix-vector path). */
static void run_path(const hg_kern_table *k, int path, float *y, const float *x, const hg_tensor *w, int64_t T) {
    if (path) k->gemm[w->dtype](y, x, w, T);
    else hg_matmul_with(k, y, x, w, T);
}

/* Compare y (from table k) with the reference; tolerance per element as derived above. Every T runs
 * the dispatched path, and T > 8 with a blocked kernel also that kernel directly when the dispatch
 * sends T to the matrix-vector path. */
static void check_matmul(const hg_kern_table *k, hg_dtype dt, int64_t n_out, int64_t n_in, int64_t T) {
    float *wf = malloc((size_t)(n_out * n_in) * sizeof(float));
    float *x = malloc((size_t)(T * n_in) * sizeof(float));
    float *y = malloc((size_t)(T * n_out) * sizeof(float)), *yr = malloc((size_t)(T * n_out) * sizeof(float));
    float *row = malloc((size_t)n_in * sizeof(float));
    for (int64_t i = 0; i < n_out * n_in; i++) wf[i] = frand();
    for (int64_t i = 0; i < T * n_in; i++) x[i] = frand() * 3.0f;
    /* edge cases: an all-zero row (quantized scale 0), a row of one huge value */
    if (n_out > 2) memset(wf + n_in, 0, (size_t)n_in * sizeof(float));
    if (n_out > 3) wf[2 * n_in + n_in / 2] = 1000.0f;
    if (n_out > 4) /* tiny weights: Q8_0 / Q4_0 scales become fp16 subnormals (< 6.1e-5) */
        for (int64_t i = 0; i < n_in; i++) wf[3 * n_in + i] *= 1e-4f;
    void *buf;
    hg_tensor w = make_w(dt, n_out, n_in, wf, &buf);
    if (dt == HG_DTYPE_Q8_0 && n_out > 1) /* -128: a valid code the quantizer never writes (the kernels offset it) */
        ((hg_block_q8_0 *)buf)[n_in / 32].qs[7] = -128;
    for (int64_t i = 0; i < T * n_out; i++) yr[i] = NAN;
    hg_matmul_ref(yr, x, &w, T);
    float *y2 = malloc((size_t)(T * n_out) * sizeof(float));
    /* path 1 only where the dispatch does not already run the blocked kernel */
    const int paths = T > HG_MV_T && k->gemm[dt] && T < hg_gemm_min_t(k, dt) ? 2 : 1;
    for (int path = 0; path < paths; path++) {
        for (int64_t i = 0; i < T * n_out; i++) y[i] = NAN;
        run_path(k, path, y, x, &w, T);
        const bool blocked = path == 1 || (k->gemm[dt] && T >= hg_gemm_min_t(k, dt));
        const bool qx = k->mv_q8x[dt] && (!blocked || k->gemm_q8x[dt]);
        double worst = 0;
        int64_t where = -1;
        bool bad = false;
        for (int64_t o = 0; o < n_out; o++) {
            hg_tensor_row_f32(&w, o, row);
            for (int64_t t = 0; t < T; t++) {
                const float *xt = x + t * n_in;
                double tol = 0, s = 0;
                for (int64_t i = 0; i < n_in; i++) s += fabs((double)xt[i] * (double)row[i]);
                tol = 2.0 * (double)n_in * ldexp(1.0, -24) * s + 1e-30;
                if (blocked && k->bf16_x_rounded && dt == HG_DTYPE_BF16) tol += ldexp(1.0, -8) * s;
                if (qx)
                    for (int64_t b = 0; b < n_in / 32; b++) {
                        double ax = 0, aw = 0;
                        for (int j = 0; j < 32; j++) {
                            ax = fmax(ax, fabs((double)xt[b * 32 + j]));
                            aw += fabs((double)row[b * 32 + j]);
                        }
                        tol += aw * (ax / 127.0) * 0.5 * (1.0 + 1e-6);
                    }
                const double d = fabs((double)y[t * n_out + o] - (double)yr[t * n_out + o]);
                if (!(d <= tol)) {
                    bad = true;
                    if (!(d / tol <= worst)) {
                        worst = isnan(d) ? (double)INFINITY : d / tol;
                        where = t * n_out + o;
                    }
                }
            }
        }
        /* the blocked path: bit-identical to the sequential FMA chain over the widened row */
        int64_t chain_bad = 0, chain_at = -1;
        if (blocked && !(k->bf16_split && dt == HG_DTYPE_BF16) && !k->gemm_q8x[dt])
            for (int64_t o = 0; o < n_out; o++) {
                hg_tensor_row_f32(&w, o, row);
                for (int64_t t = 0; t < T; t++) {
                    float acc = 0.0f;
                    for (int64_t i = 0; i < n_in; i++) acc = fmaf(row[i], x[t * n_in + i], acc);
                    if (memcmp(&acc, y + t * n_out + o, sizeof acc) && chain_bad++ == 0) chain_at = t * n_out + o;
                }
            }
        /* the Q8X blocked path (AMX-INT8): bit-identical to its block chain over Q8X activations */
        if (blocked && k->gemm_q8x[dt]) {
            const int64_t nb = n_in / 32;
            hg_block_q8x *xq = malloc((size_t)(nb + 1) * sizeof(hg_block_q8x));
            for (int64_t t = 0; t < T; t++) {
                hg_quantize_row_q8x(x + t * n_in, xq, n_in);
                for (int64_t o = 0; o < n_out; o++) {
                    const float acc = q8x_block_chain(&w, o, xq, nb);
                    if (memcmp(&acc, y + t * n_out + o, sizeof acc) && chain_bad++ == 0) chain_at = t * n_out + o;
                }
            }
            free(xq);
        }
        CHECK_MSG(chain_bad == 0, "%s %s n_out=%lld n_in=%lld T=%lld path %d: %lld elements differ from the chain at [%lld]",
                  hg_cpu_level_name(k->level), hg_dtype_name(dt), (long long)n_out, (long long)n_in, (long long)T,
                  path, (long long)chain_bad, (long long)chain_at);
        hg_test_checks++;
        if (bad) {
            hg_test_failures++;
            fprintf(stderr, "FAIL matmul %s %s n_out=%lld n_in=%lld T=%lld path %d: |diff|/tol %.3g at [%lld] got %.9g want %.9g\n",
                    hg_cpu_level_name(k->level), hg_dtype_name(dt), (long long)n_out, (long long)n_in, (long long)T, path, worst,
                    (long long)where, (double)y[where], (double)yr[where]);
        }
        /* thread-count independence: bitwise equal for 1, 2 and 3 threads */
        for (int nt = 1; nt <= 3; nt++) {
            omp_set_num_threads(nt);
            for (int64_t i = 0; i < T * n_out; i++) y2[i] = NAN;
            run_path(k, path, y2, x, &w, T);
            CHECK_MSG(!memcmp(y, y2, (size_t)(T * n_out) * sizeof(float)),
                      "%s %s n_out=%lld n_in=%lld T=%lld path %d differs with %d threads", hg_cpu_level_name(k->level),
                      hg_dtype_name(dt), (long long)n_out, (long long)n_in, (long long)T, path, nt);
        }
    }
    omp_set_num_threads(2);
    free(y2);
    free(buf);
    free(wf);
    free(x);
    free(y);
    free(yr);
    free(row);
}

/* A random product [NO, NI] x NT in dtype dt with two output buffers (the check helpers below). */
typedef struct prod_case {
    float *wf, *x, *y0, *y1;
    void *buf;
    hg_tensor w;
} prod_case;

static prod_case case_make(hg_dtype dt, int64_t NO, int64_t NI, int64_t NT) {
    prod_case c;
    c.wf = malloc(sizeof(float) * (size_t)(NO * NI)), c.x = malloc(sizeof(float) * (size_t)(NT * NI));
    c.y0 = malloc(sizeof(float) * (size_t)(NT * NO)), c.y1 = malloc(sizeof(float) * (size_t)(NT * NO));
    for (int64_t i = 0; i < NO * NI; i++) c.wf[i] = frand();
    for (int64_t i = 0; i < NT * NI; i++) c.x[i] = frand();
    c.buf = NULL;
    c.w = make_w(dt, NO, NI, c.wf, &c.buf);
    return c;
}

static void case_free(prod_case *c) { free(c->buf), free(c->wf), free(c->x), free(c->y0), free(c->y1); }

/* With its first allocation failing, table k still makes the product [NO, NI] x T, bit for bit what
 * table `fallback` makes. */
static void check_no_memory(const hg_kern_table *k, const hg_kern_table *fallback, hg_dtype dt, int64_t NO, int64_t NI,
                            int64_t NT, const char *what) {
    prod_case c = case_make(dt, NO, NI, NT);
    hg_matmul_with(fallback, c.y0, c.x, &c.w, NT);
    hg_alloc_fail_after(0);
    hg_matmul_with(k, c.y1, c.x, &c.w, NT);
    hg_alloc_fail_after(-1);
    CHECK_MSG(!memcmp(c.y0, c.y1, sizeof(float) * (size_t)(NT * NO)), "%s %s: no fallback when %s cannot be allocated",
              hg_cpu_level_name(k->level), hg_dtype_name(dt), what);
    case_free(&c);
}

#if defined(__x86_64__)
/* The bf16 AMX kernel walks K in chunks (x of a chunk stays in L2, the sums wait in memory between
 * chunks): any chunk size, and no buffer for the sums (out of memory: one chunk), must give the bits
 * of the one-chunk product. 37 and 50 rows leave a 16-row tile and rows past the tiles; 300 inputs a
 * K tail of 12; 40 positions a short last group. Both shapes' x parts (3·K·T bf16: 34560 and 52224)
 * exceed the kernel's 16384-element stack buffer, so they are its first allocation and the sums'
 * buffer the second — the one hg_alloc_fail_after(1) refuses. */
static void check_amx_chunks(int64_t NO, int64_t NI, int64_t NT) {
    prod_case c = case_make(HG_DTYPE_BF16, NO, NI, NT);
    const int64_t nkb = NI / 32;
    hg_gemm_bf16_amx_kc(c.y0, c.x, &c.w, NT, nkb);
    for (int64_t i = 0; i <= nkb + 1; i++) {
        const bool no_mem = i == nkb + 1; /* x's parts are allocated, the sums' buffer is not */
        const int64_t kcb = no_mem ? 1 : i;
        for (int64_t j = 0; j < NT * NO; j++) c.y1[j] = NAN;
        if (no_mem) hg_alloc_fail_after(1);
        hg_gemm_bf16_amx_kc(c.y1, c.x, &c.w, NT, kcb);
        hg_alloc_fail_after(-1);
        CHECK_MSG(!memcmp(c.y0, c.y1, sizeof(float) * (size_t)(NT * NO)),
                  "bf16 AMX [%lld, %lld] T=%lld: K chunks of %lld blocks differ from one chunk%s", (long long)NO,
                  (long long)NI, (long long)NT, (long long)kcb, no_mem ? " (no memory for the sums)" : "");
    }
    case_free(&c);
}
#endif

/* ---- hg_sgemm (training's product) --------------------------------------------------------------- */

/* C (+)= op(A)·op(B) at level l against a double reference with the γ bound; the SIMD levels must
 * equal the in-order fmaf chain from +0 bit for bit (then + C when accumulating); the work area and C
 * are poisoned with NaN (C only when overwritten); 1, 2 and 3 threads give identical bits. */
static void check_sgemm(hg_cpu_level l, int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool acc) {
    float *A = malloc(sizeof(float) * (size_t)(M * K + 1)), *B = malloc(sizeof(float) * (size_t)(K * N + 1));
    float *C0 = malloc(sizeof(float) * (size_t)(M * N)), *C = malloc(sizeof(float) * (size_t)(M * N));
    float *C2 = malloc(sizeof(float) * (size_t)(M * N));
    float *work = malloc(sizeof(float) * (hg_sgemm_work(K, N) + 1));
    for (int64_t i = 0; i < M * K; i++) A[i] = frand();
    for (int64_t i = 0; i < K * N; i++) B[i] = frand();
    for (int64_t i = 0; i < M * N; i++) C0[i] = frand();
    for (size_t i = 0; i < hg_sgemm_work(K, N); i++) work[i] = NAN;
    for (int64_t i = 0; i < M * N; i++) C[i] = acc ? C0[i] : NAN;
    hg_sgemm_level(l, C, A, ta, B, tb, M, N, K, acc, work);
    int bad = 0;
    for (int64_t m = 0; m < M && bad < 3; m++)
        for (int64_t n = 0; n < N; n++) {
            double ref = 0, mag = 0;
            float chain = 0;
            for (int64_t k = 0; k < K; k++) {
                const float a = ta ? A[k * M + m] : A[m * K + k], b = tb ? B[n * K + k] : B[k * N + n];
                ref += (double)a * (double)b, mag += fabs((double)a * (double)b);
                chain = fmaf(a, b, chain);
            }
            const double want = acc ? (double)C0[m * N + n] + ref : ref;
            const double tol = 2.0 * (double)(K + 1) * 0x1p-24 * (mag + (acc ? fabs((double)C0[m * N + n]) : 0)) + 1e-30;
            const float got = C[m * N + n];
            if (!(fabs((double)got - want) <= tol)) bad++;
            if (l != HG_CPU_SCALAR && got != (acc ? C0[m * N + n] + chain : chain)) bad++;
        }
    CHECK_MSG(!bad, "sgemm %s M=%lld N=%lld K=%lld transA=%d transB=%d acc=%d: %d mismatches", hg_cpu_level_name(l),
              (long long)M, (long long)N, (long long)K, ta, tb, acc, bad);
    for (int nt = 1; nt <= 3; nt++) {
        omp_set_num_threads(nt);
        for (int64_t i = 0; i < M * N; i++) C2[i] = acc ? C0[i] : NAN;
        hg_sgemm_level(l, C2, A, ta, B, tb, M, N, K, acc, work);
        CHECK_MSG(!memcmp(C, C2, sizeof(float) * (size_t)(M * N)), "sgemm %s M=%lld N=%lld K=%lld differs with %d threads",
                  hg_cpu_level_name(l), (long long)M, (long long)N, (long long)K, nt);
    }
    omp_set_num_threads(2);
    free(A), free(B), free(C0), free(C), free(C2), free(work);
}

static void test_sgemm(hg_cpu_level l) {
    /* rows around every ISA's tile height (4, 6, 12) and the 96-row work item; columns around the 16/32
     * panels; K from 1 to a training batch's token count (dW sums over N = 1,000+ tokens) */
    static const int64_t Ms[] = {1, 5, 6, 11, 12, 13, 25, 97, 200};
    static const int64_t Ns[] = {1, 15, 16, 17, 31, 32, 33, 70, 129};
    static const int64_t Ks[] = {1, 2, 7, 64, 129, 1030};
    int i = 0;
    for (size_t a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof Ns[0]; b++, i++) {
            const int64_t K = Ks[(a + 2 * b) % 6];
            if ((double)Ms[a] * (double)Ns[b] * (double)K > 4e6) continue;
            check_sgemm(l, Ms[a], Ns[b], K, i & 1, (i >> 1) & 1, (i >> 2) & 1);
        }
    /* the three products of training at a small shape, above HG_PAR_MIN_MACS (threads split it) */
    check_sgemm(l, 300, 96, 64, false, true, false);  /* y = x·Wᵀ */
    check_sgemm(l, 300, 64, 96, false, false, true);  /* dx += dy·W */
    check_sgemm(l, 96, 64, 300, true, false, true);   /* dW += dyᵀ·x */
    check_sgemm(l, 3, 5, 0, false, false, false);     /* K = 0: zeros */
}

/* ---- batch and row independence of the matrix-vector path --------------------------------------- */

/* (a) For the T the dispatch sends to the matrix-vector path (1..8, and on to gemm_min_t - 1 where
 * small T runs in groups of 8: 9, 16, 17 and the last, at most 32): hg_matmul_with on T positions equals, bit for bit,
 * each position alone (T = 1), i.e. batched decoding gives every sequence what decoding it alone
 * gives; (b) for T = 1..8 the mv kernel called once on rows [0, n_out) equals it called once per row
 * (no result depends on the other rows of a call). n_in <= HG_QX_PIECE so (b) can hand the kernel the
 * whole row. */
static void check_batch_rows(const hg_kern_table *k, hg_dtype dt, int64_t n_out, int64_t n_in) {
    const int64_t TB = k->gemm[dt] ? hg_min_i64(32, hg_gemm_min_t(k, dt) - 1) : 32;
    const int64_t TM = TB > HG_MV_T ? TB : HG_MV_T, nb = n_in / 32;
    const bool q8x = k->mv_q8x[dt];
    float *wf = malloc((size_t)(n_out * n_in) * sizeof(float)), *x = malloc((size_t)(TM * n_in) * sizeof(float));
    float *yb = malloc((size_t)(TM * n_out) * sizeof(float)), *y1 = malloc((size_t)n_out * sizeof(float));
    float *ya = malloc((size_t)(TM * n_out) * sizeof(float)); /* each position alone */
    hg_block_q8x *qx = malloc((size_t)(TM * (nb + 1)) * sizeof(hg_block_q8x));
    for (int64_t i = 0; i < n_out * n_in; i++) wf[i] = frand();
    for (int64_t i = 0; i < TM * n_in; i++) x[i] = frand() * 2.0f;
    void *buf;
    const hg_tensor w = make_w(dt, n_out, n_in, wf, &buf);
    if (q8x)
        for (int64_t t = 0; t < TM; t++) hg_quantize_row_q8x(x + t * n_in, qx + t * nb, n_in);
    const void *xk = q8x ? (const void *)qx : (const void *)x;
    const int64_t ldx = q8x ? nb : n_in;
    HG_ASSERT(!q8x || n_in <= HG_QX_PIECE);
    int64_t bad_batch = 0, bad_rows = 0, first = -1;
    for (int64_t i = 0; i < TM * n_out; i++) ya[i] = NAN;
    for (int64_t t = 0; t < TB; t++) hg_matmul_with(k, ya + t * n_out, x + t * n_in, &w, 1);
    for (int64_t T = 1; T <= TM; T++) {
        if (T > HG_MV_T && T != 9 && T != 16 && T != 17 && T != TB) continue; /* past 8: group edges only */
        if (T <= TB) {
            for (int64_t i = 0; i < T * n_out; i++) yb[i] = NAN;
            hg_matmul_with(k, yb, x, &w, T);
            for (int64_t i = 0; i < T * n_out; i++)
                if (memcmp(&ya[i], &yb[i], sizeof(float)) && bad_batch++ == 0) first = T;
        }
        if (T > HG_MV_T) continue;
        /* the kernel itself: all rows in one call vs one row per call (each position alone: T = 1) */
        for (int64_t i = 0; i < T * n_out; i++) yb[i] = NAN;
        k->mv[dt](yb, n_out, xk, ldx, &w, 0, n_out, 0, n_in, T, false);
        for (int64_t t = 0; t < T; t++)
            for (int64_t o = 0; o < n_out; o++) {
                y1[o] = NAN;
                k->mv[dt](y1, 0, q8x ? (const void *)(qx + t * nb) : (const void *)(x + t * n_in), ldx, &w, o, o + 1, 0,
                          n_in, 1, false);
                if (memcmp(&y1[o], &yb[t * n_out + o], sizeof(float)) && bad_rows++ == 0) first = T;
            }
    }
    CHECK_MSG(bad_batch == 0, "%s %s n_out=%lld n_in=%lld: %lld batched results differ from the position alone "
              "(T=%lld)",
              hg_cpu_level_name(k->level), hg_dtype_name(dt), (long long)n_out, (long long)n_in, (long long)bad_batch,
              (long long)first);
    CHECK_MSG(bad_rows == 0, "%s %s n_out=%lld n_in=%lld: %lld results change with the rows sharing the call (T=%lld)",
              hg_cpu_level_name(k->level), hg_dtype_name(dt), (long long)n_out, (long long)n_in, (long long)bad_rows,
              (long long)first);
    free(buf);
    free(wf);
    free(x);
    free(yb);
    free(y1);
    free(ya);
    free(qx);
}

/* A prepacked weight (hg_matmul_prepack_with): at every T the dispatch runs the table's blocked
 * product on the packed layout, bit for bit what that product gives on the stored layout (the
 * block chain for Q8_0, the FMA chain for bf16), so a position's result equals the position alone
 * whatever T (41: bf16's walk in passes of 8, 8, 8, 8, 9); a copy of the
 * tensor with another shape or data pointer ignores the packing; HG_PREPACK=0 makes none. */
static void check_packed(const hg_kern_table *k, hg_dtype dt, int64_t n_out, int64_t n_in) {
    if (!k->prepack[dt]) return;
    static const int64_t Ts[] = {1, 2, 3, 5, 6, 7, 8, 9, 13, 17, 33, 41};
    const int64_t TM = 41;
    float *wf = malloc((size_t)(n_out * n_in) * sizeof(float)), *x = malloc((size_t)(TM * n_in) * sizeof(float));
    float *yp = malloc((size_t)(TM * n_out) * sizeof(float)), *ys = malloc((size_t)(TM * n_out) * sizeof(float));
    float *y1 = malloc((size_t)(TM * n_out) * sizeof(float));
    for (int64_t i = 0; i < n_out * n_in; i++) wf[i] = frand();
    for (int64_t i = 0; i < TM * n_in; i++) x[i] = frand() * 2.0f;
    void *buf;
    hg_tensor w = make_w(dt, n_out, n_in, wf, &buf);
    void *pk = hg_matmul_prepack_with(k, &w);
    CHECK_MSG(pk != NULL, "%s %s: no packed layout made", hg_cpu_level_name(k->level), hg_dtype_name(dt));
    if (!pk) goto out;
    hg_tensor wp = w;
    wp.packed = pk;
    int64_t bad_stored = 0, bad_alone = 0, first = -1;
    for (int64_t t = 0; t < TM; t++) hg_matmul_with(k, y1 + t * n_out, x + t * n_in, &wp, 1);
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
        const int64_t T = Ts[i];
        for (int64_t j = 0; j < T * n_out; j++) yp[j] = ys[j] = NAN;
        hg_matmul_with(k, yp, x, &wp, T);
        k->gemm[dt](ys, x, &w, T);
        for (int64_t j = 0; j < T * n_out; j++) {
            if (memcmp(&yp[j], &ys[j], sizeof(float)) && bad_stored++ == 0) first = T;
            if (memcmp(&yp[j], &y1[j], sizeof(float)) && bad_alone++ == 0) first = T;
        }
    }
    CHECK_MSG(bad_stored == 0, "%s %s %lldx%lld: %lld packed results differ from the stored layout's (T=%lld)",
              hg_cpu_level_name(k->level), hg_dtype_name(dt), (long long)n_out, (long long)n_in, (long long)bad_stored,
              (long long)first);
    CHECK_MSG(bad_alone == 0, "%s %s %lldx%lld: %lld packed results differ from the position alone (T=%lld)",
              hg_cpu_level_name(k->level), hg_dtype_name(dt), (long long)n_out, (long long)n_in, (long long)bad_alone,
              (long long)first);
    /* a view of fewer rows or a copy elsewhere is not the packed tensor: the stored layout is read */
    hg_tensor view = wp;
    view.ne[0] = n_out - 1;
    CHECK(n_out < 2 || !hg_packed_for(&view, k->gemm[dt]));
    hg_tensor moved = wp;
    moved.data = (const char *)w.data + 1;
    CHECK(!hg_packed_for(&moved, k->gemm[dt]));
    CHECK(hg_packed_for(&wp, k->gemm[dt]) == pk);
    hg_free(pk);
    setenv("HG_PREPACK", "0", 1);
    CHECK(hg_matmul_prepack_with(k, &w) == NULL);
    unsetenv("HG_PREPACK");
out:
    free(buf);
    free(wf);
    free(x);
    free(yp);
    free(ys);
    free(y1);
}

/* ---- quantization layouts --------------------------------------------------------------------- */

static void test_quant_layout(void) {
    float x[32], y[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16); /* max |x| = 16 at j = 0 (x = -16) */
    hg_block_q8_0 q8;
    hg_quantize_row_q8_0(x, &q8, 32);
    CHECK(q8.d == hg_f32_to_f16(16.0f / 127.0f));
    CHECK(q8.qs[0] == -127 && q8.qs[16] == 0 && q8.qs[31] == (int8_t)roundf(15.0f * 127.0f / 16.0f));
    hg_block_q4_0 q4;
    hg_quantize_row_q4_0(x, &q4, 32);
    /* d = max/-8 = 2; q = trunc(x/2 + 8.5): x=-16 -> 0, x=-15 -> 1 (0.5+... = 1.0), x=0 -> 8, x=15 -> 16 -> 15 */
    CHECK(q4.d == hg_f32_to_f16(2.0f));
    CHECK((q4.qs[0] & 15) == 0 && (q4.qs[0] >> 4) == 8);   /* elements 0 (x=-16) and 16 (x=0) */
    CHECK((q4.qs[1] & 15) == 1 && (q4.qs[15] >> 4) == 15); /* element 1 (x=-15: 1.0), element 31 (x=15) */
    hg_dequantize_row_q4_0(&q4, y, 32);
    CHECK(y[0] == -16.0f && y[16] == 0.0f && y[31] == 14.0f);
    /* zero block: d = 0, quants 0 (Q4_0 stores 8), dequantizes to exact zeros */
    float z[32] = {0};
    hg_quantize_row_q8_0(z, &q8, 32);
    hg_quantize_row_q4_0(z, &q4, 32);
    CHECK(q8.d == 0 && q8.qs[5] == 0 && (q4.d & 0x7fff) == 0 && q4.qs[3] == 0x88); /* Q4_0: d = 0/-8 = -0, as in ggml */
    /* round trip error: |x - deq| <= d/2 for Q8_0, <= |d| for Q4_0 (the clamped code) */
    float big[32 * 40], deq[32 * 40];
    for (int i = 0; i < 32 * 40; i++) big[i] = frand() * (float)(1 + i % 7);
    hg_block_q8_0 b8[40];
    hg_block_q4_0 b4[40];
    hg_quantize_row_q8_0(big, b8, 32 * 40);
    for (int i = 0; i < 32 * 40; i++) deq[i] = NAN;
    hg_dequantize_row_q8_0(b8, deq, 32 * 40);
    bool ok = true;
    for (int i = 0; i < 32 * 40; i++)
        if (!(fabsf(big[i] - deq[i]) <= 0.5f * hg_f16_to_f32(b8[i / 32].d) * 1.01f + 1e-3f * fabsf(big[i]))) ok = false;
    CHECK_MSG(ok, "Q8_0 round trip exceeds d/2 (+ fp16 scale rounding)");
    hg_quantize_row_q4_0(big, b4, 32 * 40);
    for (int i = 0; i < 32 * 40; i++) deq[i] = NAN;
    hg_dequantize_row_q4_0(b4, deq, 32 * 40);
    ok = true;
    for (int i = 0; i < 32 * 40; i++)
        if (!(fabsf(big[i] - deq[i]) <= fabsf(hg_f16_to_f32(b4[i / 32].d)) * 1.01f + 1e-3f * fabsf(big[i]))) ok = false;
    CHECK_MSG(ok, "Q4_0 round trip exceeds |d|");
}

/* The level's Q8X quantizer equals the scalar one bit for bit: random blocks, a zero block, ties at
 * .5 after scaling (max 127 makes d = 1: 2.5 -> 3, -2.5 -> -3, 0.49999997 -> 0), tiny and huge
 * values, the largest magnitude negative. */
static void test_quant_q8x(const hg_kern_table *k) {
    if (!k->quant_q8x) return;
    enum { NB = 11 };
    float x[NB * 32];
    for (int i = 0; i < NB * 32; i++) x[i] = frand() * (float)(1 + i % 5);
    for (int j = 0; j < 32; j++) x[32 + j] = 0.0f;
    static const float ties[] = {127.0f, 2.5f, -2.5f, 0.49999997f, -0.5f, 0.5f, 126.5f, -126.5f, 1.5f, -0.49999997f};
    for (int j = 0; j < 32; j++) x[64 + j] = j < 10 ? ties[j] : (float)(j - 16) + 0.5f;
    for (int j = 0; j < 32; j++) x[96 + j] = frand() * 1e-30f;
    for (int j = 0; j < 32; j++) x[128 + j] = frand() * 1e30f;
    x[160 + 7] = -50.0f; /* the only value of its block beyond [-1, 1] */
    x[9 * 32 + 30] = NAN;       /* non-finite blocks: d = NaN, zero quants */
    x[10 * 32 + 3] = -INFINITY;
    hg_block_q8x a[NB], b[NB];
    memset(a, 0x5a, sizeof a), memset(b, 0x5a, sizeof b);
    hg_quantize_row_q8x(x, a, NB * 32);
    k->quant_q8x(x, b, NB * 32);
    CHECK_MSG(!memcmp(a, b, sizeof a), "%s: Q8X quantizer differs from the scalar one", hg_cpu_level_name(k->level));
    CHECK(a[2].qs[1] == 3 && a[2].qs[2] == -3 && a[2].qs[3] == 0 && a[2].qs[4] == -1 && a[1].d == 0.0f);
    CHECK(isnan(a[9].d) && isnan(a[10].d) && a[9].qs[30] == 0 && a[10].qs[5] == 0 && a[9].s == 0);
}

/* A NaN or an infinity in an activation makes that position's outputs NaN on every path, as in f32
 * (the quantized paths must not round it into a finite value): T = 1, a batch, and T = 40 (the
 * blocked kernel), position 1 poisoned. */
static void check_nonfinite(const hg_kern_table *k, hg_dtype dt) {
    enum { NO = 21, NI = 96 };
    static const int64_t Ts[] = {1, 3, 40};
    float *wf = malloc(sizeof(float) * NO * NI), *x = malloc(sizeof(float) * 40 * NI), *y = malloc(sizeof(float) * 40 * NO);
    for (int i = 0; i < NO * NI; i++) wf[i] = frand();
    void *buf = NULL;
    const hg_tensor w = make_w(dt, NO, NI, wf, &buf);
    for (int v = 0; v < 2; v++)
        for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
            const int64_t T = Ts[i], p = T > 1 ? 1 : 0;
            for (int64_t j = 0; j < T * NI; j++) x[j] = frand();
            x[p * NI + 37] = v ? INFINITY : NAN;
            hg_matmul_with(k, y, x, &w, T);
            int bad = 0;
            for (int64_t t = 0; t < T; t++)
                for (int o = 0; o < NO; o++) bad += t == p ? !isnan(y[t * NO + o]) && !isinf(y[t * NO + o]) : !isfinite(y[t * NO + o]);
            CHECK_MSG(!bad, "%s %s T=%lld: %d outputs wrong with a %s activation", hg_cpu_level_name(k->level),
                      hg_dtype_name(dt), (long long)T, bad, v ? "infinite" : "NaN");
        }
    free(buf), free(wf), free(x), free(y);
}

/* ---- vector helpers --------------------------------------------------------------------------- */

static void test_vec(const hg_kern_table *k, int64_t n) {
    float *a = malloc((size_t)(n + 1) * sizeof(float)), *b = malloc((size_t)(n + 1) * sizeof(float));
    float *y = malloc((size_t)(n + 1) * sizeof(float)), *yr = malloc((size_t)(n + 1) * sizeof(float));
    double s = 0, exact = 0;
    for (int64_t i = 0; i < n; i++) {
        a[i] = frand();
        b[i] = frand();
        y[i] = yr[i] = frand();
        s += fabs((double)a[i] * (double)b[i]);
        exact += (double)a[i] * (double)b[i];
    }
    a[n] = b[n] = y[n] = yr[n] = NAN; /* one past the end: must be neither read into a result nor written */
    const float d = k->dot(a, b, n);
    CHECK_MSG(fabs((double)d - exact) <= 2.0 * (double)n * ldexp(1.0, -24) * s, "%s dot n=%lld: %g vs %g",
              hg_cpu_level_name(k->level), (long long)n, (double)d, exact);
    k->axpy(y, 0.75f, a, n);
    hg_kern_scalar.axpy(yr, 0.75f, a, n);
    bool ok = isnan(y[n]);
    for (int64_t i = 0; i < n; i++) ok = ok && fabsf(y[i] - yr[i]) <= 2e-7f * (fabsf(yr[i]) + 1.0f);
    CHECK_MSG(ok, "%s axpy n=%lld", hg_cpu_level_name(k->level), (long long)n);
    free(a);
    free(b);
    free(y);
    free(yr);
}

/* The KV-cache helpers of level l (second operand stored f16 / bf16): bit for bit the level's f32 dot
 * and axpy on the widened operand, nothing written past n. test_kv_types checks the same next to the
 * engine; this copy needs no model, so the cross-built aarch64 run (tests/test_neon.sh) covers it. */
static void test_vec_kv(hg_cpu_level l, int64_t n) {
    const hg_vec_ops *ops = hg_vec_level(l);
    CHECK_MSG(ops != NULL, "level %s has kernels but no vector helpers", hg_cpu_level_name(l));
    if (!ops) return;
    float *a = malloc((size_t)n * sizeof(float)), *wide = malloc((size_t)n * sizeof(float));
    float *y0 = malloc((size_t)(n + 1) * sizeof(float)), *y1 = malloc((size_t)(n + 1) * sizeof(float));
    uint16_t *b = malloc((size_t)n * sizeof(uint16_t));
    for (int di = 0; di < 2; di++) {
        const hg_dtype dt = di ? HG_DTYPE_BF16 : HG_DTYPE_F16;
        for (int64_t i = 0; i < n; i++) {
            a[i] = frand();
            const float v = frand() * 4.0f;
            b[i] = dt == HG_DTYPE_BF16 ? hg_f32_to_bf16(v) : hg_f32_to_f16(v);
            wide[i] = dt == HG_DTYPE_BF16 ? hg_bf16_to_f32(b[i]) : hg_f16_to_f32(b[i]);
            y0[i] = y1[i] = frand();
        }
        y0[n] = y1[n] = NAN;
        const float got = ops->dot_kv[dt](a, b, n), want = ops->dot(a, wide, n);
        CHECK_MSG(!memcmp(&got, &want, sizeof got), "%s %s dot_kv n=%lld: %.9g, f32 dot %.9g", hg_cpu_level_name(l),
                  hg_dtype_name(dt), (long long)n, (double)got, (double)want);
        ops->axpy_kv[dt](y0, 0.625f, b, n);
        ops->axpy(y1, 0.625f, wide, n);
        CHECK_MSG(!memcmp(y0, y1, (size_t)n * sizeof(float)) && isnan(y0[n]), "%s %s axpy_kv n=%lld",
                  hg_cpu_level_name(l), hg_dtype_name(dt), (long long)n);
    }
    free(a), free(wide), free(y0), free(y1), free(b);
}

/* ulps between two finite floats of one sign (or both zero) */
static int64_t ulps(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4), memcpy(&ib, &b, 4);
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

/* The SiLU gate of level l against the portable one (libm expf) over the whole useful range of g
 * (-110..100: e^−g overflows and underflows at both ends) and at NaN / ±inf / ±0 / subnormals: bit for
 * bit but where glibc's expf (error up to ~0.502 ulp) and the SIMD exp (rounded once from double) round
 * e^−g differently — ~0.03 % of inputs here, up to 3 ulp after the division and the product; every
 * length's tail, nothing written past n. */
static void test_silu(hg_cpu_level l) {
    const hg_vec_ops *ops = hg_vec_level(l);
    if (!ops) return;
    enum { N = 200003 };
    float *g = malloc(N * sizeof(float)), *u = malloc(N * sizeof(float));
    float *o = malloc((N + 1) * sizeof(float)), *r = malloc(N * sizeof(float));
    for (int64_t i = 0; i < N; i++) {
        g[i] = -110.0f + 210.0f * (float)i / (float)N;
        u[i] = 0.5f + frand();
    }
    g[0] = NAN, g[1] = INFINITY, g[2] = -INFINITY, g[3] = 0.0f, g[4] = -0.0f, g[5] = 1e-40f, g[6] = -1e-40f;
    o[N] = 12345.0f;
    ops->silu_mul(o, g, u, N);
    hg_silu_mul_scalar(r, g, u, N);
    int64_t differ = 0, worst = 0;
    bool special = true;
    for (int64_t i = 0; i < N; i++) {
        if (isnan(r[i]) || isinf(r[i])) {
            special &= (isnan(r[i]) && isnan(o[i])) || r[i] == o[i];
            continue;
        }
        if (memcmp(&o[i], &r[i], 4)) differ++;
        if (ulps(o[i], r[i]) > worst) worst = ulps(o[i], r[i]);
    }
    CHECK_MSG(special && worst <= 3 && differ * 1000 <= N && o[N] == 12345.0f,
              "%s silu_mul: %lld of %d differ from libm's, worst %lld ulp, specials %s", hg_cpu_level_name(l),
              (long long)differ, N, (long long)worst, special ? "ok" : "wrong");
    for (int64_t n = 1; n <= 40; n++) { /* tails: the same values as the long call, nothing past n */
        o[n] = 777.0f;
        ops->silu_mul(o, g + 1000, u + 1000, n);
        ops->silu_mul(r, g + 1000, u + 1000, 40);
        CHECK_MSG(!memcmp(o, r, (size_t)n * sizeof(float)) && o[n] == 777.0f, "%s silu_mul n=%lld",
                  hg_cpu_level_name(l), (long long)n);
    }
    free(g), free(u), free(o), free(r);
}

/* A level's attention head kernel (hg_vec_ops.attend_kv) against the loop it replaces, built from the
 * same level's dot_kv / axpy_kv: bit for bit, for head sizes with lane tails and more than the 128
 * floats kept in registers, positions without an entry (src -1), every cache type; nothing written
 * past d. */
static void test_attend(hg_cpu_level l) {
    const hg_vec_ops *ops = hg_vec_level(l);
    if (!ops) return;
    static const int64_t ds[] = {16, 96, 128, 40, 130, 200, 257};
    const int64_t n_slots = 3, maxp = 70;
    for (int di = 0; di < 3; di++) {
        const hg_dtype dt = di == 0 ? HG_DTYPE_F32 : di == 1 ? HG_DTYPE_F16 : HG_DTYPE_BF16;
        if (!ops->attend_kv[dt]) continue;
        const size_t es = dt == HG_DTYPE_F32 ? 4 : 2;
        for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
            const int64_t d = ds[i], width = 2 * d + 3; /* the head at offset d + 3 elements */
            const size_t rowb = (size_t)width * es, posb = (size_t)n_slots * rowb + 64; /* a padded stride */
            const size_t n = (size_t)maxp * posb / es;
            uint8_t *k = malloc(n * es), *v = malloc(n * es);
            float *q = malloc((size_t)d * sizeof(float)), *o = malloc((size_t)(d + 1) * sizeof(float));
            float *r = malloc((size_t)d * sizeof(float)), *sc = malloc((size_t)maxp * sizeof(float));
            int64_t src[70];
            for (size_t j = 0; j < n; j++) {
                const float a = frand() * 3.0f, b = frand();
                if (dt == HG_DTYPE_F32) memcpy(k + 4 * j, &a, 4), memcpy(v + 4 * j, &b, 4);
                else {
                    const uint16_t ka = dt == HG_DTYPE_BF16 ? hg_f32_to_bf16(a) : hg_f32_to_f16(a);
                    const uint16_t vb = dt == HG_DTYPE_BF16 ? hg_f32_to_bf16(b) : hg_f32_to_f16(b);
                    memcpy(k + 2 * j, &ka, 2), memcpy(v + 2 * j, &vb, 2);
                }
            }
            for (int64_t t = 0; t < d; t++) q[t] = frand();
            for (int64_t np = 1; np <= maxp; np += 23) {
                for (int64_t kp = 0; kp < np; kp++) src[kp] = (int64_t)(hg_rng_uniform(&g_rng) * 4.0) - 1;
                if (np > 1) src[np / 2] = 1; /* an entry somewhere; the last may have none */
                const size_t off = (size_t)(d + 3) * es;
                const float scale = 0.125f;
                o[d] = 99.0f;
                ops->attend_kv[dt](o, q, k + off, v + off, src, rowb, posb, np, d, scale, sc);
                /* the loop of block.c's attention */
                float mx = -INFINITY, w[70];
                for (int64_t kp = 0; kp < np; kp++)
                    if (src[kp] >= 0) {
                        w[kp] = ops->dot_kv[dt](q, k + off + (size_t)kp * posb + (size_t)src[kp] * rowb, d) * scale;
                        if (w[kp] > mx) mx = w[kp];
                    }
                double sum = 0;
                for (int64_t kp = 0; kp < np; kp++)
                    if (src[kp] >= 0) w[kp] = expf(w[kp] - mx), sum += (double)w[kp];
                const float inv = (float)(1.0 / sum);
                for (int64_t t = 0; t < d; t++) r[t] = 0;
                for (int64_t kp = 0; kp < np; kp++)
                    if (src[kp] >= 0) ops->axpy_kv[dt](r, w[kp] * inv, v + off + (size_t)kp * posb + (size_t)src[kp] * rowb, d);
                CHECK_MSG(!memcmp(o, r, (size_t)d * sizeof(float)) && o[d] == 99.0f, "%s %s attend d=%lld np=%lld",
                          hg_cpu_level_name(l), hg_dtype_name(dt), (long long)d, (long long)np);
            }
            free(k), free(v), free(q), free(o), free(r), free(sc);
        }
    }
}

int main(void) {
    hg_rng_seed(&g_rng, 1234);
    const hg_cpu_info *ci = hg_cpu_features();
    fprintf(stderr, "cpu: best %s, using %s (avx512bf16 %d, amx tile %d, amx in use %d, vnni gemm %d, bf16dot gemm %d, "
                    "avx-vnni %d, avx-vnni gemm %d, neon dotprod %d)\n",
            hg_cpu_level_name(ci->best), hg_cpu_level_name(ci->level), ci->avx512bf16, ci->amx_tile, ci->amx, ci->gemm_vnni,
            ci->gemm_bf16dot, ci->avxvnni, ci->gemm_avxvnni, ci->dotprod);
    CHECK(ci->level <= ci->best);
    CHECK(hg_kern()->level == ci->level);
    /* HG_BF16DOT=fast on an AVX512-BF16 host without AMX selects the fast table, and only then */
    const char *dot_env = getenv("HG_BF16DOT");
    const bool want_fast = ci->gemm_vnni && ci->avx512bf16 && dot_env && !strcmp(dot_env, "fast");
    CHECK(ci->gemm_bf16fast == want_fast);
    CHECK(!strcmp(hg_kernels_name(), "avx512+bf16fast") == want_fast);
#if defined(__x86_64__)
    /* the AVX2 level takes the AVX-VNNI table exactly when the CPU has the dots and HG_BF16DOT=0 is not
     * set; the name says so when AVX2 is the level in use */
    const bool want_avxvnni = ci->avxvnni && hg_cpu_level_runs(HG_CPU_AVX2) && !(dot_env && !strcmp(dot_env, "0"));
    CHECK(ci->gemm_avxvnni == want_avxvnni);
    if (hg_cpu_level_runs(HG_CPU_AVX2))
        CHECK(hg_kern_level(HG_CPU_AVX2) == (want_avxvnni ? &hg_kern_avx2_vnni : &hg_kern_avx2));
    CHECK(!strcmp(hg_kernels_name(), "avx2+vnni") == (ci->level == HG_CPU_AVX2 && want_avxvnni));
#endif
    test_quant_layout();
#if defined(__x86_64__)
    /* the AVX2 level has a blocked kernel for every dtype AVX-512 has one for (T > 8 must not fall
     * back to the matrix-vector path there) */
    for (int dt = 0; dt < HG_DTYPE_COUNT; dt++)
        CHECK_MSG(!hg_kern_avx512.gemm[dt] || hg_kern_avx2.gemm[dt], "avx2 has no gemm for %s",
                  hg_dtype_name((hg_dtype)dt));
#endif

    static const int64_t lens[] = {1, 2, 3, 5, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 255, 257, 1023};
    /* quantized: 1-5 blocks (partial windows), a group of 32 blocks and its neighbours (17 windows of
     * 64 bytes for Q8_0, 9 for Q4_0), and a length crossing the 8192-element activation piece */
    static const int64_t qlens[] = {32, 64, 96, 160, 1024, 8192 + 96, 32 * 31, 32 * 33, 32 * 17};
    static const int64_t touts[] = {1, 2, 3, 5, 7, 13, 17, 37};
    static const int64_t Ts[] = {1, 2, 3, 4, 5, 8, 9, 13, 33, 131};
    omp_set_num_threads(2);
    for (int l = 0; l < HG_CPU_LEVEL_COUNT; l++) {
        const hg_kern_table *k = hg_kern_level((hg_cpu_level)l);
        if (!k) {
            fprintf(stderr, "  (level %s not supported here: skipped)\n", hg_cpu_level_name((hg_cpu_level)l));
            continue;
        }
        const int before = hg_test_failures;
        test_quant_q8x(k);
        for (int dt = 0; dt < HG_DTYPE_COUNT; dt++) check_nonfinite(k, (hg_dtype)dt);
        test_sgemm((hg_cpu_level)l);
        test_silu((hg_cpu_level)l);
        test_attend((hg_cpu_level)l);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) test_vec(k, lens[i]), test_vec_kv(k->level, lens[i]);
        for (int dt = 0; dt < HG_DTYPE_COUNT; dt++) {
            const bool q = dt == HG_DTYPE_Q8_0 || dt == HG_DTYPE_Q4_0;
            const int64_t *L = q ? qlens : lens;
            const size_t nl = q ? sizeof qlens / sizeof qlens[0] : sizeof lens / sizeof lens[0];
            for (size_t i = 0; i < nl; i++) {
                const int64_t n_out = touts[i % 8], T = Ts[i % 10];
                check_matmul(k, (hg_dtype)dt, n_out, L[i], T);
                check_matmul(k, (hg_dtype)dt, touts[(i + 3) % 8], L[i], Ts[(i + 5) % 10]);
            }
            /* every T against one shape that has row, lane and K-block tails */
            for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) check_matmul(k, (hg_dtype)dt, 29, q ? 288 : 275, Ts[i]);
            /* the blocked path: T leaving every remainder of the AVX2 6-position tile (9 = 6+3, 13, 17 =
             * 12+5, 31, 33, 100 = 96+4; 0 from 131 = 66+65 above) and passes of at most 128 (257 = 86+86+85),
             * row counts around the 16-row group (16, 17, 31, 50, 83) and K blocks of 256 with tails
             * (float n_in 1, 7, 257, 531; quantized 32 .. 544). Half the products (50 x 531 x 31 ...) cross
             * HG_PAR_MIN_MACS, so the 1/2/3-thread check in check_matmul splits 1 to 6 row groups unevenly
             * over the team (some threads get none). */
            static const int64_t gT[] = {9, 13, 17, 31, 33, 100, 257};
            static const int64_t gout[] = {16, 17, 31, 50, 83};
            static const int64_t gin[] = {1, 7, 257, 531}, gqin[] = {32, 256, 288, 544};
            for (size_t i = 0; i < sizeof gT / sizeof gT[0]; i++)
                for (size_t j = 0; j < 4; j++) {
                    const int64_t n_in = q ? gqin[(i + j) % 4] : gin[(i + j) % 4];
                    check_matmul(k, (hg_dtype)dt, gout[(i + 2 * j) % 5], n_in, gT[i]);
                }
            /* the AVX-512 blocked kernel (gemm_avx512.c): row counts around its 32-row groups (32, 33, 47,
             * 79 = 64+15, 113 = 96+17, 128), T leaving the remainders of its 12-position tile the shapes
             * above miss (0, 2, 3, 6, 8, 10, 11), and its passes of at most 1 MiB of the x K slice
             * (T = 1025 at kc = 256: two passes, 513 + 512) */
            static const int64_t rT[] = {10, 11, 12, 14, 18, 20, 22, 23, 24, 15, 16, 21};
            static const int64_t rout[] = {32, 33, 47, 79, 113, 128};
            static const int64_t rin[] = {16, 300, 513}, rqin[] = {64, 320, 512};
            for (size_t i = 0; i < sizeof rT / sizeof rT[0]; i++)
                check_matmul(k, (hg_dtype)dt, rout[i % 6], q ? rqin[i % 3] : rin[i % 3], rT[i]);
            check_matmul(k, (hg_dtype)dt, 33, q ? 288 : 257, 1025);
            /* the AVX2 level's AVX-VNNI kernel (gemm_q8_avxvnni.c) walks K in blocks of 32 quant blocks:
             * 67 blocks = 2 K blocks + 3 (Q4_0: an odd tail), 17 and 40 rows (16-row groups + a partial
             * one), T = 9 (6 + 3) and 20 (3 x 6 + 2) */
            if (q) {
                check_matmul(k, (hg_dtype)dt, 17, 32 * 67, 9);
                check_matmul(k, (hg_dtype)dt, 40, 32 * 67, 20);
            }
            /* batch and row independence: 37 rows cross the 16-row work items; float rows of 1300 =
             * 2 x 512 + 276 inputs cross the K chunks of the AVX-512 T >= 2 path (a masked tail in the
             * last); quantized rows of 1 block, of a group of 32 + 5 blocks, and of a whole activation
             * piece (HG_QX_PIECE) */
            static const int64_t bin[] = {1, 17, 1300}, bqin[] = {32, 32 * 37, HG_QX_PIECE};
            for (size_t i = 0; i < 3; i++) check_batch_rows(k, (hg_dtype)dt, i == 0 ? 3 : 37, q ? bqin[i] : bin[i]);
            /* packed weights: row counts around the 32- and 16-row groups, K of 1-3 blocks (an odd pair),
             * a whole K block of 16 and of 32 blocks, and tails past them */
            static const int64_t pout[] = {1, 31, 33, 70}, pin[] = {32, 96, 512, 544, 1024, 1184};
            for (size_t i = 0; i < 6; i++) check_packed(k, (hg_dtype)dt, pout[i % 4], pin[i]);
            /* packed bf16 takes any K: 1, 17 and 1300 inputs (no multiple of 16 or 32) */
            if (!q)
                for (size_t i = 0; i < 3; i++) check_packed(k, (hg_dtype)dt, pout[i + 1], (int64_t[]){1, 17, 1300}[i]);
            /* packed bf16 groups walked together at one and two positions (four, then two, then one at
             * a grab's or the rows' end): 293 rows (AVX-512: 9 full groups of 32 and a partial one, one
             * grab); 423 rows at K = 1184 (AVX-512: 13 and a partial one in grabs of 6) */
            check_packed(k, (hg_dtype)dt, 32 * 9 + 5, 64);
            check_packed(k, (hg_dtype)dt, 32 * 13 + 7, 1184);
        }
        /* out of memory for the large Q8X buffer (T = 8 x 4096 inputs > the stack part): the product
         * is still made, by the portable kernel, and equals it bit for bit */
        for (int dt = HG_DTYPE_Q8_0; dt <= HG_DTYPE_Q4_0; dt++)
            check_no_memory(k, &hg_kern_scalar, (hg_dtype)dt, 5, 4096, 8, "the Q8X buffer");
#if defined(__x86_64__)
        /* out of memory in a blocked kernel that needs a buffer (AMX, vdpbf16ps, VNNI, AVX-VNNI; T =
         * gemm_min_t, the first T the dispatch sends there; bf16 1024 inputs put AMX's x parts beyond its
         * stack buffer): the plain table of the level (AVX-512 or AVX2) makes the product */
        const hg_kern_table *plain = k->level == HG_CPU_AVX512 ? &hg_kern_avx512 : k->level == HG_CPU_AVX2 ? &hg_kern_avx2 : NULL;
        for (int dt = 0; dt < HG_DTYPE_COUNT && plain; dt++)
            if (k->gemm[dt] && k->gemm[dt] != plain->gemm[dt])
                check_no_memory(k, plain, (hg_dtype)dt, 37, 1024, hg_gemm_min_t(k, (hg_dtype)dt),
                                "the blocked kernel's buffer");
        if (k->amx) {
            check_amx_chunks(37, 300, 40);
            check_amx_chunks(50, 1024, 17);
        }
#endif
        fprintf(stderr, "  %s level: %s\n", hg_cpu_level_name(k->level),
                hg_test_failures == before ? "all kernels match the reference" : "FAILURES");
    }
    return hg_test_finish("test_kernels");
}
