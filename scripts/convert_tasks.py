#!/usr/bin/env python3
"""convert_tasks.py — public benchmarks' JSONL exports -> `huginn eval` task files (docs/eval.md).

    python3 scripts/convert_tasks.py FORMAT IN.jsonl [--fewshot-from TRAIN.jsonl [--k 5]] > OUT.jsonl

FORMAT is one of (the prompts are lm-eval's for each task, so scores are comparable):
  gsm8k      {"question", "answer" ending in "#### N"} -> generate_until, context
             "Question: ...\\nAnswer:", target N, until ["Question:", "</s>", "<|im_end|>"], strict regex
             "#### (-?[0-9.,]+)" (the flexible last-number match is always reported too)
  arc        ARC-Easy / ARC-Challenge, the Hugging Face layout {"question", "choices": {"text", "label"},
             "answerKey"} or AI2's {"question": {"stem", "choices": [{"text", "label"}]}, "answerKey"}
             -> multiple_choice, "Question: ...\\nAnswer:", choices " TEXT"
  hellaswag  {"activity_label", "ctx_a", "ctx_b", "endings", "label"} -> multiple_choice with lm-eval's
             text preprocessing ("[title]" -> ". ", other [brackets] dropped)
  mmlu       {"question", "subject", "choices" [4], "answer" 0-3} -> multiple_choice, the subject's
             description line, "A. ..".."D. ..", "Answer:", choices " A".." D"
--fewshot-from puts the first K records of another file (the benchmark's train or dev split) in front,
marked "fewshot": true, for `huginn eval --fewshot K`. Nothing is downloaded: the user supplies the
files. Standard library only.
"""
import argparse
import json
import re
import sys


def gsm8k(d, shot):
    ans = d["answer"]
    target = ans.split("####")[-1].strip().replace(",", "")
    return {"type": "generate_until", "context": "Question: " + d["question"] + "\nAnswer:",
            # a few-shot example shows the whole worked answer; a scored request compares the number
            "target": " " + ans if shot else target,
            "until": ["Question:", "</s>", "<|im_end|>"], "max_gen_toks": 256,
            "regex": r"#### (\-?[0-9\.\,]+)"}


def arc(d, shot):
    q = d["question"]
    if isinstance(q, dict):  # AI2's layout
        texts = [c["text"] for c in q["choices"]]
        labels = [c["label"] for c in q["choices"]]
        q = q["stem"]
    else:
        texts, labels = d["choices"]["text"], d["choices"]["label"]
    return {"type": "multiple_choice", "context": "Question: " + q + "\nAnswer:",
            "choices": [" " + t for t in texts], "gold": labels.index(d["answerKey"])}


def _hs_pre(text):
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def hellaswag(d, shot):
    ctx = d["ctx_a"] + " " + d["ctx_b"].capitalize()
    return {"type": "multiple_choice", "context": _hs_pre(d["activity_label"] + ": " + ctx),
            "choices": [" " + _hs_pre(e) for e in d["endings"]], "gold": int(d["label"])}


def mmlu(d, shot):
    subject = d.get("subject", "").replace("_", " ")
    head = "" if shot else "The following are multiple choice questions (with answers) about %s.\n\n" % subject
    body = d["question"].strip() + "".join("\n%s. %s" % (l, c) for l, c in zip("ABCD", d["choices"]))
    return {"type": "multiple_choice", "context": head + body + "\nAnswer:",
            "choices": [" A", " B", " C", " D"], "gold": int(d["answer"])}


FORMATS = {"gsm8k": gsm8k, "arc": arc, "hellaswag": hellaswag, "mmlu": mmlu}


def records(path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    sys.exit("%s:%d: %s" % (path, n, e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("format", choices=sorted(FORMATS))
    ap.add_argument("input")
    ap.add_argument("--fewshot-from")
    ap.add_argument("--k", type=int, default=5)
    a = ap.parse_args()
    conv = FORMATS[a.format]
    out = sys.stdout
    if a.fewshot_from:
        for i, d in enumerate(records(a.fewshot_from)):
            if i == a.k:
                break
            out.write(json.dumps({**conv(d, True), "fewshot": True}, ensure_ascii=False) + "\n")
    for d in records(a.input):
        out.write(json.dumps(conv(d, False), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
