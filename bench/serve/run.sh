#!/usr/bin/env bash
# bench/serve/run.sh — `huginn serve` under load (docs/results/serve.md has the figures).
#
#   bench/serve/run.sh [BUILD_DIR]              (default build; the 1024-wide random model, bf16)
#   HG_BENCH_FULL=DIR bench/serve/run.sh        also the full Huginn-0125 shape (DIR/bf16, DIR/q8_0.gguf)
#   HG_BENCH_CLIENTS="1 4 8 16" HG_BENCH_PER=1 HG_BENCH_STEPS=32 HG_BENCH_TOKENS=64  size the runs
#   HG_BENCH_FULL_TYPES="bf16 q8_0" (which full-shape files), HG_BENCH_SMALL=0 (skip the 1024-wide model),
#   HG_BENCH_SMALL_TYPES="bf16 q8_0" (the 1024-wide model in which types; default bf16),
#   HG_BENCH_TORCH=0 (skip the authors' code), HG_BENCH_SERVE_ARGS="--no-prepack" (extra server options),
#   HG_BENCH_REPEAT=3 (the 1- and 8-client runs that many times, alternating, and the median ratio)
#
# For each model: aggregate generated tokens/s with 1, 4, 8 and 16 concurrent streaming clients
# (16 slots, 16-token prompts, HG_BENCH_TOKENS new tokens per request (64), greedy, zero initial state), the ratio of 8 clients to one,
# the median time to first token; then the same 8-client load with an adaptive exit (latent-diff)
# against fixed depth: core iterations per token and tokens/s; and, when Debian's python3-torch and
# the authors' code are present, their decode tokens/s on the same shape — what answering the same
# requests one after another would give — in the same run.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
clients=${HG_BENCH_CLIENTS:-1 4 8 16}
per=${HG_BENCH_PER:-1}
steps=${HG_BENCH_STEPS:-32}
tokens=${HG_BENCH_TOKENS:-64}
cmake --build "$build" -j2 --target huginn_cli >/dev/null
# the server as users start it: huginn's own short spin (tools/huginn.c) unless OMP_WAIT_POLICY or
# GOMP_SPINCOUNT is given (PASSIVE, the other benchmarks' default, makes every barrier a sleep and a wake)
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

start() { # MODEL: a server with 16 slots on a free port; sets $base
  # shellcheck disable=SC2086 # HG_BENCH_SERVE_ARGS is a list of options
  "$build/huginn" serve -m "$1" --port 0 --slots 16 -c 256 --max-steps "$steps" ${HG_BENCH_SERVE_ARGS:-} >"$tmp/serve.out" 2>"$tmp/serve.err" &
  pid=$!
  for _ in $(seq 3000); do grep -q listening "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done # packing a full-shape model takes a while
  base=$(grep -o 'http://[^ ]*' "$tmp/serve.out")
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }

bench_model() { # NAME MODEL
  echo
  echo "== $1: $2 (r = $steps, prompt 16, $tokens new tokens per request, $per requests per client)"
  start "$2"
  node "$root/bench/serve/load.mjs" "$base" 1 1 "{\"num_steps\": $steps, \"max_tokens\": 2}" >/dev/null # warm-up: touch every weight
  printf '%-34s %10s %10s %12s %10s\n' "load" "tokens/s" "vs 1" "TTFT median" "iter/tok"
  one=""
  for c in $clients; do
    r=$(node "$root/bench/serve/load.mjs" "$base" "$c" "$per" "{\"num_steps\": $steps, \"max_tokens\": $tokens}")
    echo "$r" >"$tmp/r_$c.json"
    tps=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')
    [ -z "$one" ] && one=$tps
    echo "$r" | python3 -c "import json,sys; r=json.load(sys.stdin); print('%-34s %10.2f %9.2fx %11.3fs %10.2f' % ('%d clients, fixed depth' % r['clients'], r['tokens_per_s'], r['tokens_per_s']/$one, r['ttft_median_s'], r['iterations_per_token']))"
  done
  # on a host whose bandwidth moves between runs a single pair says little: alternate more and take the median
  if [ "${HG_BENCH_REPEAT:-1}" -gt 1 ]; then
    : >"$tmp/pairs"
    for k in $(seq "$HG_BENCH_REPEAT"); do
      for c in 1 8; do
        node "$root/bench/serve/load.mjs" "$base" "$c" "$per" "{\"num_steps\": $steps, \"max_tokens\": $tokens}" >"$tmp/p_$c.json"
      done
      python3 -c "import json; a=json.load(open('$tmp/p_1.json'))['tokens_per_s']; b=json.load(open('$tmp/p_8.json'))['tokens_per_s']; open('$tmp/pairs', 'a').write('%.4f\n' % (b/a)); print('pair $k: 1 client %.2f, 8 clients %.2f tokens/s: %.2fx' % (a, b, b/a))"
    done
    python3 -c "import statistics; r=sorted(float(l) for l in open('$tmp/pairs')); print('8 clients vs 1, %d alternated pairs: median %.2fx (%.2f-%.2fx)' % (len(r), statistics.median(r), r[0], r[-1]))"
  fi
  r=$(node "$root/bench/serve/load.mjs" "$base" 8 "$per" "{\"num_steps\": $steps, \"max_tokens\": $tokens, \"exit_criterion\": \"latent-diff\", \"exit_threshold\": 0.03}")
  echo "$r" | python3 -c "import json,sys; r=json.load(sys.stdin); f=json.load(open('$tmp/r_8.json')) if __import__('os').path.exists('$tmp/r_8.json') else None; print('%-34s %10.2f %10s %11.3fs %10.2f' % ('8 clients, latent-diff exit 0.03', r['tokens_per_s'], ('%.2fx fixed' % (r['tokens_per_s']/f['tokens_per_s'])) if f else '', r['ttft_median_s'], r['iterations_per_token']))"
  stop
}

# the 1024-wide model of bench/run.sh: Huginn's layer structure at a width a 2-core host decodes quickly
if [ "${HG_BENCH_SMALL:-1}" != 0 ]; then
  cp "$root/bench/models/bench-1024.json" "$tmp/config.json"
  "$build/huginn" init --config "$tmp/config.json" -o "$tmp/bf16" --dtype bf16 --seed 1 >/dev/null
  for ty in ${HG_BENCH_SMALL_TYPES:-bf16}; do
    case $ty in
      bf16) bench_model "1024-wide, bf16" "$tmp/bf16" ;;
      q8_0) "$build/huginn" quantize -m "$tmp/bf16" -o "$tmp/q8_0.gguf" --type q8_0 >/dev/null
            bench_model "1024-wide, Q8_0" "$tmp/q8_0.gguf" ;;
      *) echo "HG_BENCH_SMALL_TYPES: unknown type $ty" >&2; exit 2 ;;
    esac
  done
fi
if [ -n "${HG_BENCH_FULL:-}" ]; then
  for ty in ${HG_BENCH_FULL_TYPES:-bf16 q8_0}; do
    case $ty in
      bf16) bench_model "Huginn-0125 shape, bf16" "$HG_BENCH_FULL/bf16" ;;
      q8_0) [ -e "$HG_BENCH_FULL/q8_0.gguf" ] && bench_model "Huginn-0125 shape, Q8_0" "$HG_BENCH_FULL/q8_0.gguf" ;;
      *) echo "HG_BENCH_FULL_TYPES: unknown type $ty" >&2; exit 2 ;;
    esac
  done
fi

# the authors' code on the same shape, one request after another (its decode tokens/s)
repo=/work/.mirror/seal-rg+recurrent-pretraining/repo
ref=${HG_REFERENCE_DIR:-/work/shared/reference}
if [ "${HG_BENCH_TORCH:-1}" = 0 ]; then
  echo "(HG_BENCH_TORCH=0: no PyTorch comparison)"
elif /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null && [ -d "$repo" ] && [ -e "$ref/make_golden.py" ]; then
  off="$tmp/official"
  mkdir -p "$off"
  for f in recpre/raven_modeling_minimal.py recpre/raven_config_minimal.py recpre/raven_config_minimal.json; do
    git --git-dir="$repo" show "HEAD:$f" >"$off/$(basename "$f")"
  done
  echo
  echo "== the authors' PyTorch code, 1024-wide shape, requests one after another (r = $steps, prompt 16, 64 tokens)"
  /usr/bin/python3 "$ref/make_golden.py" --official-dir "$off" bench \
    --config-json '{"n_embd": 1024, "num_attention_heads": 8, "num_key_value_heads": 8, "intermediate_size": 3584, "vocab_size": 65536, "n_layers_in_prelude": 2, "n_layers_in_recurrent_block": 4, "n_layers_in_coda": 2, "qk_bias": true}' \
    --steps "$steps" --prompt-len 16 --decode-tokens 64 --threads "$(nproc)" --repeat 1 | tee "$tmp/torch.txt"
  python3 - "$tmp" <<'PY'
import json, os, re, sys
d = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(d, "torch.txt")) if l.startswith("{")]
if rows:
    r0 = rows[-1]
    t = r0["decode_tokens"] / (r0["prefill_s"] + r0["decode_s"])  # one request: its prefill, then its tokens
    for c in (1, 8, 16):
        p = os.path.join(d, "r_%d.json" % c)
        if os.path.exists(p):
            r = json.load(open(p))
            print("server, %2d clients: %.2f tokens/s = %.1fx the authors' code answering the requests one at a time (%.2f tokens/s)" % (c, r["tokens_per_s"], r["tokens_per_s"] / t, t))
else:
    print("(could not read the official code's timings)")
PY
else
  echo "(python3-torch, numpy or the authors' code not present: no PyTorch comparison)"
fi
