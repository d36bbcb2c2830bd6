// load.mjs — drive a running `huginn serve` with C concurrent clients and report aggregate generated
// tokens/s, time to first token and core iterations per token, as JSON on stdout.
//   node load.mjs BASE_URL CLIENTS REQUESTS_PER_CLIENT '{"num_steps": 32, ...}'
// Defaults: 16 prompt ids, 64 new tokens. Every request streams (the first event times the first token), with a fixed pseudo-random prompt of
// ids (speed does not depend on it), greedy, zero initial state; the body's extra fields are merged in.
const [base, clientsArg, perArg, extraArg] = process.argv.slice(2);
const clients = Number(clientsArg), per = Number(perArg);
const extra = JSON.parse(extraArg || '{}');
const promptLen = extra.prompt_len || 16;
delete extra.prompt_len;

function prompt(i) {
  const out = [];
  let x = 0x9e3779b9 + i * 7919;
  for (let k = 0; k < promptLen; k++) { x = (x * 1103515245 + 12345) >>> 0; out.push(1 + (x % 500)); }
  return out;
}

async function one(i) {
  const t0 = performance.now();
  const res = await fetch(base + '/v1/completions', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: prompt(i), max_tokens: 64, temperature: 0, init_scale: 0, stream: true, ...extra }),
  });
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  const reader = res.body.getReader(), dec = new TextDecoder();
  let buf = '', first = 0, tokens = 0, iters = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, k); buf = buf.slice(k + 2);
      if (!ev.startsWith('data: {')) continue;
      const c = JSON.parse(ev.slice(6)).choices[0];
      if (c.steps.length && !first) first = performance.now();
      tokens += c.steps.length;
      for (const s of c.steps) iters += s;
    }
  }
  return { ttft: (first - t0) / 1000, tokens, iters };
}

const t0 = performance.now();
const results = [];
await Promise.all(Array.from({ length: clients }, async (_, c) => {
  for (let r = 0; r < per; r++) results.push(await one(c * per + r));
}));
const wall = (performance.now() - t0) / 1000;
const tokens = results.reduce((a, r) => a + r.tokens, 0), iters = results.reduce((a, r) => a + r.iters, 0);
const ttft = results.map((r) => r.ttft).sort((a, b) => a - b);
console.log(JSON.stringify({ clients, requests: results.length, tokens, wall_s: wall, tokens_per_s: tokens / wall,
  ttft_median_s: ttft[Math.floor(ttft.length / 2)], iterations_per_token: iters / tokens }));
