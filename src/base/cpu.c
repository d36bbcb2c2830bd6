/*
 * cpu.c — the CPU-feature probe behind kernel dispatch (docs/conventions.md rules 11 and 13). cpuid says what
 * the core implements; xgetbv says whether the OS saves the wider register state (an AVX-512 CPU
 * under an OS or hypervisor that does not enable zmm state must not run AVX-512 code). The result is
 * one read-only table, written once under pthread_once; HG_CPU=scalar|avx2|avx512|neon lowers the
 * level the kernels use so tests and users can check the fallback paths on a big machine.
 *
 * aarch64: Advanced SIMD is part of the base architecture, so NEON is the level whenever the kernel
 * reports it (HWCAP_ASIMD); the int8 dot product (SDOT, HWCAP_ASIMDDP, Armv8.2+) only selects faster
 * quantized dots inside that level, with bit-identical results, so it is a flag and not a level.
 * Linux is asked through getauxval; other aarch64 systems get NEON without SDOT. Elsewhere (neither
 * x86-64 nor aarch64) the probe reports the scalar level.
 *
 * AMX (x86-64, Sapphire Rapids and later): like SDOT a flag inside the AVX-512 level (the blocked
 * products of bf16 weights on BF16 tiles, gemm_amx_avx512.c, and of Q8_0/Q4_0 on INT8 tiles,
 * gemm_q8_amx_avx512.c). Linux hands out the 8 KiB tile state only on request
 * (arch_prctl ARCH_REQ_XCOMP_PERM, once per process, here); without the grant, or with HG_AMX=0 in
 * the environment, `amx` stays false and the AVX-512 kernels run.
 * Without AMX, the AVX-512 level's Q8_0/Q4_0 blocked products use VNNI's vpdpbusd (`gemm_vnni`);
 * HG_BF16DOT=1 puts bf16 on AVX512-BF16's vdpbf16ps too (`gemm_bf16dot`, where avx512bf16; slower
 * than widening on Zen 5, see matmul_avx512.c), HG_BF16DOT=fast does so on x rounded to bf16 (one
 * dot per pair, llama.cpp's precision: `gemm_bf16fast`, the fast prefill mode, never the default),
 * HG_BF16DOT=0 keeps every blocked product on the widening FMA kernels (A/B timings, fallback tests).
 *
 * AVX-VNNI (CPUID.(EAX=7,ECX=1):EAX bit 4; Intel Alder Lake and later client cores, AMD Zen 4/5): the
 * VEX-encoded 256-bit vpdpbusd, needing only the ymm state. A flag, like AMX, not a level: it selects
 * the AVX2 level's Q8_0/Q4_0 blocked products on integer dots (gemm_q8_avxvnni.c, `gemm_avxvnni`)
 * whatever level is in use, so the tests' AVX2 table on such a host is that one. HG_BF16DOT=0 turns it
 * off too: one switch for "every blocked product on the widening kernels" on every level, so A/B
 * timings and the fallback tests need one variable.
 */
#include "base/base.h"

#include <pthread.h>
#include <stdlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define HG_HAVE_X86 1
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#define HG_ARCH_REQ_XCOMP_PERM 0x1023 /* asm/prctl.h */
#define HG_XFEATURE_XTILEDATA 18
#endif
#endif
#if defined(__aarch64__)
#define HG_HAVE_ARM64 1
#if defined(__linux__)
#include <sys/auxv.h>
#endif
/* the HWCAP bits of the Linux arm64 ABI (asm/hwcap.h), spelled out for older headers */
#define HG_HWCAP_ASIMD (1ul << 1)
#define HG_HWCAP_ASIMDDP (1ul << 20)
#endif

static hg_cpu_info g_cpu; /* the one global: written once by probe(), read-only after */
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;

#ifdef HG_HAVE_X86
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void probe_x86(hg_cpu_info *c) {
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return;
    const bool osxsave = (cx >> 27) & 1, fma = (cx >> 12) & 1, f16c = (cx >> 29) & 1, avx = (cx >> 28) & 1;
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = xgetbv0();
    const bool ymm_os = (xcr0 & 0x6) == 0x6;    /* SSE + AVX state */
    const bool zmm_os = (xcr0 & 0xe6) == 0xe6;  /* + opmask, ZMM_Hi256, Hi16_ZMM */
    const bool amx_os = (xcr0 & 0x60000) == 0x60000; /* XTILECFG + XTILEDATA */
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, cx, d);
    const bool avx2 = (b >> 5) & 1;
    c->avx2 = avx2 && ymm_os;
    c->fma = fma && ymm_os;
    c->f16c = f16c && ymm_os;
    c->avx512f = ((b >> 16) & 1) && zmm_os;
    c->avx512dq = ((b >> 17) & 1) && zmm_os;
    c->avx512bw = ((b >> 30) & 1) && zmm_os;
    c->avx512vl = ((b >> 31) & 1) && zmm_os;
    c->avx512vnni = ((cx >> 11) & 1) && zmm_os;
    c->amx_bf16 = ((d >> 22) & 1) && amx_os;
    c->amx_tile = ((d >> 24) & 1) && amx_os;
    c->amx_int8 = ((d >> 25) & 1) && amx_os;
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    c->avx512bf16 = ((a1 >> 5) & 1) && zmm_os;
    c->avxvnni = ((a1 >> 4) & 1) && ymm_os;
}

/* Whether this process may use the AMX tiles (asks Linux for the tile state once). */
static bool amx_granted(void) {
#if defined(__linux__)
    return syscall(SYS_arch_prctl, HG_ARCH_REQ_XCOMP_PERM, HG_XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}
#endif

#ifdef HG_HAVE_ARM64
static void probe_arm64(hg_cpu_info *c) {
#if defined(__linux__)
    const unsigned long hw = getauxval(AT_HWCAP);
    c->neon = (hw & HG_HWCAP_ASIMD) != 0;
    c->dotprod = c->neon && (hw & HG_HWCAP_ASIMDDP) != 0;
#else
    c->neon = true; /* mandatory in AArch64; SDOT is not probed off Linux */
#endif
}
#endif

/* l belongs to the ladder this build was compiled for (base.h: one ladder per architecture). */
static bool level_on_ladder(hg_cpu_level l) {
    switch (l) {
    case HG_CPU_SCALAR: return true;
#ifdef HG_HAVE_X86
    case HG_CPU_AVX2:
    case HG_CPU_AVX512: return true;
#endif
#ifdef HG_HAVE_ARM64
    case HG_CPU_NEON: return true;
#endif
    default: return false;
    }
}

static void probe(void) {
    hg_cpu_info c;
    memset(&c, 0, sizeof c);
    c.best = HG_CPU_SCALAR;
#ifdef HG_HAVE_X86
    probe_x86(&c);
    if (c.avx2 && c.fma && c.f16c) c.best = HG_CPU_AVX2;
    if (c.best == HG_CPU_AVX2 && c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx512vnni)
        c.best = HG_CPU_AVX512;
#endif
#ifdef HG_HAVE_ARM64
    probe_arm64(&c);
    if (c.neon) c.best = HG_CPU_NEON;
#endif
    c.level = c.best;
    const char *env = getenv("HG_CPU");
    if (env) {
        for (int l = 0; l < HG_CPU_LEVEL_COUNT; l++)
            if (!strcmp(env, hg_cpu_level_name((hg_cpu_level)l)) && level_on_ladder((hg_cpu_level)l) &&
                (hg_cpu_level)l < c.best)
                c.level = (hg_cpu_level)l;
    }
#ifdef HG_HAVE_X86
    const char *amx_env = getenv("HG_AMX");
    c.amx = c.level == HG_CPU_AVX512 && c.amx_tile && c.amx_bf16 && c.amx_int8 && !(amx_env && !strcmp(amx_env, "0")) &&
            amx_granted();
    const char *dot_env = getenv("HG_BF16DOT");
    c.gemm_vnni = c.level == HG_CPU_AVX512 && !c.amx && !(dot_env && !strcmp(dot_env, "0"));
    c.gemm_bf16dot = c.gemm_vnni && c.avx512bf16 && dot_env && (!strcmp(dot_env, "1") || !strcmp(dot_env, "fast"));
    c.gemm_bf16fast = c.gemm_bf16dot && !strcmp(dot_env, "fast");
    c.gemm_avxvnni = c.avxvnni && c.best >= HG_CPU_AVX2 && !(dot_env && !strcmp(dot_env, "0"));
#endif
    g_cpu = c;
}

const hg_cpu_info *hg_cpu_features(void) {
    pthread_once(&g_cpu_once, probe);
    return &g_cpu;
}

const char *hg_cpu_level_name(hg_cpu_level l) {
    switch (l) {
    case HG_CPU_SCALAR: return "scalar";
    case HG_CPU_AVX2: return "avx2";
    case HG_CPU_AVX512: return "avx512";
    case HG_CPU_NEON: return "neon";
    default: return "?";
    }
}

bool hg_cpu_level_runs(hg_cpu_level l) {
    return (int)l >= 0 && (int)l < (int)HG_CPU_LEVEL_COUNT && level_on_ladder(l) && l <= hg_cpu_features()->best;
}
