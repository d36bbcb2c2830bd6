#!/usr/bin/env bash
# setup-oracles.sh — install the test-only oracles of the tokenizer tests into tests/oracle/node_modules
# (git-ignored): npm `tokenizers@0.23.2`, the official node binding of Hugging Face tokenizers, and
# `@huggingface/jinja@0.5.13`, which tests/oracle/gen_chat_goldens.mjs renders the checked-in chat
# goldens with (the tests read those goldens and need no node).
# Idempotent: does nothing when the right version is already there. Offline-tolerant: when npm
# cannot install it, prints why and exits 1; test_tokenizer_diff then fails when CI=true and skips
# (saying so) otherwise. Never used at run time by the engine.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)/oracle"
want="0.23.2"
jinja="0.5.13"
have() {
  node -e "const p=require('$here/node_modules/tokenizers/package.json'); process.exit(p.version==='$want'?0:1)" 2>/dev/null &&
    node -e "require('$here/node_modules/tokenizers')" 2>/dev/null &&
    node -e "const p=require('$here/node_modules/@huggingface/jinja/package.json'); process.exit(p.version==='$jinja'?0:1)" 2>/dev/null
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup-oracles: node/npm not found; install nodejs and npm" >&2
  exit 1
fi
have && exit 0
echo "setup-oracles: installing tokenizers@$want and @huggingface/jinja@$jinja into $here/node_modules" >&2
(cd "$here" && timeout 600 npm install --no-audit --no-fund --no-save --loglevel=error "tokenizers@$want" "@huggingface/jinja@$jinja") >&2
if have; then exit 0; fi
echo "setup-oracles: npm could not install tokenizers@$want / @huggingface/jinja@$jinja (offline?)" >&2
exit 1
