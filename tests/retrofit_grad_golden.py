#!/usr/bin/env python3
"""retrofit_grad_golden.py -- gradients of the authors' retrofit modeling code, for test_train_golden.c.

Runs `convert_pretrained_model/raven_modeling_minimal_llama.py` and `_olmo.py` of
LoopedLMs/retrofitting-recurrence (unchanged, read from a bare git snapshot) on
tests/data/golden_family/retrofit-tiny and retrofit-olmo-tiny in float32 with PyTorch autograd: `model(ids, labels=labels, num_steps=(n, k), init_scale=0 | input_states=S)`, then
`loss.backward()`. That call is the authors' truncated step: n iterations under torch.no_grad(), k with
gradient, the mean cross entropy over labelled targets (-100 ignored). Output per model
(tests/data/retrofit_grad/<model>/):

    manifest.json   provenance, inputs, per case: loss, and per tensor the gradient's L2 norm, max |g|,
                    a projection sum_i g_i * sin(0.7548776662 * i) (every element counts in it) and the
                    offset of its samples in values.bin
    values.bin      float32 little-endian: the sampled gradient values, then each case's input state

Samples per tensor (ascending, without repeats): elements floor(j * n / m) for j < m = min(256, n), plus
for transformer.wte.weight every element of the input ids' rows (the only rows its embedding part
reaches). Storing every gradient would be 1.3 MB per case; the norm and projection check every
element, the samples locate a difference.

Needs Debian's python3-torch (1.13) and numpy, plus a harness that makes the modeling file importable
without `transformers`: --reference DIR holds `shim/` (a stand-in `transformers` package) and
`torch_compat.py` (polyfills for torch 2.x attention), the steering repository's reference/ harness
(README there). The RoPE pieces the files import from transformers (Llama's, OLMo-2's: the same
rotate-half rotation) are written below from their documented semantics. Usage:

    /usr/bin/python3 tests/retrofit_grad_golden.py --mirror BARE_GIT_DIR --reference DIR
"""

import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = (("retrofit-tiny", "raven_modeling_minimal_llama"), ("retrofit-olmo-tiny", "raven_modeling_minimal_olmo"))
FILES = ("raven_modeling_minimal_llama.py", "raven_modeling_minimal_olmo.py", "raven_config_minimal.py")
IDS = [396, 348, 154, 121, 111, 23, 52, 386, 164, 131, 44, 166, 201, 367, 99, 151, 14]
N_SAMPLES = 256
PROJ = 0.7548776662


def read_safetensors(path):
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
        data = fh.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy()
    return out


def rope_module(torch, name):
    """The two RoPE names the files import from transformers' llama / olmo2 modeling, from their
    semantics: inv_freq_i = 1 / theta^(2i/d) in f32, llama3-rescaled when rope_scaling says so
    (docs/family.md "RoPE"), angles inv_freq * position in f32, cos/sin of cat(angles, angles);
    q·cos + rotate_half(q)·sin."""
    mod = types.ModuleType(name)

    class LlamaRotaryEmbedding(torch.nn.Module):
        def __init__(self, config=None, device=None):
            super().__init__()
            d = getattr(config, "head_dim", None) or config.n_embd // config.num_attention_heads
            base = float(config.rope_theta)
            inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
            rs = getattr(config, "rope_scaling", None)
            if rs and rs.get("rope_type", rs.get("type")) == "llama3":
                factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
                old = rs["original_max_position_embeddings"]
                lo_wavelen, hi_wavelen = old / lo, old / hi
                wavelen = 2 * math.pi / inv
                scaled = torch.where(wavelen > lo_wavelen, inv / factor, inv)
                smooth = (old / wavelen - lo) / (hi - lo)
                smoothed = (1 - smooth) * scaled / factor + smooth * scaled
                medium = ~(wavelen < hi_wavelen) * ~(wavelen > lo_wavelen)
                inv = torch.where(medium, smoothed, scaled)
            self.register_buffer("inv_freq", inv, persistent=False)

        def forward(self, x, position_ids):
            f = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
            ang = (f @ position_ids[:, None, :].float()).transpose(1, 2)
            emb = torch.cat((ang, ang), dim=-1)
            return emb.cos().to(x.dtype), emb.sin().to(x.dtype)

    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    def apply_rotary_pos_emb(q, k, cos, sin, position_ids=None, unsqueeze_dim=1):
        cos, sin = cos.unsqueeze(unsqueeze_dim), sin.unsqueeze(unsqueeze_dim)
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin

    mod.LlamaRotaryEmbedding = mod.Olmo2RotaryEmbedding = LlamaRotaryEmbedding
    mod.apply_rotary_pos_emb = apply_rotary_pos_emb
    return mod


def load_official(mirror, reference):
    sys.path.insert(0, reference)
    sys.path.insert(0, os.path.join(reference, "shim"))
    import torch
    import torch_compat

    torch_compat.install()
    import transformers

    models = types.ModuleType("transformers.models")
    transformers.models = models
    sys.modules["transformers.models"] = models
    for fam, file in (("llama", "modeling_llama"), ("olmo2", "modeling_olmo2")):
        pkg_mod = types.ModuleType("transformers.models." + fam)
        mod = rope_module(torch, "transformers.models.%s.%s" % (fam, file))
        setattr(pkg_mod, file, mod), setattr(models, fam, pkg_mod)
        sys.modules.update({pkg_mod.__name__: pkg_mod, mod.__name__: mod})
    commit = subprocess.run(["git", "-C", mirror, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    pkg = tempfile.mkdtemp(prefix="retrofit_official_")
    os.makedirs(os.path.join(pkg, "retrofit_official"))
    open(os.path.join(pkg, "retrofit_official", "__init__.py"), "w").close()
    prov = {"repository": "LoopedLMs/retrofitting-recurrence", "commit": commit, "files": {}}
    for name in FILES:
        data = subprocess.run(["git", "-C", mirror, "show", f"{commit}:convert_pretrained_model/{name}"], check=True,
                              capture_output=True).stdout
        with open(os.path.join(pkg, "retrofit_official", name), "wb") as fh:
            fh.write(data)
        prov["files"]["convert_pretrained_model/" + name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "git_blob": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
    sys.path.insert(0, pkg)
    import importlib

    modeling = {m: importlib.import_module("retrofit_official." + m) for _, m in MODELS}
    config = importlib.import_module("retrofit_official.raven_config_minimal")
    return torch, modeling, config, prov


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirror", required=True, help="bare git snapshot of LoopedLMs/retrofitting-recurrence")
    ap.add_argument("--reference", required=True, help="the reference harness (shim/, torch_compat.py)")
    args = ap.parse_args()
    torch, modeling, config_mod, prov = load_official(args.mirror, args.reference)
    for name, module in MODELS:
        make(torch, modeling[module], config_mod, prov, name, module)


def make(torch, modeling, config_mod, prov, name, module):
    model_dir = os.path.join(HERE, "data", "golden_family", name)
    out_dir = os.path.join(HERE, "data", "retrofit_grad", name)
    torch.manual_seed(0)
    cfg_json = json.load(open(os.path.join(model_dir, "config.json")))
    cfg = config_mod.RavenConfig(**cfg_json)
    model = modeling.RavenForCausalLM(cfg)
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
    assert not unexpected and all("inv_freq" in m for m in missing), (missing, unexpected)
    model.float()
    # self-check: the forward golden r = 4 (computed with the real transformers) through this harness
    gm = json.load(open(os.path.join(model_dir, "golden", "manifest.json")))
    fc = next(c for c in gm["cases"] if c["name"] == "forward_r4")
    with torch.no_grad():
        lg = model(torch.tensor([fc["inputs"]["input_ids"]]), num_steps=4, init_scale=0.0).logits
    ref = np.fromfile(os.path.join(model_dir, "golden", fc["outputs"]["logits"]["file"]), dtype="<f4")
    fwd_err = float(np.max(np.abs(lg.numpy().reshape(-1) - ref)))
    assert fwd_err < 1e-5, fwd_err
    T, h = len(IDS), cfg.n_embd
    labels = IDS[1:] + [-100]
    labels[5] = -100  # a masked target inside the row
    n_lab = sum(1 for x in labels if x != -100)
    # a deterministic non-zero initial state for the second case (the reference's own is random)
    state = np.array([0.5 * math.sin(0.37 * i + 0.1) for i in range(T * h)], dtype=np.float32)
    cases = [("nograd3_grad2_zero_state", 3, 2, None), ("nograd1_grad3_given_state", 1, 3, state)]
    values, out_cases = [], []
    for case_name, n, k, s0 in cases:
        model.zero_grad(set_to_none=True)
        ids = torch.tensor([IDS])
        lab = torch.tensor([labels])
        kw = {"init_scale": 0.0} if s0 is None else {"input_states": torch.from_numpy(s0.reshape(1, T, h))}
        out = model(ids, labels=lab, num_steps=(n, k), **kw)
        out.loss.backward()
        tensors = []
        for pname, p in model.named_parameters():
            g = p.grad.detach().double().numpy().reshape(-1)
            m = min(N_SAMPLES, g.size)
            idx = sorted(set(j * g.size // m for j in range(m)))
            if pname == "transformer.wte.weight":
                idx = sorted(set(idx) | {t * h + j for t in IDS for j in range(h)})
            proj = float(np.sum(g * np.sin(PROJ * np.arange(g.size, dtype=np.float64))))
            tensors.append({"name": pname, "n": int(g.size), "norm": float(np.sqrt(np.sum(g * g))),
                            "absmax": float(np.max(np.abs(g))), "proj": proj, "n_samples": len(idx),
                            "offset": sum(len(v) for v in values)})
            values.append(g[idx].astype(np.float32))
        case = {"name": case_name, "num_steps_no_grad": n, "num_steps_with_grad": k, "loss": float(out.loss),
                "n_labelled": n_lab, "tensors": tensors}
        if s0 is not None:
            case["input_state_offset"] = sum(len(v) for v in values)
            values.append(s0)
        out_cases.append(case)
        print(f"{name} {case_name}: loss {float(out.loss):.6f}, {len(tensors)} tensors", file=sys.stderr)
    os.makedirs(out_dir, exist_ok=True)
    blob = np.concatenate(values).astype("<f4").tobytes()
    with open(os.path.join(out_dir, "values.bin"), "wb") as fh:
        fh.write(blob)
    man = {"format_version": 1, "model": "golden_family/" + name, "modeling_file": module + ".py", "reference": prov,
           "torch": torch.__version__, "generator": "tests/retrofit_grad_golden.py",
           "self_check_forward_r4_max_abs_diff": fwd_err,
           "inputs": {"input_ids": IDS, "labels": labels}, "projection_step": PROJ, "samples": N_SAMPLES,
           "values": {"file": "values.bin", "sha256": hashlib.sha256(blob).hexdigest()}, "cases": out_cases}
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(man, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
