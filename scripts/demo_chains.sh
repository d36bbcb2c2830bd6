#!/usr/bin/env bash
# demo_chains.sh — the issue-6 demo end to end: train the recurrent-depth model and its fixed-depth
# twin on variable chains, ship both in models/, evaluate them on held-out problems from the
# independent generator, and draw the plot. Recipe: docs/training.md "The chain demo".
#
# usage: scripts/demo_chains.sh BUILD_DIR [stage...]   stages: train extend depth eval (default: all four)
# train: the issue-6 model and twin from scratch (hops 0-3, few distractors); extend: both fine-tuned on
# hops 0-8 with up to 26 variables (issue 23: models/chains-extend*.json); depth: both fine-tuned again,
# the recurrent one with half of its questions ending inside the differentiated iterations
# (models/chains-depth*.json); eval: held-out tables, plots.
# Training logs and checkpoints go to $HG_DEMO_DIR (default /tmp/huginn-demo), never into the repo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: demo_chains.sh BUILD_DIR [train] [extend] [depth] [eval]}
shift
stages=${*:-train extend depth eval}
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

train_pair() { # RECURRENT BASELINE: train models/chains-NAME.json for both at once, one thread each,
  # then ship run-RECURRENT to models/default and run-BASELINE to models/baseline
  local pids=() m p
  for m in "$1" "$2"; do
    sed -e "s#/tmp/huginn-demo#$work#g" "models/chains-$m.json" > "$work/$m.json"
    rm -rf "$work/run-$m"
    OMP_NUM_THREADS=1 "$hg" train "$work/$m.json" > "$work/$m.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  tail -n 3 "$work/$1.log" "$work/$2.log"
  for m in "$1" "$2"; do # every 100th training step and every evaluation, kept in docs/demo
    awk -F, 'NR == 1 || $1 == "eval" || ($1 == "train" && $2 % 100 == 0)' "$work/run-$m/log.csv" > "docs/demo/train-$m.log.csv"
  done
  ship "$work/run-$1/latest" default
  ship "$work/run-$2/latest" baseline
}

start_from() { # STAGE RECURRENT BASELINE: $work/STAGE-init and $work/STAGE-init-baseline hold the weights
  # (not the optimizer state, which init_from refuses) of the earlier stage's run-RECURRENT, run-BASELINE
  local src dst
  for src in "$2" "$3"; do
    [ -f "$work/run-$src/latest/model.safetensors" ] || { echo "demo_chains.sh: $1 needs $work/run-$src (run the stage before it)" >&2; exit 1; }
  done
  python3 scripts/make_chain_tokenizer.py "$work/tok"
  for dst in "$1-init:$2" "$1-init-baseline:$3"; do
    rm -rf "$work/${dst%%:*}" && mkdir -p "$work/${dst%%:*}"
    cp "$work/run-${dst#*:}/latest/config.json" "$work/run-${dst#*:}/latest/model.safetensors" "$work/${dst%%:*}/"
  done
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
  train_pair recurrent baseline
fi

if [[ " $stages " == *" extend "* ]]; then
  # Issue 23: both models of the train stage, fine-tuned on hops 0-8 with 1-25 distractors (up to 26
  # variables: a long chain takes fewer), half of them a decoy chain, the rest a forest; hop caps 3..7
  # for 1,200 steps each, then 0-8; 16,000 steps of 32 rows x 40 tokens, eta 1e-3, the last 4,800 a
  # cool-down. The recurrent model's mean recurrence goes from 8 to 12 (more hops need more
  # iterations during training). The twin runs the same data and steps at one pass (fixed_n 0, fixed_k 1).
  # Starts from models/default and models/baseline as shipped by the train stage.
  start_from extend recurrent baseline
  sed -i 's/"mean_recurrence": 8/"mean_recurrence": 12/' "$work/extend-init/config.json"
  train_pair extend extend-baseline
fi

if [[ " $stages " == *" depth "* ]]; then
  # Issue 23, a second fine-tune of both, 8,000 steps, eta 5e-4 with the last 2,400 a cool-down: for
  # half of the recurrent model's rows (depth_hops_pct 50) a question of r - 1 or r - 2 hops for the
  # depth r the row is trained at, so the last link is followed inside the differentiated iterations
  # (docs/training.md), and a backprop depth of 4 instead of 2 (models/chains-depth.json). The twin
  # runs the same steps and generator at one pass with the plain hop draw (at depth 1 the depth-tied
  # draw would only ever ask hop 0). Each starts from its extend run.
  start_from depth extend extend-baseline
  train_pair depth depth-baseline
fi

if [[ " $stages " == *" eval "* ]]; then
  # held-out problems: scripts/chain_problems.py (its own algorithm and random stream), 200 per hop
  # count, hops 0-12 (training saw 0-8): (a) 3-9 distractors, as a forest or as chains of any length;
  # (b) up to 26 variables (3-25 distractors, fewer where the chain is long); (c) --decoy, a second chain
  # of the same length beside the queried one, hops 0-8 (chance 50 %)
  python3 scripts/chain_problems.py --hops 0-12 --n 200 --distractors 3-9 --structure any --seed 20261206 > "$work/heldout.tsv"
  python3 scripts/chain_problems.py --hops 0-12 --n 200 --distractors 3-25 --clamp --structure any --seed 20261207 \
    > "$work/heldout-26.tsv"
  python3 scripts/chain_problems.py --hops 0-8 --n 200 --decoy --seed 20261208 > "$work/heldout-decoy.tsv"
  for set in heldout heldout-26 heldout-decoy; do
    sfx=${set#heldout}
    "$hg" eval-chains -m models/default --problems "$work/$set.tsv" --steps 1,2,4,8,16,32,64 --init-scale 0 \
      --label recurrent --csv "docs/demo/chains-recurrent$sfx.csv" | tee "$work/eval-recurrent$sfx.txt"
    "$hg" eval-chains -m models/baseline --problems "$work/$set.tsv" --steps 1 --init-scale 0 \
      --label fixed-depth --csv "docs/demo/chains-baseline$sfx.csv" | tee "$work/eval-baseline$sfx.txt"
  done
  # adaptive exit, at most 64 iterations: accuracy and mean iterations per hop count
  for ex in kl latent-diff; do
    "$hg" eval-chains -m models/default --problems "$work/heldout.tsv" --steps 64 --init-scale 0 --exit $ex \
      --label recurrent --csv "docs/demo/chains-exit-$ex.csv" | tee "$work/eval-exit-$ex.txt"
  done
  python3 scripts/plot_chains.py docs/demo/chains.svg docs/demo/chains-recurrent.csv docs/demo/chains-baseline.csv \
    --title "Variable chains, 3-9 distractors: accuracy vs test-time iterations (trained on hops 0-8)"
  python3 scripts/plot_chains.py docs/demo/chains-26.svg docs/demo/chains-recurrent-26.csv \
    docs/demo/chains-baseline-26.csv --title "Variable chains with up to 26 variables: accuracy vs test-time iterations"
  python3 scripts/plot_chains.py docs/demo/chains-decoy.svg docs/demo/chains-recurrent-decoy.csv \
    docs/demo/chains-baseline-decoy.csv --title "Variable chains with a decoy chain: accuracy vs test-time iterations"
fi
