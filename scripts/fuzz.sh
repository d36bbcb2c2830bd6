#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets of fuzz/ (clang, ASan + UBSan, build-fuzz/) and run one.
# Usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]   (TARGET: safetensors, config, gguf, ...
#        or fuzz_safetensors; `scripts/fuzz.sh list` lists them; `scripts/fuzz.sh build` only builds)
# New inputs go to build-fuzz/corpus/TARGET (the checked-in seeds in fuzz/corpus/TARGET are read, never
# written); a crash leaves build-fuzz/artifacts/TARGET/crash-* and exits 1 (libFuzzer's own 77 would
# read as "skipped" to CTest): fix it, then copy
# the input to fuzz/corpus/TARGET/crash-NAME as a regression input. Exits 77 when clang or its
# libFuzzer runtime is missing (CTest's skip code; tests/test_fuzz_smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer options]}"
target="${target#fuzz_}"
if [ "$target" = list ]; then ls fuzz/fuzz_*.c | sed 's#fuzz/fuzz_##; s#\.c$##'; exit 0; fi
if ! command -v clang >/dev/null 2>&1 ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
     clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1; then
  echo "fuzz.sh: clang with libFuzzer (-fsanitize=fuzzer) is not available; skipped" >&2
  exit 77
fi
dir=build-fuzz
# the Sanitize build type (-O1, ASan + UBSan) plus libFuzzer's coverage: clang at -O2 with the
# sanitizers took minutes per SIMD kernel file on a loaded 2-core host, and fuzzing needs no speed there
# one configure and build at a time: fuzzers started side by side each build first, and two cmake
# builds of one tree at once fail (and so, silently, did the fuzzers behind them)
mkdir -p "$dir"
exec 9>"$dir/.build.lock"
flock 9
if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Sanitize -DHG_FUZZ=ON >/dev/null
fi
cmake --build "$dir" --target fuzz -j"$(nproc)" >/dev/null
flock -u 9
[ "$target" = build ] && exit 0
seconds="${2:?usage: scripts/fuzz.sh TARGET SECONDS}"
shift 2
bin="$dir/fuzz/fuzz_$target"
[ -x "$bin" ] || { echo "fuzz.sh: no target fuzz_$target (scripts/fuzz.sh list)" >&2; exit 2; }
case "$target" in
  safetensors) dict=fuzz/dict/safetensors.dict ;;
  gguf) dict=fuzz/dict/gguf.dict ;;
  config|shard_index|tokenizer_json|tokenizer_config|train_config|trainer_state) dict=fuzz/dict/json.dict ;;
  *) dict="" ;;
esac
mkdir -p "$dir/corpus/$target" "$dir/artifacts/$target"
# the path-reading targets write every input to a file under $TMPDIR: a tmpfs makes them ~3x faster
# (the scratch folder is this run's own and goes when it ends)
base=${TMPDIR:-}
if [ -z "$base" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then base=/dev/shm; fi
TMPDIR=$(mktemp -d "${base:-/tmp}/hg-fuzz-run.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
# OMP_NUM_THREADS=1: one thread per fuzzer (several run side by side; a matmul gains nothing here)
OMP_NUM_THREADS=1 "$bin" "$dir/corpus/$target" "fuzz/corpus/$target" ${dict:+-dict=$dict} \
  -max_total_time="$seconds" -artifact_prefix="$dir/artifacts/$target/" -print_final_stats=1 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -max_len=65536 -timeout=30 -rss_limit_mb=4096 "$@"
