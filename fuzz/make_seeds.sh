#!/usr/bin/env bash
# make_seeds.sh — regenerate the checked-in seed corpora of fuzz/corpus/ from tests/data, models/ and a
# tiny model made with the built command (a few small files per target, so CI's short runs start
# from valid inputs). Usage: fuzz/make_seeds.sh [BUILD_DIR]   (default build/). Crash regressions in
# fuzz/corpus/*/crash-* are kept; everything else named seed-* is rewritten.
set -euo pipefail
cd "$(dirname "$0")/.."
hg="${1:-build}/huginn"
c=fuzz/corpus
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for t in safetensors config shard_index gguf tokenizer_json tokenizer_config encode chat train_config shard state trainer_state; do
  mkdir -p "$c/$t"; rm -f "$c/$t"/seed-*
done
# a tiny model (16 wide, 40 ids, one layer per stage) with the components tokenizer, in bf16 and f32
cat > "$tmp/cfg.json" <<JSON
{"n_embd": 16, "num_attention_heads": 2, "num_key_value_heads": 2, "intermediate_size": 32, "vocab_size": 272,
 "n_layers_in_prelude": 1, "n_layers_in_recurrent_block": 1, "n_layers_in_coda": 1, "block_size": 16,
 "mean_recurrence": 2, "mean_backprop_depth": 1, "tie_embeddings": true, "bias": false,
 "block_class_name": "SandwichBlock", "norm_class_name": "RMSNorm_llama", "norm_eps": 1e-06,
 "mlp_class_name": "GatedMLP", "nonlin_name": "SiLU", "state_init": "like-init", "injection_type": "linear",
 "qk_bias": true}
JSON
"$hg" init --config "$tmp/cfg.json" -o "$tmp/m" --dtype bf16 --seed 1 > /dev/null
cp fuzz/data/components.json "$tmp/m/tokenizer.json"
cp "$tmp/m/model.safetensors" "$c/safetensors/seed-tiny-bf16"
printf '\x40\x00\x00\x00\x00\x00\x00\x00{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{}}\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x00\x00\x80\x3f\x00\x00\x00\x40' > "$c/safetensors/seed-one"
cp "$tmp/m/config.json" "$c/config/seed-tiny"; cp models/default/config.json "$c/config/seed-default"
cp tests/data/golden_model/*/config.json "$c/config/seed-golden" 2>/dev/null || true
cp tests/data/golden_family/retrofit-tiny/config.json "$c/config/seed-retrofit-llama"
python3 - "$tmp/m/model.safetensors" "$c/shard_index/seed-index" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
wm = {k: "model-00001-of-00001.safetensors" for k in h if k != "__metadata__"}
open(sys.argv[2], "w").write(json.dumps({"metadata": {"total_size": len(b)}, "weight_map": wm}))
PY
"$hg" convert -m "$tmp/m" -o "$c/gguf/seed-tiny" --dtype bf16 > /dev/null
"$hg" quantize -m "$tmp/m" -o "$c/gguf/seed-tiny-q8" --type q8_0 > /dev/null
cp fuzz/data/components.json "$c/tokenizer_json/seed-components"
python3 - "$c/tokenizer_json/seed-bytes" <<'PY'
import json, sys
bs = list(range(0x21, 0x7f)) + list(range(0xa1, 0xad)) + list(range(0xae, 0x100)); cs = bs[:]; n = 0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256 + n); n += 1
v = {chr(c): b for b, c in zip(bs, cs)}
json.dump({"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
           "post_processor": None, "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": v, "merges": []}}, open(sys.argv[1], "w"))
PY
for d in models/default tests/data/tokenizers/huginn_style tests/data/tokenizers/llama3; do
  cp "$d/tokenizer_config.json" "$c/tokenizer_config/seed-$(basename "$d")"
done
# encode: byte 0 picks the tokenizer (fuzz_encode.c's list), byte 1 the flags, then text
i=0
for text in 'Hello, world! 123 café' 'k=3;a=k;z=1;d=a;?d=' '  <|begin_text|>你好 ﬁ ①  ' $'tab\there\nnew line 3.14159' 'hello.hello e (x) <|s|>'; do
  printf "\\x$(printf %02x $((i % 7)))\\x0$((i % 4))%s" "$text" > "$c/encode/seed-$i"; i=$((i + 1))
done
printf '\x00system\x00Be brief.\x00user\x00k=3;?k=\x00Huginn\x003' > "$c/chat/seed-0"
printf '\x01user\x00  hi  \x00assistant\x00hello\x00user\x00\xc3\xa9' > "$c/chat/seed-1"
cp models/chains-recurrent.json "$c/train_config/seed-recurrent"; cp models/chains-baseline.json "$c/train_config/seed-baseline"
printf '{"model": {"n_embd": 32}, "train": {"warmup": "5%%", "max_steps": 10}, "out_dir": "x", "eval_depths": [1, 2]}' > "$c/train_config/seed-small"
printf 'k=3;a=k;?a=3\nb=1;?b=1\n' > "$tmp/text.txt"
"$hg" tokenize-data -t "$tmp/m/tokenizer.json" --row-len 8 -o "$c/shard/seed-tiny" "$tmp/text.txt" > /dev/null
python3 - "$c/state" <<'PY'
import struct, sys
d = sys.argv[1]
open(d + "/seed-4", "wb").write(bytes([4]) + struct.pack("<4f", 0.5, -1.0, 0.0, 3.0))
open(d + "/seed-nan", "wb").write(bytes([2]) + struct.pack("<2f", float("nan"), 1.0))
PY
cat > "$tmp/train.json" <<JSON
{"model": {"n_embd": 16, "n_head": 2, "intermediate_size": 32, "n_layers_prelude": 0, "n_layers_core": 1,
           "n_layers_coda": 0, "mean_recurrence": 2, "mean_backprop_depth": 1, "block_size": 32},
 "train": {"rows": 1, "seq_len": 31, "max_steps": 2}, "data": {"min_hops": 0, "max_hops": 1, "distractors": 0},
 "out_dir": "$tmp/run", "eval_every": 0, "save_every": 0, "eval_problems": 1, "eval_depths": [1]}
JSON
OMP_NUM_THREADS=1 "$hg" train "$tmp/train.json" > /dev/null
cp "$tmp/run/latest/trainer_state.json" "$c/trainer_state/seed-0"
ls -R "$c" | head -80
