#!/usr/bin/env bash
# setup.sh — install the Debian packages huginn.c needs (when missing) and build it into build/.
# Usage: scripts/setup.sh [Release|Debug|Sanitize]   (run as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS="build-essential cmake pkg-config libcjson-dev libpcre2-dev libutf8proc-dev libmicrohttpd-dev libopenmpi-dev openmpi-bin"
# tests/test_neon.sh runs the aarch64 kernels under emulation from an x86-64 host
if [ "$(uname -m)" = x86_64 ]; then PKGS="$PKGS gcc-aarch64-linux-gnu qemu-user"; fi
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
type="${1:-Release}"
dir=build; [ "$type" != Release ] && dir="build-$(echo "$type" | tr A-Z a-z)"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" ${HG_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc)"
# Without models/default (the trained chain model is shipped there), make a small random one (issue #2).
if [ "$type" = Release ] && [ ! -e models/default/config.json ]; then
  "$dir/huginn" init --config models/random-small.json -o models/default --seed 1 2>/dev/null
fi
