#!/usr/bin/env bash
# test_train_cli.sh — `huginn train` and `huginn tokenize-data` end to end (issue 6):
#   1. a short run on the chain task learns: the mean loss of the last 5 steps is below half that of
#      the first 5 (it starts near ln 264 = 5.6);
#   2. resume is bit-identical: 6 steps straight == 3 steps (--stop-after 3) + --resume, compared on
#      model.safetensors and optimizer.safetensors bytes, and the resumed log continues at step 4;
#   2b. init_from starts a new run from trained weights (and refuses a directory with trainer state);
#   3. tokenize-data packs text into a shard that `huginn train` reads (data.shard / data.val_shard),
#      evaluating on the validation shard; a file that is not a shard is refused with a message.
#   4. data.curriculum_stages is accepted when it lists one positive length per hop cap, else refused.
#   5. data.hops_within_depth 1 runs (and 2 is refused naming the key); data.depth_hops_pct 50 runs
#      beside it (101 is refused naming the key); max_distractors may exceed what max_hops leaves
#      (longer chains take fewer), but not what min_hops leaves.
set -euo pipefail
: "${HUGINN:?}" "${HG_TEST_TMP:?}" "${HG_SOURCE_DIR:?}"
dir="$HG_TEST_TMP/train_cli"
rm -rf "$dir"; mkdir -p "$dir"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
fail=0
cfg() { # out_dir max_steps extra-data-json
  cat <<JSON
{"model": {"n_embd": 32, "n_head": 2, "intermediate_size": 64, "n_layers_prelude": 1, "n_layers_core": 1,
           "n_layers_coda": 1, "mean_recurrence": 3, "mean_backprop_depth": 2, "block_size": 32},
 "train": {"rows": 8, "seq_len": 31, "max_steps": $2, "warmup": 2, "lr": 3e-3},
 "data": {"min_hops": 0, "max_hops": 2, "distractors": 1, "max_distractors": 3 $3},
 "out_dir": "$1", "tokenizer": "$HG_SOURCE_DIR/models/default/tokenizer.json",
 "eval_every": 0, "save_every": 0, "eval_problems": 16, "eval_depths": [1, 3]}
JSON
}

# 1. the loss falls
cfg "$dir/learn" 40 "" > "$dir/learn.json"
"$HUGINN" train "$dir/learn.json" > "$dir/learn.log" 2>&1 || { cat "$dir/learn.log"; echo "FAIL: train"; exit 1; }
awk -F, '$1 == "train" { l[++n] = $3 } END {
  for (i = 1; i <= 5; i++) { a += l[i]; b += l[n - 5 + i] }
  a /= 5; b /= 5; printf "  loss: first 5 steps %.3f, last 5 steps %.3f\n", a, b
  if (!(n == 40 && b < 0.5 * a)) { print "FAIL: the loss did not fall by half"; exit 1 } }' "$dir/learn/log.csv" || fail=1
[ -f "$dir/learn/latest/tokenizer.json" ] && [ -f "$dir/learn/latest/tokenizer_config.json" ] || { echo "FAIL: tokenizer files not copied into the checkpoint"; fail=1; }
"$HUGINN" info -m "$dir/learn/latest" > /dev/null || { echo "FAIL: the checkpoint does not load"; fail=1; }

# 2. resume == straight
cfg "$dir/straight" 6 "" > "$dir/straight.json"
cfg "$dir/resumed" 6 "" > "$dir/resumed.json"
"$HUGINN" train "$dir/straight.json" > "$dir/straight.log" 2>&1
"$HUGINN" train "$dir/resumed.json" --stop-after 3 > "$dir/resumed1.log" 2>&1
[ "$(readlink "$dir/resumed/latest")" = "step-00000003" ] || { echo "FAIL: --stop-after 3 did not save step 3"; fail=1; }
"$HUGINN" train "$dir/resumed.json" --resume > "$dir/resumed2.log" 2>&1
for f in model.safetensors optimizer.safetensors; do
  cmp "$dir/straight/latest/$f" "$dir/resumed/latest/$f" || { echo "FAIL: resumed $f differs from the straight run"; fail=1; }
done
grep -q "^step      4 " "$dir/resumed2.log" || grep -q "^train,4," "$dir/resumed/log.csv" ||
  { echo "FAIL: the resumed run did not continue at step 4"; fail=1; }
[ "$(grep -c '^train,' "$dir/resumed/log.csv")" -eq 6 ] || { echo "FAIL: resumed log.csv should hold 6 train rows"; fail=1; }

# init_from: a new run from trained weights starts where they left off (first loss well below a fresh
# run's), and a directory that holds trainer state is refused (that is what --resume is for)
mkdir -p "$dir/weights"; cp "$dir/learn/latest/config.json" "$dir/learn/latest/model.safetensors" "$dir/weights/"
cfg "$dir/cont" 2 "" | sed "s#\"out_dir\"#\"init_from\": \"$dir/weights\", \"out_dir\"#" > "$dir/cont.json"
"$HUGINN" train "$dir/cont.json" > "$dir/cont.log" 2>&1 || { cat "$dir/cont.log"; echo "FAIL: init_from"; fail=1; }
awk -F, -v fresh="$(awk -F, '$1 == "train" && $2 == 1 { print $3 }' "$dir/learn/log.csv")" '$1 == "train" && $2 == 1 {
  printf "  init_from: first loss %.3f (fresh run %.3f)\n", $3, fresh; if (!($3 < 0.6 * fresh)) { print "FAIL: init_from did not load the weights"; exit 1 } }' "$dir/cont/log.csv" || fail=1
cfg "$dir/cont2" 2 "" | sed "s#\"out_dir\"#\"init_from\": \"$dir/learn/latest\", \"out_dir\"#" > "$dir/cont2.json"
if "$HUGINN" train "$dir/cont2.json" > "$dir/cont2.log" 2>&1; then echo "FAIL: init_from a run with trainer state was accepted"; fail=1; fi

# 3. tokenize-data -> shard -> train
mkdir -p "$dir/text"
for i in 1 2 3; do
  for j in $(seq 1 12); do printf 'document %d.%d: a=%d;b=a;c=b;?c= ends here.\n\n' "$i" "$j" "$((j % 10))"; done > "$dir/text/$i.txt"
done
"$HUGINN" tokenize-data -t "$HG_SOURCE_DIR/models/default/tokenizer.json" --row-len 32 --split blank --seed 3 \
  -o "$dir/train.shard" --val "$dir/val.shard" --val-fraction 0.2 "$dir"/text/*.txt > "$dir/tok.log" 2>&1 ||
  { cat "$dir/tok.log"; echo "FAIL: tokenize-data"; exit 1; }
cat "$dir/tok.log"
[ "$(head -c 7 "$dir/train.shard")" = "HGSHARD" ] || { echo "FAIL: shard magic"; fail=1; }
cfg "$dir/shardrun" 3 ", \"shard\": \"$dir/train.shard\", \"val_shard\": \"$dir/val.shard\"" > "$dir/shard.json"
"$HUGINN" train "$dir/shard.json" > "$dir/shardrun.log" 2>&1 || { cat "$dir/shardrun.log"; echo "FAIL: train on shards"; fail=1; }
grep -q "^eval,3,.*,3," "$dir/shardrun/log.csv" || { echo "FAIL: no evaluation on the validation shard"; fail=1; }
cfg "$dir/badrun" 3 ", \"shard\": \"$dir/learn.json\"" > "$dir/bad.json"
if "$HUGINN" train "$dir/bad.json" > "$dir/bad.log" 2>&1; then echo "FAIL: a JSON file was accepted as a shard"; fail=1; fi
grep -q "magic" "$dir/bad.log" || { cat "$dir/bad.log"; echo "FAIL: no message about the magic"; fail=1; }
cfg "$dir/badlen" 3 ", \"shard\": \"$dir/val.shard\"" | sed 's/"seq_len": 31/"seq_len": 20/' > "$dir/badlen.json"
if "$HUGINN" train "$dir/badlen.json" > "$dir/badlen.log" 2>&1; then echo "FAIL: row length mismatch accepted"; fail=1; fi
# 4. data.curriculum_stages: one positive length per hop cap below max_hops, else a message
cfg "$dir/stages" 3 ', "curriculum_stages": [1, 1]' > "$dir/stages.json"
"$HUGINN" train "$dir/stages.json" > "$dir/stages.log" 2>&1 || { cat "$dir/stages.log"; echo "FAIL: curriculum_stages refused"; fail=1; }
for bad in '[1]' '[1, 0]' '[1, "x"]' '3'; do
  cfg "$dir/badstages" 3 ", \"curriculum_stages\": $bad" > "$dir/badstages.json"
  if "$HUGINN" train "$dir/badstages.json" > "$dir/badstages.log" 2>&1; then echo "FAIL: curriculum_stages $bad accepted"; fail=1; fi
  grep -q "curriculum_stages" "$dir/badstages.log" || { cat "$dir/badstages.log"; echo "FAIL: no message for curriculum_stages $bad"; fail=1; }
done
# 5. hops_within_depth and the distractor range
cfg "$dir/within" 4 ', "hops_within_depth": 1, "depth_hops_pct": 50' | sed 's/"max_hops": 2/"max_hops": 8/; s/"max_distractors": 3/"max_distractors": 25/; s/"seq_len": 31/"seq_len": 40/; s/"block_size": 32/"block_size": 48/' \
  > "$dir/within.json"
"$HUGINN" train "$dir/within.json" > "$dir/within.log" 2>&1 || { cat "$dir/within.log"; echo "FAIL: hops_within_depth 1 refused"; fail=1; }
cfg "$dir/within2" 2 ', "hops_within_depth": 2' > "$dir/within2.json"
if "$HUGINN" train "$dir/within2.json" > "$dir/within2.log" 2>&1; then echo "FAIL: hops_within_depth 2 accepted"; fail=1; fi
grep -q "hops_within_depth" "$dir/within2.log" || { cat "$dir/within2.log"; echo "FAIL: no message naming hops_within_depth"; fail=1; }
cfg "$dir/depth101" 2 ', "depth_hops_pct": 101' > "$dir/depth101.json"
if "$HUGINN" train "$dir/depth101.json" > "$dir/depth101.log" 2>&1; then echo "FAIL: depth_hops_pct 101 accepted"; fail=1; fi
grep -q "depth_hops_pct" "$dir/depth101.log" || { cat "$dir/depth101.log"; echo "FAIL: no message naming depth_hops_pct"; fail=1; }
cfg "$dir/toomany" 2 '' | sed 's/"distractors": 1/"distractors": 26/; s/"max_distractors": 3/"max_distractors": 26/' > "$dir/toomany.json"
if "$HUGINN" train "$dir/toomany.json" > "$dir/toomany.log" 2>&1; then echo "FAIL: 26 distractors beside a chain accepted"; fail=1; fi
[ $fail -eq 0 ] && echo ok
exit $fail
