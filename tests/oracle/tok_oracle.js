#!/usr/bin/env node
// tok_oracle.js — the oracle side of the differential tokenizer test (tests/test_tokenizer_diff.c).
//
// For every golden tokenizer in tests/data/tokenizers (and a few variants of them that switch on
// features the goldens leave off: other Split behaviors, ByteLevel prefix space and regex, Digits,
// NFKC, added-token lstrip/rstrip/single_word/normalized flags, TemplateProcessing/Roberta), write
//   OUT/NAME/tokenizer.json   the exact file both sides load
//   OUT/NAME/cases.jsonl      seeded random strings: {hex, ids, ids_special, decoded, decoded_skip}
//   OUT/NAME/decode.jsonl     seeded random id lists: {ids, decoded, decoded_skip}
// and OUT/list.txt naming the tokenizers, all computed with Hugging Face tokenizers (npm
// `tokenizers`, the official node binding of the Rust crate). The C test then compares.
// Usage: node tok_oracle.js DATA_DIR OUT_DIR N_STRINGS SEED
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

let tokenizers;
try {
  tokenizers = require(path.join(__dirname, 'node_modules', 'tokenizers'));
} catch (e) {
  console.error('tok_oracle: npm package `tokenizers` is not installed (run tests/setup-oracles.sh): ' + e.message);
  process.exit(3);
}
const { Tokenizer } = tokenizers;

const [dataDir, outDir, nArg, seedArg] = process.argv.slice(2);
if (!dataDir || !outDir) {
  console.error('usage: node tok_oracle.js DATA_DIR OUT_DIR N_STRINGS SEED');
  process.exit(2);
}
const N = parseInt(nArg || '2000', 10);
const SEED = parseInt(seedArg || '1', 10);

// ---- seeded PRNG (mulberry32) -----------------------------------------------------------------
function rng(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- random text ------------------------------------------------------------------------------
const cp = (...c) => String.fromCodePoint(...c);
const WS = [' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', '\r', ' \n', '\u00a0', '\u3000', '\u2028', '\u0085',
  '\u000b', '\u000c', '\u001c', '\u001f', '\u2009', '\u202f', '\u1680', '\u200b', '\ufeff'];
const WORDS = ['the', 'The', 'HELLO', 'world', 'don\'t', 'I\'ll', 'WE\'RE', 'it\u2019s', 'l\u02bcheure', 'café',
  'cafe\u0301', 'naïve', 'Straße', 'ﬁnance', 'Ω', 'ǅemal', 'x', 'a', 'io', 'tokenizer', 'recurrent', 'Huginn',
  'Ġhello', 'Ċ', 'ĠĠ', 'Ã©', 'âĢĻ', 'ÿ', 'Ā', '_snake_case', 'camelCase', 'ABCdef', 'über', 'ΑΒΓ', 'αβγ',
  'Привет', 'мир', 'שלום', 'مرحبا', 'नमस्ते', 'हिन्दी', 'ภาษาไทย', '你好', '世界', '日本語', 'ひらがな', 'カタカナ',
  'ｶﾀｶﾅ', '한국어', '\u1100\u1161\u11a8', 'ǆ', 'İstanbul', 'ß', 'ẞ', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𝟙𝟚', 'ⅫⅣ', '①②', '٣٤٥', '१२३'];
const PUNCT = ['.', ',', '!', '?', ';', ':', '...', '—', '–', '-', '--', '==', '!=', '+=', '<=', '>>=', '**', '//', '->',
  '=>', '::', '(', ')', '[', ']', '{', '}', '"', '\'', '`', '```', '$$', '$', '#', '###', '@', '%', '&', '|', '\\',
  '\\n', '\\newcommand', '\\nabla', '\\not', '\\notag', '\\frac{a}{b}', '\\{', '\\[', '<0x1F>', '<0xA>', '\u00ab', '\u00bb',
  '\u201c', '\u201d', '\u2018', '\u2019', '¿', '¡', '§', '©', '®', '™', '°', '±', '×', '÷', '€', '£', '¥', '→', '∀',
  '∑', '∫', '√', '≤', '≥', '≠', '∞', '⊂', '♠', '♥', '★', '☃', '✓', '✗'];
const EMOJI = ['😀', '👍', '👍🏽', '❤️', '❤', '🇩🇪', '🇺🇸', '👨‍👩‍👧', '👩🏽‍💻', '🏳️‍🌈', '1️⃣', '#️⃣', '🫠', '🤖', '🧠',
  '\u200d', '\ufe0f', '\u20e3', cp(0x1f3fb)];
const ODD = ['\u0000', '\u0001', '\u0007', '\u007f', '\u0080', '\u009f', '\u00ad', '\u0301', '\u0308\u0301', 'e\u0301\u0302',
  '\u200c', '\u200d', '\u200e', '\u202e', '\u2060', '\ufeff', '\ufffd', '\ufffe', '\uffff', '\ue000', cp(0xf0000),
  cp(0x10ffff), '\u0378', cp(0x1ffff), cp(0xe0041), '\\xff', '\\u0000', '%FF', '\\uD800', '&#0;', '\u00ff\u00fe',
  '\u0130', '\u03a3\u03c2', '\u1e9e', '\u2126', '\u212b', '\u1fbf', '\ufb01', '\u3099', '\u309a', 'か\u3099'];
const DIGITS = () => String(Math.floor(R() * 1e9));
let R = rng(1);

function pick(a) { return a[Math.floor(R() * a.length)]; }

function randomString(specials) {
  const parts = [];
  const n = 1 + Math.floor(R() * 12);
  for (let i = 0; i < n; i++) {
    const k = R();
    if (k < 0.22) parts.push(pick(WORDS));
    else if (k < 0.36) parts.push(pick(WS));
    else if (k < 0.48) parts.push(pick(PUNCT));
    else if (k < 0.56) parts.push(DIGITS().slice(0, 1 + Math.floor(R() * 9)) + (R() < 0.2 ? pick(['st', 'nd', 'rd', 'th']) : ''));
    else if (k < 0.64) parts.push(pick(EMOJI));
    else if (k < 0.72) parts.push(pick(ODD));
    else if (k < 0.82 && specials.length) {
      const s = pick(specials);
      const r = R();
      parts.push(r < 0.6 ? s : r < 0.8 ? s.slice(0, Math.max(1, s.length - 2)) : ' ' + s + ' ');
    } else if (k < 0.86) {
      parts.push(pick([' ', 'a', '9', '\n', '!', 'é', '好']).repeat(2 + Math.floor(R() * 80)));
    } else if (k < 0.93) {
      // random code points from several planes (no surrogates)
      let s = '';
      const m = 1 + Math.floor(R() * 6);
      for (let j = 0; j < m; j++) {
        let c;
        const q = R();
        if (q < 0.4) c = 0x20 + Math.floor(R() * 0x5f);
        else if (q < 0.7) c = 0xa0 + Math.floor(R() * 0x2f60);
        else if (q < 0.85) c = 0x3000 + Math.floor(R() * 0x6000);
        else c = 0x10000 + Math.floor(R() * 0x20000);
        if (c >= 0xd800 && c < 0xe000) c = 0x41;
        s += cp(c);
      }
      parts.push(s);
    } else {
      parts.push(pick(WORDS) + pick(PUNCT) + pick(WORDS));
    }
  }
  return parts.join(R() < 0.5 ? '' : ' ');
}

// ---- tokenizers: goldens and variants -------------------------------------------------------------
function readTokenizerJson(name) {
  const p = path.join(dataDir, 'tokenizers', name, 'tokenizer.json.gz');
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(p)).toString('utf8'));
}

function variants(goldens) {
  const v = [];
  const clone = (o) => JSON.parse(JSON.stringify(o));
  const hs = goldens.huginn_style;
  for (const beh of ['Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
    const t = clone(hs);
    t.pre_tokenizer.pretokenizers[0].behavior = beh;
    t.pre_tokenizer.pretokenizers[0].invert = beh === 'Contiguous';
    v.push(['huginn_split_' + beh, t]);
  }
  {
    // literal Split patterns ({"String": ...}): "." must split at dots only (as a regex it would split
    // at every character), and a multi-character literal with regex syntax in it
    const t = clone(hs);
    t.pre_tokenizer.pretokenizers.unshift({ type: 'Split', pattern: { String: '.' }, behavior: 'Isolated', invert: false },
      { type: 'Split', pattern: { String: 'e (' }, behavior: 'MergedWithPrevious', invert: false });
    v.push(['huginn_split_literal', t]);
  }
  {
    // GPT-2 style: ByteLevel with its own regex and a prefix space, digits split first, NFKC,
    // flagged added tokens, a Roberta post-processor
    const t = clone(goldens.llama3);
    t.normalizer = { type: 'NFKC' };
    t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: false },
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }] };
    t.model.ignore_merges = false;
    const flags = [[true, false, false, false], [false, true, false, false], [true, true, false, true],
      [false, false, true, false], [false, false, false, true]];
    for (let i = 0; i < 5; i++) {
      const a = t.added_tokens[2 + i];
      [a.lstrip, a.rstrip, a.single_word, a.normalized] = flags[i];
    }
    t.added_tokens.push({ id: 128256, content: ' dog', single_word: true, lstrip: false, rstrip: false, normalized: true, special: false });
    t.added_tokens.push({ id: 128257, content: 'ﬁ', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
    t.post_processor = { type: 'RobertaProcessing', sep: ['<|end_of_text|>', 128001], cls: ['<|begin_of_text|>', 128000],
      trim_offsets: true, add_prefix_space: true };
    v.push(['gpt2_style_variant', t]);
  }
  {
    const t = clone(goldens.qwen3);
    t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true }] };
    t.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'NFC' }] };
    t.post_processor = { type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|im_start|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<|im_end|>', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|im_start|>': { id: '<|im_start|>', ids: [151644], tokens: ['<|im_start|>'] },
        '<|im_end|>': { id: '<|im_end|>', ids: [151645], tokens: ['<|im_end|>'] },
        '<|endoftext|>': { id: '<|endoftext|>', ids: [151643], tokens: ['<|endoftext|>'] } } };
    v.push(['qwen_digits_variant', t]);
  }
  {
    const t = clone(goldens.gpt4o);
    t.pre_tokenizer.pretokenizers.unshift({ type: 'WhitespaceSplit' });
    t.pre_tokenizer.pretokenizers[1].behavior = 'MergedWithNext';
    t.pre_tokenizer.pretokenizers[1].invert = false;
    v.push(['gpt4o_ws_variant', t]);
  }
  return v;
}

// Text in the chain task's alphabet: statements `x=y;`, queries `?x=`, and fragments and noise that
// stop or break the statement merges of the chain tokenizer (models/default).
function chainString() {
  const L = 'abcdefghijklmnopqrstuvwxyz', V = L + '0123456789', pieces = [];
  const m = 1 + Math.floor(R() * 12);
  for (let i = 0; i < m; i++) {
    const q = R(), x = L[Math.floor(R() * 26)], y = V[Math.floor(R() * 36)];
    pieces.push(q < 0.55 ? x + '=' + y + ';' : q < 0.7 ? '?' + x + '=' : q < 0.8 ? x + '=' + y
      : q < 0.9 ? '=;?'[Math.floor(R() * 3)] + V[Math.floor(R() * 36)] : pick(WORDS));
  }
  return pieces.join(R() < 0.8 ? '' : ' ');
}

async function run() {
  R = rng(SEED);
  fs.mkdirSync(outDir, { recursive: true });
  const names = ['huginn_style', 'llama3', 'qwen3', 'gpt4o', 'deepseek_v3'];
  const goldens = {};
  for (const n of names) goldens[n] = readTokenizerJson(n);
  const all = names.map((n) => [n, goldens[n]]).concat(variants(goldens));
  // the shipped chain-demo tokenizer (statement merges over a byte-level BPE without the regex split)
  const chainPath = path.join(__dirname, '..', '..', 'models', 'default', 'tokenizer.json');
  if (fs.existsSync(chainPath)) all.push(['chain_statements', JSON.parse(fs.readFileSync(chainPath, 'utf8'))]);
  const list = [];
  for (const [name, json] of all) {
    const dir = path.join(outDir, name);
    fs.mkdirSync(dir, { recursive: true });
    const text = JSON.stringify(json);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), text);
    const tok = Tokenizer.fromString(text);
    const specials = json.added_tokens.map((a) => a.content).filter((c) => c.length < 40).slice(0, 60);
    const isGolden = names.includes(name);
    const n = isGolden ? N : Math.ceil(N / 4);
    const cases = [];
    for (let i = 0; i < n; i++) {
      const s = name === 'chain_statements' && R() < 0.75 ? chainString() : randomString(specials);
      const e1 = await tok.encode(s, null, { addSpecialTokens: false });
      const e2 = await tok.encode(s, null, { addSpecialTokens: true });
      const ids = Array.from(e1.getIds()), ids2 = Array.from(e2.getIds());
      cases.push(JSON.stringify({
        hex: Buffer.from(s, 'utf8').toString('hex'), ids, ids_special: ids2,
        decoded: await tok.decode(ids, false), decoded_skip: await tok.decode(ids2, true),
      }));
    }
    fs.writeFileSync(path.join(dir, 'cases.jsonl'), cases.join('\n') + '\n');
    // random id lists: partial UTF-8 byte tokens, specials, holes
    const nv = tok.getVocabSize(true);
    const dec = [];
    for (let i = 0; i < Math.ceil(n / 4); i++) {
      const m = 1 + Math.floor(R() * 24);
      const ids = [];
      for (let j = 0; j < m; j++) {
        const q = R();
        ids.push(q < 0.4 ? Math.floor(R() * 256) : q < 0.5 ? json.added_tokens[Math.floor(R() * json.added_tokens.length)].id
          : Math.floor(R() * nv));
      }
      dec.push(JSON.stringify({ ids, decoded: await tok.decode(ids, false), decoded_skip: await tok.decode(ids, true) }));
    }
    fs.writeFileSync(path.join(dir, 'decode.jsonl'), dec.join('\n') + '\n');
    list.push(name);
  }
  fs.writeFileSync(path.join(outDir, 'list.txt'), list.join('\n') + '\n');
}

run().catch((e) => {
  console.error('tok_oracle: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
