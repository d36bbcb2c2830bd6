#!/usr/bin/env bash
# test_retrofit_cli.sh — retrofitted-recurrence models (docs/family.md) through the command line (run with
# HUGINN, HG_TEST_DATA, HG_TEST_TMP): `huginn forward` logits and latents at every golden depth and from
# a given state (1e-4, as test_retrofit_golden.c), `huginn run --json` greedy ids equal to the authors'
# generations, every test-time mode of `run` runs on these models (exit criteria, warm start,
# speculative decoding equal to plain greedy, the parallel sampler, compressed / bf16 caches, a Q8_0
# GGUF), a BF16 copy computes exactly what its widened F32 twin computes, `convert` -> GGUF forwards
# bit for bit, and broken configs and tensors fail with a message that names the key or tensor.
set -u
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok $1"; fi; }
G="$HG_TEST_DATA/golden_family"
IDS=396,348,154,121,111,23,52,386,164,131,44,166,201,367,99,151,14
dir="$HG_TEST_TMP/retrofit_cli"
rm -rf "$dir" && mkdir -p "$dir"
here="$(cd "$(dirname "$0")" && pwd)"

# Python starts slowly on a loaded machine: the commands write their outputs to files and one Python
# run per model checks them all (retrofit_check.py), printing ok / FAIL lines.
for name in retrofit-tiny retrofit-olmo-tiny; do
  M="$G/$name"
  o="$dir/$name"
  mkdir -p "$o"
  run() { "$HUGINN" run -m "$M" --ids "$IDS" --init-scale 0 --temp 0 "$@"; }
  # forward at every stored depth and from a given state, through the command
  for r in 0 1 2 4 8 32; do
    "$HUGINN" forward -m "$M" --ids "$IDS" --steps $r --logits "$o/f$r.l.bin" --latents "$o/f$r.s.bin" || fail=1
  done
  "$HUGINN" forward -m "$M" --ids "$IDS" --steps 4 --state "$M/golden/forward_input_states_r4.input_states.bin" \
    --logits "$o/state.l.bin" || fail=1
  # greedy generation (compared with the authors' HF generate), then every test-time mode
  for r in 1 4 8 32; do run -n 12 --steps $r --json > "$o/gen$r.json" || fail=1; done
  run -n 8 --steps 8 --json > "$o/plain.json" || fail=1
  run -n 8 --steps 8 --exit none --json > "$o/exit_none.json" || fail=1
  for c in entropy-diff latent-diff kl minp-kl argmax-stability cosine; do
    run -n 6 --steps 16 --exit $c --json > "$o/exit_$c.json" || fail=1
  done
  run -n 6 --steps 16 --exit kl --exit-threshold 0.001 --warm-start --warm-state raw --kv-cache latest-m4-compress-s4 \
    --json > "$o/mixed.json" || fail=1
  run -n 8 --steps 8 --draft-steps 2 --lookahead 3 --json > "$o/spec.json" || fail=1
  run -n 6 --steps 4 --parallel --json > "$o/parallel.json" || fail=1
  run -n 4 --steps 4 --kv-type bf16 --json > "$o/kvbf16.json" || fail=1
  "$HUGINN" quantize -m "$M" -o "$o/q.gguf" --type q8_0 > /dev/null 2>&1 || fail=1
  run -n 4 --steps 4 --json -m "$o/q.gguf" > "$o/quant.json" || fail=1
  python3 "$here/retrofit_check.py" check "$M" "$o" | sed "s/^\(ok \|FAIL: \)/\1$name /"
  [ "${PIPESTATUS[0]}" = 0 ] || fail=1
  # GGUF: convert, then the same numbers bit for bit, and the same architecture
  "$HUGINN" convert -m "$M" -o "$o/m.gguf" 2> /dev/null || fail=1
  "$HUGINN" forward -m "$M" --ids "$IDS" --steps 8 --logits "$o/a.bin" --latents "$o/as.bin" || fail=1
  "$HUGINN" forward -m "$o/m.gguf" --ids "$IDS" --steps 8 --logits "$o/b.bin" --latents "$o/bs.bin" || fail=1
  check "$name GGUF round trip is exact" 'cmp -s "$o/a.bin" "$o/b.bin" && cmp -s "$o/as.bin" "$o/bs.bin"'
  arch=$("$HUGINN" info -m "$M" | sed -n "s/^architecture *//p")
  check "$name GGUF keeps the architecture ($arch)" '[ -n "$arch" ] && [ "$("$HUGINN" info -m "$o/m.gguf" | sed -n "s/^architecture *//p")" = "$arch" ]'
  # BF16 safetensors (two shards + index): exactly what an F32 copy of the BF16-rounded weights computes
  # (widening is exact)
  python3 "$here/retrofit_check.py" bf16 "$M" "$o/bf16" "$o/f32r" || fail=1
  "$HUGINN" forward -m "$o/bf16" --ids "$IDS" --steps 4 --logits "$o/a.bin" || fail=1
  "$HUGINN" forward -m "$o/f32r" --ids "$IDS" --steps 4 --logits "$o/b.bin" || fail=1
  check "$name sharded BF16 checkpoint equals its widened F32 twin" 'cmp -s "$o/a.bin" "$o/b.bin"'
done

# a random checkpoint of a retrofitted config writes a config.json that reads back the same
"$HUGINN" init --config "$G/retrofit-tiny/config.json" -o "$dir/init" --seed 1 2> /dev/null || fail=1
info_of() { "$HUGINN" info -m "$1" | sed -n '2,5p'; }
check "init keeps a retrofitted config" '[ "$(info_of "$dir/init")" = "$(info_of "$G/retrofit-tiny")" ]'
check "a random retrofitted checkpoint generates" '"$HUGINN" run -m "$dir/init" --ids 1,2,3 -n 3 --steps 2 --json > /dev/null'
# bad input: a clear message naming the key or tensor, never a crash
python3 "$here/retrofit_check.py" broken "$G/retrofit-tiny" "$dir" || fail=1
err_of() { "$@" > /dev/null 2> "$dir/err"; echo "rc=$? $(cat "$dir/err")"; }
e=$(err_of "$HUGINN" info -m "$dir/no_kv")
check "missing num_key_value_heads is named" 'echo "$e" | grep -q "rc=1 .*key .num_key_value_heads. missing"'
e=$(err_of "$HUGINN" info -m "$dir/no_init")
check "missing init_values is named" 'echo "$e" | grep -q "rc=1 .*init_values"'
e=$(err_of "$HUGINN" info -m "$dir/no_factor")
check "rope_scaling without factor is named" 'echo "$e" | grep -q "rc=1 .*key .factor. missing"'
e=$(err_of "$HUGINN" info -m "$dir/yarn")
check "an unimplemented rope_type is refused" 'echo "$e" | grep -q "rc=1 .*rope_type is \"yarn\"; only \"llama3\""'
e=$(err_of "$HUGINN" forward -m "$dir/wrong_kv" --ids 1,2 --steps 1)
check "a wrong tensor shape names the tensor" 'echo "$e" | grep -q "rc=1 .*attn.Wqkv.weight"'
e=$(err_of "$HUGINN" info -m "$dir/bad_kv")
check "KV heads that do not divide the heads are refused" 'echo "$e" | grep -q "rc=1 .*num_key_value_heads"'
exit $fail
