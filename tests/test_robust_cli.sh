#!/usr/bin/env bash
# test_robust_cli.sh — bad input to the commands is refused with a message that names it (issue 22):
#   1. `train`: an unknown key, a wrongly typed value or an out-of-range number in any section is an
#      error naming the key (it used to start a default 1,000-step run);
#   2. `train` into an out_dir that holds a run needs --resume or --overwrite;
#   3. a --state file holding NaN/Inf is refused (run, forward); a diverging run (huge lr) stops at
#      the first non-finite loss, exits non-zero and leaves `latest` at the last finite checkpoint;
#   5. a trainer_state.json with a huge fixed depth or a negative step is refused by --resume;
#      `quantize` refuses NaN weights naming the tensor; `detokenize` of `[]` prints nothing;
#   6. a config.json whose dimensions do not match the weights is reported as a mismatch, not as
#      "out of memory".
set -euo pipefail
: "${HUGINN:?}" "${HG_TEST_TMP:?}" "${HG_SOURCE_DIR:?}"
dir="$HG_TEST_TMP/robust_cli"
rm -rf "$dir"; mkdir -p "$dir"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
fail=0
model="$HG_SOURCE_DIR/models/default"

# expect_fail NAME NEEDLE CMD...: the command must exit non-zero and print NEEDLE on stderr
expect_fail() {
  local name="$1" needle="$2"; shift 2
  if "$@" > "$dir/$name.out" 2> "$dir/$name.err"; then
    echo "FAIL: $name: accepted"; fail=1; return
  fi
  grep -qF -- "$needle" "$dir/$name.err" || { echo "FAIL: $name: message lacks \`$needle\`:"; cat "$dir/$name.err"; fail=1; }
}

cfg() { # out_dir train-extra top-extra
  cat <<JSON
{"model": {"n_embd": 16, "n_head": 2, "intermediate_size": 32, "n_layers_prelude": 0, "n_layers_core": 1,
           "n_layers_coda": 0, "mean_recurrence": 2, "mean_backprop_depth": 1, "block_size": 32},
 "train": {"rows": 2, "seq_len": 31, "max_steps": 3, "warmup": 0, "lr": 1e-3 $2},
 "data": {"min_hops": 0, "max_hops": 1, "distractors": 0, "max_distractors": 0},
 "out_dir": "$1", "eval_every": 0, "save_every": 1, "eval_problems": 2, "eval_depths": [1] $3}
JSON
}

# 1. unknown keys, wrong types, out-of-range numbers: refused before anything runs, naming the key
cfg "$dir/k" ', "max_stepz": 3' "" > "$dir/k1.json"
expect_fail unknown_key "train.max_stepz: unknown key" "$HUGINN" train "$dir/k1.json"
cfg "$dir/k" "" "" | sed 's/"max_steps": 3/"max_steps": "ten"/' > "$dir/k2.json"
expect_fail wrong_type "train.max_steps: must be an integer" "$HUGINN" train "$dir/k2.json"
cfg "$dir/k" ', "rows_": 1' "" > "$dir/k3.json"
expect_fail unknown_key2 "train.rows_: unknown key" "$HUGINN" train "$dir/k3.json"
cfg "$dir/k" "" ', "eval_evry": 5' > "$dir/k4.json"
expect_fail unknown_top "eval_evry: unknown key" "$HUGINN" train "$dir/k4.json"
cfg "$dir/k" "" "" | sed 's/"n_embd": 16/"n_embd": 16.5/' > "$dir/k5.json"
expect_fail fraction "model.n_embd: must be an integer" "$HUGINN" train "$dir/k5.json"
cfg "$dir/k" "" "" | sed 's/"max_hops": 1/"max_hops": 1e300/' > "$dir/k6.json"
expect_fail huge "data.max_hops: must be an integer in 0..25" "$HUGINN" train "$dir/k6.json"
cfg "$dir/k" "" "" | sed 's/"seed": 7//; s/"distractors": 0,/"distractors": 0, "typo": 1,/' > "$dir/k7.json"
expect_fail unknown_data "data.typo: unknown key" "$HUGINN" train "$dir/k7.json"
cfg "$dir/k" ', "seed": -5' "" > "$dir/k8.json"
expect_fail negative_seed "train.seed: must be an integer" "$HUGINN" train "$dir/k8.json"
cfg "$dir/k" ', "warmup": "5%"' "" | sed 's/"warmup": 0, //' > "$dir/k9.json"
"$HUGINN" train "$dir/k9.json" --stop-after 1 > "$dir/k9.log" 2>&1 || { cat "$dir/k9.log"; echo "FAIL: warmup \"5%\" refused"; fail=1; }

# 2. an out_dir holding a run: refused without --resume / --overwrite
cfg "$dir/run" "" "" > "$dir/run.json"
"$HUGINN" train "$dir/run.json" > "$dir/run1.log" 2>&1 || { cat "$dir/run1.log"; echo "FAIL: first run"; fail=1; }
cp "$dir/run/log.csv" "$dir/run_log_before.csv"
expect_fail rerun "already holds a run" "$HUGINN" train "$dir/run.json"
cmp -s "$dir/run/log.csv" "$dir/run_log_before.csv" || { echo "FAIL: the refused run touched log.csv"; fail=1; }
expect_fail both_flags "exclude each other" "$HUGINN" train "$dir/run.json" --resume --overwrite
mkdir -p "$dir/run/step-00000099" # a stale checkpoint of an "earlier, longer" run
"$HUGINN" train "$dir/run.json" --overwrite > "$dir/run2.log" 2>&1 || { cat "$dir/run2.log"; echo "FAIL: --overwrite"; fail=1; }
[ ! -e "$dir/run/step-00000099" ] || { echo "FAIL: --overwrite left a checkpoint of the earlier run"; fail=1; }
[ "$(readlink "$dir/run/latest")" = step-00000003 ] || { echo "FAIL: --overwrite run did not end at step 3"; fail=1; }
[ "$(ls -d "$dir/run"/step-* | wc -l)" -eq 2 ] || { echo "FAIL: expected the 2 newest checkpoints kept"; ls "$dir/run"; fail=1; }
"$HUGINN" train --help 2>&1 | grep -q "newest 2 are kept" || { echo "FAIL: --help does not say how many checkpoints are kept"; fail=1; }
mkdir -p "$dir/empty_out" # an existing but empty out_dir is fine
cfg "$dir/empty_out" "" "" > "$dir/empty.json"
"$HUGINN" train "$dir/empty.json" --stop-after 1 > "$dir/empty.log" 2>&1 || { cat "$dir/empty.log"; echo "FAIL: empty out_dir refused"; fail=1; }

# 3a. --state with NaN / Inf: refused (run and forward read the file the same way)
python3 - "$dir" <<'PY'
import struct, sys
d = sys.argv[1]
open(d + "/nan.bin", "wb").write(struct.pack("<%df" % (3 * 128), *([float("nan")] * (3 * 128))))
v = [0.0] * (3 * 128); v[200] = float("inf")
open(d + "/inf.bin", "wb").write(struct.pack("<%df" % (3 * 128), *v))
PY
expect_fail state_nan "is NaN; the state must be finite" "$HUGINN" run -m "$model" --ids 1,2,3 -n 2 --temp 0 --state "$dir/nan.bin"
expect_fail state_inf "f32 value 200 is infinite" "$HUGINN" forward -m "$model" --ids 1,2,3 --steps 2 --state "$dir/inf.bin"

# 3b. a diverging run stops at the first non-finite loss and never saves a non-finite checkpoint
cfg "$dir/div" "" "" | sed 's/"lr": 1e-3/"lr": 1e30/; s/"max_steps": 3/"max_steps": 50/' > "$dir/div.json"
expect_fail diverge "stopped without saving, the last good checkpoint is" "$HUGINN" train "$dir/div.json"
if [ -e "$dir/div/latest" ]; then
  python3 - "$dir/div/latest/model.safetensors" <<'PY' || { echo "FAIL: latest holds non-finite weights"; fail=1; }
import json, math, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
for k, v in h.items():
    if k == "__metadata__": continue
    s, e = v["data_offsets"]; x = struct.unpack("<%df" % ((e - s) // 4), b[8 + n + s:8 + n + e])
    if not all(math.isfinite(t) for t in x): sys.exit("non-finite " + k)
PY
fi
last=$(awk -F, '$1 == "train" { s = $2 } END { print s + 0 }' "$dir/div/log.csv")
[ "$last" -lt 50 ] || { echo "FAIL: the diverging run went on to max_steps"; fail=1; }

# 5a. trainer_state.json out of range: refused by --resume (a huge fixed depth ran practically forever)
cfg "$dir/st" "" "" > "$dir/st.json"
"$HUGINN" train "$dir/st.json" --stop-after 1 > "$dir/st.log" 2>&1 || { cat "$dir/st.log"; echo "FAIL: state run"; fail=1; }
sf="$dir/st/latest/trainer_state.json"
cp "$sf" "$dir/state.orig"
sed 's/"fixed_n":[^,]*/"fixed_n": 1e15/' "$dir/state.orig" > "$sf"
expect_fail state_depth "\`fixed_n\` = 1e+15 is out of range" timeout 60 "$HUGINN" train "$dir/st.json" --resume
sed 's/"step":[^,]*/"step": "-1"/' "$dir/state.orig" > "$sf"
expect_fail state_step "key \`step\` missing or not a decimal string" "$HUGINN" train "$dir/st.json" --resume
sed 's/"max_steps":[^,]*/"max_steps": 1e300/' "$dir/state.orig" > "$sf"
expect_fail state_steps "\`max_steps\` = 1e+300 is out of range" "$HUGINN" train "$dir/st.json" --resume
cp "$dir/state.orig" "$sf"
"$HUGINN" train "$dir/st.json" --resume > "$dir/st2.log" 2>&1 || { cat "$dir/st2.log"; echo "FAIL: resume of the restored state"; fail=1; }

# 5b. quantize refuses NaN weights, naming the tensor, and leaves no file
mkdir -p "$dir/nanmodel"; cp "$model"/*.json "$dir/nanmodel/"
python3 - "$model/model.safetensors" "$dir/nanmodel/model.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read()); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
s = h["transformer.core_block.0.mlp.fc.weight"]["data_offsets"][0]
b[8 + n + s + 40:8 + n + s + 44] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(b)
PY
for t in q8_0 q4_0; do
  expect_fail "quant_nan_$t" "tensor blk.0.ffn_gate_up.weight holds NaN or Inf" "$HUGINN" quantize -m "$dir/nanmodel" -o "$dir/nan_$t.gguf" --type "$t"
  [ ! -e "$dir/nan_$t.gguf" ] || { echo "FAIL: quantize left $dir/nan_$t.gguf"; fail=1; }
done

# 5c. detokenize of an empty list: empty output, exit 0 (NULL + 0 before, caught under UBSan)
out=$(echo '[]' | "$HUGINN" detokenize -t "$model/tokenizer.json") || { echo "FAIL: detokenize []"; fail=1; }
[ -z "$out" ] || { echo "FAIL: detokenize [] printed \`$out\`"; fail=1; }

# 6. a config.json with huge dimensions: a shape mismatch, found before anything is sized from it
mkdir -p "$dir/huge"; cp "$model"/* "$dir/huge/"
sed 's/"n_embd": 128/"n_embd": 16777216/; s/"intermediate_size": 384/"intermediate_size": 16777216/' "$model/config.json" > "$dir/huge/config.json"
expect_fail huge_config "expected [" "$HUGINN" info -m "$dir/huge"
grep -q "out of memory" "$dir/huge_config.err" && { echo "FAIL: huge config reported as out of memory"; fail=1; }

[ "$fail" -eq 0 ] && echo "test_robust_cli: all checks passed"
exit "$fail"
