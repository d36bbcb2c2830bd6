#!/usr/bin/env bash
# test_cli_chat_formats.sh — the Llama 3 and ChatML chat formats end to end (run with HUGINN,
# HG_TEST_DATA, HG_TEST_TMP): random 32-wide models carrying the llama3 tokenizer (its own Llama 3
# template), the qwen3 tokenizer with the plain ChatML template, and the qwen3 tokenizer as shipped
# (Qwen 3's template, not recognised). `run --chat` prompt ids equal @huggingface/jinja's rendering
# encoded by Hugging Face tokenizers (tests/data/tokenizers/chat/family_chat_goldens.jsonl); `chat`
# names its format and stops at the format's end of turn (<|eot_id|>, <|im_end|>) and the EOS;
# --chat-template forces a format on `chat`, `run --chat` and `serve` (a /v1/chat/completions request), and unknown
# names, unrecognised templates and vocabularies without the format's tokens fail with a message.
set -u
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok $1"; fi; }
dir="$HG_TEST_TMP/cli_chat_formats"
rm -rf "$dir" && mkdir -p "$dir"
T="$HG_TEST_DATA/tokenizers"
# model DIR VOCAB TOKENIZER [TEMPLATE]: a random model with TOKENIZER's files (TEMPLATE replaces its
# chat_template)
model() {
  python3 - "$HG_TEST_DATA/golden_model/tiny/config.json" "$dir/cfg$2.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update({"block_size": 128, "vocab_size": int(sys.argv[3]), "num_attention_heads": 2, "num_key_value_heads": 2,
          "n_embd": 32, "intermediate_size": 64, "n_layers_in_recurrent_block": 1, "mean_recurrence": 2,
          "mean_backprop_depth": 2, "n_layers_in_prelude": 1, "n_layers_in_coda": 1})
json.dump(c, open(sys.argv[2], "w"))
PY
  "$HUGINN" init --config "$dir/cfg$2.json" -o "$1" --seed 5 > /dev/null || fail=1
  gunzip -c "$T/$3/tokenizer.json.gz" > "$1/tokenizer.json"
  python3 - "$T/$3/tokenizer_config.json" "$1/tokenizer_config.json" "${4:-}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
if sys.argv[3]:
    c["chat_template"] = open(sys.argv[3]).read()
json.dump(c, open(sys.argv[2], "w"))
PY
}
L="$dir/llama3" C="$dir/chatml" Q="$dir/qwen3"
model "$L" 128256 llama3
model "$C" 151669 qwen3 "$T/chat/templates/chatml.jinja"
mkdir -p "$Q" && cp "$C/config.json" "$C/model.safetensors" "$C/tokenizer.json" "$Q/" && cp "$T/qwen3/tokenizer_config.json" "$Q/"
G="$T/chat/family_chat_goldens.jsonl"
# golden TEMPLATE CASE: the ids of that rendering
golden() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j["template"] == sys.argv[2] and j["case"] == sys.argv[3]: print(",".join(map(str, j["ids"])))' "$G" "$1" "$2"; }
prompt_ids() { "$HUGINN" run -m "$1" --chat -p "What is 2+2?" -n 1 --steps 1 --temp 0 --init-scale 0 --json "${@:2}" |
  python3 -c 'import json, sys; print(",".join(map(str, json.load(sys.stdin)["prompt_ids"])))'; }
chat() { "$HUGINN" chat --steps 2 --temp 0 --init-scale 0 -n 3 "$@"; }

# Llama 3: the model's own template
check "llama3: run --chat prompt ids equal the oracle's" '[ "$(prompt_ids "$L")" = "$(golden llama3 single_user_gen)" ]'
printf 'What is 2+2?\nAnd 3+3?\n' | chat -m "$L" > "$dir/l.out" 2> "$dir/l.err"
check "llama3: chat runs two turns" '[ $? = 0 ] && [ $(grep -c "prompt tokens" "$dir/l.err") = 2 ] && grep -q "^\[17 prompt tokens" "$dir/l.err"'
check "llama3: a reply ends at <|eot_id|> or the EOS" 'grep -qF "[chat format llama3; a reply ends at <|end_of_text|> (id 128001) or <|eot_id|> (id 128009)]" "$dir/l.err"'

# ChatML, recognised
check "chatml: run --chat prompt ids equal the oracle's" '[ "$(prompt_ids "$C")" = "$(golden chatml single_user_gen)" ]'
printf 'What is 2+2?\n' | chat -m "$C" > /dev/null 2> "$dir/c.err"
check "chatml: chat runs, a reply ends at <|im_end|>" '[ $? = 0 ] && grep -q "^\[15 prompt tokens" "$dir/c.err" && grep -qF "[chat format chatml; a reply ends at <|im_end|> (id 151645)]" "$dir/c.err"'

# Qwen 3's own template is not recognised: refused with the flag to use, then forced
printf 'hi\n' | chat -m "$Q" > /dev/null 2> "$dir/q.err"
check "unrecognised template: refused, naming --chat-template" '[ $? = 1 ] && grep -q "no supported chat template.*--chat-template NAME (huginn, llama3, chatml)" "$dir/q.err"'
printf 'What is 2+2?\n' | chat -m "$Q" --chat-template chatml > /dev/null 2> "$dir/qf.err"
check "--chat-template chatml: the forced format renders as the template" '[ $? = 0 ] && grep -q "^\[15 prompt tokens" "$dir/qf.err" && grep -qF "[chat format chatml;" "$dir/qf.err"'
printf 'hi\n' | chat -m "$Q" --chat-template llama3 > /dev/null 2> "$dir/ql.err"
check "--chat-template llama3 on a ChatML vocabulary: refused" '[ $? = 1 ] && grep -qF "no <|start_header_id|> token" "$dir/ql.err"'
check "run --chat --chat-template chatml: the forced format's prompt ids equal the oracle's" \
  '[ "$(prompt_ids "$Q" --chat-template chatml)" = "$(golden chatml single_user_gen)" ]'
"$HUGINN" run -m "$Q" --chat -p hi -n 1 > /dev/null 2> "$dir/rq.err"
check "run --chat on an unrecognised template: refused, naming --chat-template" '[ $? = 1 ] && grep -q "run: the model.s tokenizer has no supported chat template.*--chat-template NAME" "$dir/rq.err"'
"$HUGINN" run -m "$Q" -p hi -n 1 --chat-template chatml > /dev/null 2> "$dir/rn.err"
check "run --chat-template without --chat: refused" '[ $? = 1 ] && grep -qF "run: --chat-template needs --chat" "$dir/rn.err"'
chat -m "$Q" --chat-template foo < /dev/null 2> "$dir/u.err"
check "unknown --chat-template: refused with the names" '[ $? = 1 ] && grep -qF "unknown --chat-template \"foo\" (built-in chat formats: huginn, llama3, chatml)" "$dir/u.err"'
"$HUGINN" serve -m "$Q" --chat-template foo 2> "$dir/su.err" > /dev/null
check "serve: unknown --chat-template refused" '[ $? = 1 ] && grep -qF "unknown --chat-template \"foo\"" "$dir/su.err"'
"$HUGINN" chat --help | grep -q -- "--chat-template NAME" && "$HUGINN" serve --help | grep -q -- "--chat-template NAME"
check "chat --help and serve --help list --chat-template" '[ $? = 0 ]'

# serve --chat-template chatml: /v1/chat/completions renders the forced format
"$HUGINN" serve -m "$Q" --chat-template chatml --port 0 --slots 1 --threads 1 --init-scale 0 > "$dir/s.out" 2> "$dir/s.err" &
spid=$!
trap 'kill -TERM $spid 2> /dev/null' EXIT # stopped below; this covers an early exit too
port=""
for _ in $(seq 300); do
  port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) .*/\1/p' "$dir/s.out")
  [ -n "$port" ] && break
  kill -0 $spid 2> /dev/null || break
  sleep 0.1
done
if [ -n "$port" ]; then
  curl -s -m 60 "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
    -d '{"messages":[{"role":"user","content":"What is 2+2?"}],"max_tokens":2,"temperature":0,"num_steps":1}' > "$dir/s.json"
fi
kill -TERM $spid 2> /dev/null
wait $spid 2> /dev/null
check "serve --chat-template chatml: a chat completion with the format's prompt" '[ -n "$port" ] && python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
assert j[\"usage\"][\"prompt_tokens\"] == 15, j
assert j[\"choices\"][0][\"message\"][\"role\"] == \"assistant\"
" "$dir/s.json"'
[ $fail = 0 ] || head -c 3000 "$dir"/*.err
exit $fail
