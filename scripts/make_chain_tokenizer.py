#!/usr/bin/env python3
"""make_chain_tokenizer.py DIR — write DIR/tokenizer.json and DIR/tokenizer_config.json for the
byte-level vocabulary that `huginn train` uses for the chain task (docs/training.md):

  ids 0..255   the bytes (a byte-level BPE with no merges: every byte is its own token)
  256 <bos>    257 <eos>    258 <pad>    259..263 unused (the model's vocabulary is 264)

The file is an ordinary Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer without
prefix space and decoder), so hg_tokenizer_load and the `tokenizers` library read it alike; the
GPT-2 byte-to-character table is rebuilt here from its definition.
"""
import json
import os
import sys


def byte_to_unicode():
    # GPT-2's table: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards in order.
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


SPECIALS = [("<bos>", 256), ("<eos>", 257), ("<pad>", 258)]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_chain_tokenizer.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    b2u = byte_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    for name, i in SPECIALS:
        vocab[name] = i
    added = [{"id": i, "content": name, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for name, i in SPECIALS]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write("\n")
    cfg = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "add_bos_token": True,
           "model_max_length": 64, "tokenizer_class": "PreTrainedTokenizerFast"}
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
