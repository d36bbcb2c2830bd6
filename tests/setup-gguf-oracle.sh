#!/usr/bin/env bash
# setup-gguf-oracle.sh — install the test-only GGUF oracle (@huggingface/gguf, pinned in
# tests/oracle/gguf/package.json) into tests/oracle/gguf/node_modules. Idempotent: does nothing when
# the pinned version is already there. Needs node >= 18 and npm (and the npm registry, once).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/oracle/gguf"
want="$(node -e "console.log(require('$dir/package.json').dependencies['@huggingface/gguf'])")"
have="$(node -e "try{console.log(require('$dir/node_modules/@huggingface/gguf/package.json').version)}catch(e){console.log('')}")"
if [ "$have" = "$want" ]; then
  echo "setup-gguf-oracle: @huggingface/gguf $have already installed"
  exit 0
fi
cd "$dir"
npm install --no-audit --no-fund --no-package-lock --loglevel=error
echo "setup-gguf-oracle: installed @huggingface/gguf $want into $dir/node_modules"
