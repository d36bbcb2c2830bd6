#!/usr/bin/env bash
# test.sh — build (scripts/setup.sh installs what is missing) and run the whole test suite with CTest.
# Usage: scripts/test.sh [Release|Sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
type="${1:-Release}"
HG_CMAKE_ARGS="-DHG_WERROR=ON" scripts/setup.sh "$type"
dir=build; [ "$type" != Release ] && dir="build-$(echo "$type" | tr A-Z a-z)"
if [ -x tests/setup-oracles.sh ]; then tests/setup-oracles.sh || echo "test.sh: oracle setup failed; the differential tests will say so" >&2; fi
cd "$dir" && ctest --output-on-failure -j"$(nproc)"
