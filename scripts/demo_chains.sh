#!/usr/bin/env bash
# demo_chains.sh — the issue-6 demo end to end: train the recurrent-depth model and its fixed-depth
# twin on variable chains, ship both in models/, evaluate them on held-out problems from the
# independent generator, and draw the plot. Recipe: docs/training.md "The chain demo".
#
# usage: scripts/demo_chains.sh BUILD_DIR [stage...]      stages: train eval (default: both)
# Training logs and checkpoints go to $HG_DEMO_DIR (default /tmp/huginn-demo), never into the repo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: demo_chains.sh BUILD_DIR [train] [eval]}
shift
stages=${*:-train eval}
work=${HG_DEMO_DIR:-/tmp/huginn-demo}
mkdir -p "$work"
hg="$build/huginn"
export OMP_WAIT_POLICY=passive
cd "$root"

ship() { # checkpoint dir -> models/NAME (config + weights; the tokenizer files are generated)
  mkdir -p "models/$2"
  cp "$1/config.json" "$1/model.safetensors" "models/$2/"
  python3 scripts/make_chain_tokenizer.py "models/$2"
}

if [[ " $stages " == *" train "* ]]; then
  python3 scripts/make_chain_tokenizer.py models/default
  python3 scripts/make_chain_tokenizer.py models/baseline
  # the recurrent model's run uses 2 threads, the fixed-depth twin's (3x cheaper per step) 1
  for m in recurrent baseline; do
    th=1; [ $m = recurrent ] && th=2
    sed -e "s#/tmp/huginn-demo#$work#g" "models/chains-$m.json" > "$work/$m.json"
    OMP_NUM_THREADS=$th "$hg" train "$work/$m.json" | tee "$work/$m.log"
  done
  ship "$work/run-recurrent/latest" default
  ship "$work/run-baseline/latest" baseline
fi

if [[ " $stages " == *" eval "* ]]; then
  # held-out problems: scripts/chain_problems.py (its own algorithm and random stream), 2 distractors,
  # hop counts 1..8 (training saw 0..4)
  python3 scripts/chain_problems.py --hops 1-8 --n 100 --distractors 2 --seed 20250611 > "$work/heldout.tsv"
  "$hg" eval-chains -m models/default --problems "$work/heldout.tsv" --steps 1,2,4,8,16,32,64 \
    --label recurrent --csv docs/demo/chains-recurrent.csv | tee "$work/eval-recurrent.txt"
  "$hg" eval-chains -m models/baseline --problems "$work/heldout.tsv" --steps 1,2,4,8 \
    --label fixed-depth --csv docs/demo/chains-baseline.csv | tee "$work/eval-baseline.txt"
  python3 scripts/plot_chains.py docs/demo/chains.svg docs/demo/chains-recurrent.csv docs/demo/chains-baseline.csv
fi
