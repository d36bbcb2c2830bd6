#!/usr/bin/env bash
# test_serve.sh — `huginn serve` through real clients (tests/serve/): the official openai npm client
# against the API (api.mjs: equality with `huginn run --json` and `huginn forward --logits`, streaming,
# chat, logprobs, every bad request, disconnects, a 64-client load test) and headless Chromium on the
# page (page.mjs), and lm-eval's local-completions requests replayed against `huginn eval`
# (lmeval.mjs). Each script starts its servers on free loopback ports and stops them. Skips (77) when
# the clients are not installed (tests/setup-serve-clients.sh), except under CI=true.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -d "$here/serve/node_modules/openai" ] || ! command -v node >/dev/null 2>&1; then
  echo "test_serve: node or tests/serve/node_modules missing (run tests/setup-serve-clients.sh)"
  [ "${CI:-}" = true ] && exit 1 || exit 77
fi
rc=0
node "$here/serve/api.mjs" || rc=1
node "$here/serve/lmeval.mjs" || rc=1
node "$here/serve/page.mjs"; prc=$?
[ $prc -ne 0 ] && [ $prc -ne 77 ] && rc=1
exit $rc
