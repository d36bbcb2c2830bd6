#!/usr/bin/env bash
# test_eval_cli.sh — `huginn perplexity` and `huginn eval` against numbers computed here from
# `huginn forward --logits` (docs/eval.md), on the golden tiny checkpoint with the byte-level chain
# tokenizer beside it (one token per byte, BOS 256, so the ids are known without the tokenizer):
#   - perplexity = exp(mean NLL) of forward's logits, one window and llama-perplexity's sliding windows
#     (-c 8 --stride 4: each window a separate forward, the first half of later windows unscored);
#     bits per byte = ΣNLL / ln 2 / bytes;
#   - multiple choice: acc and acc_norm (logprob / bytes of the choice) from per-choice log-probabilities
#     computed here; the same with --batch 1, --batch 4 and --no-share (each choice alone);
#   - rolling loglikelihood: word and byte perplexity from forward's logits;
#   - generate_until on the shipped chain model: exact match and the flexible last-number answer on
#     questions whose greedy answers are known (0-hop chains, r = 4), computed by hand; --exit stops early;
#   - --chat scores after the chat template's rendering; scripts/convert_tasks.py's four layouts;
#   - malformed task lines fail with the line number; --out writes the CSV and the SVG.
set -euo pipefail
: "${HUGINN:?}" "${HG_TEST_TMP:?}" "${HG_SOURCE_DIR:?}" "${HG_TEST_DATA:?}"
dir="$HG_TEST_TMP/eval_cli"
rm -rf "$dir"; mkdir -p "$dir/model"
cp "$HG_TEST_DATA/golden_model/tiny/config.json" "$HG_TEST_DATA/golden_model/tiny/model.safetensors" "$dir/model/"
python3 "$HG_SOURCE_DIR/scripts/make_chain_tokenizer.py" --bytes "$dir/model"
model="$dir/model"
export OMP_NUM_THREADS=1
fail=0

# ---- perplexity ----------------------------------------------------------------------------------
printf 'k=3;a=k;?a=3;b=7;c=b;?c=' > "$dir/text.txt"
"$HUGINN" perplexity -m "$model" -f "$dir/text.txt" --steps 2,5 --json > "$dir/ppl1.json"
"$HUGINN" perplexity -m "$model" -f "$dir/text.txt" --steps 3 -c 8 --stride 4 --json > "$dir/ppl2.json"
python3 - "$HUGINN" "$model" "$dir" <<'PY' || fail=1
import json, math, struct, subprocess, sys
hg, model, d = sys.argv[1:4]
V = json.load(open(model + "/config.json"))["vocab_size"]
text = open(d + "/text.txt", "rb").read()
ids = [256] + list(text)

def logits(seq, r):
    subprocess.run([hg, "forward", "-m", model, "--ids", ",".join(map(str, seq)), "--steps", str(r),
                    "--init-scale", "0", "--logits", d + "/l.bin"], check=True, capture_output=True)
    raw = open(d + "/l.bin", "rb").read()
    return [struct.unpack_from("<%df" % V, raw, 4 * V * i) for i in range(len(seq))]

def lp(row, t):
    m = max(row)
    return row[t] - m - math.log(sum(math.exp(z - m) for z in row))

bad = 0
def check(name, got, want, tol):
    global bad
    ok = abs(got - want) <= tol * max(1.0, abs(want))
    print(("ok  " if ok else "FAIL") + " %s: %.9g vs %.9g" % (name, got, want))
    bad |= not ok

res = json.load(open(d + "/ppl1.json"))["results"]
for row in res:
    L = logits(ids, row["steps"])
    nll = [-lp(L[i - 1], ids[i]) for i in range(1, len(ids))]
    check("ppl r=%d" % row["steps"], row["perplexity"], math.exp(sum(nll) / len(nll)), 1e-4)
    check("bpb r=%d" % row["steps"], row["bits_per_byte"], sum(nll) / math.log(2) / len(text), 1e-4)
    check("tokens", row["tokens"], len(ids) - 1, 0)
# sliding windows: window 8, stride 4 -> windows start at 0, 4, 8, ...; each scores what no earlier one did
row = json.load(open(d + "/ppl2.json"))["results"][0]
nll, start, done = [], 0, 1
while done < len(ids):
    end = min(start + 8, len(ids))
    L = logits(ids[start:end], 3)
    nll += [-lp(L[i - start - 1], ids[i]) for i in range(done, end)]
    done, start = end, start + 4
check("windowed ppl", row["perplexity"], math.exp(sum(nll) / len(nll)), 1e-4)
check("windowed tokens", row["tokens"], len(ids) - 1, 0)
sys.exit(bad)
PY

# ---- multiple choice and rolling loglikelihood ----------------------------------------------------
cat > "$dir/mc.jsonl" <<'EOF'
{"type": "multiple_choice", "context": "k=3;?k=", "choices": ["3", "ab", "1;x"], "gold": 0, "fewshot": true}
{"type": "multiple_choice", "context": "k=3;a=k;?a=", "choices": ["3", "4", "12"], "gold": 0}
{"type": "multiple_choice", "context": "b=5;?b=", "choices": ["55", "5", "b"], "gold": 1}
{"type": "multiple_choice", "context": "z=1;y=z;?y=", "choices": ["1", "0;", "yy", "7"], "gold": 3}
{"type": "multiple_choice", "context": "q=8;?q=", "choices": ["8;q=", "8"], "gold": 0}
{"type": "multiple_choice", "context": "m=2;n=m;?n=", "choices": ["2", "n", "m=2"], "gold": 2}
{"type": "multiple_choice", "context": "x=9;?x=", "choices": ["9", "99", "x"], "gold": 1}
EOF
cat > "$dir/roll.jsonl" <<'EOF'
{"type": "loglikelihood_rolling", "text": "k=3; a=k; ?a=3"}
{"type": "loglikelihood_rolling", "text": "b=7 c=b ?c=7;"}
EOF
for v in "--batch 1" "--batch 4" "--no-share" "--batch 4 --fewshot 1"; do
  tag=$(echo "$v" | tr -d ' -')
  "$HUGINN" eval -m "$model" --task "$dir/mc.jsonl" --steps 1,3 $v --json > "$dir/mc_$tag.json" 2> "$dir/mc_$tag.err" \
    || { cat "$dir/mc_$tag.err"; echo "FAIL: eval $v"; fail=1; }
done
"$HUGINN" eval -m "$model" --task "$dir/roll.jsonl" --steps 2 --json > "$dir/roll.json" 2> /dev/null || { echo "FAIL: rolling"; fail=1; }
python3 - "$HUGINN" "$model" "$dir" <<'PY' || fail=1
import json, math, struct, subprocess, sys
hg, model, d = sys.argv[1:4]
V = json.load(open(model + "/config.json"))["vocab_size"]
def logits(seq, r):
    subprocess.run([hg, "forward", "-m", model, "--ids", ",".join(map(str, seq)), "--steps", str(r),
                    "--init-scale", "0", "--logits", d + "/l.bin"], check=True, capture_output=True)
    raw = open(d + "/l.bin", "rb").read()
    return [struct.unpack_from("<%df" % V, raw, 4 * V * i) for i in range(len(seq))]
def lp(row, t):
    m = max(row)
    return row[t] - m - math.log(sum(math.exp(z - m) for z in row))
items = [json.loads(l) for l in open(d + "/mc.jsonl")]
shot = items[0]
bad = 0
for tag, fewshot in (("batch1", 0), ("batch4", 0), ("noshare", 0), ("batch4fewshot1", 1)):
    res = json.load(open(d + "/mc_%s.json" % tag))["results"]
    for row in res:
        acc = accn = 0
        for it in items[1:]:
            ctx = (shot["context"] + shot["choices"][shot["gold"]] + "\n\n" if fewshot else "") + it["context"]
            c_ids = [256] + list(ctx.encode())
            scores = []
            for ch in it["choices"]:
                seq = c_ids + list(ch.encode())
                L = logits(seq, row["steps"])
                scores.append(sum(lp(L[i - 1], seq[i]) for i in range(len(c_ids), len(seq))))
            best = max(range(len(scores)), key=lambda j: (scores[j], -j))
            norm = [s / len(ch.encode()) for s, ch in zip(scores, it["choices"])]
            bestn = max(range(len(norm)), key=lambda j: (norm[j], -j))
            acc += best == it["gold"]; accn += bestn == it["gold"]
        n = len(items) - 1
        for k, want in (("acc", acc / n), ("acc_norm", accn / n)):
            ok = abs(row[k] - want) < 1e-9 and row["n"] == n
            print(("ok  " if ok else "FAIL") + " %s r=%d %s: %g vs %g" % (tag, row["steps"], k, row[k], want))
            bad |= not ok
        se = math.sqrt(row["acc"] * (1 - row["acc"]) / (n - 1))
        bad |= abs(row["acc_stderr"] - se) > 1e-9
# rolling: Σ logprob over both texts, words by whitespace, bytes
row = json.load(open(d + "/roll.json"))["results"][0]
tot = words = nbytes = 0
for l in open(d + "/roll.jsonl"):
    t = json.loads(l)["text"]
    seq = [256] + list(t.encode())
    L = logits(seq, 2)
    tot += sum(lp(L[i - 1], seq[i]) for i in range(1, len(seq)))
    words += len(t.split()); nbytes += len(t.encode())
for k, want in (("word_perplexity", math.exp(-tot / words)), ("byte_perplexity", math.exp(-tot / nbytes)),
                ("bits_per_byte", -tot / nbytes / math.log(2))):
    ok = abs(row[k] - want) <= 1e-4 * abs(want)
    print(("ok  " if ok else "FAIL") + " rolling %s: %.9g vs %.9g" % (k, row[k], want))
    bad |= not ok
sys.exit(bad)
PY

# ---- generation on the shipped chain model (answers known: 0-hop chains at r = 4 are always right) --
cat > "$dir/gen.jsonl" <<'EOF'
{"type": "generate_until", "context": "k=3;a=1;?k=", "target": "3", "until": [";"], "max_gen_toks": 1}
{"type": "generate_until", "context": "b=7;c=2;?b=", "target": "7", "until": [";"], "max_gen_toks": 1}
{"type": "generate_until", "context": "x=4;q=9;?q=", "target": "5", "until": [";"], "max_gen_toks": 1}
{"type": "generate_until", "context": "m=6;?m=", "target": "6", "until": [";"], "max_gen_toks": 1, "regex": "#### (\\d+)"}
EOF
# by hand: right, right, wrong (the target is not the answer), strict wrong ([invalid]: no "####")
# but flexible right (the last number is 6): exact_match 2/4, exact_match_flex 3/4
"$HUGINN" eval --task "$dir/gen.jsonl" --steps 4 --batch 3 --json --out "$dir/out" > "$dir/gen.json" 2> /dev/null \
  || { echo "FAIL: generation"; fail=1; }
python3 - "$dir/gen.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ok = r["exact_match"] == 0.5 and r["exact_match_flex"] == 0.75 and r["mean_iterations"] == 4 and r["n"] == 4
print(("ok  " if ok else "FAIL") + " generation: exact_match %g (want 0.5), flex %g (want 0.75), iterations %g"
      % (r["exact_match"], r["exact_match_flex"], r["mean_iterations"]))
sys.exit(not ok)
PY
# --exit: the same questions with a per-token KL exit under a 16-iteration cap stop early (the chain
# model's next-token distribution settles within a few iterations), and the answers stay right
"$HUGINN" eval --task "$dir/gen.jsonl" --steps 16 --exit kl --json > "$dir/exit.json" 2> /dev/null || { echo "FAIL: --exit"; fail=1; }
python3 - "$dir/exit.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ok = 1 <= r["mean_iterations"] < 16 and r["exact_match"] == 0.5
print(("ok  " if ok else "FAIL") + " --exit kl: mean iterations %g (< 16), exact_match %g" % (r["mean_iterations"], r["exact_match"]))
sys.exit(not ok)
PY
[ "$(head -1 "$dir/out/results.csv")" = "steps,n,metric,value,stderr,mean_iterations,tokens_per_s" ] || { echo "FAIL: CSV header"; fail=1; }
grep -q "<polyline" "$dir/out/results.svg" || { echo "FAIL: no plot"; fail=1; }

# ---- --chat: the prompt is the chat template's rendering (the ids `huginn run --chat` prefills), the
# choice's bytes follow it; acc from forward's logits. The byte tokenizer gets the Huginn template.
mkdir -p "$dir/chat"
cp "$model"/* "$dir/chat/"
python3 - "$dir/chat" "$HG_TEST_DATA/tokenizers/huginn_style/tokenizer_config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1] + "/tokenizer_config.json"))
c["chat_template"] = json.load(open(sys.argv[2]))["chat_template"]
json.dump(c, open(sys.argv[1] + "/tokenizer_config.json", "w"))
PY
printf '%s\n' '{"type": "multiple_choice", "context": "b=5;?b=", "choices": ["5", "7", "b"], "gold": 2}' > "$dir/chat.jsonl"
"$HUGINN" run -m "$dir/chat" --chat -p "b=5;?b=" -n 1 --steps 3 --temp 0 --init-scale 0 --json > "$dir/chat_run.json" 2> /dev/null
"$HUGINN" eval -m "$dir/chat" --task "$dir/chat.jsonl" --chat --steps 3 --json > "$dir/chat_eval.json" 2> /dev/null \
  || { echo "FAIL: eval --chat"; fail=1; }
# acc of eval's chat rendering against forward's logits after the prompt `run --chat` prefills:
# chat_acc MODEL_DIR RUN_JSON EVAL_JSON LABEL MIN_PROMPT_IDS [ID_IN_PROMPT]
cat > "$dir/chat_acc.py" <<'PY'
import json, math, struct, subprocess, sys
hg, m, run_json, eval_json, label, min_len = sys.argv[1:7]
must = [int(a) for a in sys.argv[7:]]
V = json.load(open(m + "/config.json"))["vocab_size"]
prompt = json.load(open(run_json))["prompt_ids"]
scores = []
for ch in ("5", "7", "b"):
    ids = subprocess.run([hg, "tokenize", "-t", m, "--no-special"], input=ch.encode(), check=True,
                         capture_output=True).stdout
    seq = prompt + json.loads(ids)
    subprocess.run([hg, "forward", "-m", m, "--ids", ",".join(map(str, seq)), "--steps", "3",
                    "--init-scale", "0", "--logits", m + "/l.bin"], check=True, capture_output=True)
    raw = open(m + "/l.bin", "rb").read()
    row = struct.unpack_from("<%df" % V, raw, 4 * V * (len(seq) - 2))
    mx = max(row)
    scores.append(row[seq[-1]] - mx - math.log(sum(math.exp(z - mx) for z in row)))
want = float(max(range(3), key=lambda j: (scores[j], -j)) == 2)
got = json.load(open(eval_json))["results"][0]["acc"]
ok = len(prompt) >= int(min_len) and all(i in prompt for i in must) and got == want
print(("ok  " if ok else "FAIL") + " %s acc %g vs %g (prompt of %d ids)" % (label, got, want, len(prompt)))
sys.exit(not ok)
PY
python3 "$dir/chat_acc.py" "$HUGINN" "$dir/chat" "$dir/chat_run.json" "$dir/chat_eval.json" "chat" 21 || fail=1
# --chat-template: a template-less model with a built-in format scores after the same rendering
# `run --chat --chat-template` prefills; without it, and without --chat, it is refused with a reason
"$HUGINN" eval -m "$model" --task "$dir/chat.jsonl" --chat --steps 3 --json > /dev/null 2> "$dir/noft.err" \
  && { echo "FAIL: eval --chat on a model without a chat template succeeded"; fail=1; }
grep -q -- "--chat-template" "$dir/noft.err" || { echo "FAIL: no --chat-template hint: $(cat "$dir/noft.err")"; fail=1; }
"$HUGINN" eval -m "$model" --task "$dir/chat.jsonl" --chat-template chatml --steps 3 > /dev/null 2> "$dir/nochat.err" \
  && { echo "FAIL: --chat-template without --chat accepted"; fail=1; }
grep -q "needs --chat" "$dir/nochat.err" || { echo "FAIL: --chat-template without --chat: $(cat "$dir/nochat.err")"; fail=1; }
"$HUGINN" eval -m "$model" --task "$dir/chat.jsonl" --chat --chat-template nosuch --steps 3 > /dev/null 2> "$dir/bad.err" \
  && { echo "FAIL: unknown --chat-template accepted"; fail=1; }
grep -q "chatml" "$dir/bad.err" || { echo "FAIL: unknown --chat-template lists no formats: $(cat "$dir/bad.err")"; fail=1; }
# a model with Llama 3's tokenizer (its special tokens) and no chat template in tokenizer_config.json
mkdir -p "$dir/plain"
python3 - "$HG_TEST_DATA/golden_model/tiny/config.json" "$dir/plain/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update({"block_size": 128, "vocab_size": 128256, "num_attention_heads": 2, "num_key_value_heads": 2, "n_embd": 32,
          "intermediate_size": 64, "n_layers_in_recurrent_block": 1, "mean_recurrence": 2, "mean_backprop_depth": 2,
          "n_layers_in_prelude": 1, "n_layers_in_coda": 1})
json.dump(c, open(sys.argv[2], "w"))
PY
"$HUGINN" init --config "$dir/plain/cfg.json" -o "$dir/plain" --seed 5 > /dev/null || fail=1
gunzip -c "$HG_TEST_DATA/tokenizers/llama3/tokenizer.json.gz" > "$dir/plain/tokenizer.json"
python3 - "$HG_TEST_DATA/tokenizers/llama3/tokenizer_config.json" "$dir/plain/tokenizer_config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.pop("chat_template", None)
json.dump(c, open(sys.argv[2], "w"))
PY
"$HUGINN" run -m "$dir/plain" --chat --chat-template llama3 -p "b=5;?b=" -n 1 --steps 3 --temp 0 --init-scale 0 --json \
  > "$dir/cml_run.json" 2> /dev/null || { echo "FAIL: run --chat --chat-template llama3"; fail=1; }
"$HUGINN" eval -m "$dir/plain" --task "$dir/chat.jsonl" --chat --chat-template llama3 --steps 3 --json \
  > "$dir/cml_eval.json" 2> /dev/null || { echo "FAIL: eval --chat --chat-template llama3"; fail=1; }
python3 "$dir/chat_acc.py" "$HUGINN" "$dir/plain" "$dir/cml_run.json" "$dir/cml_eval.json" "llama3" 12 128006 128007 || fail=1

# ---- scripts/convert_tasks.py: each public layout converts to a file `huginn eval` accepts (scored
# without the few-shot example: with it the prompts outgrow the tiny model's 128 positions) --------
printf '%s\n' '{"question": "Tom has 3 apples and buys 4. How many?", "answer": "3+4=7\n#### 7"}' > "$dir/gsm8k.jsonl"
printf '%s\n' '{"question": "Which?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "B"}' \
  '{"question": {"stem": "Or?", "choices": [{"text": "c", "label": "1"}, {"text": "d", "label": "2"}]}, "answerKey": "1"}' > "$dir/arc.jsonl"
printf '%s\n' '{"activity_label": "Cooking", "ctx_a": "A man cuts.", "ctx_b": "he then", "endings": ["eats [title] it.", "runs."], "label": "1"}' > "$dir/hs.jsonl"
printf '%s\n' '{"question": "Q?", "subject": "high_school_math", "choices": ["1", "2", "3", "4"], "answer": 2}' > "$dir/mmlu.jsonl"
for f in gsm8k:gsm8k arc:arc hellaswag:hs mmlu:mmlu; do
  python3 "$HG_SOURCE_DIR/scripts/convert_tasks.py" "${f%%:*}" "$dir/${f#*:}.jsonl" --fewshot-from "$dir/${f#*:}.jsonl" --k 1 \
    > "$dir/${f#*:}.task.jsonl" || { echo "FAIL: convert ${f%%:*}"; fail=1; }
  "$HUGINN" eval -m "$model" --task "$dir/${f#*:}.task.jsonl" --steps 1 --json > /dev/null 2>&1 \
    || { echo "FAIL: eval of converted ${f%%:*}"; fail=1; }
done
python3 - "$dir" <<'PY' || fail=1
import json, sys
d = sys.argv[1]
g = [json.loads(l) for l in open(d + "/gsm8k.task.jsonl")]
a = [json.loads(l) for l in open(d + "/arc.task.jsonl")][1:]
h = json.loads(open(d + "/hs.task.jsonl").readlines()[1])
ok = (g[0]["fewshot"] and g[1]["target"] == "7" and g[1]["regex"].startswith("####") and [x["gold"] for x in a] == [1, 0]
      and h["context"] == "Cooking: A man cuts. He then" and h["choices"] == [" eats. it.", " runs."] and h["gold"] == 1)
print(("ok  " if ok else "FAIL") + " converted fields")
sys.exit(not ok)
PY

# ---- malformed input ---------------------------------------------------------------------------------
printf '{"type": "multiple_choice", "context": "a", "choices": ["b"], "gold": 0}\n{"type": "multiple_choice", "context": "a", "choices": ["b"], "gold": 3}\n' > "$dir/bad.jsonl"
if "$HUGINN" eval -m "$model" --task "$dir/bad.jsonl" 2> "$dir/bad.err" > /dev/null; then echo "FAIL: bad gold accepted"; fail=1; fi
grep -q "bad.jsonl:2" "$dir/bad.err" || { echo "FAIL: the message does not name line 2"; cat "$dir/bad.err"; fail=1; }
printf 'not json\n' > "$dir/bad2.jsonl"
if "$HUGINN" eval -m "$model" --task "$dir/bad2.jsonl" > /dev/null 2>&1; then echo "FAIL: non-JSON accepted"; fail=1; fi
[ $fail -eq 0 ] && echo "test_eval_cli: all passed"
exit $fail
