#!/usr/bin/env bash
# bench/family/run.sh — the looped-model family's benchmarks (issue #20; docs/results/family.md): an
# Ouro-1.4B-shaped random checkpoint and a TinyLlama-1.1B-shaped retrofitted-recurrence one
# (bench/models/ouro-1.4b.json, bench/models/tinyllama-retrofit.json), each written by `huginn init` in
# bf16 and quantized to Q8_0, then in one run:
#   1. decode at full depth (Ouro: all total_ut_steps loops; retrofit: r = mean_recurrence) with
#      `huginn bench`: decode GB/s over the memory bandwidth measured right before and after it (the
#      issue's target: >= 85 %), prefill GFLOP/s over the FP32 FMA peak;
#   2. adaptive depth against fixed depth on the same weights, minutes apart, through `huginn run
#      --json` (one code path for both rows: decode tokens/s = (generated - 1) / decode_s, the time after
#      the first token; loops per token = the mean `steps` of those same tokens; greedy, the same prompt):
#      Ouro's learned gate (`--exit gate --exit-threshold Q`, default exit-compute skip: a token stops at
#      its exit loop) and the reference's behaviour (`--exit-compute all`: every loop runs, the gate only
#      picks the logits) against `--exit last` (always every loop); the retrofit's `--exit kl` at the
#      paper's threshold 5e-4 against fixed r, both with the `latest-m4` lookup the paper uses.
# Random weights: the gate and the KL exit see random states, so the loops per token here say what
# the exits cost and save at that depth, not what a trained model would choose (print them beside).
#
#   bench/family/run.sh [BUILD_DIR] [--quick]     BUILD_DIR defaults to build (built if needed, -j2)
#   --quick: the same script on tiny shapes (h 64, V 512, the shipped layer counts) and a 64 MiB
#            bandwidth buffer: seconds, for the test suite (tests/test_family_bench.sh); its ratios
#            measure caches, not DRAM, and mean nothing.
#   HG_FAMILY_DIR=DIR      keep the checkpoints in DIR and reuse them (full shapes: 2.9 + 1.6 GB Ouro,
#                          1.0 + 0.5 GB retrofit); default a temporary directory, removed at the end.
#   HG_FAMILY_THRESHOLD    Ouro's gate threshold (0.5); HG_FAMILY_KL the retrofit's KL threshold (5e-4)
#   HG_FAMILY_PROMPT (128), HG_FAMILY_GEN (16): `huginn bench` sizes; HG_FAMILY_N (32) tokens per run.
#   HG_FAMILY_PREPACK=bf16 (default) | all | none: which weights run with `--prepack` (bf16: laid out
#                          for the AVX-512 walk, faster for one sequence too; Q8_0's packing is slower
#                          for one sequence, so it runs as stored unless `all`)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build
quick=
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    /*) build=$a ;;
    *) build=$PWD/$a ;;
  esac
done
if [ ! -x "$build/huginn" ] || [ ! -x "$build/bench/roofline" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target huginn_cli roofline >/dev/null
fi
hg=$build/huginn
roof=$build/bench/roofline
# OpenMP waits as huginn runs by default: a short spin, then sleep (bench/run.sh says why)
if [ -z "${OMP_WAIT_POLICY:-}" ] && [ -z "${GOMP_SPINCOUNT:-}" ]; then export GOMP_SPINCOUNT=10000; fi
thr=${HG_FAMILY_THRESHOLD:-0.5}
kl=${HG_FAMILY_KL:-5e-4}
if [ -n "$quick" ]; then
  prompt=${HG_FAMILY_PROMPT:-16}; gen=${HG_FAMILY_GEN:-4}; ntok=${HG_FAMILY_N:-8}; mib=(--mib 64)
else
  prompt=${HG_FAMILY_PROMPT:-128}; gen=${HG_FAMILY_GEN:-16}; ntok=${HG_FAMILY_N:-32}; mib=()
fi

if [ -n "${HG_FAMILY_DIR:-}" ]; then
  work=$HG_FAMILY_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
res=$work/results${quick:+-quick}
rm -rf "$res" && mkdir -p "$res"

# A model's files out of the page cache before each timed run, as a first load from disk (bench/run.sh
# "cold": a cold read through the engine's MADV_HUGEPAGE mapping fills 2 MiB folios).
cold() { find "$@" -type f \( -name '*.safetensors' -o -name '*.gguf' \) -exec sh -c \
  'sync "$1" 2>/dev/null; dd if="$1" iflag=nocache count=0 status=none 2>/dev/null || true' _ {} \; ; }
load() { cut -d' ' -f1 /proc/loadavg; }
bw() { "$roof" --bandwidth ${mib[@]+"${mib[@]}"} --json; }

# ---- checkpoints: the shipped shapes, or (--quick) the same configs shrunk -------------------------
shape() { # name config -> $work/name{,/bf16,/q8_0.gguf}
  local name=$1 cfg=$2 d=$work/$1${quick:+-quick}
  mkdir -p "$d"
  if [ -n "$quick" ]; then
    python3 - "$cfg" "$d/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
ouro = c.get("model_type") == "ouro"
h, heads = 64, (4 if ouro else 8)
kv = heads if ouro else 1  # Ouro: MHA as Ouro-1.4B; retrofit: 8 query heads per KV head as TinyLlama
c.update({"vocab_size": 512, "intermediate_size": 160, "head_dim": h // heads, "num_key_value_heads": kv})
c.update({"hidden_size": h, "num_attention_heads": heads} if ouro else {"n_embd": h, "n_heads": heads})
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
  else
    cp "$cfg" "$d/config.json"
  fi
  if [ ! -f "$d/bf16/model.safetensors" ] || ! cmp -s "$d/config.json" "$d/config.used.json"; then
    rm -rf "$d/bf16" "$d/q8_0.gguf"
    "$hg" init --config "$d/config.json" -o "$d/bf16" --dtype bf16 --seed 1 2>/dev/null
    "$hg" quantize -m "$d/bf16" -o "$d/q8_0.gguf" --type q8_0 >/dev/null 2>&1
    cp "$d/config.json" "$d/config.used.json"
  fi
}
shape ouro "$root/bench/models/ouro-1.4b.json"
shape retrofit "$root/bench/models/tinyllama-retrofit.json"
ids=$(python3 -c "import random; r = random.Random(7); print(','.join(str(r.randrange(1, 500)) for _ in range($ntok)))")

echo "== looped-model family, $(nproc) cores, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}, --prepack for ${HG_FAMILY_PREPACK:-bf16}, load average $(cut -d' ' -f1-3 /proc/loadavg)${quick:+ (--quick: tiny shapes)}"
"$roof" ${mib[@]+"${mib[@]}"} --json >"$res/roof.json"

# ---- 1. full-depth decode against the bandwidth, prefill against the FMA peak ---------------------
full_depth() { # tag model-path steps
  local tag=$1 m=$2 steps=$3
  bw >"$res/bw0_$tag.json"
  cold "$m"
  "$hg" bench -m "$m" --steps "$steps" --prompt "$prompt" --gen "$gen" $pk --json >"$res/bench_$tag.json"
  bw >"$res/bw1_$tag.json"
  load >"$res/load_$tag.txt"
}
# ---- 2. adaptive against fixed depth, same prompt, greedy -----------------------------------------
gen_run() { # tag model-path args...
  local tag=$1 m=$2; shift 2
  cold "$m"
  "$hg" run -m "$m" --ids "$ids" -n "$ntok" --temp 0 $pk --json "$@" >"$res/run_$tag.json"
  load >"$res/load_run_$tag.txt"
}
prepack=${HG_FAMILY_PREPACK:-bf16}
for w in bf16 q8_0; do
  pk=; { [ "$prepack" = all ] || [ "$prepack" = "$w" ]; } && pk=--prepack
  for name in ouro retrofit; do
    d=$work/$name${quick:+-quick}
    m=$d/bf16; [ "$w" = bf16 ] || m=$d/q8_0.gguf
    if [ "$name" = ouro ]; then
      full_depth "${name}_$w" "$m" 4
      gen_run "${name}_${w}_fixed" "$m" --exit last
      gen_run "${name}_${w}_exit" "$m" --exit gate --exit-threshold "$thr"
      gen_run "${name}_${w}_all" "$m" --exit gate --exit-threshold "$thr" --exit-compute all
    else
      full_depth "${name}_$w" "$m" 32
      gen_run "${name}_${w}_fixed" "$m" --steps 32 --kv-cache latest-m4
      gen_run "${name}_${w}_exit" "$m" --steps 32 --kv-cache latest-m4 --exit kl --exit-threshold "$kl"
    fi
  done
done

python3 - "$res" "$thr" "$kl" "${quick:+1}" <<'PY'
import json, os, sys
d, thr, kl, quick = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
J = lambda f: json.load(open(os.path.join(d, f)))
T = lambda f: open(os.path.join(d, f)).read().strip()
roof = J("roof.json")
print(f"roofline: {roof['bandwidth_GBps']:.1f} GB/s read, FP32 FMA {roof['fma_GFLOPs']:.1f} GFLOP/s, "
      f"{roof['threads']} threads, {roof['level']}" + ("  (--quick: a 64 MiB buffer, cache not DRAM)" if quick else ""))
out = {"roofline": roof, "full_depth": {}, "adaptive": {}}
print("\nfull depth (Ouro: 4 loops; retrofit: r = 32), `huginn bench`; %bw: decode GB/s over the mean of the "
      "bandwidth read before and after")
print(f"{'model':9} {'weights':7} {'prefill tok/s':>13} {'GFLOP/s':>8} {'%FMA':>6} {'decode tok/s':>12} "
      f"{'GB/s':>7} {'bw before/after':>16} {'%bw':>6} {'>=85%':>5}  load")
for name in ("ouro", "retrofit"):
    for w in ("bf16", "q8_0"):
        tag = f"{name}_{w}"
        r, b0, b1 = J(f"bench_{tag}.json"), J(f"bw0_{tag}.json")["bandwidth_GBps"], J(f"bw1_{tag}.json")["bandwidth_GBps"]
        ratio = r["decode_GBps"] / ((b0 + b1) / 2)
        out["full_depth"][tag] = dict(r, bw_before=b0, bw_after=b1, ratio=ratio, load=float(T(f"load_{tag}.txt")))
        print(f"{name:9} {w:7} {r['prefill_tokens_per_s']:13.2f} {r['prefill_GFLOPs']:8.1f} "
              f"{100 * r['prefill_GFLOPs'] / roof['fma_GFLOPs']:5.1f}% {r['decode_tokens_per_s']:12.3f} "
              f"{r['decode_GBps']:7.2f} {b0:7.2f} / {b1:6.2f} {100 * ratio:5.1f}% {'yes' if ratio >= 0.85 else 'no':>5}  "
              f"{T(f'load_{tag}.txt')}")

def decoded(run):
    """decode tokens/s, the mean exit loop and the mean loops computed, over the tokens after the first
    (the first comes out of the prompt's call; each later one is one decode call)"""
    g, s = run["generated"], run["stats"]
    n = len(g) - 1
    tps = n / s["decode_s"] if n > 0 and s["decode_s"] > 0 else float("nan")
    exit_loop = sum(t["steps"] for t in g[1:]) / n if n > 0 else float("nan")
    ran = exit_loop  # adaptive criteria and skip: a token stops computing where it exits
    if run.get("mode") == "gate" and n > 0:  # the prompt runs every loop; all: every token does
        ran = (s["core_iterations"] - s["n_prompt"] * s["steps"]) / n
    return tps, exit_loop, ran, [t["id"] for t in g]

n_dec = len(J("run_ouro_bf16_fixed.json")["generated"]) - 1
print(f"\nadaptive vs fixed depth, `huginn run --json`, greedy, the {n_dec} tokens after the first; exit: the mean "
      "loop (1-based) whose logits gave the token, run: loops computed per token; same ids: leading tokens equal to the fixed row's")
print(f"{'model':9} {'weights':7} {'rule':32} {'exit':>6} {'run':>6} {'decode tok/s':>12} {'x fixed':>7} {'same ids':>8}  load")
rules = {"ouro": [("fixed", "always 4 loops (--exit last)"), ("exit", f"gate q={thr}, skip"),
                  ("all", f"gate q={thr}, --exit-compute all")],
         "retrofit": [("fixed", "fixed r = 32"), ("exit", f"kl < {kl}, r <= 32")]}
for name in ("ouro", "retrofit"):
    for w in ("bf16", "q8_0"):
        base = decoded(J(f"run_{name}_{w}_fixed.json"))
        for key, label in rules[name]:
            tag = f"{name}_{w}_{key}"
            tps, exit_loop, ran, ids = decoded(J(f"run_{tag}.json"))
            same = next((i for i, (a, b) in enumerate(zip(ids, base[3])) if a != b), min(len(ids), len(base[3])))
            out["adaptive"][tag] = {"decode_tokens_per_s": tps, "exit_loop": exit_loop, "loops_run": ran,
                                    "speedup": tps / base[0], "same_prefix": same, "n": len(ids),
                                    "load": float(T(f"load_run_{tag}.txt"))}
            print(f"{name:9} {w:7} {label:32} {exit_loop:6.2f} {ran:6.2f} {tps:12.3f} {tps / base[0]:6.2f}x "
                  f"{same:4d}/{len(ids):<3d}  {T(f'load_run_{tag}.txt')}")
print(f"\nload average now: {open('/proc/loadavg').read().split()[0]}")
print("JSON:", json.dumps(out))
PY
