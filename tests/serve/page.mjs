// page.mjs — the page of `huginn serve` in a real browser: headless Chromium (Debian's) driven by
// playwright-core loads GET /, sends a prompt with an exit criterion, waits for the streamed tokens,
// checks the per-token iterations shown against the API's answer for the same request, and saves a
// screenshot (HG_TEST_TMP/serve/page.png). Exit 77 (skipped) when chromium is not installed outside CI.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const HUGINN = process.env.HUGINN;
const SRC = process.env.HG_SOURCE_DIR;
const TMP = path.join(process.env.HG_TEST_TMP || '/tmp', 'serve');
mkdirSync(TMP, { recursive: true });
const exe = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!exe) {
  console.log('page test: chromium is not installed');
  process.exit(process.env.CI === 'true' ? 1 : 77);
}

let checks = 0, failures = 0;
const check = (c, m) => { checks++; if (!c) { failures++; console.error(`FAIL ${m}`); } };

const server = spawn(HUGINN, ['serve', '-m', path.join(SRC, 'models/default'), '--port', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
process.on('exit', () => { if (server.exitCode === null) server.kill('SIGKILL'); });
const base = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => { out += d; const m = out.match(/listening on (http:\/\/[^ ]+)/); if (m) resolve(m[1]); });
  server.on('exit', (c) => reject(new Error(`server exited ${c}`)));
});

const req = { prompt: 'k=3;a=k;z=1;d=a;?d=', max_tokens: 4, temperature: 0, init_scale: 0, num_steps: 24,
  exit_criterion: 'latent-diff', exit_threshold: 0.05 };
const api = await (await fetch(base + '/v1/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(req) })).json();

const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 520 } });
  await page.goto(base + '/');
  check((await page.title()) === 'huginn serve', 'page title');
  await page.fill('#prompt', req.prompt);
  await page.fill('#steps', String(req.num_steps));
  await page.selectOption('#exit', req.exit_criterion);
  await page.fill('#thr', String(req.exit_threshold));
  await page.fill('#max', String(req.max_tokens));
  await page.fill('#temp', '0');
  await page.fill('#init', '0');
  await page.click('#go');
  await page.waitForSelector('#totals[data-done="1"]', { timeout: 30000 });
  const shown = await page.$$eval('#out .t', (els) => els.map((e) => ({ steps: Number(e.dataset.steps), text: e.textContent,
    bg: getComputedStyle(e).backgroundColor })));
  const ch = api.choices[0];
  check(JSON.stringify(shown.map((s) => s.steps)) === JSON.stringify(ch.steps),
    `iterations shown ${shown.map((s) => s.steps)} vs API ${ch.steps}`);
  check(shown.map((s) => s.text).join('') === ch.text, `text shown ${JSON.stringify(shown.map((s) => s.text).join(''))} vs API ${JSON.stringify(ch.text)}`);
  const distinct = new Set(ch.steps);
  check(new Set(shown.map((s) => s.bg)).size === distinct.size, 'one colour per iteration count');
  const totals = await page.textContent('#totals');
  check(totals.includes(`${ch.steps.length} tokens`) && /iterations\/token/.test(totals), `totals: ${totals}`);
  await page.screenshot({ path: path.join(TMP, 'page.png'), fullPage: true });
} finally {
  await browser.close();
}
server.kill('SIGTERM');
const code = await new Promise((r) => server.on('exit', r));
check(code === 0, `server exit ${code}`);
console.log(`serve page: ${checks} checks, ${failures} failed`);
process.exit(failures ? 1 : 0);
