#!/usr/bin/python3
"""bench_train.py — time the official PyTorch training step on this CPU, for bench/train/run.sh.

The authors' modeling file (recpre/raven_modeling_minimal.py, loaded unchanged through the reference
harness in shared/reference/: official.load) in train mode: forward with num_steps = [n, k] (n
iterations under no_grad, then k with gradient; the same truncation as `huginn train`), the mean
cross entropy over the labels, loss.backward(), and an optimizer step (torch.optim.AdamW standing in
for the authors' Adam-atan2: same cost class, a few elementwise passes over the parameters). Zero
initial state (init_scale 0), f32, `--threads` intra-op threads. Prints one JSON line with the best
and the median step time over `--steps` timed steps (after 2 warm-up steps) and tokens/s.

usage: bench_train.py --config-json '{...official config keys...}' --rows B --seq-len T --n N --k K
"""
import argparse
import copy
import json
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config-json", required=True)
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=57)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reference", default=os.environ.get("HG_REFERENCE_DIR", "/work/shared/reference"))
    ap.add_argument("--mirror", default=os.environ.get("HUGINN_OFFICIAL_MIRROR",
                                                       "/work/.mirror/seal-rg+recurrent-pretraining/repo"))
    a = ap.parse_args()
    sys.path.insert(0, a.reference)
    import torch
    import official

    torch.set_num_threads(a.threads)
    M, _prov = official.load(None, a.mirror)
    user = json.loads(a.config_json)
    cfg_json = copy.deepcopy(user)
    cfg_json.setdefault("n_heads", user.get("num_attention_heads"))  # RavenConfig head_dim quirk (make_golden.py)
    cfg = M.RavenConfig(**cfg_json)
    torch.manual_seed(0)
    model = M.RavenForCausalLM(cfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, cfg.vocab_size, (a.rows, a.seq_len + 1), generator=g)
    ids, labels = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    steps = torch.tensor([a.n, a.k])
    times = []
    for i in range(a.steps + 2):
        t0 = time.perf_counter()
        out = model(input_ids=ids, labels=labels, num_steps=steps, init_scale=0.0)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    best, med = min(times), statistics.median(times)
    n_tok = a.rows * a.seq_len
    print(json.dumps({"impl": "pytorch-official", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "rows": a.rows, "seq_len": a.seq_len, "n": a.n, "k": a.k, "steps": a.steps,
                      "best_step_s": best, "median_step_s": med, "tokens_per_s_best": n_tok / best,
                      "tokens_per_s_median": n_tok / med, "loss": float(out.loss.item()),
                      "load_average_1min": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
