// api.mjs — `huginn serve` tested through the official `openai` npm client and raw HTTP.
//
// Starts servers on free loopback ports (port 0, read from the startup line) and stops them with
// SIGTERM at the end (a drained server exits 0; under ASan a leak makes that exit non-zero). Checks:
//   - greedy completions of mixed depths and exit criteria, sent concurrently, equal `huginn run --json`
//     (ids, per-token steps, text) on the shipped model; streamed chunks concatenate to the same;
//   - echo + logprobs + max_tokens 0 (lm-eval's loglikelihood request) equal the log-softmax of
//     `huginn forward --logits` on the golden tiny checkpoint (<= 1e-5), first entry null;
//   - chat (non-streamed, streamed, logprobs) on a model with Huginn's chat template;
//   - /v1/models, /health, /metrics, /tokenize, /detokenize;
//   - every bad request gets its status (400 naming the field, 401, 404, 405, 413, 429 with
//     Retry-After) and the server stays healthy; a client that disconnects mid-stream frees its slot;
//   - a load test: 64 concurrent clients x 8 requests of mixed depth and exit, each equal to its solo run;
//   - a burst on the shipped model in bf16 (packed weights): requests admitted together (/metrics
//     counts the admission calls) equal `huginn run --prepack` alone.
// Usage: node api.mjs  (env: HUGINN, HG_SOURCE_DIR, HG_TEST_DATA, HG_TEST_TMP; HG_SERVE_LOAD=0 skips the load test)
import OpenAI from 'openai';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';

const HUGINN = process.env.HUGINN;
const SRC = process.env.HG_SOURCE_DIR;
const DATA = process.env.HG_TEST_DATA;
const TMP = path.join(process.env.HG_TEST_TMP || '/tmp', 'serve');
mkdirSync(TMP, { recursive: true });
const SHIPPED = path.join(SRC, 'models/default');
const TINY = path.join(DATA, 'golden_model/tiny');

let checks = 0, failures = 0;
function check(cond, msg) {
  checks++;
  if (!cond) { failures++; console.error(`FAIL ${msg}`); }
}
const servers = [];
process.on('exit', () => { for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL'); });

function startServer(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(HUGINN, ['serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(p);
    let out = '', err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^ ]+)/);
      if (m) resolve({ p, base: m[1], log: () => err });
    });
    p.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60000);
  });
}

async function stopServer(s) {
  const done = new Promise((resolve) => s.p.on('exit', (code, sig) => resolve({ code, sig })));
  s.p.kill('SIGTERM');
  const { code, sig } = await done;
  check(code === 0, `server exit code ${code} signal ${sig} after SIGTERM: ${s.log().slice(-2000)}`);
  check(/stopped/.test(s.log()), 'server logged its stop');
}

async function post(base, route, body, headers = {}) {
  const res = await fetch(base + route, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

function runSolo(model, prompt, steps, n, exit, thr, extra = []) {
  const args = ['run', '-m', model, '--steps', String(steps), '-n', String(n), '--temp', '0', '--init-scale', '0', '--json',
    ...extra];
  if (Array.isArray(prompt)) args.push('--ids', prompt.join(',')); else args.push('-p', prompt);
  if (exit && exit !== 'none') args.push('--exit', exit, '--exit-threshold', String(thr ?? 'auto'));
  const out = JSON.parse(execFileSync(HUGINN, args, { encoding: 'utf8' }));
  const gen = out.generated;
  return { ids: gen.map((g) => g.id), steps: gen.map((g) => g.steps),
    text: gen.filter((g) => !/^<.*>$/.test(g.text ?? '')).map((g) => g.text ?? '').join('') };
}

function logSoftmax(row) {
  let mx = -Infinity;
  for (const x of row) if (x > mx) mx = x;
  let s = 0;
  for (const x of row) s += Math.exp(x - mx);
  const lse = mx + Math.log(s);
  return row.map((x) => x - lse);
}

// ---- the shipped model: completions equal `huginn run --json` ------------------------------------
const chainPrompts = ['k=3;a=k;z=1;d=a;?d=', 'b=7;c=b;?c=', 'x=2;y=5;q=y;?q=', 'm=1;n=m;o=n;p=o;?p='];
const exits = [['none', null], ['latent-diff', 0.05], ['entropy-diff', 'auto'], ['kl', 0.01], ['minp-kl', 'auto'],
  ['argmax-stability', 3], ['cosine', 0.01]];
function configs(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const [exit, thr] = exits[i % exits.length];
    out.push({ prompt: chainPrompts[i % chainPrompts.length], steps: 1 + ((i * 7) % 32), exit, thr, n: 2 + (i % 3) });
  }
  return out;
}

async function testShipped() {
  const s = await startServer(['-m', SHIPPED, '--slots', '8']);
  const client = new OpenAI({ baseURL: s.base + '/v1', apiKey: 'unused' });
  const cfgs = configs(14);
  const solo = cfgs.map((c) => runSolo(SHIPPED, c.prompt, c.steps, c.n, c.exit, c.thr));
  const body = (c) => ({ model: 'default', prompt: c.prompt, max_tokens: c.n, temperature: 0, init_scale: 0,
    num_steps: c.steps, exit_criterion: c.exit, ...(c.thr !== null ? { exit_threshold: c.thr } : {}) });
  // concurrent, non-streamed, through the official client (extra fields pass through the body)
  const res = await Promise.all(cfgs.map((c) => client.completions.create(body(c))));
  res.forEach((r, i) => {
    const ch = r.choices[0];
    check(JSON.stringify(ch.token_ids) === JSON.stringify(solo[i].ids), `config ${i}: ids ${ch.token_ids} vs run ${solo[i].ids}`);
    check(JSON.stringify(ch.steps) === JSON.stringify(solo[i].steps), `config ${i}: steps ${ch.steps} vs run ${solo[i].steps}`);
    check(ch.text === solo[i].text, `config ${i}: text ${JSON.stringify(ch.text)} vs run ${JSON.stringify(solo[i].text)}`);
    check(r.usage.completion_tokens === solo[i].ids.length, `config ${i}: usage`);
  });
  // streamed: chunks concatenate to the non-streamed text, steps likewise
  const streamed = await Promise.all(cfgs.slice(0, 7).map(async (c) => {
    const st = await client.completions.create({ ...body(c), stream: true });
    let text = '', steps = [], ids = [], finish = null;
    for await (const chunk of st) {
      text += chunk.choices[0].text; steps.push(...chunk.choices[0].steps); ids.push(...chunk.choices[0].token_ids);
      if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
    }
    return { text, steps, ids, finish };
  }));
  streamed.forEach((r, i) => {
    check(r.text === res[i].choices[0].text, `stream ${i}: ${JSON.stringify(r.text)} vs ${JSON.stringify(res[i].choices[0].text)}`);
    check(JSON.stringify(r.steps) === JSON.stringify(solo[i].steps), `stream ${i}: steps`);
    check(JSON.stringify(r.ids) === JSON.stringify(solo[i].ids), `stream ${i}: ids`);
    check(r.finish === res[i].choices[0].finish_reason, `stream ${i}: finish_reason`);
  });
  // logprobs on generated tokens: top-1 alternative is the greedy token
  const lp = await client.completions.create({ ...body(cfgs[0]), logprobs: 2 });
  const L = lp.choices[0].logprobs;
  check(L && L.tokens.length === solo[0].ids.length && L.token_logprobs.every((x) => x <= 0), 'generated logprobs');
  check(L && L.top_logprobs.every((t, k) => Math.abs(Math.max(...Object.values(t)) - L.token_logprobs[k]) < 1e-6),
    'greedy token is the top alternative');
  // stop strings cut the text and finish with "stop"
  const stopped = await client.completions.create({ ...body({ prompt: chainPrompts[0], steps: 16, exit: 'none', thr: null, n: 3 }), stop: ['3'] });
  check(stopped.choices[0].text === '' && stopped.choices[0].finish_reason === 'stop', `stop string: ${JSON.stringify(stopped.choices[0])}`);
  // /tokenize and /detokenize round trip; /v1/models; /health; /metrics
  const tk = await post(s.base, '/tokenize', { content: chainPrompts[0] });
  check(tk.status === 200 && Array.isArray(tk.json.tokens) && tk.json.tokens.length > 0, 'tokenize');
  const dt = await post(s.base, '/detokenize', { tokens: tk.json.tokens });
  check(dt.status === 200 && dt.json.content === chainPrompts[0], `detokenize: ${dt.text}`);
  const models = await client.models.list();
  check(models.data.length === 1 && models.data[0].id === 'default', 'models');
  const metrics = await (await fetch(s.base + '/metrics')).text();
  check(/huginn_generated_tokens_total [1-9]/.test(metrics) && /huginn_iterations_per_token/.test(metrics), 'metrics');
  await testBadRequests(s);
  if (process.env.HG_SERVE_LOAD !== '0') await testLoad(s, client, body);
  await stopServer(s);
}

// ---- bad requests ------------------------------------------------------------------------------
async function testBadRequests(s) {
  const bad = [
    ['{"prompt": "a", ', 400, /JSON/],
    [{ prompt: 'a', max_tokens: -1 }, 400, /max_tokens/],
    [{ prompt: 'a', max_tokens: 'ten' }, 400, /max_tokens/],
    [{ prompt: 'a', temperature: -0.5 }, 400, /temperature/],
    [{ prompt: 'a', num_steps: 1000000 }, 400, /num_steps/],
    [{ prompt: 'a', num_steps: 2.5 }, 400, /num_steps/],
    [{ prompt: 'a', exit_criterion: 'sometimes' }, 400, /exit_criterion/],
    [{ prompt: 'a', exit_threshold: 'soon' }, 400, /exit_threshold/],
    [{ prompt: 'a', kv_cache: 'compress-s4' }, 400, /kv_cache/],
    [{ prompt: 'a', stop: [1, 2] }, 400, /stop/],
    [{ prompt: 'a', warm_start: 'yes' }, 400, /warm_start/],
    [{ prompt: [1, 2, 99999999] }, 400, /prompt/],
    [{ prompt: 'a', max_tokens: 100000 }, 400, /exceed the context/],
    [{ max_tokens: 2 }, 400, /prompt/],
    [{ prompt: [] }, 400, /empty/],
    [{ prompt: 'a', n: 3 }, 400, /`n`/],
  ];
  for (const [b, status, re] of bad) {
    const r = await post(s.base, '/v1/completions', b);
    check(r.status === status && r.json && r.json.error && re.test(r.json.error.message) && r.json.error.type,
      `bad request ${JSON.stringify(b)}: ${r.status} ${r.text}`);
  }
  const chat = await post(s.base, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
  check(chat.status === 400 && /chat template/.test(chat.json.error.message), `chat without a template: ${chat.text}`);
  const nf = await fetch(s.base + '/v1/nothing');
  check(nf.status === 404, 'unknown endpoint 404');
  const get = await fetch(s.base + '/v1/completions');
  check(get.status === 405, 'GET on a POST endpoint 405');
  const big = await post(s.base, '/v1/completions', JSON.stringify({ prompt: 'a'.repeat(2 << 20) }));
  check(big.status === 413, `oversized body: ${big.status}`);
  const h = await fetch(s.base + '/health');
  check(h.status === 200, 'healthy after the bad requests');
}

// ---- a client that goes away mid-stream ------------------------------------------------------------
async function testDisconnect() {
  const dir = path.join(TMP, 'slowmodel'); // slow enough per request that the client leaves mid-generation
  execFileSync(HUGINN, ['init', '--config', path.join(SRC, 'models/random-small.json'), '-o', dir, '--seed', '2']);
  const s = await startServer(['-m', dir, '--slots', '2', '-c', '1024']);
  const ac = new AbortController();
  const res = await fetch(s.base + '/v1/completions', { method: 'POST', signal: ac.signal,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: [1, 2, 3], max_tokens: 1000, num_steps: 64, stream: true, temperature: 0 }) });
  const reader = res.body.getReader();
  await reader.read();
  ac.abort();
  for (let i = 0; i < 100; i++) { // the slot is freed: no active request remains
    const m = await (await fetch(s.base + '/metrics')).text();
    if (/huginn_requests_active 0/.test(m)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = await (await fetch(s.base + '/metrics')).text();
  check(/huginn_requests_active 0\n/.test(m), 'disconnected stream freed its slot');
  check(/client gone/.test(s.log()), 'the cancelled request was logged');
  const h = await fetch(s.base + '/health');
  check(h.status === 200, 'healthy after the disconnect');
  await stopServer(s);
}

// ---- load: 64 clients x 8 requests ---------------------------------------------------------------
async function testLoad(s, client, body) {
  const cfgs = configs(16);
  const solo = cfgs.map((c) => runSolo(SHIPPED, c.prompt, c.steps, c.n, c.exit, c.thr));
  let answered = 0, wrong = 0, errors = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 64 }, async (_, ci) => {
    for (let k = 0; k < 8; k++) {
      const i = (ci * 8 + k) % cfgs.length;
      try {
        const r = await client.completions.create(body(cfgs[i]));
        answered++;
        const ch = r.choices[0];
        if (JSON.stringify(ch.token_ids) !== JSON.stringify(solo[i].ids) || JSON.stringify(ch.steps) !== JSON.stringify(solo[i].steps)) wrong++;
      } catch (e) { errors++; console.error(String(e)); }
    }
  }));
  check(answered === 512 && wrong === 0 && errors === 0, `load: ${answered} answered, ${wrong} differ from solo, ${errors} errors`);
  const m = await (await fetch(s.base + '/metrics')).text();
  check(/huginn_requests_active 0\n/.test(m) && /huginn_requests_queued 0\n/.test(m), 'no slot or queue entry left after the load');
  console.log(`load: 512 requests in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// ---- a burst on packed weights: the queued requests' prompts prefilled together --------------------
// The shipped model in bf16, whose weights the server packs (where the kernels lay bf16 out): requests
// queued together are admitted by one call (their prompts share the prefill's weight reads), which
// must give each request's tokens and steps exactly as `huginn run --prepack` alone.
async function testPackedBurst() {
  const gguf = path.join(TMP, 'shipped-bf16.gguf');
  execFileSync(HUGINN, ['quantize', '-m', SHIPPED, '-o', gguf, '--type', 'bf16']);
  const s = await startServer(['-m', gguf, '--slots', '6']);
  const cfgs = configs(12).map((c, i) => ({ ...c, prompt: c.prompt.repeat(1 + (i % 3)), n: 3 }));
  const solo = cfgs.map((c) => runSolo(gguf, c.prompt, c.steps, c.n, c.exit, c.thr, ['--prepack']));
  const res = await Promise.all(cfgs.map((c) => post(s.base, '/v1/completions', { prompt: c.prompt, max_tokens: c.n,
    temperature: 0, init_scale: 0, num_steps: c.steps, exit_criterion: c.exit, ...(c.thr !== null ? { exit_threshold: c.thr } : {}) })));
  res.forEach((r, i) => {
    const ch = r.json?.choices?.[0];
    check(r.status === 200 && JSON.stringify(ch.token_ids) === JSON.stringify(solo[i].ids) &&
      JSON.stringify(ch.steps) === JSON.stringify(solo[i].steps), `packed burst ${i}: ${r.text.slice(0, 200)} vs run ${solo[i].ids}`);
  });
  const m = await (await fetch(s.base + '/metrics')).text();
  const calls = Number(/huginn_admissions_total (\d+)/.exec(m)?.[1]), admitted = Number(/huginn_admitted_requests_total (\d+)/.exec(m)?.[1]);
  check(admitted === 12 && calls < admitted, `packed burst: ${admitted} requests admitted in ${calls} calls (some together)`);
  await stopServer(s);
}

// ---- echo logprobs equal forward --logits (lm-eval's loglikelihood request) -----------------------
async function testEcho() {
  const s = await startServer(['-m', TINY, '--slots', '2']);
  const ids = [1, 17, 300, 42, 99, 5, 250, 7, 128];
  const steps = 4;
  const bin = path.join(TMP, 'fwd.bin');
  execFileSync(HUGINN, ['forward', '-m', TINY, '--ids', ids.join(','), '--steps', String(steps), '--init-scale', '0', '--logits', bin]);
  const raw = readFileSync(bin);
  const V = raw.length / 4 / ids.length;
  const f = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const r = await post(s.base, '/v1/completions', { prompt: ids, echo: true, logprobs: 1, max_tokens: 0, num_steps: steps, init_scale: 0 });
  check(r.status === 200, `echo request: ${r.text.slice(0, 300)}`);
  const L = r.json && r.json.choices[0].logprobs;
  check(L && L.token_logprobs.length === ids.length && L.token_logprobs[0] === null && L.top_logprobs[0] === null, 'echo: first entry null');
  let worst = 0;
  for (let p = 1; L && p < ids.length; p++) {
    const ls = logSoftmax(Array.from(f.subarray((p - 1) * V, p * V)));
    worst = Math.max(worst, Math.abs(ls[ids[p]] - L.token_logprobs[p]));
  }
  check(L && worst <= 1e-5, `echo logprobs vs forward --logits: max difference ${worst}`);
  check(L && L.text_offset.length === ids.length && L.tokens.length === ids.length, 'echo: tokens and text_offset');
  // greedy completions of the golden checkpoint (ids in, ids out) equal `huginn run --json`
  for (const [steps2, exit, thr] of [[4, 'none', null], [8, 'latent-diff', 0.1], [6, 'kl', 0.01]]) {
    const want = runSolo(TINY, ids, steps2, 5, exit, thr);
    const got = await post(s.base, '/v1/completions', { prompt: ids, max_tokens: 5, temperature: 0, init_scale: 0,
      num_steps: steps2, exit_criterion: exit, ...(thr !== null ? { exit_threshold: thr } : {}) });
    check(got.status === 200 && JSON.stringify(got.json.choices[0].token_ids) === JSON.stringify(want.ids) &&
      JSON.stringify(got.json.choices[0].steps) === JSON.stringify(want.steps), `golden tiny, ${exit}: ${got.text.slice(0, 300)}`);
  }
  // lm-eval's variant: max_tokens 1, the last entry is the generated token
  const r1 = await post(s.base, '/v1/completions', { prompt: ids, echo: true, logprobs: 1, max_tokens: 1, temperature: 0, num_steps: steps, init_scale: 0 });
  check(r1.status === 200 && r1.json.choices[0].logprobs.token_logprobs.length === ids.length + 1, 'echo + one generated token');
  await stopServer(s);
}

// ---- chat on a model with Huginn's chat template ---------------------------------------------------
async function testChat() {
  const dir = path.join(TMP, 'chatmodel');
  const cfg = { name: 'chat-test', architectures: ['RavenForCausalLM'], model_type: 'huginn_raven', n_embd: 64,
    num_attention_heads: 4, num_key_value_heads: 4, intermediate_size: 128, vocab_size: 65536, padding_multiple: 4096,
    n_layers_in_prelude: 1, n_layers_in_recurrent_block: 1, n_layers_in_coda: 1, block_size: 256, rope_base: 50000,
    norm_eps: 1e-6, tie_embeddings: true, mean_recurrence: 4, mean_backprop_depth: 2, qk_bias: true, bias: false,
    injection_type: 'linear', norm_class_name: 'RMSNorm_llama', mlp_class_name: 'GatedMLP', nonlin_name: 'SiLU',
    block_class_name: 'SandwichBlock', state_init: 'like-init' };
  writeFileSync(path.join(TMP, 'chat.json'), JSON.stringify(cfg));
  execFileSync(HUGINN, ['init', '--config', path.join(TMP, 'chat.json'), '-o', dir, '--seed', '5']);
  const tokdir = path.join(DATA, 'tokenizers/huginn_style');
  writeFileSync(path.join(dir, 'tokenizer.json'), gunzipSync(readFileSync(path.join(tokdir, 'tokenizer.json.gz'))));
  copyFileSync(path.join(tokdir, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
  const s = await startServer(['-m', dir, '--slots', '4', '-c', '256']);
  const client = new OpenAI({ baseURL: s.base + '/v1', apiKey: 'unused' });
  const msgs = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Name a colour.' }];
  const extra = { num_steps: 3, init_scale: 0 };
  const r = await client.chat.completions.create({ model: 'chat', messages: msgs, max_tokens: 6, temperature: 0, ...extra });
  const ch = r.choices[0];
  check(r.object === 'chat.completion' && ch.message.role === 'assistant' && typeof ch.message.content === 'string' &&
    ch.steps.length === r.usage.completion_tokens, `chat: ${JSON.stringify(r).slice(0, 400)}`);
  // the same as `huginn run --chat`
  const solo = JSON.parse(execFileSync(HUGINN, ['run', '-m', dir, '--chat', '--system', msgs[0].content, '-p', msgs[1].content,
    '--steps', '3', '-n', '6', '--temp', '0', '--init-scale', '0', '--json'], { encoding: 'utf8' }));
  check(JSON.stringify(ch.token_ids) === JSON.stringify(solo.generated.map((g) => g.id)), 'chat equals run --chat');
  let text = '', role = null;
  const st = await client.chat.completions.create({ model: 'chat', messages: msgs, max_tokens: 6, temperature: 0, stream: true, ...extra });
  for await (const chunk of st) { const d = chunk.choices[0].delta; if (d.role) role = d.role; text += d.content ?? ''; }
  check(text === ch.message.content && role === 'assistant', 'streamed chat equals the non-streamed reply');
  const lp = await client.chat.completions.create({ model: 'chat', messages: msgs, max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 2, ...extra });
  const c = lp.choices[0].logprobs.content;
  check(c.length === lp.usage.completion_tokens && c.every((e) => e.top_logprobs.length === 2 && e.logprob <= 0), 'chat logprobs');
  await testConcurrentTokenize(s);
  await stopServer(s);
}

// Every HTTP thread tokenizes its own request: many distinct texts at once must each get the ids they get
// alone (the tokenizer's word cache and scratch are one per handle).
async function testConcurrentTokenize(s) {
  const words = ['alpha', 'Beta', 'gamma42', 'δέλτα', 'epsilon', 'zeta_', 'ETA', 'theta-', 'iota.', 'kappa,', '  lambda',
    'mu\n', 'nu!', 'xi?', 'omicron', 'π', 'rho', 'sigma9', 'tau', 'upsilon', 'phi', 'chi', 'psi', 'omega'];
  const texts = [];
  for (let i = 0; i < 48; i++) {
    let t = '', x = i * 2654435761 % 4294967296;
    for (let k = 0; k < 400; k++) { x = (x * 1103515245 + 12345) % 2147483648; t += words[x % words.length] + (x % 7 ? ' ' : String(x % 1000)); }
    texts.push(t);
  }
  const alone = [];
  for (const t of texts) alone.push((await post(s.base, '/tokenize', { content: t })).json.tokens);
  let bad = 0;
  for (let round = 0; round < 4; round++) {
    const got = await Promise.all(texts.map((t) => post(s.base, '/tokenize', { content: t })));
    got.forEach((g, i) => { if (JSON.stringify(g.json && g.json.tokens) !== JSON.stringify(alone[i])) bad++; });
  }
  check(bad === 0, `concurrent /tokenize: ${bad} of ${4 * texts.length} differ from the same text alone`);
}

// ---- API key, queue limit ----------------------------------------------------------------------------
async function testLimits() {
  const s = await startServer(['-m', SHIPPED, '--slots', '1', '--max-queue', '1', '--api-key', 'sekret', '--max-body', '4096']);
  const no = await post(s.base, '/v1/completions', { prompt: 'a' });
  check(no.status === 401, `no key: ${no.status}`);
  const wrong = await post(s.base, '/v1/completions', { prompt: 'a' }, { Authorization: 'Bearer nope' });
  check(wrong.status === 401, 'wrong key');
  const h = await fetch(s.base + '/health');
  check(h.status === 200, 'health needs no key');
  const big = await post(s.base, '/v1/completions', { prompt: 'a'.repeat(5000) }, { Authorization: 'Bearer sekret' });
  check(big.status === 413, `max-body: ${big.status}`);
  const many = await Promise.all(Array.from({ length: 12 }, () => post(s.base, '/v1/completions',
    { prompt: 'k=3;a=k;?a=', max_tokens: 20, num_steps: 64, temperature: 0 }, { Authorization: 'Bearer sekret' })));
  const st = many.map((r) => r.status);
  check(st.includes(200) && st.includes(429), `queue limit: statuses ${st}`);
  check(many.filter((r) => r.status === 429).every((r) => r.headers.get('retry-after')), '429 carries Retry-After');
  await stopServer(s);
}

try {
  await testShipped();
  await testPackedBurst();
  await testDisconnect();
  await testEcho();
  await testChat();
  await testLimits();
} catch (e) {
  failures++;
  console.error('FAIL', e);
}
console.log(`serve api: ${checks} checks, ${failures} failed`);
process.exit(failures ? 1 : 0);
