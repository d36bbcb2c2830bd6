#!/usr/bin/env bash
# bench/run.sh — every benchmark in one go (docs/conventions.md rule 20): the machine's roofline, the kernels
# (checked, then timed, as ratios of bandwidth measured beside each timing and of the FMA peak), the
# kernel levels against each other (HG_CPU), and — when the `huginn bench` subcommand and Debian's
# python3-torch are present — the whole engine against the authors' PyTorch code on one random
# checkpoint.
#
#   bench/run.sh [BUILD_DIR] [--quick]       (BUILD_DIR defaults to build; built if needed, -j2)
#   HG_BENCH_SKIP_KERNELS=1 skips the kernel tables (engine and PyTorch only).
#   HG_BENCH_FULL=DIR also benches a full Huginn-0125-shape checkpoint (the decode-bandwidth figure).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
  -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  --quick) set -- "$root/build" --quick ;;
  -*) echo "bench/run.sh: unknown option $1 (bench/run.sh --help)" >&2; exit 1 ;;
esac
build=${1:-$root/build}
quick=${2:-}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target roofline bench_kernels >/dev/null
# OpenMP waits as users get them: `huginn` itself runs with GOMP_SPINCOUNT=10000 unless the user chose
# (tools/huginn.c: idle workers spin a few microseconds, then sleep), and the same is set here for every
# binary of the run, so a shared host (more runnable threads than cores) does not make a spinning thread
# burn its busy sibling's slice. Not PASSIVE: it makes every barrier a sleep and a wake, which users do
# not pay (docs/results/kernels.md, "The benchmarks' OpenMP wait"). Set OMP_WAIT_POLICY or
# GOMP_SPINCOUNT to measure another policy.
if [ -z "${OMP_WAIT_POLICY:-}" ] && [ -z "${GOMP_SPINCOUNT:-}" ]; then export GOMP_SPINCOUNT=10000; fi
echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== roofline"
"$build/bench/roofline"
if [ -z "${HG_BENCH_SKIP_KERNELS:-}" ]; then
  echo
  echo "== kernels, best level"
  "$build/bench/bench_kernels" $quick
  echo
  echo "== prefill kernels: widening FMA vs VNNI / vdpbf16ps dots, beside the FMA and BF16 peaks"
  "$build/bench/bench_kernels" "--prefill${quick:+-quick}"
  echo
  echo "== AVX2 level: Q8_0/Q4_0 prefill on AVX-VNNI vs the widening kernel and mv, beside the ymm FMA peak"
  "$build/bench/bench_kernels" --prefill-avx2
  for lvl in avx2 scalar; do
    echo
    echo "== kernels, HG_CPU=$lvl (fallback path)"
    HG_CPU=$lvl "$build/bench/bench_kernels" --quick
  done
fi

# ---- whole engine: bf16, Q8_0 and Q4_0 weights, batch 8, and the official PyTorch code ------------
# Every ratio is printed in this one run: decode GB/s over the bandwidth measured right before it,
# prefill GFLOP/s over the FP32 FMA peak, batch-8 aggregate over batch 1 (same positions), and
# tokens/s over the official code's on the same config. The machine may be shared: the load average
# is printed beside each figure.
#   HG_BENCH_STEPS (32), HG_BENCH_PROMPT (128), HG_BENCH_GEN (16) size the engine runs.
if cmake --build "$build" -j2 --target huginn_cli >/dev/null 2>&1 && "$build/huginn" bench --help >/dev/null 2>&1; then
  steps=${HG_BENCH_STEPS:-32}; prompt=${HG_BENCH_PROMPT:-128}; gen=${HG_BENCH_GEN:-16}
  # Each engine run starts with its model's files out of the page cache, as a first load from disk:
  # the files were just written, and the page cache keeps written data in whatever folio sizes the
  # writes made, while a cold read through the engine's MADV_HUGEPAGE mapping fills 2 MiB folios that
  # the kernel maps with one TLB entry each (full-shape Q8_0 decode: 18-19 GB/s on the written file's
  # folios, 20-21 after a cold read; src/io/mapped_file.c). `huginn bench` reads the weights in its
  # untimed warm-up. GNU dd drops a file with iflag=nocache count=0 (clean pages only: sync first).
  cold() { find "$@" -type f \( -name '*.safetensors' -o -name '*.gguf' \) -exec sh -c \
    'sync "$1" 2>/dev/null; dd if="$1" iflag=nocache count=0 status=none 2>/dev/null || true' _ {} \; ; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp "$root/bench/models/bench-1024.json" "$tmp/config.json" # the 1024-wide shape every bench uses
  "$build/huginn" init --config "$tmp/config.json" -o "$tmp/bf16" --dtype bf16 --seed 1 >/dev/null
  "$build/huginn" quantize -m "$tmp/bf16" -o "$tmp/q8_0.gguf" --type q8_0 >/dev/null
  "$build/huginn" quantize -m "$tmp/bf16" -o "$tmp/q4_0.gguf" --type q4_0 >/dev/null
  "$build/bench/roofline" --json >"$tmp/roof.json"
  echo
  echo "== huginn bench, 1024-wide model, r=$steps, prompt $prompt, $gen decoded tokens (load $(cut -d' ' -f1 /proc/loadavg))"
  for w in bf16 q8_0 q4_0; do
    m="$tmp/$w"; [ "$w" = bf16 ] || m="$tmp/$w.gguf"
    batch=1; [ "$w" = bf16 ] && batch=8
    "$build/bench/roofline" --bandwidth --json >"$tmp/bw_$w.json"
    cold "$m"
    "$build/huginn" bench -m "$m" --steps "$steps" --prompt "$prompt" --gen "$gen" --batch "$batch" --json >"$tmp/hg_$w.json"
    "$build/bench/roofline" --bandwidth --json >"$tmp/bw2_$w.json" # the host drifts: bracket each run
    echo "load $(cut -d' ' -f1 /proc/loadavg)" >"$tmp/load_$w.txt"
  done
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    off="$tmp/official"
    mkdir -p "$off"
    repo=/work/.mirror/seal-rg+recurrent-pretraining/repo
    for f in recpre/raven_modeling_minimal.py recpre/raven_config_minimal.py recpre/raven_config_minimal.json; do
      git --git-dir="$repo" show "HEAD:$f" >"$off/$(basename "$f")"
    done
    echo "== official PyTorch code, same shape (its own seeded random weights, f32: speed does not depend on values)"
    /usr/bin/python3 /work/shared/reference/make_golden.py --official-dir "$off" bench \
      --config-json '{"n_embd": 1024, "num_attention_heads": 8, "num_key_value_heads": 8, "intermediate_size": 3584, "vocab_size": 65536, "n_layers_in_prelude": 2, "n_layers_in_recurrent_block": 4, "n_layers_in_coda": 2, "qk_bias": true}' \
      --steps "$steps" --prompt-len "$prompt" --decode-tokens "$gen" --threads "${OMP_NUM_THREADS:-$(nproc)}" --repeat 1 | tee "$tmp/torch.txt"
    # the engine's bf16 decode again right after the official code (minutes later: the host drifts)
    cold "$tmp/bf16"
    "$build/huginn" bench -m "$tmp/bf16" --steps "$steps" --prompt "$prompt" --gen "$gen" --json >"$tmp/hg_bf16_after.json"
  else
    echo "(python3-torch not installed: apt-get install -y python3-torch python3-numpy for the PyTorch comparison)"
  fi
  /usr/bin/python3 - "$tmp" <<'PY'
import json, os, sys
d = sys.argv[1]
J = lambda f: json.load(open(os.path.join(d, f)))
roof = J("roof.json")
print(f"\nroofline: {roof['bandwidth_GBps']:.1f} GB/s read, FP32 FMA {roof['fma_GFLOPs']:.1f} GFLOP/s, "
      f"{roof['threads']} threads, {roof['level']}")
print(f"{'weights':8} {'prefill tok/s':>13} {'GFLOP/s':>8} {'%FMA':>6} {'decode tok/s':>12} {'GB/s':>7} "
      f"{'bw GB/s before/after':>20} {'%bw':>6}  load   (%bw: of the mean of the two readings)")
hg = {}
for w in ("bf16", "q8_0", "q4_0"):
    r, bw0, bw1 = J(f"hg_{w}.json"), J(f"bw_{w}.json")["bandwidth_GBps"], J(f"bw2_{w}.json")["bandwidth_GBps"]
    bw = (bw0 + bw1) / 2
    hg[w] = r
    load = open(os.path.join(d, f"load_{w}.txt")).read().split()[1]
    print(f"{w:8} {r['prefill_tokens_per_s']:13.2f} {r['prefill_GFLOPs']:8.1f} "
          f"{100 * r['prefill_GFLOPs'] / roof['fma_GFLOPs']:5.1f}% {r['decode_tokens_per_s']:12.3f} "
          f"{r['decode_GBps']:7.2f} {bw0:9.2f} / {bw1:8.2f} {100 * r['decode_GBps'] / bw:5.1f}%  {load}")
b = hg["bf16"]
print(f"batch {b['batch']} (bf16): {b['batch_tokens_per_s']:.3f} tok/s aggregate vs {b['batch1_tokens_per_s']:.3f} "
      f"for one sequence = {b['batch_speedup']:.2f}x")
tp = os.path.join(d, "torch.txt")
if os.path.exists(tp):
    t = [json.loads(l) for l in open(tp) if l.startswith("{")][-1]
    for w in ("bf16", "q8_0", "q4_0"):
        r = hg[w]
        print(f"vs PyTorch ({w}): decode {r['decode_tokens_per_s'] / t['decode_tok_s']:.2f}x "
              f"({r['decode_tokens_per_s']:.3f} vs {t['decode_tok_s']:.3f} tok/s), prefill "
              f"{r['prefill_tokens_per_s'] / t['prefill_tok_s']:.2f}x ({r['prefill_tokens_per_s']:.2f} vs "
              f"{t['prefill_tok_s']:.2f} tok/s)")
    ap = os.path.join(d, "hg_bf16_after.json")
    if os.path.exists(ap):
        a = json.load(open(ap))
        hg["bf16_after_pytorch"] = a
        print(f"vs PyTorch (bf16, engine re-run right after it): decode "
              f"{a['decode_tokens_per_s'] / t['decode_tok_s']:.2f}x ({a['decode_tokens_per_s']:.3f} tok/s)")
print("JSON:", json.dumps({"roofline": roof, "huginn": hg}))
PY
  # ---- the reference workload: the full Huginn-0125 shape (HG_BENCH_FULL=DIR, a checkpoint from
  # `huginn init --preset huginn-0125 --dtype bf16 -o DIR`, 7.1 GB). Its core block (3.2 GB in bf16)
  # is far larger than any cache, so decode GB/s over the DRAM bandwidth is the real ratio; the
  # 1024-wide model above has a 120 MB core that a large L3 (300 MB here) holds. Q8_0 is quantized
  # from it into the same folder once (q8_0.gguf, 3.8 GB).
  if [ -n "${HG_BENCH_FULL:-}" ]; then
    full=$HG_BENCH_FULL
    [ -f "$full/q8_0.gguf" ] || "$build/huginn" quantize -m "$full" -o "$full/q8_0.gguf" --type q8_0 >/dev/null
    echo
    fprompt=${HG_BENCH_FULL_PROMPT:-128}
    echo "== huginn bench, full Huginn-0125 shape ($full), r=32, prompt $fprompt, 2 decoded tokens (bf16: and batch 8)"
    readbw() { "$build/bench/roofline" --bandwidth --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["bandwidth_GBps"])'; }
    readfma() { "$build/bench/roofline" --fma --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["fma_GFLOPs"])'; }
    for w in bf16 q8_0; do
      m="$full"; [ "$w" = bf16 ] || m="$full/q8_0.gguf"
      batch=1; [ "$w" = bf16 ] && batch=8
      cold "$m"
      bw=$(readbw)
      fma=$(readfma)
      "$build/huginn" bench -m "$m" --steps 32 --prompt "$fprompt" --gen 2 --batch "$batch" --json >"$tmp/full_$w.json"
      fma2=$(readfma)
      bw2=$(readbw)
      /usr/bin/python3 - "$tmp/full_$w.json" "$w" "$bw" "$tmp/roof.json" "$bw2" "$fma" "$fma2" <<'PY'
import json, sys
r, w, bw0, bw1 = json.load(open(sys.argv[1])), sys.argv[2], float(sys.argv[3]), float(sys.argv[5])
bw = (bw0 + bw1) / 2
first = json.load(open(sys.argv[4]))["fma_GFLOPs"]
fma0, fma1 = float(sys.argv[6]), float(sys.argv[7])
peak = (fma0 + fma1) / 2 # the host's compute speed drifts too: bracketed like the bandwidth
print(f"{w:5} decode {r['decode_tokens_per_s']:.4f} tok/s  {r['decode_GBps']:.2f} GB/s = "
      f"{100 * r['decode_GBps'] / bw:.1f} % of {bw:.2f} GB/s (bandwidth {bw0:.2f} before, {bw1:.2f} after); "
      f"prefill {r['prefill_GFLOPs']:.1f} GFLOP/s = {100 * r['prefill_GFLOPs'] / peak:.1f} % of the FP32 FMA peak "
      f"{peak:.1f} ({fma0:.1f} before, {fma1:.1f} after; {100 * r['prefill_GFLOPs'] / first:.1f} % of the run's first reading {first:.1f})")
if r["batch"] > 1:
    print(f"      batch {r['batch']}: {r['batch_tokens_per_s']:.4f} tok/s aggregate vs {r['batch1_tokens_per_s']:.4f} "
          f"for one sequence = {r['batch_speedup']:.2f}x")
PY
    done
  fi
else
  echo
  echo "(no \`huginn bench\` subcommand in this build: engine-level and PyTorch comparisons skipped)"
fi
