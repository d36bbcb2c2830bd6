#!/usr/bin/env bash
# test_cli_gguf_tokenizer.sh — a model behaves the same in every format (issue #22): the tokenizer read
# from a GGUF carries the directory's BOS, EOS, add_bos_token and chat template, so `run --json` gives
# the same prompt ids and generated ids for the directory and its GGUF (converted and quantized), and
# `chat` works on a quantized chat model. Run with HUGINN=<binary>, HG_TEST_DATA, HG_TEST_TMP.
set -u
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok $1"; fi; }
dir="$HG_TEST_TMP/cli_gguf_tokenizer"
rm -rf "$dir" && mkdir -p "$dir"

# 1. the shipped model (bos/eos, add_bos_token, no chat template) and its GGUF: identical runs
M="${HG_SOURCE_DIR:-$HG_TEST_DATA/../..}/models/default"
"$HUGINN" convert -m "$M" -o "$dir/d.gguf" > /dev/null || fail=1
"$HUGINN" quantize -m "$M" -o "$dir/d-q8.bin" --type q8_0 > /dev/null || fail=1 # any name: the loader reads the magic
run() { "$HUGINN" run -m "$1" "${@:2}" -p "k=3;a=k;z=1;d=a;?d=" -n 5 --temp 0 --init-scale 0 --json | python3 -c '
import json, sys; d = json.load(sys.stdin); print(d["prompt_ids"], [g["id"] for g in d["generated"]])'; }
want=$(run "$M")
check "directory run starts with the bos and stops at eos" '[ "$want" = "[256, 1636, 1257, 2174, 1355, 288] [51, 257]" ]'
check "GGUF run equals the directory's" '[ "$(run "$dir/d.gguf")" = "$want" ]'
check "quantized GGUF (no .gguf suffix) has the same prompt ids and stop" '[ "$(run "$dir/d-q8.bin" | cut -c1-34)" = "$(echo "$want" | cut -c1-34)" ] && run "$dir/d-q8.bin" | grep -q "257\]$"'
# --prepack lays the Q8_0 weights out for batched decode (as serve does): the same prompt and stop, and
# the same generation as HG_PREPACK=1 (the environment's switch)
check "run --prepack on the quantized GGUF" '[ "$(run "$dir/d-q8.bin" --prepack | cut -c1-34)" = "$(echo "$want" | cut -c1-34)" ] && run "$dir/d-q8.bin" --prepack | grep -q "257\]$"'
check "run --prepack equals HG_PREPACK=1" '[ "$(run "$dir/d-q8.bin" --prepack)" = "$(HG_PREPACK=1 run "$dir/d-q8.bin")" ]'
tok() { echo "k=3;a=k;?a=" | "$HUGINN" tokenize -t "$1" "${@:2}"; }
check "tokenize -t GGUF equals tokenize -t directory" '[ "$(tok "$dir/d-q8.bin")" = "$(tok "$M")" ] && [ "$(tok "$dir/d.gguf" --as-prompt)" = "$(tok "$M" --as-prompt)" ]'
src="${HG_SOURCE_DIR:-$HG_TEST_DATA/../..}"
python3 "$src/scripts/chain_problems.py" --hops 1-2 --n 5 --distractors 2 --seed 7 > "$dir/p.tsv"
table() { "$HUGINN" eval-chains -m "$1" --problems "$dir/p.tsv" --steps 1,8 --init-scale 0 | tail -n +2; }
check "eval-chains: the GGUF's table equals the directory's" '[ "$(table "$M")" = "$(table "$dir/d.gguf")" ] && [ -n "$(table "$M")" ]'

# 2. a model with the Huginn chat template: run --chat and chat equal on the directory and a Q8_0 GGUF
cm="$dir/chatmodel"
python3 - "$HG_TEST_DATA/golden_model/tiny/config.json" "$dir/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update({"block_size": 256, "vocab_size": 65536, "num_attention_heads": 2, "num_key_value_heads": 2, "n_embd": 32,
          "intermediate_size": 64, "n_layers_in_recurrent_block": 1, "mean_recurrence": 2, "mean_backprop_depth": 2,
          "n_layers_in_prelude": 1, "n_layers_in_coda": 1})
json.dump(c, open(sys.argv[2], "w"))
PY
"$HUGINN" init --config "$dir/cfg.json" -o "$cm" --seed 3 > /dev/null || fail=1
gunzip -c "$HG_TEST_DATA/tokenizers/huginn_style/tokenizer.json.gz" > "$cm/tokenizer.json"
cp "$HG_TEST_DATA/tokenizers/huginn_style/tokenizer_config.json" "$cm/"
"$HUGINN" quantize -m "$cm" -o "$dir/chat-q8.gguf" --type q8_0 > /dev/null || fail=1
chatrun() { "$HUGINN" run -m "$1" --chat -p "hello there" -n 4 --steps 2 --temp 0 --init-scale 0 --json | python3 -c '
import json, sys; d = json.load(sys.stdin); print(d["prompt_ids"])'; }
check "run --chat: GGUF prompt ids equal the directory's" '[ "$(chatrun "$cm")" = "$(chatrun "$dir/chat-q8.gguf")" ] && [ -n "$(chatrun "$cm")" ]'
out=$(printf 'hello\nhow are you\n' | "$HUGINN" chat -m "$dir/chat-q8.gguf" -n 3 --steps 2 --temp 0 --init-scale 0 2> "$dir/chat.err")
rc=$?
check "chat works on the quantized GGUF" '[ $rc = 0 ] && [ $(grep -c "prompt tokens" "$dir/chat.err") = 2 ]'
[ $fail = 0 ] || { cat "$dir/chat.err"; echo "$out"; }
exit $fail
