#!/usr/bin/env bash
# test_chains_eval.sh — `huginn eval-chains` predicts what fixed-depth forwards predict. It runs all
# depths in one pass per problem (core steps one at a time, the coda read at each requested r); its
# --predictions output (greedy id per problem and depth) must equal the argmax of the last row of an
# independent `huginn forward --steps r` on <bos> + the prompt's bytes, zero initial state on both
# sides. The model is the golden tiny random-weight checkpoint (its predictions change with r, unlike
# a model that ignores depth) with the byte-level chain tokenizer beside it (its vocabulary fits the
# model). Also: the CSV has one row per (hops, r) and its counts agree with the predictions;
# malformed input fails; tests/data/chain_statements is what make_chain_tokenizer.py writes today.
set -euo pipefail
: "${HUGINN:?}" "${HG_TEST_TMP:?}" "${HG_SOURCE_DIR:?}" "${HG_TEST_DATA:?}"
dir="$HG_TEST_TMP/chains_eval"
rm -rf "$dir"; mkdir -p "$dir/model"
cp "$HG_TEST_DATA/golden_model/tiny/config.json" "$HG_TEST_DATA/golden_model/tiny/model.safetensors" "$dir/model/"
python3 "$HG_SOURCE_DIR/scripts/make_chain_tokenizer.py" --bytes "$dir/model"
model="$dir/model"
export OMP_NUM_THREADS=1
python3 "$HG_SOURCE_DIR/scripts/chain_problems.py" --hops 1-4 --n 2 --distractors 2 --seed 5 > "$dir/p.tsv"
"$HUGINN" eval-chains -m "$model" --problems "$dir/p.tsv" --steps 1,3,5 --init-scale 0 --csv "$dir/out.csv" \
  --predictions "$dir/pred.tsv" > "$dir/eval.log" || { cat "$dir/eval.log"; echo "FAIL: eval-chains"; exit 1; }
fail=0
[ "$(tail -n +2 "$dir/out.csv" | wc -l)" -eq 12 ] || { echo "FAIL: expected 12 CSV rows"; fail=1; }
[ "$(wc -l < "$dir/pred.tsv")" -eq 24 ] || { echo "FAIL: expected 24 predictions"; fail=1; }
V=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$model/config.json")
i=0
while IFS=$'\t' read -r hops prompt answer; do
  i=$((i + 1))
  ids=$(python3 -c 'import sys; print(",".join(["256"] + [str(b) for b in sys.argv[1].encode()]))' "$prompt")
  for r in 1 3 5; do
    "$HUGINN" forward -m "$model" --ids "$ids" --steps $r --init-scale 0 --logits "$dir/l.bin" > /dev/null
    want=$(python3 -c '
import struct, sys
V = int(sys.argv[2]); data = open(sys.argv[1], "rb").read()
row = struct.unpack("<%df" % V, data[-4 * V:])
print(max(range(V), key=lambda j: (row[j], -j)))' "$dir/l.bin" "$V")
    got=$(awk -F'\t' -v i=$i -v r=$r '$1 == i && $2 == r { print $3 }' "$dir/pred.tsv")
    [ "$got" = "$want" ] || { echo "FAIL: problem $i r $r: eval-chains predicts $got, forward $want"; fail=1; }
  done
done < "$dir/p.tsv"
# the predictions must not be all alike (a depth-blind or constant result would make this test weak)
[ "$(cut -f3 "$dir/pred.tsv" | sort -u | wc -l)" -ge 3 ] || { echo "FAIL: predictions barely vary"; fail=1; }
# CSV counts = predictions that equal the answer
awk -F'\t' 'NR == FNR { if ($3 == $4) c[$2]++; next } FNR > 1 { split($0, f, ","); s[f[3]] += f[5] }
  END { for (r in s) if (s[r] != c[r] + 0) { print "FAIL: r", r, "CSV", s[r], "predictions", c[r] + 0; bad = 1 } exit bad }' \
  "$dir/pred.tsv" "$dir/out.csv" || fail=1
printf '1\tno-answer-column\n' > "$dir/bad.tsv"
if "$HUGINN" eval-chains -m "$model" --problems "$dir/bad.tsv" > /dev/null 2>&1; then echo "FAIL: malformed file accepted"; fail=1; fi
if "$HUGINN" eval-chains -m "$model" --problems "$dir/p.tsv" --steps 4,2 > /dev/null 2>&1; then echo "FAIL: decreasing --steps accepted"; fail=1; fi
# --exit: each problem answered as `huginn run -n 1 --temp 0 --exit kl` answers it (token and iterations)
"$HUGINN" eval-chains -m "$model" --problems "$dir/p.tsv" --steps 6 --init-scale 0 --exit kl --exit-threshold 0.01 \
  --csv "$dir/ex.csv" --predictions "$dir/ex.tsv" > "$dir/ex.log" || { cat "$dir/ex.log"; echo "FAIL: eval-chains --exit"; exit 1; }
i=0
while IFS=$'\t' read -r hops prompt answer; do
  i=$((i + 1))
  ids=$(python3 -c 'import sys; print(",".join(["256"] + [str(b) for b in sys.argv[1].encode()]))' "$prompt")
  want=$("$HUGINN" run -m "$model" --ids "$ids" -n 1 --temp 0 --steps 6 --init-scale 0 --exit kl --exit-threshold 0.01 \
    --json 2>/dev/null | python3 -c 'import json,sys; j=json.load(sys.stdin); g=j["generated"][0]; print(g["id"], g["steps"])')
  got=$(awk -F'\t' -v i=$i '$1 == i { print $3, $2 }' "$dir/ex.tsv")
  [ "$got" = "$want" ] || { echo "FAIL: --exit problem $i: eval-chains id/steps $got, run $want"; fail=1; }
done < "$dir/p.tsv"
[ "$(cut -f2 "$dir/ex.tsv" | sort -u | wc -l)" -ge 2 ] || { echo "FAIL: --exit: every problem used the same depth"; fail=1; }
head -1 "$dir/ex.csv" | grep -q '^model,hops,criterion,threshold,max_steps,n,correct,accuracy,mean_steps$' ||
  { echo "FAIL: --exit CSV header"; fail=1; }
if "$HUGINN" eval-chains -m "$model" --problems "$dir/p.tsv" --exit-threshold 0.1 > /dev/null 2>&1; then
  echo "FAIL: --exit-threshold without --exit accepted"; fail=1; fi
if "$HUGINN" eval-chains -m "$model" --problems "$dir/p.tsv" --exit bogus > /dev/null 2>&1; then
  echo "FAIL: unknown exit criterion accepted"; fail=1; fi
# many distractors as distractor chains of any length, up to 26 variables (--clamp): every problem
# resolves to its answer at its hop count and no distractor reaches the queried chain
python3 "$HG_SOURCE_DIR/scripts/chain_problems.py" --hops 0-14 --n 20 --distractors 3-25 --clamp --structure any \
  --seed 9 > "$dir/c.tsv"
python3 - "$dir/c.tsv" <<'PY' || fail=1
import sys
full = longest = 0
for line in open(sys.argv[1]):
    hops, prompt, answer = line.rstrip("\n").split("\t")
    body, query = prompt.rsplit(";?", 1)
    rhs = dict(s.split("=") for s in body.split(";"))
    def walk(v, n=0):
        return (v, n) if v.isdigit() else walk(rhs[v], n + 1) if n < 30 else (None, n)
    ok = len(rhs) == len(body.split(";")) <= 26 and len(rhs) >= int(hops) + 4
    ok &= walk(rhs[query.rstrip("=")]) == (answer, int(hops))
    full += len(rhs) == 26
    longest = max(longest, max(walk(rhs[v])[1] for v in rhs if v != query.rstrip("=")))
    if not ok:
        sys.exit("FAIL: many-distractor problem " + line.strip())
if full == 0 or longest < 10:
    sys.exit(f"FAIL: --clamp/--structure: {full} problems with 26 variables, longest other chain {longest}")
PY
# --decoy: two chains of the same length, each ending in its own digit; the script checks its own
# answers, this checks the shape independently
python3 "$HG_SOURCE_DIR/scripts/chain_problems.py" --hops 0-6 --n 20 --decoy --seed 3 > "$dir/d.tsv"
python3 - "$dir/d.tsv" <<'PY' || fail=1
import sys
for line in open(sys.argv[1]):
    hops, prompt, answer = line.rstrip("\n").split("\t")
    body, query = prompt.rsplit(";?", 1)
    rhs = dict(s.split("=") for s in body.split(";"))
    digits = [v for v in rhs.values() if v.isdigit()]
    def walk(v, n=0):
        return (v, n) if v.isdigit() else walk(rhs[v], n + 1) if n < 30 else (None, n)
    ok = len(rhs) == 2 * (int(hops) + 1) and len(digits) == 2 and digits[0] != digits[1]
    ok &= walk(rhs[query.rstrip("=")]) == (answer, int(hops))
    ok &= all(walk(rhs[v])[1] <= int(hops) for v in rhs)
    if not ok:
        sys.exit("FAIL: decoy problem " + line.strip())
PY
# the statement vocabulary the C tests load is exactly what the script writes today
python3 "$HG_SOURCE_DIR/scripts/make_chain_tokenizer.py" "$dir/stmt"
for f in tokenizer.json tokenizer_config.json; do
  cmp -s "$dir/stmt/$f" "$HG_TEST_DATA/chain_statements/$f" || { echo "FAIL: tests/data/chain_statements/$f is stale (rerun make_chain_tokenizer.py)"; fail=1; }
done
[ $fail -eq 0 ] && echo ok
exit $fail
