#!/usr/bin/env bash
# setup-serve-clients.sh — install what the server tests drive `huginn serve` with: the official `openai`
# npm client and `playwright-core` (tests/serve/package.json, into tests/serve/node_modules, git-ignored)
# and Debian's chromium for the page test. Idempotent; never used at run time by the engine. When an
# install fails, says so and exits 1: test_serve then fails under CI=true and skips otherwise.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)/serve"
rc=0
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup-serve-clients: installing Debian's chromium" >&2
  ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium) >&2 || rc=1
fi
have() { node -e "require('$here/node_modules/openai/package.json'); require('$here/node_modules/playwright-core/package.json')" 2>/dev/null; }
if ! have; then
  if ! command -v npm >/dev/null 2>&1; then echo "setup-serve-clients: npm not found" >&2; exit 1; fi
  echo "setup-serve-clients: installing openai and playwright-core into $here/node_modules" >&2
  (cd "$here" && timeout 600 npm install --no-audit --no-fund --loglevel=error) >&2 || rc=1
fi
have || rc=1
exit $rc
