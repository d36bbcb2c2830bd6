#!/usr/bin/env bash
# test_train_grad.sh — `huginn grad` on the golden tiny checkpoint reproduces the authors' training
# step (case train_nograd3_grad2: 3 no-grad + 2 grad iterations): the loss and the 8 stored gradients
# within 1e-4 absolute (the tolerance of test_train_golden.c), read back from the raw f32 files with od.
set -euo pipefail
: "${HUGINN:?}" "${HG_TEST_DATA:?}" "${HG_TEST_TMP:?}"
g="$HG_TEST_DATA/golden_model/tiny"
out="$HG_TEST_TMP/train_grad"
rm -rf "$out"
ids="396,348,154,121,111,23,52,386,164,131,44,166,201,367,99,151,14"
labels="348,154,121,111,23,52,386,164,131,44,166,201,367,99,151,14,-100"
"$HUGINN" grad -m "$g" --ids "$ids" --labels "$labels" --no-grad-steps 3 --grad-steps 2 --out "$out"
fail=0
want=$(od -An -v -f "$g/golden/train_nograd3_grad2.loss.bin" | tr -s ' \n' ' ')
got=$(cat "$out/loss")
awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; if (!(d <= 1e-4)) { print "FAIL loss", a, b; exit 1 } print "  ok loss", a, b }' || fail=1
n=0
for f in "$g"/golden/train_nograd3_grad2.grad.*.bin; do
  name=${f##*/train_nograd3_grad2.grad.}
  if [ ! -f "$out/$name" ]; then echo "FAIL missing $out/$name"; fail=1; continue; fi
  paste <(od -An -v -f "$out/$name" | tr -s ' ' '\n' | sed '/^$/d') <(od -An -v -f "$f" | tr -s ' ' '\n' | sed '/^$/d') |
    awk -v name="$name" '{ n++; d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; if (!(d <= 1e-4)) bad++ }
         END { if (bad || n == 0) { print "FAIL", name, "max|diff|", m; exit 1 } print "  ok", name, "max|diff|", m, "n=" n }' || fail=1
  n=$((n + 1))
done
[ "$n" -eq 8 ] || { echo "FAIL expected 8 golden gradients, found $n"; fail=1; }
# every parameter tensor was written
count=$(ls "$out"/*.bin | wc -l)
[ "$count" -eq 75 ] || { echo "FAIL expected 75 tensor files, got $count"; fail=1; }
# bad input is an error, not a crash
if "$HUGINN" grad -m "$g" --ids 1,2 --labels 2 --out "$out" 2>/dev/null; then echo "FAIL mismatched lengths accepted"; fail=1; fi
if "$HUGINN" grad -m "$g" --ids 1,99999 --labels 2,-100 --out "$out" 2>/dev/null; then echo "FAIL bad id accepted"; fail=1; fi
exit $fail
