// check.mjs — an independent reader (Hugging Face's @huggingface/gguf) checks a GGUF written by
// `huginn convert` / `huginn quantize` against the source Hugging Face directory, read here directly
// (config.json, safetensors headers and bytes, tokenizer.json): nothing of huginn.c is trusted.
//   node check.mjs OUT.gguf HF_DIR MODE       MODE: keep | f32 | f16 | bf16 | q8_0 | q4_0
// Checks: architecture; every huginn.* value and its GGUF type; the tokenizer.ggml.* keys when the
// directory has a tokenizer.json; the exact set of tensors with names, shapes (ne = HF shape
// reversed), ggml types and offsets (aligned, in bounds, not overlapping); and, for matrices written
// in their stored dtype, the bytes at the tensor's offset equal the safetensors bytes. Exit 1 on any
// mismatch, listing them all.
import { gguf } from "@huggingface/gguf";
import fs from "node:fs";
import path from "node:path";

const [file, dir, mode] = process.argv.slice(2);
const errors = [];
const fail = (msg) => errors.push(msg);
const eq = (what, got, want) => {
  if (got !== want) fail(`${what}: got ${JSON.stringify(String(got))}, want ${JSON.stringify(String(want))}`);
};

// ---- the source, read directly ------------------------------------------------------------------
const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
function readSafetensors(p) {
  const buf = fs.readFileSync(p);
  const hlen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + hlen).toString("utf8"));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    out[name] = { dtype: t.dtype, shape: t.shape, bytes: buf.subarray(8 + hlen + t.data_offsets[0], 8 + hlen + t.data_offsets[1]) };
  }
  return out;
}
let st = {};
const index = path.join(dir, "model.safetensors.index.json");
if (fs.existsSync(index)) {
  const files = new Set(Object.values(JSON.parse(fs.readFileSync(index, "utf8")).weight_map));
  for (const f of files) Object.assign(st, readSafetensors(path.join(dir, f)));
} else {
  st = readSafetensors(path.join(dir, "model.safetensors"));
}

// ---- parse with the oracle ---------------------------------------------------------------------
const { metadata, typedMetadata, tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true, typedMetadata: true });
const T = { UINT32: 4, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, FLOAT64: 12, INT32: 5 };
const kv = (key, type, want) => {
  const e = typedMetadata[key];
  if (!e) return fail(`metadata ${key} missing`);
  eq(`${key} type`, e.type, type);
  if (want !== undefined) eq(key, e.value, typeof want === "number" && type === T.FLOAT32 ? Math.fround(want) : want);
};
eq("version", metadata.version, 3);
kv("general.architecture", T.STRING, "huginn");
kv("general.name", T.STRING, cfg.name);
const P = cfg.n_layers_in_prelude, R = cfg.n_layers_in_recurrent_block, C = cfg.n_layers_in_coda;
const h = cfg.n_embd, H = cfg.num_attention_heads ?? cfg.n_heads, V = cfg.vocab_size, I = cfg.intermediate_size;
kv("huginn.context_length", T.UINT32, cfg.block_size);
kv("huginn.embedding_length", T.UINT32, h);
kv("huginn.feed_forward_length", T.UINT32, I);
kv("huginn.block_count", T.UINT32, P + R + C);
kv("huginn.attention.head_count", T.UINT32, H);
kv("huginn.attention.head_count_kv", T.UINT32, cfg.num_key_value_heads ?? H);
kv("huginn.rope.dimension_count", T.UINT32, h / H);
kv("huginn.rope.freq_base", T.FLOAT32, cfg.rope_base ?? 50000);
kv("huginn.attention.layer_norm_rms_epsilon", T.FLOAT32, cfg.norm_eps);
kv("huginn.prelude_layers", T.UINT32, P);
kv("huginn.core_layers", T.UINT32, R);
kv("huginn.coda_layers", T.UINT32, C);
kv("huginn.mean_recurrence", T.UINT32, cfg.mean_recurrence);
kv("huginn.mean_backprop_depth", T.UINT32, cfg.mean_backprop_depth);
kv("huginn.qk_bias", T.BOOL, cfg.qk_bias);
kv("huginn.tie_embeddings", T.BOOL, cfg.tie_embeddings);
kv("huginn.vocab_size", T.UINT32, V);

// ---- tokenizer ------------------------------------------------------------------------------------
const tokPath = path.join(dir, "tokenizer.json");
if (fs.existsSync(tokPath)) {
  const text = fs.readFileSync(tokPath, "utf8");
  const tok = JSON.parse(text);
  kv("tokenizer.ggml.model", T.STRING, "gpt2");
  kv("tokenizer.huggingface.json", T.STRING, text);
  const tokens = typedMetadata["tokenizer.ggml.tokens"], types = typedMetadata["tokenizer.ggml.token_type"];
  const merges = typedMetadata["tokenizer.ggml.merges"];
  if (!tokens || !types || !merges) fail("tokenizer.ggml.tokens/token_type/merges missing");
  else {
    eq("tokens subType", tokens.subType, T.STRING);
    eq("token_type subType", types.subType, T.INT32);
    eq("tokens length", tokens.value.length, V);
    eq("token_type length", types.value.length, V);
    const want = new Array(V).fill(null), wantType = new Array(V).fill(5);
    for (const [s, id] of Object.entries(tok.model.vocab)) (want[id] = s), (wantType[id] = 1);
    for (const a of tok.added_tokens ?? []) (want[a.id] = a.content), (wantType[a.id] = a.special ? 3 : 4);
    for (let i = 0; i < V; i++) {
      eq(`token ${i}`, tokens.value[i], want[i] ?? `[PAD${i}]`);
      eq(`token_type ${i}`, types.value[i], wantType[i]);
    }
    const wantMerges = tok.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
    eq("merges length", merges.value.length, wantMerges.length);
    wantMerges.forEach((m, i) => eq(`merge ${i}`, merges.value[i], m));
  }
  const cfgPath = path.join(dir, "tokenizer_config.json");
  if (fs.existsSync(cfgPath)) {
    const tc = JSON.parse(fs.readFileSync(cfgPath, "utf8"));
    const idOf = (s) => (tok.added_tokens ?? []).find((a) => a.content === s)?.id ?? tok.model.vocab[s];
    const text_ = (x) => (typeof x === "object" && x ? x.content : x);
    if (tc.bos_token) kv("tokenizer.ggml.bos_token_id", T.UINT32, idOf(text_(tc.bos_token)));
    if (tc.eos_token) kv("tokenizer.ggml.eos_token_id", T.UINT32, idOf(text_(tc.eos_token)));
    if (typeof tc.chat_template === "string") kv("tokenizer.chat_template", T.STRING, tc.chat_template);
  }
}

// ---- tensors --------------------------------------------------------------------------------------
const G = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 };
const stG = { F32: G.F32, F16: G.F16, BF16: G.BF16 };
const bytesOf = (type, n) => ({ 0: 4 * n, 1: 2 * n, 30: 2 * n, 8: (n / 32) * 34, 2: (n / 32) * 18 })[type];
const stages = [["prelude", P], ["core_block", R], ["coda", C]];
const parts = {
  "norm_1.weight": "attn_norm.weight", "norm_2.weight": "post_attention_norm.weight", "norm_3.weight": "ffn_norm.weight",
  "norm_4.weight": "post_ffw_norm.weight", "attn.Wqkv.weight": "attn_qkv.weight", "attn.proj.weight": "attn_output.weight",
  "mlp.fc.weight": "ffn_gate_up.weight", "mlp.proj.weight": "ffn_down.weight", "attn.qk_bias": "attn_qk_bias",
};
const expected = new Map(); // gguf name -> HF name
expected.set("token_embd.weight", "transformer.wte.weight");
expected.set("adapter.weight", "transformer.adapter.weight");
expected.set("output_norm.weight", "transformer.ln_f.weight");
if (!cfg.tie_embeddings) expected.set("output.weight", "lm_head.weight");
let layer = 0;
for (const [stage, n] of stages)
  for (let i = 0; i < n; i++, layer++)
    for (const [hf, gg] of Object.entries(parts))
      if (hf !== "attn.qk_bias" || cfg.qk_bias) expected.set(`blk.${layer}.${gg}`, `transformer.${stage}.${i}.${hf}`);

const fileSize = BigInt(fs.statSync(file).size);
const raw = fs.readFileSync(file);
eq("tensor count", tensorInfos.length, expected.size);
eq("tensor_count metadata", Number(metadata.tensor_count), expected.size);
if (tensorDataOffset % 32n !== 0n) fail(`data region at ${tensorDataOffset} is not 32-aligned`);
const spans = [];
for (const t of tensorInfos) {
  const hfName = expected.get(t.name);
  if (!hfName) {
    fail(`unexpected tensor ${t.name}`);
    continue;
  }
  const src = st[hfName];
  if (!src) {
    fail(`${t.name}: source tensor ${hfName} missing from the safetensors`);
    continue;
  }
  eq(`${t.name} shape`, t.shape.map(String).join(","), [...src.shape].reverse().map(String).join(","));
  eq(`${t.name} n_dims`, t.n_dims, src.shape.length);
  const isMatrix = src.shape.length === 2;
  const want = !isMatrix ? G.F32 : mode === "keep" ? stG[src.dtype] : G[mode.toUpperCase()];
  eq(`${t.name} dtype`, t.dtype, want);
  const n = src.shape.reduce((a, b) => a * b, 1);
  const size = BigInt(bytesOf(t.dtype, n));
  const start = tensorDataOffset + t.offset;
  if (t.offset % 32n !== 0n) fail(`${t.name}: offset ${t.offset} not 32-aligned`);
  if (start + size > fileSize) fail(`${t.name}: data [${start}, +${size}) past the end of the file (${fileSize})`);
  spans.push([start, start + size, t.name]);
  if (isMatrix && t.dtype === stG[src.dtype] && !raw.subarray(Number(start), Number(start + size)).equals(src.bytes))
    fail(`${t.name}: bytes at its offset differ from ${hfName} in the safetensors`);
  if (!isMatrix && src.dtype === "F32" && !raw.subarray(Number(start), Number(start + size)).equals(src.bytes))
    fail(`${t.name}: f32 bytes differ from ${hfName}`);
  expected.delete(t.name);
}
for (const name of expected.keys()) fail(`tensor ${name} missing`);
spans.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) fail(`${spans[i - 1][2]} and ${spans[i][2]} overlap`);

if (errors.length) {
  console.error(`check.mjs ${file} (${mode}): ${errors.length} mismatches`);
  for (const e of errors.slice(0, 50)) console.error("  " + e);
  process.exit(1);
}
console.log(`ok ${path.basename(file)} (${mode}): ${tensorInfos.length} tensors, ${Object.keys(typedMetadata).length} metadata keys`);
