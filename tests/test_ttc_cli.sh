#!/usr/bin/env bash
# test_ttc_cli.sh — `huginn run` test-time flags end to end (run with HUGINN=<binary>, HG_TEST_DATA=<tests/data>):
# every mode runs and reports per-token steps / exit values, the goldens' adaptive and speculative tokens
# come out of the command line, and bad combinations fail with a clear message.
set -u
M="$HG_TEST_DATA/golden_model/tiny"
IDS=396,348,154,121,111,23,52,386,164,131,44,166,201,367,99,151,14
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok $1"; fi; }
run() { "$HUGINN" run -m "$M" --ids "$IDS" --init-scale 0 --temp 0 "$@"; }
ids_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(",".join(str(g["id"]) for g in d["generated"]))'; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# adaptive exit: golden adaptive_kl (threshold 1e-4, 32 steps, 12 tokens)
out=$(run -n 12 --steps 32 --exit kl --exit-threshold 0.0001 --json) || fail=1
check "adaptive kl tokens" '[ "$(echo "$out" | ids_of)" = "485,345,150,488,385,478,222,236,314,384,492,223" ]'
check "adaptive kl steps" '[ "$(echo "$out" | field "[\"generated\"][3][\"steps\"]")" = 22 ]'
check "adaptive exit_value reported" 'echo "$out" | field "[\"generated\"][0][\"exit_value\"]" | grep -q "e-05\|0.0000"'
# every criterion and the auto threshold run, with a compressed cache and a raw warm start
for c in entropy-diff latent-diff kl minp-kl argmax-stability cosine none; do
  out=$(run -n 4 --steps 8 --exit $c --exit-threshold auto --min-steps 2 --check-every 2 --no-exit-in-prefill \
        --warm-start --warm-state raw --kv-cache latest-m4-compress-s16 --json) || fail=1
  check "criterion $c" '[ "$(echo "$out" | field "[\"stats\"][\"n_generated\"]")" = 4 ]'
done
# speculative: golden speculative_d2_l4_r8 (17 tokens for 16 asked)
out=$(run -n 16 --steps 8 --draft-steps 2 --lookahead 4 --json) || fail=1
check "speculative tokens" '[ "$(echo "$out" | ids_of)" = "485,345,150,121,191,477,82,169,489,211,158,98,491,243,436,503,24" ]'
check "speculative stats" '[ "$(echo "$out" | field "[\"stats\"][\"verify_calls\"]")" -ge 1 ]'
out=$(run -n 6 --steps 8 --draft-steps 2 --lookahead 3 --verify-threshold 0.5 --json) || fail=1
check "speculative threshold" '[ "$(echo "$out" | field "[\"mode\"]")" = speculative ]'
# warm start: default (normalised) = golden generate_r8_continuous_zero; raw goes through the adaptive loop
out=$(run -n 12 --steps 8 --warm-start --json) || fail=1
check "warm normalized tokens" '[ "$(echo "$out" | ids_of)" = "485,345,150,121,191,477,82,169,489,211,158,98" ]'
out=$(run -n 4 --steps 8 --warm-start --warm-state raw --json) || fail=1
check "warm raw mode" '[ "$(echo "$out" | field "[\"mode\"]")" = warm-raw ]'
# parallel: reduces to greedy with one position and inner = steps; statistics are reported
out=$(run -n 12 --steps 8 --parallel --max-wavefront 1 --inner-steps 8 --ema-embeds 0 --kv-cache full --json) || fail=1
check "parallel = greedy" '[ "$(echo "$out" | ids_of)" = "485,345,150,121,191,477,82,169,489,211,158,98" ]'
out=$(run -n 8 --steps 8 --parallel --headway 2 --freeze token-stability --json) || fail=1
check "parallel stats" '[ "$(echo "$out" | field "[\"stats\"][\"outer_steps\"]")" -ge 1 ] && echo "$out" | grep -q iterations_per_position'
# bad combinations and values: non-zero exit and a message naming the problem
bad() { local msg="$1"; shift; local err; err=$(run -n 2 --steps 8 "$@" 2>&1 >/dev/null); local rc=$?;
        check "rejects: $*" '[ $rc -ne 0 ] && echo "$err" | grep -q -- "$msg"'; }
bad "choose different generation loops" --exit kl --draft-steps 2
bad "choose different generation loops" --exit kl --parallel
bad "need --exit" --exit-threshold 0.1
bad "needs --warm-start" --warm-state raw
bad "does not compose with speculative" --warm-start --lookahead 2
bad "need --parallel" --headway 2
bad "unknown exit criterion" --exit kll
bad "unknown freeze rule" --parallel --freeze sometimes
bad "normalized" --warm-start --warm-state half
bad "needs --draft-steps" --verify-threshold 0.5
bad "unknown KV-cache strategy" --exit kl --kv-cache compress-q4
exit $fail
