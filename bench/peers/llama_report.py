#!/usr/bin/env python3
"""llama_report.py — the table of bench/peers/llama.cpp.sh: huginn.c vs llama.cpp per layer application.

    llama_report.py RESULTS_DIR --types "bf16 q8_0 q4_0" --layers N --steps R --hidden h --ffn I
                    --vocab V --prompt N --gen G

Reads what the script left in RESULTS_DIR: roof.json (roofline --json at the start), per engine and
type llama-T.json (llama-bench -o json) / huginn-T.json (huginn bench --json), the bandwidth and FMA
readings taken before (.0) and after (.1) each run, and the load average after it.

Normalisation (docs/kernels.md "Peers: llama.cpp"): a layer application is one token through one
block of 4·h² + 3·I·h weights (both engines' blocks have exactly these products). Per token, llama.cpp
applies N blocks; huginn P + C + 4·r blocks (prelude 2, coda 2, core 4 per iteration) plus r adapters
of 2·h² weights, counted as 2·h²/(4·h² + 3·I·h) of a layer each. Decoding a token also multiplies by
the tied [V, h] vocabulary matrix in both engines (V·h / layer of a layer); prefill computes no logits
(huginn) or one row per 512 tokens (llama-bench), counted as none. Layer applications/s = tokens/s x
layers per token; the ratio is huginn's over llama.cpp's.
GB/s: huginn's own (its weights and KV per token over the time); llama.cpp's is llama-bench's
model_size (every tensor once: what one decode step reads, the tied embedding serving as lm_head)
plus its f16 KV reads, times tokens/s. GFLOP/s: huginn's own; llama.cpp's is 2 x N x layer weights
per prompt token plus attention (4·h per visible position per layer), the same formula huginn uses.
"""
import argparse
import json
import os


def load(d, f):
    with open(os.path.join(d, f)) as fh:
        return json.load(fh)


def mean_reading(d, prefix, key, name):
    return (load(d, f"{prefix}.0.{name}.json")[key] + load(d, f"{prefix}.1.{name}.json")[key]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    for k in ("types",):
        ap.add_argument("--" + k, required=True)
    for k in ("layers", "steps", "hidden", "ffn", "vocab", "prompt", "gen"):
        ap.add_argument("--" + k, type=int, required=True)
    a = ap.parse_args()
    d, h, I, V, N, r, n, g = a.dir, a.hidden, a.ffn, a.vocab, a.layers, a.steps, a.prompt, a.gen
    layer = 4 * h * h + 3 * I * h
    head = V * h / layer
    hg_apps = 2 + 2 + 4 * r + r * 2 * h * h / layer
    roof = load(d, "roof.json")
    print(f"\nhost: {roof['threads']} threads, huginn level {roof['level']}; roofline at the start: "
          f"{roof['bandwidth_GBps']:.1f} GB/s, FP32 FMA {roof['fma_GFLOPs']:.1f}, BF16 dot {roof['bf16_GFLOPs']:.1f} GFLOP/s")
    print(f"shape: h {h}, MLP {I}, vocab {V}; a layer = {layer / 1e6:.1f} M weights; llama.cpp {N} layers, "
          f"huginn 2 + 4·{r} + 2 layers + {r} adapter(s) at r = {r}; prompt {n}, {g} decoded tokens")
    print(f"layers per token: prefill llama.cpp {N}, huginn {hg_apps:.3f}; decode (+ lm_head {head:.3f}) "
          f"llama.cpp {N + head:.3f}, huginn {hg_apps + head:.3f}")
    print("columns: tok/s; layer applications/s (tok/s x layers per token); prefill GFLOP/s and its % of the FP32 FMA"
          "\npeak (mean of readings before and after the run) and of the BF16-dot peak (start); decode GB/s and its %"
          "\nof the bandwidth (mean of readings before and after); load average after the run")
    hdr = (f"{'type':5} {'engine':9} {'pp tok/s':>9} {'pp layer/s':>10} {'GFLOP/s':>8} {'%FMA':>6} {'%BF16':>6} "
           f"{'tg tok/s':>9} {'tg layer/s':>10} {'GB/s':>7} {'%BW':>6} {'load':>5}")
    print(hdr)
    out = {"roofline": roof, "layer_weights": layer, "types": {}}
    for t in a.types.split():
        rows = {}
        lj = load(d, f"llama-{t}.json")
        pp = next(x for x in lj if x["n_prompt"] > 0 and x["n_gen"] == 0)
        tg = next(x for x in lj if x["n_gen"] > 0 and x["n_prompt"] == 0)
        kv = N * 2 * h * 2 * (g + 1) / 2  # f16 K and V rows of the positions a tg token attends to, mean
        flops_tok = 2 * N * layer + N * 4 * h * (n + 1) / 2
        rows["llama.cpp"] = dict(pp_tps=pp["avg_ts"], tg_tps=tg["avg_ts"], gflops=pp["avg_ts"] * flops_tok / 1e9,
                                 gbps=tg["avg_ts"] * (tg["model_size"] + kv) / 1e9,
                                 pp_apps=pp["avg_ts"] * N, tg_apps=tg["avg_ts"] * (N + head),
                                 pp_sd=pp["stddev_ts"], tg_sd=tg["stddev_ts"], prefix="llama")
        hj = load(d, f"huginn-{t}.json")
        rows["huginn"] = dict(pp_tps=hj["prefill_tokens_per_s"], tg_tps=hj["decode_tokens_per_s"],
                              gflops=hj["prefill_GFLOPs"], gbps=hj["decode_GBps"],
                              pp_apps=hj["prefill_tokens_per_s"] * hg_apps,
                              tg_apps=hj["decode_tokens_per_s"] * (hg_apps + head), kernels=hj["kernels"],
                              prefix="huginn")
        for eng, x in rows.items():
            bw = mean_reading(d, f"{x['prefix']}-{t}", "bandwidth_GBps", "bw")
            fma = mean_reading(d, f"{x['prefix']}-{t}", "fma_GFLOPs", "fma")
            load_avg = open(os.path.join(d, f"{x['prefix']}-{t}.load")).read().strip()
            x.update(bw=bw, fma=fma, load=load_avg)
            print(f"{t:5} {eng:9} {x['pp_tps']:9.2f} {x['pp_apps']:10.1f} {x['gflops']:8.1f} "
                  f"{100 * x['gflops'] / fma:5.1f}% {100 * x['gflops'] / roof['bf16_GFLOPs']:5.1f}% "
                  f"{x['tg_tps']:9.3f} {x['tg_apps']:10.2f} {x['gbps']:7.2f} {100 * x['gbps'] / bw:5.1f}% {load_avg:>5}")
        hgr, ll = rows["huginn"], rows["llama.cpp"]
        pr, dr = hgr["pp_apps"] / ll["pp_apps"], hgr["tg_apps"] / ll["tg_apps"]
        print(f"{t:5} huginn / llama.cpp per layer application: prefill {pr:.2f}x, decode {dr:.2f}x "
              f"(huginn kernels {hgr['kernels']}; llama-bench stddev pp {ll['pp_sd']:.2f}, tg {ll['tg_sd']:.3f} tok/s)")
        rows["prefill_ratio"], rows["decode_ratio"] = pr, dr
        out["types"][t] = rows
    lj0 = load(d, f"llama-{a.types.split()[0]}.json")[0]
    print(f"llama.cpp: build {lj0.get('build_commit', '?')} ({lj0.get('build_number', '?')}), "
          f"backends {lj0.get('backends', lj0.get('cpu_info', '?'))}, cpu {lj0.get('cpu_info', '?')}")
    print("JSON:", json.dumps(out))


if __name__ == "__main__":
    main()
