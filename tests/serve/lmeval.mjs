// lmeval.mjs — lm-eval through `huginn serve`, replayed: the requests lm-eval's `local-completions`
// model sends, parsed as its source parses them, must give the numbers `huginn eval` gives.
//   - multiple choice (loglikelihood): lm-eval's _encode_pair (trailing context whitespace moves to the
//     continuation; context and context + continuation are encoded, the continuation is what follows),
//     with the tokenizer's BOS in front (add_bos_token), one request per choice: {"prompt": ids,
//     "echo": true, "logprobs": 1, "max_tokens": 1, "temperature": 0}; the answer's loglikelihood is
//     sum(token_logprobs[ctxlen:-1]); acc = argmax is gold, acc_norm = argmax of ll / bytes is gold.
//   - generate_until: {"prompt": context, "max_tokens": max_gen_toks, "stop": until, "temperature": 0};
//     the text is cut at the first stop string and compared to the target (exact match, trimmed).
// The server runs with --init-scale 0, which lm-eval cannot send; `huginn eval` scores with a zero state.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const HUGINN = process.env.HUGINN, SRC = process.env.HG_SOURCE_DIR;
const MODEL = path.join(SRC, 'models/default'), STEPS = 4;
const TMP = path.join(process.env.HG_TEST_TMP || '/tmp', 'serve');
mkdirSync(TMP, { recursive: true });
let checks = 0, failures = 0;
const check = (c, m) => { checks++; if (!c) { failures++; console.error(`FAIL ${m}`); } };

const server = spawn(HUGINN, ['serve', '-m', MODEL, '--port', '0', '--steps', String(STEPS), '--init-scale', '0'],
  { stdio: ['ignore', 'pipe', 'ignore'] }); // stderr unread would fill its pipe and block the server
process.on('exit', () => { if (server.exitCode === null) server.kill('SIGKILL'); });
const base = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => { out += d; const m = out.match(/listening on (http:\/\/[^ ]+)/); if (m) resolve(m[1]); });
  server.on('exit', (c) => reject(new Error(`server exited ${c}`)));
});
const post = async (route, body) => (await fetch(base + route, { method: 'POST',
  headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json();
const bos = JSON.parse(execFileSync(HUGINN, ['tokenize', '--as-prompt', '-t', MODEL], { input: '', encoding: 'utf8' }).trim() || '[]');
const encode = async (text) => [...bos, ...(await post('/tokenize', { content: text })).tokens];

// every third request of a shipped task (all hop counts: right and wrong answers), as a task file of its own
function lines(file) {
  const all = readFileSync(path.join(SRC, 'tasks', file), 'utf8').split('\n').filter((l) => l.trim())
    .map((l) => JSON.parse(l)).filter((x) => !x.fewshot).filter((_, i) => i % 3 === 0);
  writeFileSync(path.join(TMP, file), all.map((x) => JSON.stringify(x)).join('\n') + '\n');
  return all;
}
function huginnEval(file) {
  const out = execFileSync(HUGINN, ['eval', '-m', MODEL, '--task', path.join(TMP, file), '--steps', String(STEPS),
    '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out).results[0];
}

// ---- multiple choice ------------------------------------------------------------------------------
let acc = 0, accNorm = 0;
const mc = lines('chains-mc.jsonl');
for (const q of mc) {
  const lls = [];
  for (const choice of q.choices) {
    let context = q.context, cont = choice;
    const ns = context.length - context.trimEnd().length;
    if (ns > 0) { cont = context.slice(-ns) + cont; context = context.slice(0, -ns); }
    const ctx = await encode(context), whole = await encode(context + cont);
    const r = await post('/v1/completions', { prompt: whole, echo: true, logprobs: 1, max_tokens: 1, temperature: 0 });
    const lp = r.choices[0].logprobs.token_logprobs;
    lls.push(lp.slice(ctx.length, -1).reduce((a, b) => a + b, 0));
  }
  const argmax = (v) => v.reduce((b, x, i) => (x > v[b] ? i : b), 0);
  acc += argmax(lls) === q.gold;
  accNorm += argmax(lls.map((l, i) => l / Buffer.byteLength(q.choices[i]))) === q.gold;
}
const hm = huginnEval('chains-mc.jsonl');
check(hm.acc > 0.3 && hm.acc < 1, `the replayed questions mix right and wrong answers (acc ${hm.acc})`);
check(hm.n === mc.length, `huginn eval scored ${hm.n} questions, the replay ${mc.length}`);
check(Math.abs(hm.acc - acc / mc.length) < 1e-9, `acc: replay ${acc / mc.length}, huginn eval ${hm.acc}`);
check(Math.abs(hm.acc_norm - accNorm / mc.length) < 1e-9, `acc_norm: replay ${accNorm / mc.length}, huginn eval ${hm.acc_norm}`);

// ---- generate_until -------------------------------------------------------------------------------
let em = 0;
const gen = lines('chains-gen.jsonl');
for (const q of gen) {
  const r = await post('/v1/completions', { prompt: q.context, max_tokens: q.max_gen_toks ?? 256, temperature: 0,
    stop: q.until ?? ['\n\n'] });
  let text = r.choices[0].text;
  for (const u of q.until ?? []) { const i = text.indexOf(u); if (i >= 0) text = text.slice(0, i); }
  em += text.trim() === String(q.target).trim();
}
const hg = huginnEval('chains-gen.jsonl');
check(Math.abs(hg.exact_match - em / gen.length) < 1e-9, `exact_match: replay ${em / gen.length}, huginn eval ${hg.exact_match}`);
console.log(`lm-eval replay at r = ${STEPS}: acc ${acc / mc.length}, acc_norm ${accNorm / mc.length}, exact_match ${em / gen.length} (huginn eval: ${hm.acc}, ${hm.acc_norm}, ${hg.exact_match})`);

server.kill('SIGTERM');
check((await new Promise((r) => server.on('exit', r))) === 0, 'server exit 0');
console.log(`serve lm-eval replay: ${checks} checks, ${failures} failed`);
process.exit(failures ? 1 : 0);
