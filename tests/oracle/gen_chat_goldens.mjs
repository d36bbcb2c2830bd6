#!/usr/bin/env node
// gen_chat_goldens.mjs — writes tests/data/tokenizers/chat/family_chat_goldens.jsonl, the oracle for the
// Llama 3 and ChatML chat formats that src/tokenizer/ renders natively (test_tokenizer_chat.c reads the
// checked-in file, so the tests need no node).
//
// Every conversation of tests/data/tokenizers/chat/cases.json is rendered with every template of
// tests/data/tokenizers/chat/templates/ (except huginn's, whose goldens are Python Jinja2's:
// huginn_chat_goldens.jsonl) by @huggingface/jinja, the Jinja implementation of transformers.js, with
// the bos_token / eos_token of the tokenizer named below; the rendered text is then encoded by npm
// `tokenizers` (add_special_tokens = false, as hg_chat_encode does) with that tokenizer. One line per
// (template, case): {template, case, messages, add_generation_prompt, rendered, ids}.
//
// Usage: cd tests/oracle && npm install && node gen_chat_goldens.mjs
// (the versions are pinned in package.json; the output is deterministic).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');
const here = path.dirname(fileURLToPath(import.meta.url));
const data = path.join(here, '..', 'data', 'tokenizers');
const chatDir = path.join(data, 'chat');

// template file -> the tokenizer whose special tokens it uses (Llama 3's, Qwen 3's for ChatML)
const TEMPLATES = [
  ['llama3.jinja', 'llama3'],
  ['llama3_instruct.jinja', 'llama3'],
  ['chatml.jinja', 'qwen3'],
  ['chatml_default_system.jinja', 'qwen3'],
];

function tokenToString(t) {
  return t && typeof t === 'object' ? t.content : t;
}

const cases = JSON.parse(fs.readFileSync(path.join(chatDir, 'cases.json'), 'utf8'));
const lines = [];
for (const [file, tokName] of TEMPLATES) {
  const text = fs.readFileSync(path.join(chatDir, 'templates', file), 'utf8');
  const cfg = JSON.parse(fs.readFileSync(path.join(data, tokName, 'tokenizer_config.json'), 'utf8'));
  const json = zlib.gunzipSync(fs.readFileSync(path.join(data, tokName, 'tokenizer.json.gz'))).toString('utf8');
  const tok = Tokenizer.fromString(json);
  const tmpl = new Template(text);
  for (const c of cases) {
    const ctx = { messages: c.messages, add_generation_prompt: c.add_generation_prompt };
    const bos = tokenToString(cfg.bos_token), eos = tokenToString(cfg.eos_token);
    if (bos != null) ctx.bos_token = bos;
    if (eos != null) ctx.eos_token = eos;
    const rendered = tmpl.render(ctx);
    const enc = await tok.encode(rendered, null, { addSpecialTokens: false });
    lines.push(JSON.stringify({
      template: file.replace(/\.jinja$/, ''),
      case: c.case,
      messages: c.messages,
      add_generation_prompt: c.add_generation_prompt,
      rendered,
      ids: Array.from(enc.getIds()),
    }));
  }
}
const out = path.join(chatDir, 'family_chat_goldens.jsonl');
fs.writeFileSync(out, lines.join('\n') + '\n');
console.log(`gen_chat_goldens: ${lines.length} renderings -> ${out}`);
