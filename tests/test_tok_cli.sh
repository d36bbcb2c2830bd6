#!/usr/bin/env bash
# test_tok_cli.sh — `huginn tokenize` / `huginn detokenize` end to end on the huginn_style golden:
# ids match Hugging Face's (values from tests/data/tokenizers/chat and adversarial goldens), a model
# directory works as TOKENIZER, --no-special, round trip of raw bytes (CR, NUL), and bad input
# (invalid UTF-8, malformed ids, a broken tokenizer.json, an unknown option) exits non-zero with a
# message naming the problem.
set -u
: "${HUGINN:?}" "${HG_TEST_DATA:?}" "${HG_TEST_TMP:?}"
T="$HG_TEST_TMP/tok_cli"; mkdir -p "$T/model"
fail=0
check() { if [ "$2" != "$3" ]; then echo "FAIL $1: got [$2] want [$3]"; fail=1; else echo "  ok $1"; fi; }
gzip -dc "$HG_TEST_DATA/tokenizers/huginn_style/tokenizer.json.gz" > "$T/model/tokenizer.json" || exit 1
cp "$HG_TEST_DATA/tokenizers/huginn_style/tokenizer_config.json" "$T/model/"

# chat golden "single_user_gen": rendered text -> ids, as Hugging Face encodes it (add_special=false)
text=$'<|begin_text|><|begin_header|>user<|end_header|>\n\nWhat is 2+2?<|end_turn|><|begin_header|>Huginn<|end_header|>\n\n'
want='[65504,65506,1570,65507,268,28988,323,32,50,43,50,63,65508,65506,72,52659,110,65507,268]'
check "tokenize --no-special (dir)" "$(printf '%s' "$text" | "$HUGINN" tokenize -t "$T/model" --no-special)" "$want"
check "tokenize --no-special (file)" "$(printf '%s' "$text" | "$HUGINN" tokenize -t "$T/model/tokenizer.json" --no-special)" "$want"
check "tokenize adds BOS/EOS" "$(printf 'Hello world  22nd' | "$HUGINN" tokenize -t "$T/model")" "[65504,30862,20694,255,50,50,1343,65505]"
check "tokenize empty" "$(printf '' | "$HUGINN" tokenize -t "$T/model" --no-special)" "[]"
got="$(printf '%s' "$want" | "$HUGINN" detokenize -t "$T/model"; echo .)"   # the dot keeps trailing newlines
check "detokenize" "${got%.}" "$text"
check "detokenize --skip-special" "$(echo '[65504, 30862, 20694, 65505]' | "$HUGINN" detokenize -t "$T/model" --skip-special)" "Hello world"
# raw bytes survive: CR, tab, NUL (compare as hex)
printf 'a\r\n\tb\0c' > "$T/raw.txt"
"$HUGINN" tokenize -t "$T/model" --no-special < "$T/raw.txt" > "$T/raw.ids" || fail=1
"$HUGINN" detokenize -t "$T/model" < "$T/raw.ids" > "$T/raw.back" || fail=1
check "raw round trip" "$(od -An -tx1 "$T/raw.back" | tr -d ' \n')" "$(od -An -tx1 "$T/raw.txt" | tr -d ' \n')"

expect_error() { # name, expected message part, command...
  local name="$1" msg="$2"; shift 2
  local out; out="$("$@" 2>&1 >/dev/null)"; local rc=$?
  if [ $rc -eq 0 ] || ! grep -q -- "$msg" <<<"$out"; then echo "FAIL $name: rc=$rc [$out]"; fail=1; else echo "  ok $name"; fi
}
expect_error "invalid UTF-8" "not valid UTF-8" bash -c "printf 'ab\\xff' | '$HUGINN' tokenize -t '$T/model'"
expect_error "bad ids" "JSON array" bash -c "echo '[1,x]' | '$HUGINN' detokenize -t '$T/model'"
expect_error "id out of range" "outside" bash -c "echo '[70000]' | '$HUGINN' detokenize -t '$T/model'"
head -c 1000 "$T/model/tokenizer.json" > "$T/broken.json"
expect_error "truncated tokenizer.json" "truncated" bash -c "echo hi | '$HUGINN' tokenize -t '$T/broken.json'"
expect_error "missing tokenizer" "cannot open\|No such" bash -c "echo hi | '$HUGINN' tokenize -t '$T/nothing/here.json'"
expect_error "missing -t" "required" bash -c "echo hi | '$HUGINN' tokenize"
expect_error "unknown option" "unknown option" bash -c "echo hi | '$HUGINN' tokenize -t '$T/model' --frobnicate"
exit $fail
