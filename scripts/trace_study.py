#!/usr/bin/env python3
"""trace_study.py — the study of docs/trace.md: `huginn trace` on the shipped chain model
(models/default) over held-out problems of 0-8 hops (scripts/chain_problems.py), measuring per hop
count, at the query position (the last prompt token, whose prediction is the answer):
  - accuracy at r = 32 (greedy, zero initial state);
  - conv: the first iteration t with ||s_t - s_{t-1}|| / ||s_t|| < 0.03 (the latent-diff auto threshold)
    and < 1e-3 (fixed-depth trace at r = 32);
  - settle: the first t from which the logit lens's top prediction stays what it is at t = 32;
  - the iterations adaptive exit gave the answer (`--exit kl` and `--exit latent-diff`, auto thresholds,
    at most 32), and the accuracy under each.
Then it traces one 1-hop, one 3-hop and one 6-hop question with plots into docs/trace/.
Reads the .npy files with the standard library (the format is 128 header bytes then raw f32/i32,
tools/npy.c), so NumPy is not needed.

usage: scripts/trace_study.py BUILD_DIR [--n 40] [--out docs/trace]
"""
import argparse, array, json, os, shutil, subprocess, sys, tempfile

def npy(path):
    with open(path, "rb") as f:
        b = f.read()
    hl = b[8] | b[9] << 8
    hdr = b[10:10 + hl].decode()
    shape = tuple(int(x) for x in hdr.split("'shape': (")[1].split(")")[0].split(",") if x.strip())
    a = array.array("i" if "'<i4'" in hdr else "f")
    a.frombytes(b[10 + hl:])
    return a, shape

def trace(huginn, model, prompt, out, extra):
    subprocess.run([huginn, "trace", "-m", model, "-p", prompt, "-n", "1", "--temp", "0", "--init-scale", "0",
                    "--out", out] + extra, check=True, stdout=subprocess.DEVNULL)
    return json.load(open(os.path.join(out, "index.json")))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--out", default="docs/trace")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    huginn, model = os.path.join(a.build, "huginn"), os.path.join(root, "models/default")
    probs = subprocess.run([sys.executable, os.path.join(root, "scripts/chain_problems.py"), "--hops", "0-8",
                            "--n", str(a.n), "--seed", "777"], check=True, capture_output=True, text=True).stdout
    rows = {}
    tmp = tempfile.mkdtemp()
    R = 32
    for line in probs.strip().split("\n"):
        hops, prompt, answer = line.split("\t")
        hops = int(hops)
        d = os.path.join(tmp, "fixed")
        ix = trace(huginn, model, prompt, d, ["--steps", str(R), "--top-k", "1"])
        q = ix["n_prompt"] - 1
        gen = [t for t in ix["tokens"] if t["kind"] == "generated"][0]
        delta, _ = npy(os.path.join(d, "delta.npy"))
        top, _ = npy(os.path.join(d, "topk_ids.npy"))
        dq = delta[q * R:(q + 1) * R]
        conv = next((t + 1 for t in range(R) if dq[t] < 0.03), R)
        conv3 = next((t + 1 for t in range(R) if dq[t] < 1e-3), R)
        tq = top[q * (R + 1):(q + 1) * (R + 1)]
        settle = R
        while settle > 0 and tq[settle - 1] == tq[R]:
            settle -= 1
        r = rows.setdefault(hops, {"n": 0, "ok": 0, "conv": 0, "conv3": 0, "settle": 0, "kl": 0, "kl_ok": 0, "ld": 0, "ld_ok": 0})
        r["n"] += 1
        r["ok"] += gen["text"] == answer
        r["conv"] += conv
        r["conv3"] += conv3
        r["settle"] += settle
        for crit, key in (("kl", "kl"), ("latent-diff", "ld")):
            ixa = trace(huginn, model, prompt, os.path.join(tmp, key), ["--steps", str(R), "--top-k", "1", "--exit", crit])
            g = [t for t in ixa["tokens"] if t["kind"] == "generated"][0]
            r[key] += g["produced_by_steps"]
            r[key + "_ok"] += g["text"] == answer
    os.makedirs(a.out, exist_ok=True)
    hdr = ("| hops | n | accuracy r=32 | conv (<0.03) | conv (<1e-3) | lens settles | kl exit: iterations | kl: accuracy "
           "| latent-diff exit: iterations | latent-diff: accuracy |")
    print(hdr)
    print("|" + "---|" * 10)
    with open(os.path.join(a.out, "study.csv"), "w") as f:
        f.write("hops,n,acc_r32,conv_0.03,conv_1e-3,settle,kl_steps,kl_acc,latent_diff_steps,latent_diff_acc\n")
        for h in sorted(rows):
            r = rows[h]
            n = r["n"]
            vals = [100 * r["ok"] / n, r["conv"] / n, r["conv3"] / n, r["settle"] / n, r["kl"] / n, 100 * r["kl_ok"] / n,
                    r["ld"] / n, 100 * r["ld_ok"] / n]
            print(f"| {h} | {n} | {vals[0]:.1f} | {vals[1]:.2f} | {vals[2]:.2f} | {vals[3]:.2f} | {vals[4]:.2f} | {vals[5]:.1f} "
                  f"| {vals[6]:.2f} | {vals[7]:.1f} |")
            f.write(",".join([str(h), str(n)] + [f"{v:.3f}" for v in vals]) + "\n")
    # example traces with plots: a 1-hop, a 3-hop and a 6-hop question (longer than trained)
    for name, prompt, extra in (("hop1", "k=3;a=k;z=1;?a=", []), ("hop3", "k=3;a=k;z=1;d=a;m=d;?m=", []),
                                ("hop6", "k=3;a=k;z=1;d=a;m=d;b=m;q=b;w=q;?w=", []),
                                ("hop3-kl", "k=3;a=k;z=1;d=a;m=d;?m=", ["--exit", "kl"])):
        d = os.path.join(tmp, name)
        subprocess.run([huginn, "trace", "-m", model, "-p", prompt, "-n", "1", "--temp", "0", "--init-scale", "0",
                        "--steps", str(R), "--out", d] + extra, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([huginn, "plot", d], check=True, stdout=subprocess.DEVNULL)
        for p in ("pca", "convergence", "heatmap", "lens"):
            shutil.copy(os.path.join(d, p + ".svg"), os.path.join(a.out, f"{name}-{p}.svg"))
    shutil.rmtree(tmp)

main()
