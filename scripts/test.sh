#!/usr/bin/env bash
# test.sh — build (scripts/setup.sh installs what is missing) and run the whole test suite with CTest.
# Usage: scripts/test.sh [Release|Sanitize]
# Without an argument (what .ci/run does) the suite runs twice: the Release build, then the Sanitize
# build (ASan + UBSan), so CI catches memory errors and undefined behaviour, not only wrong results.
# Both fit CI's budget on 2 cores (measured figures in docs/results/fuzzing.md "CI cost").
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  "$0" Release
  exec "$0" Sanitize
fi
type="$1"
HG_CMAKE_ARGS="-DHG_WERROR=ON" scripts/setup.sh "$type"
dir=build; [ "$type" != Release ] && dir="build-$(echo "$type" | tr A-Z a-z)"
for o in tests/setup-oracles.sh tests/setup-gguf-oracle.sh tests/setup-serve-clients.sh; do
  "$o" || echo "test.sh: $o failed; the tests that need it will say so" >&2
done
cd "$dir" && ctest --output-on-failure -j"$(nproc)"
