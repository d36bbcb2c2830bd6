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
  # the statement vocabulary (one token per `x=y;` and per `?x=`), a random model of the shape in
  # models/chains-model.json ((P, R, C) = (0, 1, 0): every attention layer is inside the recurrence)
  # with the factored initial embedding of scripts/chain_embed_init.py
  python3 scripts/make_chain_tokenizer.py "$work/tok"
  rm -rf "$work/init"
  "$hg" init --config models/chains-model.json -o "$work/init" --dtype f32 --seed 2 >/dev/null
  python3 scripts/chain_embed_init.py "$work/init" "$work/tok/tokenizer.json"
  # both runs at once, one thread (one core) each; the fixed-depth twin (one core pass) takes under
  # half of the recurrent run's time (22,000 steps: 1,310 s vs 3,123 s here; 3,126 s for the stage)
  pids=()
  for m in recurrent baseline; do
    sed -e "s#/tmp/huginn-demo#$work#g" "models/chains-$m.json" > "$work/$m.json"
    rm -rf "$work/run-$m"
    OMP_NUM_THREADS=1 "$hg" train "$work/$m.json" > "$work/$m.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  tail -n 3 "$work/recurrent.log" "$work/baseline.log"
  ship "$work/run-recurrent/latest" default
  ship "$work/run-baseline/latest" baseline
fi

if [[ " $stages " == *" eval "* ]]; then
  # held-out problems: scripts/chain_problems.py (its own algorithm and random stream), hop counts
  # 0..8 (training saw 0..3), 500 per hop count: (a) the task as stated, 2 distractors; (b) --decoy, a
  # second chain of the same length beside the queried one, where only following the chain works
  python3 scripts/chain_problems.py --hops 0-8 --n 500 --distractors 2 --seed 20250611 > "$work/heldout.tsv"
  python3 scripts/chain_problems.py --hops 0-8 --n 500 --decoy --seed 20250612 > "$work/heldout-decoy.tsv"
  for set in heldout heldout-decoy; do
    sfx=${set#heldout}
    "$hg" eval-chains -m models/default --problems "$work/$set.tsv" --steps 1,2,4,8,16,32,64 --init-scale 0 \
      --label recurrent --csv "docs/demo/chains-recurrent$sfx.csv" | tee "$work/eval-recurrent$sfx.txt"
    "$hg" eval-chains -m models/baseline --problems "$work/$set.tsv" --steps 1 --init-scale 0 \
      --label fixed-depth --csv "docs/demo/chains-baseline$sfx.csv" | tee "$work/eval-baseline$sfx.txt"
  done
  python3 scripts/plot_chains.py docs/demo/chains.svg docs/demo/chains-recurrent.csv docs/demo/chains-baseline.csv
  python3 scripts/plot_chains.py docs/demo/chains-decoy.svg docs/demo/chains-recurrent-decoy.csv \
    docs/demo/chains-baseline-decoy.csv --title "Variable chains with a decoy chain: accuracy vs test-time iterations"
fi
