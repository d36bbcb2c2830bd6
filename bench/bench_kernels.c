/*
 * bench_kernels.c — `bench_kernels [--quick | --prefill | --prefill-quick | --prefill-avx2]`: checks hg_matmul against the scalar reference, then
 * times it per weight dtype at the shapes that matter and prints the roofline ratios.
 *
 *   decode  T = 1 and T = 8 on W [4h+... , h]-sized matrices (h = 5280, Huginn's MLP up-projection
 *           [2·17920, 5280]: 189 M weights; each call reads another copy, the copies together 2.5x the
 *           last-level cache, so the weights come from memory even on a 300 MB L3): GB/s of weights read, as a
 *           fraction of the streaming bandwidth measured right before (the host switches between
 *           bandwidth states, so each timing gets its own measurement), and the batch-8 speedup;
 *   prefill T = 128 on W [5280, 5280]: GFLOP/s as a fraction of the FP32 FMA peak.
 *   --prefill[-quick]: the blocked kernels alone at T = 128 (full Huginn-0125 layer shapes and the
 *           1024-wide MLP shapes; -quick: 5280x5280 only), the dot kernels against the widening one,
 *           beside the FMA and BF16-dot peaks, then mv vs blocked per T (see bench_prefill).
 *   --prefill-avx2: the AVX2 level's Q8_0/Q4_0 prefill, AVX-VNNI against the widening kernel and mv
 *           (see bench_prefill_avx2).
 * Each timing is the best of several calls (after a warm-up call). Checks compare a 64-row view of W
 * against hg_matmul_ref with test_kernels.c's derived tolerance bound (here simplified to a relative
 * 2e-2 for quantized activations, 1e-4 otherwise, of Σ|x·w|) and stop the program on a mismatch.
 */
#include "roofline.h"

#include "kernels/dispatch.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static size_t w_bytes(hg_dtype dt, int64_t n) {
    return dt == HG_DTYPE_F32    ? (size_t)n * 4
           : dt == HG_DTYPE_Q8_0 ? (size_t)(n / 32) * sizeof(hg_block_q8_0)
           : dt == HG_DTYPE_Q4_0 ? (size_t)(n / 32) * sizeof(hg_block_q4_0)
                                 : (size_t)n * 2;
}

/* A random [n_out, n_in] weight of dtype dt (filled row block by row block to bound the temp). */
static hg_tensor make_w(hg_dtype dt, int64_t n_out, int64_t n_in, hg_rng *rng, void **owned) {
    hg_tensor w;
    memset(&w, 0, sizeof w);
    w.dtype = dt;
    w.n_dims = 2;
    w.ne[0] = n_out;
    w.ne[1] = n_in;
    w.nbytes = w_bytes(dt, n_out * n_in);
    uint8_t *p = hg_malloc(w.nbytes);
    float *row = hg_malloc((size_t)n_in * sizeof(float));
    if (!p || !row) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
    for (int64_t o = 0; o < n_out; o++) {
        for (int64_t i = 0; i < n_in; i++) row[i] = (float)(hg_rng_uniform(rng) - 0.5) * 0.1f;
        uint8_t *dst = p + w_bytes(dt, o * n_in);
        switch (dt) {
        case HG_DTYPE_F32: memcpy(dst, row, (size_t)n_in * 4); break;
        case HG_DTYPE_BF16:
            for (int64_t i = 0; i < n_in; i++) ((uint16_t *)dst)[i] = hg_f32_to_bf16(row[i]);
            break;
        case HG_DTYPE_F16:
            for (int64_t i = 0; i < n_in; i++) ((uint16_t *)dst)[i] = hg_f32_to_f16(row[i]);
            break;
        case HG_DTYPE_Q8_0: hg_quantize_row_q8_0(row, dst, n_in); break;
        default: hg_quantize_row_q4_0(row, dst, n_in); break;
        }
    }
    hg_free(row);
    w.data = p;
    *owned = p;
    return w;
}

/* Table k's product on a 64-row view of w against the reference (stops the program on a mismatch). */
static void check_with(const hg_kern_table *k, const hg_tensor *w, const float *x, int64_t T) {
    hg_tensor v = *w;
    v.ne[0] = hg_min_i64(64, w->ne[0]);
    const int64_t n = v.ne[0], n_in = w->ne[1];
    float *y = hg_malloc((size_t)(T * n) * 4), *yr = hg_malloc((size_t)(T * n) * 4), *row = hg_malloc((size_t)n_in * 4);
    for (int64_t i = 0; i < T * n; i++) y[i] = NAN;
    hg_matmul_with(k, y, x, &v, T);
    hg_matmul_ref(yr, x, &v, T);
    const double rel = (w->dtype == HG_DTYPE_Q8_0 || w->dtype == HG_DTYPE_Q4_0) ? 2e-2 : 1e-4;
    for (int64_t o = 0; o < n; o++) {
        hg_tensor_row_f32(&v, o, row);
        for (int64_t t = 0; t < T; t++) {
            double s = 0;
            for (int64_t i = 0; i < n_in; i++) s += fabs((double)row[i] * (double)x[t * n_in + i]);
            const double d = fabs((double)y[t * n + o] - (double)yr[t * n + o]);
            if (!(d <= rel * s + 1e-30)) {
                fprintf(stderr, "bench_kernels: %s T=%lld row %lld: got %g want %g: kernel is wrong, not timing it\n",
                        hg_dtype_name(w->dtype), (long long)T, (long long)o, (double)y[t * n + o],
                        (double)yr[t * n + o]);
                exit(1);
            }
        }
    }
    hg_free(y);
    hg_free(yr);
    hg_free(row);
}

static void check(const hg_tensor *w, const float *x, int64_t T) { check_with(hg_kern(), w, x, T); }

/* Best seconds of `reps` calls after one warm-up, call r on copy r mod n_w of the weight: with
 * n_w copies larger together than the last-level cache, every call streams its weight from memory
 * (one matrix alone can fit in a large L3 and would be timed from cache). */
static double time_matmul(float *y, const float *x, const hg_tensor *w, int n_w, int64_t T, int reps) {
    hg_matmul(y, x, &w[0], T);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = hg_time_s();
        hg_matmul(y, x, &w[(r + 1) % n_w], T);
        const double dt = hg_time_s() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

/* The last-level cache in bytes (sysfs; 64 MiB if unknown). */
static size_t llc_bytes(void) {
    size_t best = 0;
    for (int i = 0; i < 8; i++) {
        char path[96], buf[32] = {0};
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            size_t v = strtoull(buf, &end, 10);
            if (*end == 'K') v <<= 10;
            else if (*end == 'M') v <<= 20;
            if (v > best) best = v;
        }
        fclose(f);
    }
    return best ? best : (size_t)64 << 20;
}

/* Best seconds of `reps` calls of table k (after one warm-up). */
static double time_with(const hg_kern_table *k, float *y, const float *x, const hg_tensor *w, int64_t T, int reps) {
    hg_matmul_with(k, y, x, w, T);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = hg_time_s();
        hg_matmul_with(k, y, x, w, T);
        const double dt = hg_time_s() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

/* Best seconds of `reps` calls of the blocked kernel f (after one warm-up). */
static double time_gemm(hg_gemm_fn f, float *y, const float *x, const hg_tensor *w, int64_t T, int reps) {
    f(y, x, w, T);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = hg_time_s();
        f(y, x, w, T);
        const double dt = hg_time_s() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

#if defined(__x86_64__)
/* One row of a "where the blocked path starts" table: mv time / blocked time per T, best of 3 x 3. */
static void sweep_start(const hg_kern_table *mv, void (*gemm)(float *, const float *, const hg_tensor *, int64_t),
                        float *y, const float *x, const hg_tensor *w) {
    static const int64_t Ts[] = {9, 12, 16, 20, 24, 32, 48, 64};
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
        double sm = 1e30, sb = 1e30;
        for (int r = 0; r < 3; r++) {
            sm = fmin(sm, time_with(mv, y, x, w, Ts[i], 3));
            sb = fmin(sb, time_gemm(gemm, y, x, w, Ts[i], 3));
        }
        printf(" T=%lld:%.2f", (long long)Ts[i], sm / sb);
    }
    printf("\n");
}
#endif

/* --prefill (x86-64 with AVX-512): T = 128 at the full Huginn-0125 layer shapes and the 1024-wide
 * model's MLP shapes; the widening FMA kernel (gemm_avx512.c, "old") against the dot kernels: bf16 on
 * vdpbf16ps with x in three exact parts ("dot3", where AVX512-BF16) and, for reference only, two
 * parts ("dot2": x to 16 bits, outside the golden tolerance) and the fast mode's one part ("fast": x
 * rounded to bf16, HG_BF16DOT=fast); Q8_0/Q4_0 on VNNI ("vnni"). Timed
 * alternately, best of 3 in 3 rounds; GFLOP/s also as fractions of the FP32 FMA and BF16-dot peaks
 * measured right before each shape (the host is shared: ratios, not absolutes). Then where the
 * blocked path starts: mv in groups of 8 vs the blocked kernel per T (gemm_min_t). */
static void bench_prefill(hg_rng *rng, bool quick) {
#if defined(__x86_64__)
    static const int64_t shapes[][2] = {{5280, 5280}, {17920, 5280}, {5280, 17920}, {7168, 1024}, {1024, 3584}};
    static const hg_dtype dts[] = {HG_DTYPE_BF16, HG_DTYPE_Q8_0, HG_DTYPE_Q4_0};
    const int64_t T = 128, n_shapes = quick ? 1 : 5;
    if (!hg_kern_level(HG_CPU_AVX512)) {
        printf("--prefill: no AVX-512 here\n");
        return;
    }
    const bool bf16 = hg_cpu_features()->avx512bf16;
    float *x = hg_malloc((size_t)(T * 17920) * 4), *y = hg_malloc((size_t)(T * 17920) * 4);
    for (int64_t i = 0; i < T * 17920; i++) x[i] = (float)(hg_rng_uniform(rng) - 0.5);
    printf("\nprefill T=%lld (kernels in use: %s)\n", (long long)T, hg_kernels_name());
    printf("%-6s %-12s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %8s\n", "dtype", "W shape", "FMApk", "BF16pk", "old GF",
           "new GF", "dot2 GF", "fast GF", "old%FMA", "new%FMA", "new%BF16", "new/old", "fast%BF16");
    for (int64_t si = 0; si < n_shapes; si++)
        for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
            const bool isbf = dts[d] == HG_DTYPE_BF16;
            if (isbf && !bf16) continue;
            void *owned;
            hg_tensor w = make_w(dts[d], shapes[si][0], shapes[si][1], rng, &owned);
            check(&w, x, T);
            const double fpk = hg_roof_fma_peak(), bpk = bf16 ? hg_roof_bf16_peak() : 0;
            double so = 1e30, sn = 1e30, s2 = 1e30, s1 = 1e30;
            for (int r = 0; r < 3; r++) {
                so = fmin(so, time_gemm(hg_gemm_rows_avx512, y, x, &w, T, 3));
                sn = fmin(sn, time_gemm(isbf ? hg_gemm_bf16_dot : hg_gemm_q8_vnni, y, x, &w, T, 3));
                if (isbf) s2 = fmin(s2, time_gemm(hg_gemm_bf16_dot2, y, x, &w, T, 3));
                if (isbf) s1 = fmin(s1, time_gemm(hg_gemm_bf16_dot1, y, x, &w, T, 3));
            }
            const double fl = 2.0 * (double)T * (double)shapes[si][0] * (double)shapes[si][1] / 1e9;
            char shape[32];
            snprintf(shape, sizeof shape, "%lldx%lld", (long long)shapes[si][0], (long long)shapes[si][1]);
            printf("%-6s %-12s %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %6.0f%% %6.0f%% %6.0f%% %6.2fx %7.0f%%\n",
                   hg_dtype_name(dts[d]), shape, fpk, bpk, fl / so, fl / sn, isbf ? fl / s2 : 0.0, isbf ? fl / s1 : 0.0,
                   100.0 * fl / so / fpk, 100.0 * fl / sn / fpk, bpk > 0 ? 100.0 * fl / sn / bpk : 0.0, so / sn,
                   isbf && bpk > 0 ? 100.0 * fl / s1 / bpk : 0.0);
            hg_free(owned);
        }
    printf("\nwhere the blocked path starts: mv time / blocked time per T (dot kernels; bf16 fast: one part)\n");
    static const int64_t ms[][2] = {{5280, 5280}, {1024, 1024}};
    for (int si = 0; si < 2; si++)
        for (size_t d = 0; d <= sizeof dts / sizeof dts[0]; d++) { /* the last round: bf16, fast mode */
            const bool fast = d == sizeof dts / sizeof dts[0];
            const hg_dtype dt = fast ? HG_DTYPE_BF16 : dts[d];
            const bool isbf = dt == HG_DTYPE_BF16;
            if (isbf && !bf16) continue;
            void *owned;
            hg_tensor w = make_w(dt, ms[si][0], ms[si][1], rng, &owned);
            hg_kern_table mv = hg_kern_avx512;
            mv.gemm[dt] = NULL;
            printf("%-6s %lldx%-6lld", fast ? "bf16f" : hg_dtype_name(dt), (long long)ms[si][0], (long long)ms[si][1]);
            void (*gemm)(float *, const float *, const hg_tensor *, int64_t) =
                fast ? hg_gemm_bf16_dot1 : isbf ? hg_gemm_bf16_dot : hg_gemm_q8_vnni;
            sweep_start(&mv, gemm, y, x, &w);
            hg_free(owned);
        }
    hg_free(x);
    hg_free(y);
#else
    (void)rng, (void)quick;
    printf("--prefill: x86-64 only\n");
#endif
}

/* --prefill-avx2 (x86-64 with AVX-VNNI): the AVX2 level's Q8_0/Q4_0 prefill at T = 128 on 5280x5280
 * and 1024x3584: the widening FMA kernel (gemm_avx2 in matmul_avx2.c, "old"), the AVX-VNNI kernel
 * (gemm_q8_avxvnni.c, "new") and the matrix-vector path in groups of 8 ("mv"), plus the AVX-512 VNNI
 * kernel where that level runs (reference only); timed alternately, best of 3 in 3 rounds, beside the
 * 256-bit FMA peak measured right before each shape. Then where the blocked path starts: mv time /
 * AVX-VNNI time per T (the table's gemm_min_t). Tables are taken with hg_kern_level, so HG_CPU is not
 * needed (HG_BF16DOT=0 turns the new kernel off in the dispatch, not here). */
static void bench_prefill_avx2(hg_rng *rng) {
#if defined(__x86_64__)
    static const int64_t shapes[][2] = {{5280, 5280}, {1024, 3584}};
    static const hg_dtype dts[] = {HG_DTYPE_Q8_0, HG_DTYPE_Q4_0};
    const int64_t T = 128;
    if (!hg_kern_level(HG_CPU_AVX2) || !hg_cpu_features()->avxvnni) {
        printf("--prefill-avx2: no AVX2 + AVX-VNNI here\n");
        return;
    }
    const bool z = hg_kern_level(HG_CPU_AVX512) != NULL;
    hg_kern_table vnni = hg_kern_avx2_vnni, mv = hg_kern_avx2;
    vnni.gemm_min_t[HG_DTYPE_Q8_0] = vnni.gemm_min_t[HG_DTYPE_Q4_0] = HG_MV_T + 1; /* the checks take the kernel */
    mv.gemm[HG_DTYPE_Q8_0] = mv.gemm[HG_DTYPE_Q4_0] = NULL;
    float *x = hg_malloc((size_t)(T * 5280) * 4), *y = hg_malloc((size_t)(T * 17920) * 4);
    for (int64_t i = 0; i < T * 5280; i++) x[i] = (float)(hg_rng_uniform(rng) - 0.5);
    printf("\nAVX2 level, prefill T=%lld (GFLOP/s; ymmFMA: the 256-bit FMA peak measured before each shape)\n",
           (long long)T);
    printf("%-6s %-10s %7s %7s %7s %7s %7s %8s %8s %7s %7s\n", "dtype", "W shape", "ymmFMA", "mv GF", "old GF", "new GF",
           "z GF", "old%ymm", "new%ymm", "new/old", "new/mv");
    for (size_t si = 0; si < 2; si++)
        for (size_t d = 0; d < 2; d++) {
            void *owned;
            hg_tensor w = make_w(dts[d], shapes[si][0], shapes[si][1], rng, &owned);
            check_with(&hg_kern_avx2, &w, x, T);
            check_with(&vnni, &w, x, T);
            check_with(&vnni, &w, x, 9);
            const double pk = hg_roof_fma_peak_avx2();
            double sm = 1e30, so = 1e30, sn = 1e30, sz = 1e30;
            for (int r = 0; r < 3; r++) {
                sm = fmin(sm, time_with(&mv, y, x, &w, T, 2));
                so = fmin(so, time_gemm(hg_kern_avx2.gemm[dts[d]], y, x, &w, T, 3));
                sn = fmin(sn, time_gemm(hg_gemm_q8_avxvnni, y, x, &w, T, 3));
                if (z) sz = fmin(sz, time_gemm(hg_gemm_q8_vnni, y, x, &w, T, 3));
            }
            const double fl = 2.0 * (double)T * (double)shapes[si][0] * (double)shapes[si][1] / 1e9;
            char shape[32];
            snprintf(shape, sizeof shape, "%lldx%lld", (long long)shapes[si][0], (long long)shapes[si][1]);
            printf("%-6s %-10s %7.1f %7.1f %7.1f %7.1f %7.1f %7.0f%% %7.0f%% %6.2fx %6.2fx\n", hg_dtype_name(dts[d]), shape,
                   pk, fl / sm, fl / so, fl / sn, z ? fl / sz : 0.0, 100.0 * fl / so / pk, 100.0 * fl / sn / pk, so / sn,
                   sm / sn);
            hg_free(owned);
        }
    printf("\nAVX2 level, decode (mv) on [17920, 5280]: vpmaddubsw+vpmaddwd time / vpdpbusd time (ms: plain, vnni)\n");
    for (size_t d = 0; d < 2; d++) {
        void *owned;
        hg_tensor w = make_w(dts[d], 17920, 5280, rng, &owned);
        check_with(&hg_kern_avx2_vnni, &w, x, 1);
        check_with(&hg_kern_avx2_vnni, &w, x, 8);
        printf("%-6s", hg_dtype_name(dts[d]));
        static const int64_t dT[] = {1, 2, 4, 8};
        for (size_t i = 0; i < 4; i++) {
            double sp = 1e30, sv = 1e30;
            for (int r = 0; r < 3; r++) {
                sp = fmin(sp, time_with(&hg_kern_avx2, y, x, &w, dT[i], 3));
                sv = fmin(sv, time_with(&hg_kern_avx2_vnni, y, x, &w, dT[i], 3));
            }
            printf(" T=%lld:%.2f (%.2f, %.2f)", (long long)dT[i], sp / sv, sp * 1e3, sv * 1e3);
        }
        printf("\n");
        hg_free(owned);
    }
    printf("\nwhere the blocked path starts (AVX2 level): mv time / AVX-VNNI time per T\n");
    static const int64_t ms[][2] = {{5280, 5280}, {1024, 1024}};
    for (int si = 0; si < 2; si++)
        for (size_t d = 0; d < 2; d++) {
            void *owned;
            hg_tensor w = make_w(dts[d], ms[si][0], ms[si][1], rng, &owned);
            printf("%-6s %lldx%-6lld", hg_dtype_name(dts[d]), (long long)ms[si][0], (long long)ms[si][1]);
            sweep_start(&mv, hg_gemm_q8_avxvnni, y, x, &w);
            hg_free(owned);
        }
    hg_free(x);
    hg_free(y);
#else
    (void)rng;
    printf("--prefill-avx2: x86-64 only\n");
#endif
}

#define MAX_COPIES 32

int main(int argc, char **argv) {
    const bool quick = argc > 1 && !strcmp(argv[1], "--quick");
    if (argc > 1 && !strcmp(argv[argc - 1], "--prefill-avx2")) {
        hg_rng r;
        hg_rng_seed(&r, 7);
        printf("bench_kernels --prefill-avx2: %d threads\n", omp_get_max_threads());
        bench_prefill_avx2(&r);
        return 0;
    }
    if (argc > 1 && !strncmp(argv[argc - 1], "--prefill", 9)) { /* --prefill, --prefill-quick */
        hg_rng r;
        hg_rng_seed(&r, 7);
        printf("bench_kernels --prefill: %d threads\n", omp_get_max_threads());
        bench_prefill(&r, !strcmp(argv[argc - 1], "--prefill-quick"));
        return 0;
    }
    const int64_t h = 5280, n_up = quick ? 8192 : 2 * 17920, Tp = 128;
    hg_rng rng;
    hg_rng_seed(&rng, 7);
    const size_t bw_bytes = (size_t)1 << 30;
    void *bwbuf = hg_roof_buffer(bw_bytes);
    float *x = hg_malloc((size_t)(Tp * h) * 4), *y = hg_malloc((size_t)(Tp * n_up) * 4);
    if (!bwbuf || !x || !y) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        return 1;
    }
    for (int64_t i = 0; i < Tp * h; i++) x[i] = (float)(hg_rng_uniform(&rng) - 0.5);
    const double fma_peak = hg_roof_fma_peak(), bf16_peak = hg_roof_bf16_peak();
    printf("bench_kernels: %d threads, kernels %s; FP32 FMA peak %.1f GFLOP/s, BF16 dot peak %.1f GFLOP/s\n",
           omp_get_max_threads(), hg_cpu_level_name(hg_kern()->level), fma_peak, bf16_peak);
    printf("\n%-6s %-7s %-14s %9s %9s %9s %8s\n", "dtype", "op", "W shape", "ms", "GB/s", "meas.BW", "ratio");
    static const hg_dtype dts[] = {HG_DTYPE_BF16, HG_DTYPE_Q8_0, HG_DTYPE_Q4_0, HG_DTYPE_F16, HG_DTYPE_F32};
    double t1[5] = {0}, t8[5] = {0};
    for (int d = 0; d < 5; d++) {
        const hg_dtype dt = dts[d];
        const int64_t n_out = dt == HG_DTYPE_F32 ? n_up / 2 : n_up; /* f32: the same bytes */
        void *owned[MAX_COPIES];
        hg_tensor w[MAX_COPIES];
        w[0] = make_w(dt, n_out, h, &rng, &owned[0]);
        check(&w[0], x, 1);
        check(&w[0], x, 8);
        int n_w = 1; /* copies until they exceed 2.5x the last-level cache */
        while (n_w < MAX_COPIES && (double)n_w * (double)w[0].nbytes < 2.5 * (double)llc_bytes()) {
            w[n_w] = w[0];
            owned[n_w] = hg_malloc(w[0].nbytes);
            if (!owned[n_w]) break;
            memcpy(owned[n_w], owned[0], w[0].nbytes);
            w[n_w].data = owned[n_w];
            n_w++;
        }
        for (int pass = 0; pass < 2; pass++) {
            const int64_t T = pass ? 8 : 1;
            const double bw = hg_roof_bandwidth(bwbuf, bw_bytes, 3);
            const double s = time_matmul(y, x, w, n_w, T, 2 * n_w);
            const double gbs = (double)w[0].nbytes / s / 1e9;
            char shape[32];
            snprintf(shape, sizeof shape, "%lldx%lld", (long long)n_out, (long long)h);
            printf("%-6s %-7s %-14s %9.3f %9.1f %9.1f %7.0f%%\n", hg_dtype_name(dt), pass ? "mv T=8" : "mv T=1", shape,
                   s * 1e3, gbs, bw, 100.0 * gbs / bw);
            (pass ? t8 : t1)[d] = s;
        }
        for (int i = 0; i < n_w; i++) hg_free(owned[i]);
    }
    printf("\nbatch-8 decode matmul: aggregate positions/s vs batch 1 (target >= 5x):");
    for (int d = 0; d < 5; d++) printf(" %s %.2fx", hg_dtype_name(dts[d]), 8.0 * t1[d] / t8[d]);
    printf("\n\n%-6s %-7s %-14s %9s %9s %9s %8s\n", "dtype", "op", "W shape", "ms", "GFLOP/s", "FMApeak", "ratio");
    for (int d = 0; d < 5; d++) {
        const hg_dtype dt = dts[d];
        void *owned;
        hg_tensor w = make_w(dt, h, h, &rng, &owned);
        check(&w, x, Tp);
        const double s = time_matmul(y, x, &w, 1, Tp, 3);
        const double gf = 2.0 * (double)Tp * (double)h * (double)h / s / 1e9;
        printf("%-6s %-7s %lldx%-9lld %9.2f %9.1f %9.1f %7.0f%%\n", hg_dtype_name(dt), "T=128", (long long)h,
               (long long)h, s * 1e3, gf, fma_peak, 100.0 * gf / fma_peak);
        hg_free(owned);
    }
    hg_free(x);
    hg_free(y);
    free(bwbuf);
    return 0;
}
