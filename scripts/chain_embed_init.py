#!/usr/bin/env python3
"""chain_embed_init.py MODEL_DIR TOKENIZER_JSON [SEED] — give the statement tokens of the chain
vocabulary (scripts/make_chain_tokenizer.py) a factored initial embedding, in place.

A statement token `x=y;` is one id, so a freshly initialised model knows nothing shared between the
36 tokens that assign to `x`, or between `x=y;` and the query `?x=`: every one of the ~2,000 ids
has to learn its own key and value. This script writes each merged token's initial row as two
halves, the way the text composes it, with one code per variable or digit for "what a position
points at" (P, second half) and one for "what a statement assigns" (K, first half):

    x=y;  x=y   ->  [ K[x] | P[y] ]      (K: the assigned variable; P: the value, letter or digit)
    ?x=         ->  [ Z    | P[x] ]      (Z: one vector shared by every query)
    x=          ->  [ K[x] | E    ]      (E: one vector shared by every `x=`)
    digit d     ->  [ D    | P[d] ]      (the answer bytes: D shared; the tied head reads P[d])

so the query's variable, a statement's value and an answer digit are written alike: a lookup that
copies a statement's value into the query position leaves a pointer of the same kind as the one it
started from, which the next iteration can look up again. Every entry is drawn from N(0, s²) with s
the standard deviation the initialiser gave the embedding (row norms stay those of the model's
init); other rows are left as they are, and all rows stay ordinary parameters that training moves
freely. It is the familiar practice of initialising merged tokens from their parts, made
order-aware.

MODEL_DIR holds config.json and an F32 model.safetensors (`huginn init --config ... --dtype f32`).
"""
import json
import math
import os
import random
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    return n, header, data


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: chain_embed_init.py MODEL_DIR TOKENIZER_JSON [SEED]")
    model_dir, tok_path = sys.argv[1], sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) == 4 else 1)
    path = model_dir + "/model.safetensors"
    n, header, data = read_safetensors(path)
    meta = header["transformer.wte.weight"]
    if meta["dtype"] != "F32":
        sys.exit("chain_embed_init.py: the embedding must be F32 (huginn init --dtype f32)")
    V, h = meta["shape"]
    if h % 2:
        sys.exit("chain_embed_init.py: n_embd must be even")
    off = meta["data_offsets"][0]
    wte = list(struct.unpack_from("<%df" % (V * h), data, off))
    s = math.sqrt(sum(v * v for v in wte) / len(wte))
    vocab = json.load(open(tok_path, encoding="utf-8"))["model"]["vocab"]
    half = h // 2
    gauss = lambda: [rng.gauss(0.0, s) for _ in range(half)]
    letters = "abcdefghijklmnopqrstuvwxyz"
    digits = "0123456789"
    K = {c: gauss() for c in letters}
    P = {c: gauss() for c in letters + digits}
    Z, E, D = gauss(), gauss(), gauss()
    done = 0
    for text, i in vocab.items():
        if i >= V:
            sys.exit("chain_embed_init.py: token %r has id %d outside the model's vocabulary %d" % (text, i, V))
        row = None
        if len(text) in (3, 4) and text[0] in letters and text[1] == "=" and text[2] in P and text[3:] in ("", ";"):
            row = K[text[0]] + P[text[2]]
        elif len(text) == 3 and text[0] == "?" and text[1] in letters and text[2] == "=":
            row = Z + P[text[1]]
        elif len(text) == 2 and text[0] in letters and text[1] == "=":
            row = K[text[0]] + E
        elif len(text) == 1 and text in digits:
            row = D + P[text]
        if row is not None:
            wte[i * h:(i + 1) * h] = row
            done += 1
    struct.pack_into("<%df" % (V * h), data, off, *wte)
    with open(path + ".tmp", "wb") as f:
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        f.write(data)
    os.replace(path + ".tmp", path)
    print("chain_embed_init.py: %d of %d rows factored (embedding std %.4f)" % (done, V, s))


if __name__ == "__main__":
    main()
