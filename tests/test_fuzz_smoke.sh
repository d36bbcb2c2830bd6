#!/usr/bin/env bash
# test_fuzz_smoke.sh — every libFuzzer target of fuzz/ runs a few seconds under ASan + UBSan, starting
# from its checked-in seeds and crash regressions (fuzz/corpus/TARGET): a crash, a leak, undefined
# behaviour or a broken invariant fails the test. Long runs: scripts/fuzz.sh TARGET SECONDS.
# Skipped (exit 77) where clang with libFuzzer is absent. HG_FUZZ_SECONDS sets the time per target.
set -uo pipefail
: "${HG_SOURCE_DIR:?}"
cd "$HG_SOURCE_DIR"
scripts/fuzz.sh build 0; rc=$?
[ "$rc" -eq 77 ] && exit 77
[ "$rc" -eq 0 ] || { echo "FAIL: building the fuzz targets"; exit 1; }
secs="${HG_FUZZ_SECONDS:-4}"
fail=0
# the encode target loads only the small tokenizers here (loading the 2-3 MB ones takes seconds)
export HG_FUZZ_TOKENIZERS=0,5,6
for t in $(scripts/fuzz.sh list); do
  log="build-fuzz/smoke-$t.log"
  if scripts/fuzz.sh "$t" "$secs" > "$log" 2>&1; then
    echo "  $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs"
  else
    echo "FAIL: fuzz_$t (log: $log)"; tail -40 "$log"; fail=1
  fi
done
exit "$fail"
