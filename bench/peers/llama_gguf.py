#!/usr/bin/env python3
"""llama_gguf.py — write a random-weight Llama GGUF with Huginn's layer shape, for bench/peers/llama.cpp.sh.

    PYTHONPATH=LLAMA_CPP_SOURCE_DIR/gguf-py python3 bench/peers/llama_gguf.py OUT.gguf \
        --hidden 5280 --heads 55 --ffn 17920 --vocab 65536 --layers 8

What it writes: general.architecture `llama`, N blocks of attention (q, k, v, o: [h, h] each, as many
KV heads as heads, so 4·h² like Huginn's fused wqkv + proj) and a gated SiLU MLP (gate, up: [I, h],
down: [h, I], 3·I·h like Huginn's fc + proj), RMS norms, RoPE over the whole head, in bf16; the
embedding is tied (no `output.weight`), as Huginn-0125's is, so a decoded token reads the vocabulary
matrix once in both engines. Weights are random bf16 bit patterns of magnitude 2^-7..2^-5 (finite,
non-zero): the speed of a dense product does not depend on the values, and llama-quantize turns them
into Q8_0 / Q4_0 like any other weights.

The tokenizer: llama.cpp's loader needs tokenizer.ggml.* keys even though llama-bench never
tokenizes text. The smallest set that every llama.cpp since 2023 loads is a SentencePiece-style
(`llama`) vocabulary: <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF> (the loader looks up
<0x0A> for the newline) and numbered filler pieces up to the vocabulary size, with scores and token
types. Recent trees also accept `none` with llama.vocab_size, older ones do not, so it is not used.

Memory: one tensor is built at a time (the largest, the [V, h] embedding, is 692 MB at the full
shape) from a 16 MiB random pool tiled and shifted per tensor, and written at once with gguf-py's
streaming writer (add_tensor_info for all, then write_tensor_data in order). This file is ours; it
only imports llama.cpp's gguf-py from the source tree the user names, and copies none of its code.
"""
import argparse
import sys

import numpy as np

try:
    import gguf
except ImportError:
    sys.exit("llama_gguf.py: cannot import gguf: run with PYTHONPATH=LLAMA_CPP_SOURCE_DIR/gguf-py")


def vocabulary(n):
    if n < 259 + 1:
        sys.exit(f"llama_gguf.py: --vocab {n} is too small (needs >= 260 for the control and byte tokens)")
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    tokens += [f"\u2581t{i}" for i in range(n - len(tokens))]
    types += [gguf.TokenType.NORMAL] * (n - len(types))
    scores = [0.0] * 259 + [-float(i) for i in range(n - 259)]
    return tokens, scores, [int(t) for t in types]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--hidden", type=int, default=5280)
    ap.add_argument("--heads", type=int, default=55)
    ap.add_argument("--ffn", type=int, default=17920)
    ap.add_argument("--vocab", type=int, default=65536)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--rope-base", type=float, default=50000.0)
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    h, H, I, V, L = a.hidden, a.heads, a.ffn, a.vocab, a.layers
    if h % H or h % 32 or I % 32 or L < 1:
        sys.exit("llama_gguf.py: hidden must be a multiple of heads and of 32, ffn of 32, layers >= 1")

    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name("huginn-shape-random")
    w.add_context_length(a.ctx)
    w.add_embedding_length(h)
    w.add_block_count(L)
    w.add_feed_forward_length(I)
    w.add_head_count(H)
    w.add_head_count_kv(H)
    w.add_rope_dimension_count(h // H)
    w.add_rope_freq_base(a.rope_base)
    w.add_layer_norm_rms_eps(a.eps)
    w.add_vocab_size(V)
    w.add_file_type(32)  # LLAMA_FTYPE_MOSTLY_BF16
    tokens, scores, types = vocabulary(V)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    # (name, numpy shape [rows, cols] or [n]); GGUF stores the dimensions reversed (gguf-py does it)
    plan = [("token_embd.weight", (V, h), "bf16"), ("output_norm.weight", (h,), "f32")]
    for i in range(L):
        b = f"blk.{i}."
        plan += [(b + "attn_norm.weight", (h,), "f32"),
                 (b + "attn_q.weight", (h, h), "bf16"), (b + "attn_k.weight", (h, h), "bf16"),
                 (b + "attn_v.weight", (h, h), "bf16"), (b + "attn_output.weight", (h, h), "bf16"),
                 (b + "ffn_norm.weight", (h,), "f32"),
                 (b + "ffn_gate.weight", (I, h), "bf16"), (b + "ffn_up.weight", (I, h), "bf16"),
                 (b + "ffn_down.weight", (h, I), "bf16")]
    for name, shape, kind in plan:
        n = int(np.prod(shape))
        if kind == "bf16":
            w.add_tensor_info(name, shape, np.dtype(np.uint16), n * 2, raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor_info(name, shape, np.dtype(np.float32), n * 4)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()

    rng = np.random.default_rng(a.seed)
    # bf16 bits: random sign and mantissa, exponent 120 or 121 (bit 7 random) -> |x| in [2^-7, 2^-5)
    pool = (rng.integers(0, 1 << 16, size=8 << 20, dtype=np.uint16) & np.uint16(0x80FF)) | np.uint16(120 << 7)
    for k, (name, shape, kind) in enumerate(plan):
        n = int(np.prod(shape))
        if kind == "f32":
            w.write_tensor_data(np.ones(shape, dtype=np.float32))
            continue
        t = np.resize(np.roll(pool, 4099 * k + 1), n).reshape(shape)
        w.write_tensor_data(t)
    w.close()
    params = sum(int(np.prod(s)) for _, s, _ in plan)
    print(f"llama_gguf.py: wrote {a.out} ({L} layers, h {h}, {H} heads, ffn {I}, vocab {V}; "
          f"{params / 1e9:.3f} B params, bf16)", file=sys.stderr)


if __name__ == "__main__":
    main()
