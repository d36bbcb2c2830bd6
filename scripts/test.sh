#!/usr/bin/env bash
# test.sh — build (scripts/setup.sh installs what is missing) and run the whole test suite with CTest.
# Usage: scripts/test.sh [Release|Sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
type="${1:-Release}"
HG_CMAKE_ARGS="-DHG_WERROR=ON" scripts/setup.sh "$type"
dir=build; [ "$type" != Release ] && dir="build-$(echo "$type" | tr A-Z a-z)"
for o in tests/setup-oracles.sh tests/setup-gguf-oracle.sh tests/setup-serve-clients.sh; do
  "$o" || echo "test.sh: $o failed; the tests that need it will say so" >&2
done
cd "$dir" && ctest --output-on-failure -j"$(nproc)"
