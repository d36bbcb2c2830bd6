#!/usr/bin/env bash
# test_cli_messages.sh — what a new user trips over on the command line (issue #22, items 2 and 3): the
# parallel sampler gets a context that holds the tokens asked for (and a request that cannot fit is
# refused with the numbers), unknown flags are called unknown, bad ids name their index, -c below the
# request is refused, --json has one stats schema and exit_value only where a criterion ran, stderr's
# iterations/token counts generated tokens, `info` states true cache ratios, `tokenize --as-prompt`
# equals run -p, and eval-chains suggests no flag it lacks. Run with HUGINN, HG_TEST_DATA, HG_TEST_TMP.
set -u
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok $1"; fi; }
M="$HG_TEST_DATA/golden_model/tiny"
IDS=396,348,154,121,111,23,52,386,164,131,44,166,201,367,99,151,14
dir="$HG_TEST_TMP/cli_messages"
rm -rf "$dir" && mkdir -p "$dir"
run() { "$HUGINN" run -m "$M" --ids "$IDS" --init-scale 0 --temp 0 "$@"; }
keys() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(" ".join(sorted(d["stats"])))'; }
err_of() { "$@" > /dev/null 2> "$dir/err"; echo "rc=$? $(cat "$dir/err")"; }

# item 2: the parallel sampler returns -n tokens with the default context
want=$(run -n 12 --parallel --headway 3 -c 100 2> /dev/null)
check "parallel -n 12 --headway 3 gives 12 tokens" '[ "$(run -n 12 --parallel --headway 3 2> /dev/null | wc -w)" = 12 ] && [ "$(run -n 12 --parallel --headway 3 2> /dev/null)" = "$want" ]'
e=$(err_of run -n 100 --parallel --headway 3)
check "parallel -n 100 on 128 positions refused with the numbers" 'echo "$e" | grep -q "rc=1 .*220 positions exceed the model.s block_size 128; lower -n to at most 54, or --max-wavefront to at most 8"'
e=$(err_of run -n 30 --parallel --headway 3)
check "a parallel run cut short by the context says so" 'echo "$e" | grep -q "stopped after 24 of 30 tokens: the wavefront reached the end of the context (128 positions)"'
e=$(err_of run -n 200)
check "plain -n past block_size refused with the most -n" 'echo "$e" | grep -q "rc=1 .*lower -n to at most 111"'

# item 3: unknown flags (as the last argument too) are unknown, not "needs a value"
for cmd in run chat bench eval-chains tokenize-data eval perplexity trace; do
  e=$(err_of "$HUGINN" $cmd --frobnicate)
  check "$cmd: unknown option" 'echo "$e" | grep -q "rc=1 .*unknown option .--frobnicate. (huginn $cmd --help" && ! echo "$e" | grep -q "needs a value"'
done
e=$(err_of "$HUGINN" run -m "$M" -n)
check "a known flag without its value still needs a value" 'echo "$e" | grep -q "option -n needs a value"'
e=$(err_of "$HUGINN" run -m "$M" --ids 1,2,999 -n 2)
check "out-of-vocabulary id names its index" 'echo "$e" | grep -q "id 999 at index 2 is outside the model.s vocabulary (0..511)"'
e=$(err_of "$HUGINN" forward -m "$M" --ids 1,2,999 --steps 1 --prefill 2)
check "the library names the position when a loop feeds the ids in pieces" 'echo "$e" | grep -q "id 999 at position 2 is outside"'
e=$(err_of "$HUGINN" run -m "$M" --ids 1,2 -n 3 -c 3)
check "-c below the request is refused" 'echo "$e" | grep -q "rc=1 .*-c 3 is below the 5 positions this request needs (prompt 2 + -n 3); raise -c to at least 5"'
e=$(err_of "$HUGINN" run -m "$M" --ids 1,2 -n 3 -c 1000)
check "-c above block_size is refused" 'echo "$e" | grep -q "rc=1 .*-c 1000 exceeds the model.s block_size 128"'

# one --json schema; exit_value only where a criterion ran
plain=$(run -n 3 --json)
check "plain: no exit_value" '! echo "$plain" | grep -q exit_value'
check "--exit none: no exit_value" '! run -n 3 --exit none --json | grep -q exit_value'
check "--exit kl: exit_value" 'run -n 3 --exit kl --json | grep -q exit_value'
common="decode_s mean_steps n_ctx n_generated n_prompt n_requested prefill_s seconds steps stop tokens_per_s"
check "plain stats keys" '[ "$(echo "$plain" | keys)" = "$common" ]'
for mode in "--exit kl" "--draft-steps 2 --lookahead 2" "--parallel" "--warm-start --warm-state raw"; do
  k=$(run -n 3 $mode --json | keys)
  check "stats of $mode hold the common keys" 'for x in $common; do echo " $k " | grep -q " $x " || exit 1; done'
done
e=$(err_of run -n 3 --steps 4 --exit none)
check "iterations/token counts generated tokens only" 'echo "$e" | grep -q "3 tokens, 4.00 iterations/token"'

# run --help lists the exit criteria, freeze rules and KV strategies with their defaults
h=$("$HUGINN" run --help)
check "run --help: criteria, freeze rules, KV strategies, defaults" 'for w in entropy-diff argmax-stability token-stability latent-acceleration-2 compress-anchor latest-m4 HUGINN_MODEL "(default 4)" "(default latent-diff)"; do echo "$h" | grep -qF -- "$w" || exit 1; done'

# info: the ratio to the full cache, larger or smaller
out=$("$HUGINN" info -m "$M" --steps 2)
check "info: compress-s32 is 3x the full cache at r = 2" 'echo "$out" | grep -q "compress-s32 .*3.00x the full cache" && ! echo "$out" | grep -q "less than full"'

# tokenize --as-prompt is what run -p feeds the model
D="${HG_SOURCE_DIR:-$HG_TEST_DATA/../..}/models/default"
p=$("$HUGINN" run -m "$D" -p "k=3;a=k;?a=" -n 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["prompt_ids"])' | tr -d ' ')
check "tokenize --as-prompt equals run -p" '[ "$(echo "k=3;a=k;?a=" | "$HUGINN" tokenize -t "$D" --as-prompt)" = "$p" ]'

# eval-chains on a model without a tokenizer suggests no flag it lacks
printf '1\ta=1;?a=\t1\n' > "$dir/p.tsv"
e=$(err_of "$HUGINN" eval-chains -m "$M" --problems "$dir/p.tsv" --steps 1)
check "eval-chains: no --ids hint" 'echo "$e" | grep -q "rc=1 .*no tokenizer.json" && ! echo "$e" | grep -q -- "--ids"'
exit $fail
