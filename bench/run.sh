#!/usr/bin/env bash
# bench/run.sh — every benchmark in one go (style.md rule 20): the machine's roofline, the kernels
# (checked, then timed, as ratios of bandwidth measured beside each timing and of the FMA peak), the
# kernel levels against each other (HG_CPU), and — when the `huginn bench` subcommand and Debian's
# python3-torch are present — the whole engine against the authors' PyTorch code on one random
# checkpoint.
#
#   bench/run.sh [BUILD_DIR] [--quick]       (BUILD_DIR defaults to build; built if needed, -j2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
quick=${2:-}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target roofline bench_kernels >/dev/null

echo "== roofline"
"$build/bench/roofline"
echo
echo "== kernels, best level"
"$build/bench/bench_kernels" $quick
for lvl in avx2 scalar; do
  echo
  echo "== kernels, HG_CPU=$lvl (fallback path)"
  HG_CPU=$lvl "$build/bench/bench_kernels" --quick
done

# ---- whole engine vs the official PyTorch code (needs `huginn init` + `huginn bench`) -------------
if cmake --build "$build" -j2 --target huginn_cli >/dev/null 2>&1 && "$build/huginn" bench --help >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cat >"$tmp/config.json" <<'JSON'
{"n_embd": 1024, "num_attention_heads": 8, "num_key_value_heads": 8, "intermediate_size": 3584,
 "vocab_size": 65536, "n_layers_in_prelude": 2, "n_layers_in_recurrent_block": 4,
 "n_layers_in_coda": 2, "block_size": 4096, "rope_base": 50000, "norm_eps": 1e-6,
 "tie_embeddings": true, "mean_recurrence": 32, "qk_bias": true}
JSON
  "$build/huginn" init --config "$tmp/config.json" -o "$tmp/model" --dtype bf16 --seed 1
  echo
  echo "== huginn bench (1024-wide model, r=32)"
  "$build/huginn" bench -m "$tmp/model" --steps 32 --prompt 128 --gen 32 --batch 1 --json | tee "$tmp/hg1.json"
  "$build/huginn" bench -m "$tmp/model" --steps 32 --prompt 128 --gen 32 --batch 8 --json | tee "$tmp/hg8.json"
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    off="$tmp/official"
    mkdir -p "$off"
    repo=/work/.mirror/seal-rg+recurrent-pretraining/repo
    for f in recpre/raven_modeling_minimal.py recpre/raven_config_minimal.py recpre/raven_config_minimal.json; do
      git --git-dir="$repo" show "HEAD:$f" >"$off/$(basename "$f")"
    done
    echo
    echo "== official PyTorch code, same config (its own seeded random weights: speed does not depend on them)"
    /usr/bin/python3 /work/shared/reference/make_golden.py --official-dir "$off" bench \
      --config-json "$(tr -d '\n' <"$tmp/config.json")" --steps 32 --prompt-len 128 --decode-tokens 16 \
      --threads 2 --repeat 1 | tee "$tmp/torch.json"
  else
    echo "(python3-torch not installed: apt-get install -y python3-torch python3-numpy for the PyTorch comparison)"
  fi
else
  echo
  echo "(no \`huginn bench\` subcommand in this build: engine-level and PyTorch comparisons skipped)"
fi
