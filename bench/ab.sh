#!/usr/bin/env bash
# bench/ab.sh — is a change slower? Two builds of `huginn` run the same `huginn bench` alternately (A, B,
# A, B, ...) on one random checkpoint, so drift of a shared host lands on both; prints each run and the
# medians of prefill and decode tokens/s with the ratio B/A. Nothing is written to the repository.
#   bench/ab.sh BUILD_A BUILD_B [ROUNDS]     (ROUNDS default 5; HG_AB_WIDTH=1024 HG_AB_STEPS=32 HG_AB_BATCH=1)
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;; esac
a=$1; b=$2; rounds=${3:-5}
width=${HG_AB_WIDTH:-1024}; steps=${HG_AB_STEPS:-32}; batch=${HG_AB_BATCH:-1}
# OpenMP waits as huginn runs by default (bench/run.sh says why)
if [ -z "${OMP_WAIT_POLICY:-}" ] && [ -z "${GOMP_SPINCOUNT:-}" ]; then export GOMP_SPINCOUNT=10000; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/config.json" "$width" <<'PY'
import json, sys
w = int(sys.argv[2])
json.dump({"name": "ab", "n_embd": w, "num_attention_heads": w // 128, "num_key_value_heads": w // 128,
  "intermediate_size": w * 7 // 2, "vocab_size": 65536, "n_layers_in_prelude": 2, "n_layers_in_recurrent_block": 4,
  "n_layers_in_coda": 2, "block_size": 4096, "rope_base": 50000, "norm_eps": 1e-6, "tie_embeddings": True,
  "mean_recurrence": 32, "mean_backprop_depth": 8, "qk_bias": True, "bias": False, "block_class_name": "SandwichBlock",
  "norm_class_name": "RMSNorm_llama", "mlp_class_name": "GatedMLP", "nonlin_name": "SiLU",
  "injection_type": "linear", "state_init": "like-init"}, open(sys.argv[1], "w"))
PY
"$a/huginn" init --config "$tmp/config.json" -o "$tmp/m" --dtype bf16 --seed 1 >/dev/null
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$rounds"); do
  for side in A B; do
    bin=$a; [ $side = B ] && bin=$b
    "$bin/huginn" bench -m "$tmp/m" --steps "$steps" --prompt 64 --gen 8 --batch "$batch" --json >"$tmp/$side.$i.json"
    echo "$side $i $(cat "$tmp/$side.$i.json")"
  done
done
python3 - "$tmp" "$rounds" <<'PY'
import glob, json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
def med(side, key):
    vals = []
    for i in range(1, n + 1):
        j = json.load(open(f"{d}/{side}.{i}.json"))
        v = j
        for k in key.split("."):
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, (int, float)): vals.append(v)
    return statistics.median(vals) if vals else None
j = json.load(open(f"{d}/A.1.json"))
keys = [k for k in ("prefill_tokens_per_s", "decode_tokens_per_s", "decode_GBps", "batch_tokens_per_s") if k in j]
for k in keys:
    a, b = med("A", k), med("B", k)
    print(f"{k:22s} A {a:10.3f}   B {b:10.3f}   B/A {b / a:6.3f}")
PY
