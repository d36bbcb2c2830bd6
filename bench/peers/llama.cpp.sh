#!/usr/bin/env bash
# bench/peers/llama.cpp.sh — huginn.c beside llama.cpp on the same layer shape (issue #21 item 5;
# docs/conventions.md rule 20: a speed figure comes with the roofline and the peer measured beside it).
#
# Builds llama.cpp (CPU only) from a source tree the user provides, writes a random-weight Llama GGUF
# with Huginn-0125's layer shape (hidden 5280, 55 heads of 96, as many KV heads, gated SiLU MLP 17920,
# vocabulary 65536, tied embedding) in bf16 with llama.cpp's own gguf-py, quantizes it to Q8_0 and
# Q4_0 with llama-quantize --pure, makes the same shape for huginn (prelude 2, core 4, coda 2, run at
# r = --steps) with `huginn init` / `huginn quantize`, and runs `llama-bench` and `huginn bench` per
# weight type, each bracketed by readings of the memory bandwidth and the FP32 FMA peak
# (bench/roofline). It prints per-layer-application rates for prefill and decode, their ratio
# (huginn / llama.cpp), decode GB/s over the bandwidth and prefill GFLOP/s over the FMA and BF16-dot
# peaks for both engines. How the rates are normalised: docs/kernels.md "Peers: llama.cpp".
#
#   bench/peers/llama.cpp.sh LLAMA_CPP_SOURCE_DIR [options]
#     --layers N         Llama blocks in the GGUF (default 8 = Huginn's 2 + 4·r + 2 at r = 1)
#     --steps R          huginn's recurrence r (default 1)
#     --types "T ..."    weight types, from bf16 q8_0 q4_0 (default all three)
#     --threads T        threads for both engines (default: all cores)
#     --prompt N         prompt tokens (llama-bench -p N; huginn prefills N) (default 512)
#     --gen G            decoded tokens (llama-bench -n G; huginn --gen G) (default 32)
#     --reps N           llama-bench repetitions (default 3)
#     --build-dir DIR    llama.cpp build folder (default ${TMPDIR:-/tmp}/huginn-peer-llama.cpp-build;
#                        reused when it holds a build: only an incremental `cmake --build` runs)
#     --huginn-build DIR take `huginn` and `bench/roofline` from DIR as they are (default: <repo>/build,
#                        configured Release and brought up to date, as bench/run.sh does)
#     --work-dir DIR     where the models go (default a fresh temporary folder, removed at the end
#                        unless --keep; files already in DIR with the same shape are reused)
#     --keep             keep the models (GGUFs and the huginn checkpoint) and print where they are
#     --quick            a tiny shape (hidden 576, 6 heads of 96, MLP 1536, vocabulary 8192) and,
#                        unless given, prompt 128, 16 decoded tokens, 1 repetition: a smoke run
#
# Environment: HG_AMX, HG_CPU, HG_BF16DOT reach `huginn bench` (run it once per kernel level);
# OMP_WAIT_POLICY defaults to PASSIVE for both engines (as bench/run.sh; both use OpenMP);
# PYTHON picks the interpreter for the GGUF writer (it needs numpy; default /usr/bin/python3).
# Disk: the full shape with 8 layers takes 7.0 GB (llama.cpp bf16) + 3.7 (Q8_0) + 2.0 (Q4_0), and
# 7.1 + 3.8 + 2.0 GB for huginn; --layers 2: 2.3 + 1.2 + 0.7 GB for llama.cpp. The repository keeps none of llama.cpp's code; nothing is fetched; CI never runs this.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/peers

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[ $# -ge 1 ] || usage 1
case $1 in -h|--help) usage 0 ;; esac
src=$(cd "$1" 2>/dev/null && pwd) || { echo "llama.cpp.sh: no folder $1 (give a llama.cpp source tree)" >&2; exit 1; }
shift
layers=8; steps=1; types="bf16 q8_0 q4_0"; threads=$(nproc); prompt=512; gen=32; reps=3
case " $* " in *" --quick "*) prompt=128; gen=16; reps=1 ;; esac # the defaults of --quick; options given win
bdir=${TMPDIR:-/tmp}/huginn-peer-llama.cpp-build; hgb=""; work=""; keep=0; quick=0
while [ $# -gt 0 ]; do
  case $1 in
    --layers) layers=$2; shift ;;
    --steps) steps=$2; shift ;;
    --types) types=$2; shift ;;
    --threads) threads=$2; shift ;;
    --prompt) prompt=$2; shift ;;
    --gen) gen=$2; shift ;;
    --reps) reps=$2; shift ;;
    --build-dir) bdir=$2; shift ;;
    --huginn-build) hgb=$2; shift ;;
    --work-dir) work=$2; shift ;;
    --keep) keep=1 ;;
    --quick) quick=1 ;;
    -h|--help) usage 0 ;;
    *) echo "llama.cpp.sh: unknown option $1" >&2; usage 1 ;;
  esac
  shift
done
for t in $types; do
  case $t in bf16|q8_0|q4_0) ;; *) echo "llama.cpp.sh: --types takes bf16, q8_0, q4_0 (got $t)" >&2; exit 1 ;; esac
done
if [ $quick = 1 ]; then
  hidden=576; heads=6; ffn=1536; vocab=8192
else
  hidden=5280; heads=55; ffn=17920; vocab=65536
fi
if [ ! -f "$src/gguf-py/gguf/__init__.py" ] || [ ! -f "$src/CMakeLists.txt" ]; then
  echo "llama.cpp.sh: $src does not look like a llama.cpp source tree (gguf-py/, CMakeLists.txt)" >&2; exit 1
fi
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null; then PY=$p; break; fi
  done
fi
[ -n "$PY" ] || { echo "llama.cpp.sh: no python3 with numpy (Debian: apt-get install python3-numpy; or set PYTHON)" >&2; exit 1; }

# ---- builds -------------------------------------------------------------------------------------------
# llama.cpp: CPU only, native ISA (llama.cpp's usual build for the host it runs on), static, OpenMP,
# no network code, only the two programs this needs. Trees from before 2025-05 keep llama-bench under
# examples/, so examples are turned on for them.
lb=$bdir/bin/llama-bench; lq=$bdir/bin/llama-quantize
if [ ! -f "$bdir/CMakeCache.txt" ]; then
  ex=OFF; [ -d "$src/tools/llama-bench" ] || ex=ON
  gen_args=(); command -v ninja >/dev/null && gen_args=(-G Ninja)
  echo "== configuring llama.cpp in $bdir"
  cmake -S "$src" -B "$bdir" "${gen_args[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=$ex -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_BUILD_TOOLS=ON >"$bdir.configure.log" 2>&1 || { tail -30 "$bdir.configure.log" >&2; exit 1; }
fi
echo "== building llama-bench, llama-quantize ($bdir; log $bdir.build.log)"
cmake --build "$bdir" -j"$(nproc)" --target llama-bench llama-quantize >"$bdir.build.log" 2>&1 ||
  { tail -30 "$bdir.build.log" >&2; exit 1; }
if [ -n "$hgb" ]; then
  hgb=$(cd "$hgb" && pwd)
else
  hgb=$root/build
  cmake -S "$root" -B "$hgb" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$hgb" -j"$(nproc)" --target huginn_cli roofline >/dev/null
fi
hg=$hgb/huginn; roof=$hgb/bench/roofline
if [ ! -x "$hg" ] || [ ! -x "$roof" ]; then echo "llama.cpp.sh: no huginn or bench/roofline in $hgb" >&2; exit 1; fi

# ---- models -------------------------------------------------------------------------------------------
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/huginn-peer.XXXXXX")
  [ $keep = 1 ] || trap 'rm -rf "$work"' EXIT
else
  mkdir -p "$work"; work=$(cd "$work" && pwd)
fi
res=$work/results; mkdir -p "$res"; rm -f "$res"/*
tag=h$hidden-i$ffn-v$vocab
lbase=$work/llama-$tag-L$layers
if [ ! -f "$lbase-bf16.gguf" ]; then
  echo "== writing $lbase-bf16.gguf (random weights, llama.cpp's gguf-py)"
  PYTHONPATH="$src/gguf-py${PYTHONPATH:+:$PYTHONPATH}" "$PY" "$here/llama_gguf.py" "$lbase-bf16.gguf.tmp" \
    --hidden $hidden --heads $heads --ffn $ffn --vocab $vocab --layers "$layers"
  mv "$lbase-bf16.gguf.tmp" "$lbase-bf16.gguf"
fi
hbase=$work/huginn-$tag
if [ ! -f "$hbase-bf16/config.json" ]; then
  echo "== writing $hbase-bf16 (huginn init, random weights)"
  "$PY" - "$work/huginn-$tag.json" $hidden $heads $ffn $vocab <<'PY'
import json, sys
h, H, I, V = (int(x) for x in sys.argv[2:6])
json.dump({"name": "peer-shape", "architectures": ["RavenForCausalLM"], "model_type": "huginn_raven",
  "n_embd": h, "num_attention_heads": H, "num_key_value_heads": H, "intermediate_size": I, "vocab_size": V,
  "padding_multiple": 4096, "n_layers_in_prelude": 2, "n_layers_in_recurrent_block": 4, "n_layers_in_coda": 2,
  "block_size": 4096, "rope_base": 50000, "norm_eps": 1e-6, "tie_embeddings": True, "mean_recurrence": 32,
  "mean_backprop_depth": 8, "qk_bias": True, "bias": False, "block_class_name": "SandwichBlock",
  "norm_class_name": "RMSNorm_llama", "mlp_class_name": "GatedMLP", "nonlin_name": "SiLU",
  "injection_type": "linear", "state_init": "like-init", "torch_dtype": "bfloat16"}, open(sys.argv[1], "w"))
PY
  rm -rf "$hbase-bf16.tmp"
  "$hg" init --config "$work/huginn-$tag.json" -o "$hbase-bf16.tmp" --dtype bf16 --seed 1 >/dev/null
  mv "$hbase-bf16.tmp" "$hbase-bf16"
fi
for t in $types; do
  [ "$t" = bf16 ] && continue
  if [ ! -f "$lbase-$t.gguf" ]; then
    echo "== llama-quantize --pure $t"
    "$lq" --pure "$lbase-bf16.gguf" "$lbase-$t.gguf.tmp" "${t^^}" "$(nproc)" >"$res/quantize-$t.log" 2>&1 ||
      { tail -20 "$res/quantize-$t.log" >&2; exit 1; }
    mv "$lbase-$t.gguf.tmp" "$lbase-$t.gguf"
  fi
  if [ ! -f "$hbase-$t.gguf" ]; then
    echo "== huginn quantize $t"
    "$hg" quantize -m "$hbase-bf16" -o "$hbase-$t.gguf.tmp" --type "$t" >/dev/null
    mv "$hbase-$t.gguf.tmp" "$hbase-$t.gguf"
  fi
done

# ---- runs ---------------------------------------------------------------------------------------------
# As bench/run.sh: each model's file leaves the page cache before its run (a first load from disk,
# so huginn's MADV_HUGEPAGE mapping gets 2 MiB folios), and each run is bracketed by bandwidth and
# FMA-peak readings, since the host's speed drifts within minutes.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cold() { find "$@" -type f \( -name '*.safetensors' -o -name '*.gguf' \) -exec sh -c \
  'sync "$1" 2>/dev/null; dd if="$1" iflag=nocache count=0 status=none 2>/dev/null || true' _ {} \; ; }
readings() { # $1: file prefix
  "$roof" --bandwidth --json >"$1.bw.json"
  "$roof" --fma --json >"$1.fma.json"
}
echo "== roofline (threads $threads)"
OMP_NUM_THREADS=$threads "$roof" --json | tee "$res/roof.json"
export OMP_NUM_THREADS=$threads
for t in $types; do
  lm=$lbase-$t.gguf; hm=$hbase-$t.gguf; [ "$t" = bf16 ] && hm=$hbase-bf16
  echo "== $t: llama-bench -p $prompt -n $gen -r $reps -t $threads (load $(cut -d' ' -f1 /proc/loadavg))"
  cold "$lm"
  readings "$res/llama-$t.0"
  "$lb" -m "$lm" -p "$prompt" -n "$gen" -r "$reps" -t "$threads" -o json >"$res/llama-$t.json" 2>"$res/llama-$t.log" ||
    { tail -30 "$res/llama-$t.log" >&2; exit 1; }
  readings "$res/llama-$t.1"
  cut -d' ' -f1 /proc/loadavg >"$res/llama-$t.load"
  echo "== $t: huginn bench --steps $steps --prompt $((prompt + 1)) --gen $gen --kv-type f16 --threads $threads" \
       "(HG_AMX=${HG_AMX-} HG_CPU=${HG_CPU-} HG_BF16DOT=${HG_BF16DOT-}; load $(cut -d' ' -f1 /proc/loadavg))"
  cold "$hm"
  readings "$res/huginn-$t.0"
  "$hg" bench -m "$hm" --steps "$steps" --prompt $((prompt + 1)) --gen "$gen" --threads "$threads" --kv-type f16 \
    --json >"$res/huginn-$t.json"
  readings "$res/huginn-$t.1"
  cut -d' ' -f1 /proc/loadavg >"$res/huginn-$t.load"
done

"$PY" "$here/llama_report.py" "$res" --types "$types" --layers "$layers" --steps "$steps" --hidden $hidden \
  --ffn $ffn --vocab $vocab --prompt "$prompt" --gen "$gen" | tee "$res/report.txt"
if [ $keep = 1 ]; then
  echo "models and results kept in $work"
fi
