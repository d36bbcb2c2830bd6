#!/usr/bin/env bash
# test_gguf_npm.sh — an independent GGUF parser (Hugging Face's @huggingface/gguf, installed by
# tests/setup-gguf-oracle.sh) reads what `huginn convert` and `huginn quantize` write, and
# tests/oracle/gguf/check.mjs compares everything with the source checkpoint read directly
# (metadata values and types, tokenizer keys, tensor names/shapes/types/offsets/bytes).
# Env: HUGINN (the binary), HG_TEST_DATA, HG_TEST_TMP, HG_SOURCE_DIR. With CI=true a missing oracle
# is a failure; elsewhere the test says SKIP and passes (run tests/setup-gguf-oracle.sh once).
set -euo pipefail
src="${HG_SOURCE_DIR:?}"
oracle="$src/tests/oracle/gguf"
if [ ! -f "$oracle/node_modules/@huggingface/gguf/package.json" ] || ! command -v node >/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: @huggingface/gguf is not installed in $oracle (run tests/setup-gguf-oracle.sh)" >&2
    exit 1
  fi
  echo "SKIP: @huggingface/gguf not installed (run tests/setup-gguf-oracle.sh)"
  exit 0
fi
data="${HG_TEST_DATA:?}/golden_model"
tmp="${HG_TEST_TMP:?}/test_gguf_npm"
rm -rf "$tmp" && mkdir -p "$tmp"
check() { node "$oracle/check.mjs" "$@"; }

# a model directory with a tokenizer: tiny's weights + a small byte-level BPE tokenizer whose
# merges use both JSON forms, with added special and non-special tokens and unused ids
tok="$tmp/tiny-tok"
mkdir -p "$tok"
ln -s "$data/tiny/config.json" "$tok/config.json"
ln -s "$data/tiny/model.safetensors" "$tok/model.safetensors"
cat > "$tok/tokenizer.json" <<'JSON'
{"version":"1.0","added_tokens":[
 {"id":500,"content":"<|begin_text|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
 {"id":501,"content":"<|end_text|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
 {"id":502,"content":"user token","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false}],
 "normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
 "post_processor":null,"decoder":{"type":"ByteLevel"},
 "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,
  "fuse_unk":false,"byte_fallback":false,"ignore_merges":false,
  "vocab":{"a":0,"b":1,"Ġ":2,"ab":3,"Ġab":4,"é":5,"日本":6,"<|begin_text|>":500},
  "merges":["a b",["Ġ","ab"]]}}
JSON
cat > "$tok/tokenizer_config.json" <<'JSON'
{"bos_token":"<|begin_text|>","eos_token":{"content":"<|end_text|>"},"chat_template":"{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"}
JSON

"$HUGINN" convert -m "$tok" -o "$tmp/tiny.gguf"
check "$tmp/tiny.gguf" "$tok" keep
"$HUGINN" quantize -m "$tmp/tiny.gguf" -o "$tmp/tiny-q8_0.gguf" --type q8_0   # tokenizer copied from the GGUF
check "$tmp/tiny-q8_0.gguf" "$tok" q8_0
"$HUGINN" quantize -m "$tok" -o "$tmp/tiny-q4_0.gguf" --type q4_0
check "$tmp/tiny-q4_0.gguf" "$tok" q4_0
"$HUGINN" convert -m "$data/tiny-bf16" -o "$tmp/tiny-bf16.gguf"
check "$tmp/tiny-bf16.gguf" "$data/tiny-bf16" keep
"$HUGINN" convert -m "$data/tiny-bf16" -o "$tmp/tiny-bf16-f32.gguf" --dtype f32
check "$tmp/tiny-bf16-f32.gguf" "$data/tiny-bf16" f32
"$HUGINN" convert -m "$data/small-sharded" -o "$tmp/small-f16.gguf" --dtype f16
check "$tmp/small-f16.gguf" "$data/small-sharded" f16
"$HUGINN" quantize -m "$data/small-sharded" -o "$tmp/small-bf16.gguf" --type bf16
check "$tmp/small-bf16.gguf" "$data/small-sharded" bf16

# the oracle must notice a broken file: flip the architecture string of a copy
cp "$tmp/tiny.gguf" "$tmp/broken.gguf"
python3 - "$tmp/broken.gguf" <<'PY' || sed -i 's/huginn/huginx/' "$tmp/broken.gguf"
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); i = b.find(b"huginn"); b[i + 5] = ord("x"); open(p, "wb").write(b)
PY
if check "$tmp/broken.gguf" "$tok" keep 2>/dev/null; then
  echo "FAIL: the oracle accepted a file with a wrong architecture" >&2
  exit 1
fi
# CLI errors: a clear message and a non-zero exit, no output file
if "$HUGINN" quantize -m "$tmp/tiny.gguf" -o "$tmp/x.gguf" --type q5_k 2>/dev/null; then echo "FAIL: bad --type accepted" >&2; exit 1; fi
if "$HUGINN" convert -m "$tmp/missing" -o "$tmp/x.gguf" 2>/dev/null; then echo "FAIL: missing model accepted" >&2; exit 1; fi
[ ! -e "$tmp/x.gguf" ] || { echo "FAIL: output written on error" >&2; exit 1; }
echo "test_gguf_npm: all checks passed"
