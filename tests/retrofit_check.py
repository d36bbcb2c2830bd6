"""retrofit_check.py — the Python half of test_retrofit_cli.sh (one process per step: Python starts slowly).

  check MODEL OUT          compare the outputs the shell test wrote under OUT with MODEL's goldens; prints
                           ok / FAIL lines, exit 1 on any failure (tolerance 1e-4, as test_retrofit_golden.c)
  bf16 MODEL OUT16 OUT32   write a BF16 copy of MODEL (round to nearest even, as torch's .to(bfloat16)) in
                           two shards with an index, and an F32 copy holding the same values widened
  broken MODEL DIR         write configs of MODEL with one key missing or wrong into DIR/<case>/ (with the
                           weights), for the error-message checks
"""
import json
import os
import shutil
import struct
import sys


def f32(path):
    b = open(path, "rb").read()
    return struct.unpack("<%df" % (len(b) // 4), b)


def maxdiff(a, b):
    x, y = f32(a), f32(b)
    if len(x) != len(y) or not x:
        return float("inf")
    return max(abs(p - q) if p == p and q == q else float("inf") for p, q in zip(x, y))


def check(model, out):
    case = {c["name"]: c for c in json.load(open(model + "/golden/manifest.json"))["cases"]}
    bad = 0

    def say(ok, what):
        nonlocal bad
        print(("ok " if ok else "FAIL: ") + what)
        bad += not ok

    def js(n):
        return json.load(open("%s/%s.json" % (out, n)))

    def ids(n):
        return [g["id"] for g in js(n)["generated"]]

    def n_gen(n):
        return js(n)["stats"]["n_generated"]

    for r in (0, 1, 2, 4, 8, 32):
        dl = maxdiff("%s/f%d.l.bin" % (out, r), "%s/golden/forward_r%d.logits.bin" % (model, r))
        ds = maxdiff("%s/f%d.s.bin" % (out, r), "%s/golden/forward_r%d.latents.bin" % (model, r))
        say(dl <= 1e-4 and ds <= 1e-4, "forward r%d logits (%.3g) and latents (%.3g)" % (r, dl, ds))
    dl = maxdiff(out + "/state.l.bin", model + "/golden/forward_input_states_r4.logits.bin")
    say(dl <= 1e-4, "forward --state r4 logits (%.3g)" % dl)
    for r in (1, 4, 8, 32):
        say(ids("gen%d" % r) == case["generate_r%d" % r]["generated"], "run --json r%d ids" % r)
    say(ids("exit_none") == ids("plain"), "--exit none equals plain")
    for c in ("entropy-diff", "latent-diff", "kl", "minp-kl", "argmax-stability", "cosine"):
        say(n_gen("exit_" + c) == 6, "--exit " + c)
    say(n_gen("mixed") == 6, "exit + warm start + compressed cache")
    say(ids("spec")[:8] == ids("plain"), "speculative equals plain greedy")
    say(n_gen("parallel") == 6, "--parallel")
    say(n_gen("kvbf16") == 4, "bf16 KV cache")
    say(n_gen("quant") == 4, "a Q8_0 GGUF generates")
    return 1 if bad else 0


def write_safetensors(path, tensors):
    hdr, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for k, (dt, shape, b) in tensors.items():
        hdr[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    j = json.dumps(hdr).encode()
    j += b" " * (-len(j) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(j)) + j + b"".join(blobs))


def bf16(model, out16, out32):
    raw = open(model + "/model.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    t16, t32 = {}, {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        u = struct.unpack("<%dI" % ((b - a) // 4), data[a:b])
        h = [((x + 0x7FFF + ((x >> 16) & 1)) >> 16) & 0xFFFF for x in u]
        t16[k] = ("BF16", v["shape"], struct.pack("<%dH" % len(h), *h))
        t32[k] = ("F32", v["shape"], struct.pack("<%dI" % len(h), *[x << 16 for x in h]))
    for d in (out16, out32):
        os.makedirs(d)
        shutil.copy(model + "/config.json", d)
    write_safetensors(out32 + "/model.safetensors", t32)
    # the BF16 copy in two shards with an index, as large checkpoints are saved
    names = sorted(t16)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    for f, part in shards.items():
        write_safetensors(out16 + "/" + f, {k: t16[k] for k in part})
    index = {"metadata": {}, "weight_map": {k: f for f, part in shards.items() for k in part}}
    json.dump(index, open(out16 + "/model.safetensors.index.json", "w"))
    return 0


def broken(model, out):
    edits = {
        "no_kv": lambda c: c.pop("num_key_value_heads"),
        "no_init": lambda c: c.pop("init_values"),
        "no_factor": lambda c: c["rope_scaling"].pop("factor"),
        "yarn": lambda c: c["rope_scaling"].update(rope_type="yarn"),
        "wrong_kv": lambda c: c.update(num_key_value_heads=4),
        "bad_kv": lambda c: c.update(num_key_value_heads=3),
    }
    for name, edit in edits.items():
        c = json.load(open(model + "/config.json"))
        edit(c)
        d = os.path.join(out, name)
        os.makedirs(d)
        json.dump(c, open(d + "/config.json", "w"))
        shutil.copy(model + "/model.safetensors", d)
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({"check": check, "bf16": bf16, "broken": broken}[cmd](*args))
