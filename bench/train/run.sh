#!/usr/bin/env bash
# bench/train/run.sh — training step speed: `huginn train` vs the official PyTorch training step
# (bench_train.py: the authors' raven_modeling_minimal.py in train mode + backward + AdamW) on the
# same config, batch and truncation (fixed n no-grad + k grad iterations, zero initial state), on this
# CPU with the same thread count. Runs huginn, torch, huginn (the host is shared: the best of the two
# huginn runs and the median step of each run are reported) and prints tokens/s and the ratio.
#
# usage: bench/train/run.sh [BUILD_DIR] [THREADS]   (env: ROWS SEQ N K STEPS H HEADS I P R C)
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
threads=${2:-2}
ROWS=${ROWS:-32} SEQ=${SEQ:-57} N=${N:-4} K=${K:-4} STEPS=${STEPS:-8}
H=${H:-128} HEADS=${HEADS:-4} I=${I:-384} P=${P:-1} R=${R:-2} C=${C:-1} V=264
tmp=$(mktemp -d /tmp/hg-bench-train.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/cfg.json" <<JSON
{"model": {"n_embd": $H, "n_head": $HEADS, "intermediate_size": $I, "n_layers_prelude": $P, "n_layers_core": $R,
           "n_layers_coda": $C, "mean_recurrence": $((N + K)), "mean_backprop_depth": $K, "block_size": 64},
 "train": {"rows": $ROWS, "seq_len": $SEQ, "max_steps": $((STEPS + 2)), "fixed_n": $N, "fixed_k": $K, "init_scale": 0},
 "data": {"min_hops": 0, "max_hops": 4, "distractors": 2, "max_distractors": 8},
 "out_dir": "$tmp/out", "eval_every": 0, "save_every": 0, "eval_problems": 1, "eval_depths": [1]}
JSON
huginn_run() {
  rm -rf "$tmp/out"
  OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=passive "$build/huginn" train "$tmp/cfg.json" > "$tmp/train.log"
  # per-step wall time from the cumulative elapsed_s column; steps 3.. (2 warm-up steps, as for torch)
  /usr/bin/python3 - "$tmp/out/log.csv" $((ROWS * SEQ)) <<'PY'
import csv, json, statistics, sys
t = {int(r["step"]): float(r["elapsed_s"]) for r in csv.DictReader(open(sys.argv[1])) if r["kind"] == "train"}
d = [t[s] - t[s - 1] for s in sorted(t) if s >= 3]
tok = int(sys.argv[2])
print(json.dumps({"impl": "huginn", "best_step_s": min(d), "median_step_s": statistics.median(d),
                  "tokens_per_s_best": tok / min(d), "tokens_per_s_median": tok / statistics.median(d)}))
PY
}
echo "config: h=$H heads=$HEADS I=$I (P,R,C)=($P,$R,$C) V=$V; batch $ROWS x $SEQ tokens; n=$N no-grad + k=$K grad iterations; $threads threads; load $(cut -d' ' -f1 /proc/loadavg)"
a=$(huginn_run); echo "$a"
t=$(/usr/bin/python3 "$here/bench_train.py" --threads "$threads" --rows "$ROWS" --seq-len "$SEQ" --n "$N" --k "$K" \
     --steps "$STEPS" --config-json "{\"n_embd\": $H, \"num_attention_heads\": $HEADS, \"num_key_value_heads\": $HEADS,
     \"intermediate_size\": $I, \"vocab_size\": $V, \"n_layers_in_prelude\": $P, \"n_layers_in_recurrent_block\": $R,
     \"n_layers_in_coda\": $C, \"block_size\": 64, \"mean_recurrence\": $((N + K)), \"mean_backprop_depth\": $K}" | tail -1)
echo "$t"
b=$(huginn_run); echo "$b"
python3 - "$a" "$b" "$t" <<'PY'
import json, sys
a, b, t = (json.loads(x) for x in sys.argv[1:4])
h_best = max(a["tokens_per_s_best"], b["tokens_per_s_best"]); h_med = max(a["tokens_per_s_median"], b["tokens_per_s_median"])
print(f"huginn {h_med:.0f} tok/s (median step; best {h_best:.0f}), pytorch {t['tokens_per_s_median']:.0f} tok/s "
      f"(median; best {t['tokens_per_s_best']:.0f}): ratio {h_med / t['tokens_per_s_median']:.2f}x median, "
      f"{h_best / t['tokens_per_s_best']:.2f}x best")
PY
