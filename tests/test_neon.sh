#!/usr/bin/env bash
# test_neon.sh — the aarch64 NEON kernels (src/kernels/*_neon.c) proved under emulation: cross-compiles
# test_kernels.c with only what it links (src/kernels without the x86 files and src/base;
# no CMake, no cJSON/PCRE2/utf8proc, which have no arm64 builds here) and runs it with qemu-aarch64:
#   1. qemu's default CPU (it has the dot product, HWCAP_ASIMDDP): the NEON level with SDOT dots;
#   2. -cpu cortex-a53 (Armv8.0, no SDOT): the NEON level with SMULL dots;
#   3. HG_CPU=scalar: the portable path is the one chosen on aarch64 (test_kernels checks hg_kern()
#      follows HG_CPU; it still compares every level it can run, NEON included).
#   4. where clang is installed: every file built with clang for aarch64 without a warning, and a clang
#      build run as in 1 (clang declares the dot product differently from gcc: matmul_neon.c HG_VDOT).
# Each run must exit 0 and print that its level ran. Speed means nothing under qemu; only results count.
# Needs gcc-aarch64-linux-gnu and qemu-user (scripts/setup.sh installs them); without them it prints
# SKIP and exits 77, which tests/CMakeLists.txt registers as CTest's skip code.
set -uo pipefail
SRC="${HG_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
CC="${HG_AARCH64_CC:-aarch64-linux-gnu-gcc}"
SYSROOT="${HG_AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}"
if ! command -v "$CC" >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1 || [ ! -d "$SYSROOT" ]; then
  echo "SKIP: needs $CC, qemu-aarch64 and $SYSROOT (apt-get install gcc-aarch64-linux-gnu qemu-user)"
  exit 77
fi
OUT="${HG_TEST_TMP:-${TMPDIR:-/tmp}}/test_neon"
mkdir -p "$OUT" || exit 1
BIN="$OUT/test_kernels_aarch64"
rm -f "$BIN"

# the project's warning set (CMakeLists.txt), as errors; C11 without extensions, so no FMA contraction
srcs=("$SRC/tests/test_kernels.c" "$SRC/tests/harness.c")
for f in "$SRC"/src/kernels/*.c "$SRC"/src/base/*.c; do
  case "$f" in *_avx2.c | *_avxvnni.c | *_avx512.c) continue ;; esac
  srcs+=("$f")
done
if ! "$CC" -std=c11 -O2 -g -fopenmp -fno-fast-math -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
  -Wmissing-prototypes -Wdouble-promotion -Wcast-qual -Wno-unused-parameter -Werror \
  -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DHG_TESTING=1 \
  -I"$SRC/include" -I"$SRC/src" -I"$SRC/tests" "${srcs[@]}" -lm -o "$BIN"; then
  echo "FAIL: cross-compiling test_kernels for aarch64"
  exit 1
fi

fail=0
# run NAME EXPECT [qemu args...] -- [env assignments...]: the test must pass and its log contain EXPECT
run() {
  local name="$1" expect="$2"; shift 2
  local qargs=() envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do qargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  envs=("$@")
  local log="$OUT/$name.log"
  env OMP_WAIT_POLICY=PASSIVE "${envs[@]}" qemu-aarch64 "${qargs[@]}" -L "$SYSROOT" "$BIN" >"$log" 2>&1
  local rc=$?
  echo "== $name (rc $rc)"
  grep -E '^cpu:|level: |test_kernels:' "$log"
  if [ $rc -ne 0 ]; then
    grep -m 20 FAIL "$log"
    echo "FAIL: $name: test_kernels exited $rc (log: $log)"
    fail=1
  elif ! grep -q -- "$expect" "$log"; then
    echo "FAIL: $name: expected '$expect' in the log (log: $log)"
    fail=1
  fi
}
run neon-sdot "neon dotprod 1)" --
run neon-smull "neon dotprod 0)" -cpu cortex-a53 --
run scalar "using scalar" -- HG_CPU=scalar
for name in neon-sdot neon-smull; do
  grep -q "neon level: all kernels match the reference" "$OUT/$name.log" ||
    { echo "FAIL: $name: the neon level did not run clean"; fail=1; }
done

# clang, where installed: the same sources build warning-free for aarch64 (its OpenMP, compile only:
# no arm64 libomp here), and a clang build runs clean under qemu with SDOT. That build links gcc's
# libgomp for the omp_* calls, with which clang leaves the pragmas inert (single-threaded, so the
# variables only the pragmas read are unused: -Wno-unused-variable there only).
if command -v clang >/dev/null 2>&1; then
  flags=(-std=c11 -O2 -fno-fast-math -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
         -Wdouble-promotion -Wcast-qual -Wno-unused-parameter -Werror -D_POSIX_C_SOURCE=200809L
         -D_DEFAULT_SOURCE -DHG_TESTING=1 -I"$SRC/include" -I"$SRC/src" -I"$SRC/tests")
  for f in "${srcs[@]}"; do
    if ! clang --target=aarch64-linux-gnu -fopenmp "${flags[@]}" -c "$f" -o "$OUT/clang.o" 2>"$OUT/clang.err"; then
      echo "FAIL: clang for aarch64: $f"; head -20 "$OUT/clang.err"; fail=1
    fi
  done
  if clang --target=aarch64-linux-gnu -fopenmp=libgomp "${flags[@]}" -Wno-unused-variable -g "${srcs[@]}" -lm \
       -o "$OUT/test_kernels_aarch64_clang" 2>"$OUT/clang.err"; then
    BIN="$OUT/test_kernels_aarch64_clang"
    run clang-neon-sdot "neon dotprod 1)" --
    grep -q "neon level: all kernels match the reference" "$OUT/clang-neon-sdot.log" ||
      { echo "FAIL: clang-neon-sdot: the neon level did not run clean"; fail=1; }
  else
    echo "FAIL: linking the clang aarch64 build"; head -20 "$OUT/clang.err"; fail=1
  fi
else
  echo "clang not installed: the clang aarch64 build is not checked"
fi
[ $fail -eq 0 ] && echo "test_neon: aarch64 test_kernels passed (SDOT, SMULL and scalar)"
exit $fail
