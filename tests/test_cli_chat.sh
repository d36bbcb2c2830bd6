#!/usr/bin/env bash
# test_cli_chat.sh — `huginn chat` survives what a user types or presses (issue #22, item 4): an
# invalid-UTF-8 line is rejected and the session goes on, a full context drops the oldest turns with a
# notice, Ctrl-C (SIGINT) during a reply stops that reply only and Ctrl-C at the prompt ends the
# session, -n beyond the context is refused with the limit, unknown flags are named, the test-time
# flags of run are accepted, and --prepack lays the weights out as the server does. Messages come on
# stdin (a script, or a FIFO for the signals).
# Run with HUGINN, HG_TEST_DATA, HG_TEST_TMP.
set -u
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok $1"; fi; }
dir="$HG_TEST_TMP/cli_chat"
rm -rf "$dir" && mkdir -p "$dir"
cm="$dir/chatmodel" # a random 32-wide model with the Huginn chat tokenizer
python3 - "$HG_TEST_DATA/golden_model/tiny/config.json" "$dir/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update({"block_size": 128, "vocab_size": 65536, "num_attention_heads": 2, "num_key_value_heads": 2, "n_embd": 32,
          "intermediate_size": 64, "n_layers_in_recurrent_block": 1, "mean_recurrence": 2, "mean_backprop_depth": 2,
          "n_layers_in_prelude": 1, "n_layers_in_coda": 1})
json.dump(c, open(sys.argv[2], "w"))
PY
"$HUGINN" init --config "$dir/cfg.json" -o "$cm" --seed 3 > /dev/null || fail=1
gunzip -c "$HG_TEST_DATA/tokenizers/huginn_style/tokenizer.json.gz" > "$cm/tokenizer.json"
cp "$HG_TEST_DATA/tokenizers/huginn_style/tokenizer_config.json" "$cm/"
chat() { "$HUGINN" chat -m "$cm" --steps 2 --temp 0 --init-scale 0 "$@"; }

# invalid UTF-8 is rejected, the next line is answered
printf 'hello\n\xff\xfe bad\nstill here\n' > "$dir/in1"
chat -n 3 < "$dir/in1" > "$dir/out1" 2> "$dir/err1"
rc=$?
check "invalid UTF-8: line rejected, session goes on" '[ $rc = 0 ] && grep -q "message not sent" "$dir/err1" && [ $(grep -c "prompt tokens" "$dir/err1") = 2 ]'
# -f FILE gives the same session
chat -n 3 -f "$dir/in1" > "$dir/out1f" 2> /dev/null < /dev/null
check "chat -f FILE equals stdin" 'cmp -s "$dir/out1" "$dir/out1f"'

# a full context drops the oldest turns and goes on
for i in 1 2 3 4 5 6 7 8; do echo "message number $i with some words in it"; done > "$dir/in2"
chat -n 8 -c 80 < "$dir/in2" > /dev/null 2> "$dir/err2"
rc=$?
check "full context: oldest turns dropped with a notice" '[ $rc = 0 ] && grep -q "dropped the oldest turn" "$dir/err2" && [ $(grep -c "prompt tokens" "$dir/err2") = 8 ]'
long=$(python3 -c 'print("word " * 200)')
echo "$long" | chat -n 8 -c 80 > /dev/null 2> "$dir/err3"
check "one message longer than the context is rejected, not fatal" '[ $? = 0 ] && grep -q "message not sent: the conversation needs" "$dir/err3"'

# limits and flags
chat -n 999999999999 < /dev/null 2> "$dir/err4"
check "-n beyond the context is refused with the limit" '[ $? = 1 ] && grep -q "does not fit the context of 128 positions.*lower -n to at most 64" "$dir/err4" && ! grep -q "out of memory" "$dir/err4"'
echo hi | chat -n 2 --exit kl --exit-threshold 0.001 --warm-start > /dev/null 2> "$dir/err5"
check "test-time flags accepted" '[ $? = 0 ] && grep -q "prompt tokens" "$dir/err5"'
chat --parallel < /dev/null 2> "$dir/err6"
check "--parallel refused in chat" '[ $? = 1 ] && grep -q "not supported in a conversation" "$dir/err6"'
# --prepack: the weights laid out as huginn serve lays them (a bf16 twin of the model: the AVX2 and
# AVX-512 kernels pack bf16), the same replies as HG_PREPACK=1, and stderr says how many were packed
"$HUGINN" init --config "$dir/cfg.json" -o "$dir/cm16" --seed 3 --dtype bf16 > /dev/null || fail=1
cp "$cm/tokenizer.json" "$cm/tokenizer_config.json" "$dir/cm16/"
chat16() { "$HUGINN" chat -m "$dir/cm16" --steps 2 --temp 0 --init-scale 0 -n 4 "$@" < "$dir/in1"; }
chat16 --prepack > "$dir/out8" 2> "$dir/err8"
rc=$?
n_packed=$(sed -n 's/^huginn chat: \([0-9]*\) weights laid out.*/\1/p' "$dir/err8")
want_packed=0 # every product weight where the kernels pack bf16 (AVX2 or AVX-512 levels), else none
case "${HG_CPU:-}" in scalar|neon*) ;; *) grep -q -w avx2 /proc/cpuinfo 2> /dev/null && want_packed=1 ;; esac
check "chat --prepack packs the weights and says so" '[ $rc = 0 ] && [ -n "$n_packed" ] && { [ $want_packed = 0 ] || [ "$n_packed" -gt 0 ]; }'
check "chat --prepack equals HG_PREPACK=1" 'HG_PREPACK=1 chat16 2> /dev/null | cmp -s - "$dir/out8"'
check "chat without --prepack packs nothing" '! chat16 2>&1 > /dev/null | grep -q "laid out"'

# Ctrl-C: a long reply is stopped, the session answers the next line; Ctrl-C at the prompt ends it
fifo="$dir/fifo"
mkfifo "$fifo"
# started directly (not through the shell function) so that $! is huginn itself
"$HUGINN" chat -m "$cm" --temp 0 --init-scale 0 -n 100 --steps 400 --kv-cache compress-s2 < "$fifo" > "$dir/out7" 2> "$dir/err7" &
pid=$!
exec 3> "$fifo"
echo "tell me a long story" >&3
for _ in $(seq 100); do [ -s "$dir/out7" ] && break; sleep 0.1; done # the reply has started
kill -INT $pid
for _ in $(seq 100); do grep -q "interrupted" "$dir/err7" && break; sleep 0.1; done
echo "and another" >&3
for _ in $(seq 300); do [ "$(grep -c 'prompt tokens' "$dir/err7")" = 2 ] && break; sleep 0.1; done
check "Ctrl-C stops the reply, not the session" 'grep -q "interrupted" "$dir/err7" && [ "$(grep -c "prompt tokens" "$dir/err7")" = 2 ] && kill -0 $pid'
sleep 0.2
kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
check "Ctrl-C at the prompt ends the session" '! kill -0 $pid 2> /dev/null'
exec 3>&-
kill -KILL $pid 2> /dev/null # never leave it running when the check above failed
wait $pid
check "... with exit code 0" '[ $? = 0 ]'
[ $fail = 0 ] || head -c 2000 "$dir"/err*
exit $fail
