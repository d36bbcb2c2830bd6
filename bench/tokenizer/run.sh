#!/usr/bin/env bash
# run.sh — tokenizer encode throughput, ours vs Hugging Face tokenizers, same files, same machine, same
# run, one thread each. Files: the 16 golden corpus files (tests/data/tokenizers/corpus), or the text
# files given as arguments. Needs tests/setup-oracles.sh (the npm peer) and a build with bench_tokenizer.
# Usage: bench/tokenizer/run.sh [BUILD_DIR] [REPS]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"; reps="${2:-3}"
bin="$build/bench/bench_tokenizer"
[ -x "$bin" ] || { echo "run.sh: build $bin first (cmake --build $build --target bench_tokenizer)" >&2; exit 1; }
"$root/tests/setup-oracles.sh"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
files=()
for g in "$root"/tests/data/tokenizers/corpus/*.txt.gz; do f="$tmp/$(basename "$g" .gz)"; gzip -dc "$g" > "$f"; files+=("$f"); done
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
printf '%-14s %10s %10s %8s   %s\n' tokenizer ours_MB/s hf_MB/s ratio "(cold: ours / hf)"
for name in huginn_style llama3 qwen3 gpt4o deepseek_v3; do
  mkdir -p "$tmp/$name"; gzip -dc "$root/tests/data/tokenizers/$name/tokenizer.json.gz" > "$tmp/$name/tokenizer.json"
  hf="$(node "$root/bench/tokenizer/bench_hf.js" "$tmp/$name/tokenizer.json" "$reps" "$tmp/$name" "${files[@]}")"
  args=(); for f in "${files[@]}"; do args+=("$f" "$tmp/$name/$(basename "$f").ids"); done
  ours="$("$bin" "$tmp/$name/tokenizer.json" "$reps" "${args[@]}")"
  o=$(sed -E 's/.*ours_MBps=([0-9.]+).*/\1/' <<<"$ours"); oc=$(sed -E 's/.*cold_MBps=([0-9.]+).*/\1/' <<<"$ours")
  h=$(sed -E 's/.*hf_MBps=([0-9.]+).*/\1/' <<<"$hf"); hc=$(sed -E 's/.*hf_cold_MBps=([0-9.]+).*/\1/' <<<"$hf")
  printf '%-14s %10s %10s %7.2fx   (%s / %s)  %s\n' "$name" "$o" "$h" "$(echo "$o / $h" | bc -l)" "$oc" "$hc" \
    "$(grep -o 'mismatches=[0-9]*' <<<"$ours")"
done
