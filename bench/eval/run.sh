#!/usr/bin/env bash
# bench/eval/run.sh — multiple-choice scoring speed of `huginn eval` (docs/eval.md "Speed"): the
# context prefilled once per question with continuations batched across questions (the default)
# against scoring each choice alone as one window (--no-share --batch 1, what a harness without a
# cache does), same model, same task, same run; prints both times and their ratio, and checks first
# that the two give the same accuracies.
#
#   bench/eval/run.sh [BUILD_DIR]        (defaults to build; built if needed, -j2)
#   HG_EVAL_STEPS (4), HG_EVAL_N (12 questions per task), HG_EVAL_CTX (96 context tokens), HG_EVAL_BATCH (8)
#
# Model: the 1024-wide random checkpoint of bench/run.sh (`huginn init`, bf16, 2+4+2 layers), with the
# byte-level tokenizer of scripts/make_chain_tokenizer.py --bytes beside it (one token per byte, so
# context lengths are exact). Four task shapes: MMLU-like zero-shot (4 choices " A".." D", one token
# each), MMLU-like 5-shot as lm-eval runs MMLU (the same header and five worked examples, ~300 tokens,
# in front of every question of a subject: slots keep a prefix that the next question shares), ARC-like
# (4 choices of 3-8 bytes) and chain-like (the ten digits, as tasks/chains-mc.jsonl). Prefill is
# compute-bound, so the gain is bounded by the work saved: about n_choices x (context + choice) /
# context for one-token choices without a shared header. HG_EVAL_TASKS (default "mmlu mmlu5 arc
# chain") picks shapes.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
steps=${HG_EVAL_STEPS:-4}; n=${HG_EVAL_N:-12}; ctx=${HG_EVAL_CTX:-96}; batch=${HG_EVAL_BATCH:-8}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target huginn_cli >/dev/null
# OpenMP waits as huginn runs by default (bench/run.sh says why)
if [ -z "${OMP_WAIT_POLICY:-}" ] && [ -z "${GOMP_SPINCOUNT:-}" ]; then export GOMP_SPINCOUNT=10000; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$root/bench/models/bench-1024.json" "$tmp/config.json" # the 1024-wide shape every bench uses
"$build/huginn" init --config "$tmp/config.json" -o "$tmp/m" --dtype bf16 --seed 1 >/dev/null
python3 "$root/scripts/make_chain_tokenizer.py" --bytes "$tmp/m" >/dev/null
python3 - "$tmp" "$n" "$ctx" <<'PY'
import json, random, sys
d, n, ctx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(5)
words = "the of and a to in is was that for on as with by he at from his it an were are which this".split()
def text(k):
    s = ""
    while len(s) < k:
        s += rnd.choice(words) + " "
    return s[:k]
with open(d + "/mmlu.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"type": "multiple_choice", "context": text(ctx - 9) + "\nAnswer:",
                            "choices": [" A", " B", " C", " D"], "gold": i % 4}) + "\n")
shots = "The following are multiple choice questions (with answers) about reading.\n\n" + "".join(
    text(40) + "\nAnswer: " + "ABCD"[k % 4] + "\n\n" for k in range(5))
with open(d + "/mmlu5.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"type": "multiple_choice", "context": shots + text(ctx - 9) + "\nAnswer:",
                            "choices": [" A", " B", " C", " D"], "gold": i % 4}) + "\n")
with open(d + "/chain.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"type": "multiple_choice", "context": text(ctx - 4) + "?a=",
                            "choices": [str(k) for k in range(10)], "gold": i % 10}) + "\n")
with open(d + "/arc.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"type": "multiple_choice", "context": text(ctx - 8) + " Answer:",
                            "choices": [" " + text(rnd.randint(2, 7)).strip() or " x" for _ in range(4)],
                            "gold": i % 4}) + "\n")
PY
echo "huginn eval multiple choice, 1024-wide bf16 model, r=$steps, $n questions, ~$ctx-token contexts"
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for task in ${HG_EVAL_TASKS:-mmlu mmlu5 arc chain}; do
  "$build/huginn" eval -m "$tmp/m" --task "$tmp/$task.jsonl" --steps "$steps" --no-share --batch 1 --json \
    >"$tmp/alone.json" 2>/dev/null
  "$build/huginn" eval -m "$tmp/m" --task "$tmp/$task.jsonl" --steps "$steps" --batch "$batch" --json \
    >"$tmp/shared.json" 2>/dev/null
  python3 - "$tmp" "$task" "$batch" <<'PY'
import json, sys
d, task, batch = sys.argv[1], sys.argv[2], sys.argv[3]
a = json.load(open(d + "/alone.json"))["results"][0]
s = json.load(open(d + "/shared.json"))["results"][0]
same = a["acc"] == s["acc"] and a["acc_norm"] == s["acc_norm"]
print("  %-5s each choice alone %7.2f s | shared prefix + batch %s %7.2f s | %.2fx  (acc %.3f / %.3f, %s)"
      % (task, a["seconds"], batch, s["seconds"], a["seconds"] / s["seconds"], a["acc"], s["acc"],
         "same" if same else "DIFFERENT"))
json.dump({"alone": a["seconds"], "shared": s["seconds"]}, open(d + "/" + task + ".times", "w"))
sys.exit(not same)
PY
done

# The authors' PyTorch code scoring the same requests as lm-eval's Hugging Face backend does (every
# choice one forward over context + choice, no cache): its forward time for one such window, times the
# windows of the zero-shot MMLU-like task (n questions x 4 choices), against our two modes.
repo=/work/.mirror/seal-rg+recurrent-pretraining/repo
ref=${HG_REFERENCE_DIR:-/work/shared/reference}
if [ -e "$tmp/mmlu.times" ] && /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null && [ -d "$repo" ] && [ -e "$ref/make_golden.py" ]; then
  off="$tmp/official"
  mkdir -p "$off"
  for f in recpre/raven_modeling_minimal.py recpre/raven_config_minimal.py recpre/raven_config_minimal.json; do
    git --git-dir="$repo" show "HEAD:$f" >"$off/$(basename "$f")"
  done
  /usr/bin/python3 "$ref/make_golden.py" --official-dir "$off" bench \
    --config-json "$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(json.dumps({k: c[k] for k in ("n_embd", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size", "n_layers_in_prelude", "n_layers_in_recurrent_block", "n_layers_in_coda", "qk_bias")}))' "$tmp/config.json")" \
    --steps "$steps" --prompt-len "$((ctx + 1))" --decode-tokens 1 --threads "$(nproc)" --repeat 2 >"$tmp/torch.txt" 2>&1 || true
  python3 - "$tmp" "$n" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(d + "/torch.txt") if l.startswith("{")]
if not rows:
    print("  (the authors' code did not run: see its output)"); sys.exit(0)
w = rows[-1]["prefill_s"]
t = json.load(open(d + "/mmlu.times"))
ref = w * n * 4
print("  mmlu  the authors' code, each choice one window (%.3f s per %d-token window): %.2f s | huginn alone %.2fx, shared %.2fx faster"
      % (w, rows[-1]["prefill_tokens"], ref, ref / t["alone"], ref / t["shared"]))
PY
fi
