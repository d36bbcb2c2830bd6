#!/usr/bin/env bash
# test_train_retrofit.sh — `huginn train` on a retrofitted Llama model (docs/training.md "Fine-tuning a
# retrofitted model"; run with HUGINN, HG_TEST_DATA, HG_TEST_TMP): from the retrofit-tiny checkpoint
# (init_from) on one repeated batch of a token shard, at a fixed split (n, k) = (1, 2) with a zero
# initial state:
#   - the loss of step 1 equals the mean cross entropy of `huginn forward --steps 3` on the same rows
#     (the inference engine's logits; 1e-4 relative), and the loss falls (last < half the first);
#   - the saved checkpoint is a retrofit-llama model that `huginn info`, `forward` (finite logits)
#     and `run` load, and its forward loss on the batch is the trained one's;
#   - --stop-after + --resume gives the uninterrupted run's weights bit for bit;
#   - the randomized depth (sampler r̄ 4, k̄ 2, random initial state) trains, drawing several depths;
#   - the same fixed-split run on retrofit-olmo-tiny (OLMo-2 blocks): step 1 = forward, falling loss;
#   - `huginn grad` runs on it; Ouro is refused by name (no backward).
set -u
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok $1"; fi; }
M="$HG_TEST_DATA/golden_family/retrofit-tiny"
dir="$HG_TEST_TMP/train_retrofit"
rm -rf "$dir" && mkdir -p "$dir"
export OMP_WAIT_POLICY=passive

# one shard of 4 rows x 25 tokens (ids < 512, the model's vocabulary), format v1 (docs/training.md)
python3 - "$dir/batch.shard" "$dir/rows.txt" <<'EOF'
import struct, sys
rows, row_len, x, ids = 4, 25, 12345, []
for _ in range(rows * row_len):
    x = (x * 1103515245 + 12345) % 2**31
    ids.append(3 + x % 509)
hdr = b"HGSHARD\0" + struct.pack("<IIQIIiii", 1, 64, rows, row_len, 4, 512, 1, 2)
open(sys.argv[1], "wb").write(hdr + b"\0" * (64 - len(hdr)) + struct.pack("<%di" % len(ids), *ids))
with open(sys.argv[2], "w") as fh:
    for r in range(rows):
        fh.write(",".join(map(str, ids[r * row_len:(r + 1) * row_len])) + "\n")
EOF
cfg() { # out_dir, extra train keys[, model]
  cat <<EOF
{"init_from": "${3:-$M}", "out_dir": "$1",
 "train": {"rows": 4, "seq_len": 24, "max_steps": 8, "warmup": 0, "cooldown": 0, "lr": 3e-3 $2},
 "data": {"shard": "$dir/batch.shard"}, "eval_every": 1000, "save_every": 1000}
EOF
}
fixed=', "fixed_n": 1, "fixed_k": 2, "init_scale": 0'
cfg "$dir/run" "$fixed" > "$dir/fixed.json"
"$HUGINN" train "$dir/fixed.json" > "$dir/train.out" 2>&1 || { cat "$dir/train.out"; fail=1; }
loss_at() { awk -F, -v s="$2" '$1 == "train" && $2 == s {print $3}' "$1/log.csv"; }
first=$(loss_at "$dir/run" 1) last=$(loss_at "$dir/run" 8)
echo "loss step 1 $first, step 8 $last"
check "8 steps from the retrofit checkpoint" '[ -n "$first" ] && [ -n "$last" ]'
check "the loss falls on the repeated batch" 'awk -v a="$first" -v b="$last" "BEGIN {exit !(b < 0.5 * a)}"'

# mean CE of `huginn forward --steps 3` over every target of the 4 rows, for a model directory
forward_loss() {
  local i=0
  while IFS= read -r row; do
    "$HUGINN" forward -m "$1" --ids "${row%,*}" --steps 3 --logits "$dir/f$i.bin" || return 1
    i=$((i + 1))
  done < "$dir/rows.txt"
  python3 - "$dir" 512 <<'EOF'
import math, struct, sys
d, V = sys.argv[1], int(sys.argv[2])
total, n = 0.0, 0
for i, line in enumerate(open(d + "/rows.txt")):
    ids = [int(t) for t in line.split(",")]
    raw = open("%s/f%d.bin" % (d, i), "rb").read()
    z = struct.unpack("<%df" % (len(raw) // 4), raw)
    for t in range(len(ids) - 1):
        row = z[t * V:(t + 1) * V]
        if not all(math.isfinite(v) for v in row):
            print("nan"); sys.exit(0)
        m = max(row)
        total += m + math.log(sum(math.exp(v - m) for v in row)) - row[ids[t + 1]]
        n += 1
print("%.6f" % (total / n))
EOF
}
f0=$(forward_loss "$M")
echo "forward loss of the start: $f0"
check "step 1's loss is the inference engine's loss at r = 3" \
  'awk -v a="$first" -v b="$f0" "BEGIN {d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * b)}"'

# the checkpoint: a retrofit-llama model the inference commands load
C="$dir/run/latest"
check "the checkpoint is a retrofit-llama model" '"$HUGINN" info -m "$C" | grep -q "^architecture *retrofit-llama"'
f8=$(forward_loss "$C")
echo "forward loss of the checkpoint: $f8"
check "the checkpoint forwards with finite logits and a lower loss" \
  'awk -v a="$f8" -v b="$f0" "BEGIN {exit !(a + 0 == a && a < b)}"'
check "huginn run generates from the checkpoint" \
  '"$HUGINN" run -m "$C" --ids "$(head -1 "$dir/rows.txt" | cut -d, -f1-8)" -n 4 --steps 3 --temp 0 --init-scale 0 --json | grep -q "\"n_generated\":4"'

# resume: 3 steps, stop, continue to 8 = the uninterrupted run, bit for bit
cfg "$dir/res" "$fixed" > "$dir/res.json"
"$HUGINN" train "$dir/res.json" --stop-after 3 > /dev/null 2>&1 || fail=1
"$HUGINN" train "$dir/res.json" --resume > /dev/null 2>&1 || fail=1
check "stop + resume equals the uninterrupted run" 'cmp -s "$dir/res/latest/model.safetensors" "$C/model.safetensors"'

# the recipe's randomized depth: r ~ Poisson-lognormal(4) + 1, the last k = min(2, r) with gradient
cfg "$dir/rnd" ', "mean_recurrence": 4, "backprop_depth": 2, "init_scale": 1' > "$dir/rnd.json"
"$HUGINN" train "$dir/rnd.json" > /dev/null 2>&1 || fail=1
depths=$(awk -F, '$1 == "train" {print $6 "," $7}' "$dir/rnd/log.csv" | sort -u | wc -l)
r1=$(loss_at "$dir/rnd" 1) r8=$(loss_at "$dir/rnd" 8)
echo "randomized depth: $depths distinct (n, k), loss $r1 -> $r8"
check "randomized depth trains (several depths, falling loss)" \
  '[ "$depths" -ge 2 ] && awk -v a="$r1" -v b="$r8" "BEGIN {exit !(b < a)}"'

# OLMo-2 blocks: the same fixed-split run
O="$HG_TEST_DATA/golden_family/retrofit-olmo-tiny"
cfg "$dir/olmo" "$fixed" "$O" > "$dir/olmo.json"
"$HUGINN" train "$dir/olmo.json" > /dev/null 2>&1 || fail=1
o1=$(loss_at "$dir/olmo" 1) o8=$(loss_at "$dir/olmo" 8) fo=$(forward_loss "$O")
echo "OLMo-2: loss step 1 $o1 (forward $fo), step 8 $o8"
check "OLMo-2: step 1's loss is the inference engine's, and it falls" \
  'awk -v a="$o1" -v b="$fo" -v c="$o8" "BEGIN {d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * b && c < 0.5 * a)}"'
check "OLMo-2: the checkpoint is a retrofit-olmo2 model" \
  '"$HUGINN" info -m "$dir/olmo/latest" | grep -q "^architecture *retrofit-olmo2"'

# huginn grad runs; a block without a backward (Ouro) is refused by name
check "huginn grad runs on a retrofit-llama model" \
  '"$HUGINN" grad -m "$M" --ids 1,2,3 --labels 2,3,-100 --no-grad-steps 1 --grad-steps 2 --out "$dir/grad" > /dev/null 2>&1'
e=$("$HUGINN" grad -m "$HG_TEST_DATA/golden_family/ouro-tiny" --ids 1,2,3 --labels 2,3,-100 --out "$dir/g3" 2>&1 >/dev/null)
check "Ouro is refused by name" 'echo "$e" | grep -q "the ouro architecture has no backward pass"'
exit $fail
