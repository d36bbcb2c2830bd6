#!/usr/bin/env python3
"""make_eval_tasks.py — the project's own `huginn eval` task files (docs/eval.md "Shipped tasks").

    python3 scripts/make_eval_tasks.py chains --n 20 --seed 20250611 [--decoy] --mc OUT.jsonl --gen OUT.jsonl
    python3 scripts/make_eval_tasks.py arithmetic --n 40 --seed 7 > tasks/arithmetic.jsonl

chains: the variable-chain problems of scripts/chain_problems.py (hops 0-8, --n per hop count, the
held-out generator, independent of the trainer) as multiple choice (choices the ten digits, gold the
answer) and as generation (one greedy token, stop at ';', exact match with the answer digit). With
--n 500 --seed 20250611 these are the problems of the README's chain table.
arithmetic: a+b= and a-b= with one- and two-digit operands, as generation (target the result) and as
multiple choice (the result and three near misses), plus four few-shot examples of each type.
Standard library only; deterministic from the seed.
"""
import argparse
import json
import os
import random
import subprocess
import sys


def chains(args):
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, os.path.join(here, "chain_problems.py"), "--hops", "0-8", "--n", str(args.n),
           "--seed", str(args.seed)]
    cmd += ["--decoy"] if args.decoy else ["--distractors", "2"]
    rows = [line.split("\t") for line in subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()]
    digits = [str(d) for d in range(10)]
    with open(args.mc, "w") as mc, open(args.gen, "w") as gen:
        for hops, prompt, answer in rows:
            mc.write(json.dumps({"type": "multiple_choice", "context": prompt, "choices": digits,
                                 "gold": digits.index(answer), "hops": int(hops)}) + "\n")
            gen.write(json.dumps({"type": "generate_until", "context": prompt, "target": answer, "until": [";"],
                                  "max_gen_toks": 1, "hops": int(hops)}) + "\n")


def arithmetic(args):
    rnd = random.Random(args.seed)
    out = sys.stdout

    def problem():
        a, b = rnd.randint(0, 99), rnd.randint(0, 9 if rnd.random() < 0.5 else 99)
        op = rnd.choice("+-")
        return f"{a}{op}{b}=", a + b if op == "+" else a - b

    for i in range(args.n + 4):
        q, v = problem()
        shot = {"fewshot": True} if i < 4 else {}
        out.write(json.dumps({"type": "generate_until", "context": q, "target": str(v), "until": ["\n"],
                              "max_gen_toks": 4, **shot}) + "\n")
    for i in range(args.n + 4):
        q, v = problem()
        wrong = set()
        while len(wrong) < 3:
            w = v + rnd.choice([-10, -2, -1, 1, 2, 10])
            if w != v:
                wrong.add(w)
        choices = [str(v)] + [str(w) for w in sorted(wrong)]
        rnd.shuffle(choices)
        shot = {"fewshot": True} if i < 4 else {}
        out.write(json.dumps({"type": "multiple_choice", "context": q, "choices": choices,
                              "gold": choices.index(str(v)), **shot}) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("chains")
    c.add_argument("--n", type=int, default=20)
    c.add_argument("--seed", type=int, default=20250611)
    c.add_argument("--decoy", action="store_true")
    c.add_argument("--mc", required=True)
    c.add_argument("--gen", required=True)
    a = sub.add_parser("arithmetic")
    a.add_argument("--n", type=int, default=40)
    a.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    chains(args) if args.what == "chains" else arithmetic(args)


if __name__ == "__main__":
    main()
