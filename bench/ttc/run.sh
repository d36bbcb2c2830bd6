#!/usr/bin/env bash
# bench/ttc/run.sh — test-time modes on a random model with Huginn-0125's layer structure (P/R/C = 2/4/2,
# r = 32, RoPE 50000, qk bias, tied embeddings) at a reduced width, through `huginn run --json`:
# fixed r = 32, adaptive exit, self-speculative decoding and the parallel sampler. Each mode's output is
# checked first (speculative must equal fixed-depth greedy token for token), then timed.
#   usage: bench/ttc/run.sh [HUGINN] [WIDTH] [N_NEW]     (defaults: build-ttc/huginn, 512, 32)
# Prints one line per mode: tokens/s, core iterations per generated token, wall-time ratio to fixed.
set -eu
HUGINN=${1:-build-ttc/huginn}
H=${2:-512}
N=${3:-32}
DIR=${TMPDIR:-/tmp}/hg-ttc-bench-$H
if [ ! -f "$DIR/model.safetensors" ]; then
  mkdir -p "$DIR"
  python3 - "$DIR/config.json" "$H" <<'PY'
import json, sys
path, h = sys.argv[1], int(sys.argv[2])
cfg = {"model_type": "huginn_raven", "architectures": ["RavenForCausalLM"], "block_size": 1024,
       "vocab_size": 65536, "padding_multiple": 4096, "tie_embeddings": True,
       "num_attention_heads": h // 96 if h % 96 == 0 else max(1, h // 64),
       "num_key_value_heads": h // 96 if h % 96 == 0 else max(1, h // 64),
       "n_embd": h, "intermediate_size": (h * 17920) // 5280 // 8 * 8, "bias": False,
       "architecture_class_name": "RecurrentGPT", "block_class_name": "SandwichBlock",
       "norm_class_name": "RMSNorm_llama", "norm_eps": 1e-6, "mlp_class_name": "GatedMLP", "nonlin_name": "SiLU",
       "init_strategy": "takase", "init_orthogonal": False, "state_init": "like-init", "injection_type": "linear",
       "n_layers_in_recurrent_block": 4, "mean_recurrence": 32, "sampling_scheme": "poisson-lognormal-filling",
       "mean_backprop_depth": 8, "n_layers_in_prelude": 2, "n_layers_in_coda": 2, "qk_bias": True,
       "activation_checkpoint_impl": "per-iteration"}
cfg["num_key_value_heads"] = cfg["num_attention_heads"]
json.dump(cfg, open(path, "w"), indent=2)
PY
  "$HUGINN" init --config "$DIR/config.json" -o "$DIR" --seed 7 --dtype bf16 >/dev/null
fi
IDS=$(python3 -c "import random; random.seed(3); print(','.join(str(random.randrange(65504)) for _ in range(24)))")
run() { "$HUGINN" run -m "$DIR" --ids "$IDS" -n "$N" --steps 32 --init-scale 0 --temp 0 --json "$@"; }
fixed=$(run --exit none)
adaptive=$(run --exit latent-diff --kv-cache latest-m4)
spec=$(run --draft-steps 4 --lookahead 4)
par=$(run --parallel)
python3 - "$fixed" "$adaptive" "$spec" "$par" <<'PY'
import json, sys
names = ["fixed r=32", "adaptive latent-diff (auto 0.03, latest-m4)", "speculative draft 4, lookahead 4",
         "parallel (r'=4, wavefront 128, latent-diff 0.03, latest-m4-compress-s4)"]
runs = [json.loads(a) for a in sys.argv[1:]]
ref = [g["id"] for g in runs[0]["generated"]]
spec = [g["id"] for g in runs[2]["generated"]]
assert spec[:len(ref)] == ref[:len(spec)], "speculative output differs from fixed-depth greedy"
par = [g["id"] for g in runs[3]["generated"]]
agree = sum(a == b for a, b in zip(par, ref)) / max(1, min(len(par), len(ref)))
t0 = runs[0]["stats"]["seconds"] / max(1, runs[0]["stats"]["n_generated"])
for n, r in zip(names, runs):
    s = r["stats"]
    per = s["seconds"] / max(1, s["n_generated"])
    print(f"{n:72s} {s['n_generated']:3d} tok  {s['tokens_per_s']:8.2f} tok/s  "
          f"{s['core_iterations_per_token']:8.2f} core it/token  wall/token x{per / t0:5.2f}")
print(f"speculative output == fixed greedy: yes; parallel tokens equal to fixed greedy at the same index: {agree:.0%}")
PY
