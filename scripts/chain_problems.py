#!/usr/bin/env python3
"""chain_problems.py — held-out "variable chain" problems for `huginn eval-chains`.

Written independently of the trainer's generator (tools/chains.c): a different algorithm (the
chain and the distractors are built as a dependency forest, then rendered), a different random
generator (Python's Mersenne Twister) and its own seed, so the evaluation does not share a code path
or a random stream with training.

Output: one problem per line, `HOPS<TAB>PROMPT<TAB>ANSWER`, e.g. `2\tk=3;a=k;z=1;d=a;?d=\t3`: the
statements VAR=DIGIT or VAR=VAR over distinct lowercase letters, joined by `;`, shuffled, then
`;?VAR=`; HOPS is the number of VAR=VAR links between the queried variable and its digit.

With --decoy the distractors are instead a second chain of the same length ending in another
digit (`k=3;a=k;d=a;` beside `q=7;m=q;x=m;`): both digits are referred to and both chains have the
same shape, so only following the queried chain finds the answer (chance is 50 %).

With --structure chains the distractors are cut into chains of random lengths (one long chain or
many short ones), each ending in a digit; --structure any picks forest or chains per problem; --clamp
lets a long chain take fewer distractors (26 letters in all), e.g. `--distractors 3-25 --clamp`
fills up to 26 variables at every hop count.

usage: chain_problems.py --hops 1-10 --n 100 [--distractors 2[-4] [--structure S] [--clamp] | --decoy]
                         --seed 20250611 > problems.tsv
"""
import argparse
import random
import string
import sys


def parse_range(text):
    lo, _, hi = text.partition("-")
    lo = int(lo)
    hi = int(hi) if hi else lo
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"bad range `{text}`")
    return lo, hi


def problem(rng, hops, n_distractors, structure="forest"):
    names = rng.sample(string.ascii_lowercase, hops + 1 + n_distractors)
    chain, others = names[: hops + 1], names[hops + 1:]
    answer = str(rng.randrange(10))
    rhs = {chain[0]: answer}
    for prev, var in zip(chain, chain[1:]):
        rhs[var] = prev
    if structure == "any":
        structure = rng.choice(("forest", "chains"))
    if structure == "chains":
        # Distractor chains of any length: the distractors cut at random points into runs, each run a
        # chain of its own that ends in a digit (one run of all of them, or many short ones).
        cuts = sorted(rng.sample(range(1, len(others)), rng.randrange(len(others)))) if len(others) > 1 else []
        start = 0
        for end in cuts + [len(others)]:
            run = others[start:end]
            rhs[run[0]] = str(rng.randrange(10))
            for prev, var in zip(run, run[1:]):
                rhs[var] = prev
            start = end
    else:
        # Distractors form their own forest: each is a digit or points at a distractor defined before
        # it in this list, so none of them reaches the queried chain and there are no cycles.
        for i, var in enumerate(others):
            if i and rng.random() < 0.5:
                rhs[var] = rng.choice(others[:i])
            else:
                rhs[var] = str(rng.randrange(10))
    statements = [f"{v}={rhs[v]}" for v in names]
    rng.shuffle(statements)
    return ";".join(statements) + f";?{chain[-1]}=", answer


def decoy_problem(rng, hops):
    names = rng.sample(string.ascii_lowercase, 2 * (hops + 1))
    chain, decoy = names[: hops + 1], names[hops + 1:]
    answer, other = rng.sample("0123456789", 2)
    rhs = {chain[0]: answer, decoy[0]: other}
    for links in (chain, decoy):
        for prev, var in zip(links, links[1:]):
            rhs[var] = prev
    statements = [f"{v}={rhs[v]}" for v in names]
    rng.shuffle(statements)
    return ";".join(statements) + f";?{chain[-1]}=", answer


def resolve(prompt):
    """Follow the query through the statements: the check that every written problem is right."""
    body, _, query = prompt.rpartition(";?")
    table = dict(s.split("=") for s in body.split(";"))
    var, hops = query.rstrip("="), 0
    while not table[var].isdigit():
        var, hops = table[var], hops + 1
    return table[var], hops


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hops", type=parse_range, default=(1, 8))
    ap.add_argument("--n", type=int, default=100, help="problems per hop count")
    ap.add_argument("--distractors", type=parse_range, default=(2, 2))
    ap.add_argument("--decoy", action="store_true", help="a decoy chain of the same length instead")
    ap.add_argument("--structure", choices=("forest", "chains", "any"), default="forest",
                    help="the distractors: a forest (half point at an earlier one), chains of random lengths "
                         "ending in digits, or either per problem")
    ap.add_argument("--clamp", action="store_true",
                    help="draw fewer distractors where the chain leaves fewer of the 26 letters")
    ap.add_argument("--seed", type=int, default=20250611)
    a = ap.parse_args()
    if a.decoy and 2 * (a.hops[1] + 1) > 26:
        sys.exit("chain_problems.py: with --decoy, 2 * (hops + 1) must be <= 26")
    if not a.decoy and a.hops[1] + 1 + (a.distractors[0] if a.clamp else a.distractors[1]) > 26:
        sys.exit("chain_problems.py: hops + 1 + distractors must be <= 26 (--clamp: the lowest distractor count)")
    rng = random.Random(a.seed)
    out = sys.stdout
    for hops in range(a.hops[0], a.hops[1] + 1):
        for _ in range(a.n):
            if a.decoy:
                prompt, answer = decoy_problem(rng, hops)
            else:
                hi = min(a.distractors[1], 25 - hops) if a.clamp else a.distractors[1]
                prompt, answer = problem(rng, hops, rng.randint(a.distractors[0], hi), a.structure)
            assert resolve(prompt) == (answer, hops)
            out.write(f"{hops}\t{prompt}\t{answer}\n")


if __name__ == "__main__":
    main()
