#!/usr/bin/env python3
"""make_chain_tokenizer.py [--bytes] DIR — write DIR/tokenizer.json and DIR/tokenizer_config.json for
the chain task's vocabulary (docs/training.md):

  ids 0..255   the bytes (a byte-level BPE: every byte is a token)
  256 <bos>    257 <eos>    258 <pad>
  259..        (default, "statement" vocabulary) BPE merges that make every statement one token:
               rank 1  `x` `=`    -> `x=`     (26, x a letter)
               rank 2  `?` `x=`   -> `?x=`    (26: the query)
               rank 3  `x=` `y`   -> `x=y`    (936, y a letter or digit)
               rank 4  `x=y` `;`  -> `x=y;`   (936: a whole statement with its separator)
               so `k=3;a=k;?a=` encodes as [k=3;] [a=k;] [?a=] and an answer digit stays a byte
               token; 2183 ids, model vocabulary 2184.
  --bytes      no merges (every byte its own token; model vocabulary 264), the first demo's vocabulary

The pre-tokenizer is ByteLevel without the GPT-2 regex, so a whole prompt is one BPE word and the
merges apply across it.

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


def statement_merges():
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    values = letters + [str(d) for d in range(10)]
    merges = [(x, "=") for x in letters]
    merges += [("?", x + "=") for x in letters]
    merges += [(x + "=", y) for x in letters for y in values]
    merges += [(x + "=" + y, ";") for x in letters for y in values]
    return merges


def main():
    args = sys.argv[1:]
    use_bytes = "--bytes" in args
    args = [a for a in args if a != "--bytes"]
    if len(args) != 1:
        sys.exit("usage: make_chain_tokenizer.py [--bytes] OUT_DIR")
    out = args[0]
    os.makedirs(out, exist_ok=True)
    b2u = byte_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    for name, i in SPECIALS:
        vocab[name] = i
    merges = [] if use_bytes else statement_merges()
    for a, b in merges:  # the characters used here are all printable ASCII: b2u maps them to themselves
        vocab[a + b] = len(vocab)
    added = [{"id": i, "content": name, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for name, i in SPECIALS]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
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
