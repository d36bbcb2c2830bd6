/*
 * serve_page.c — the page `huginn serve` answers GET / with: HTML, CSS and JavaScript in one string,
 * nothing loaded from elsewhere, no build step. It sends a prompt (or a chat message) to the streaming
 * API with the chosen depth, exit criterion and threshold, and colours every token of the reply by
 * the core iterations it used as it arrives: the per-token compute of a recurrent-depth model, live.
 */
#include "serve.h"

#include <stdlib.h>
#include <string.h>

/* In pieces: one string literal may not exceed 4095 bytes in ISO C; srv_page() joins them once. */
static const char *const k_parts[] = {
    "<!doctype html>\n",
    "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>huginn serve</title>\n",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    "<style>\n",
    "body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}\n",
    "main{max-width:860px;margin:0 auto;padding:18px}\n",
    "h1{font-size:20px;margin:0 0 4px}p.sub{margin:0 0 14px;color:#666}\n",
    "textarea{width:100%;box-sizing:border-box;font:14px/1.4 ui-monospace,monospace;padding:8px;min-height:80px}\n",
    ".row{display:flex;flex-wrap:wrap;gap:12px;align-items:end;margin:10px 0}\n",
    "label{display:flex;flex-direction:column;font-size:12px;color:#555}\n",
    "input,select{font-size:14px;padding:4px}input[type=number]{width:80px}\n",
    "button{font-size:15px;padding:6px 16px;cursor:pointer}\n",
    "#out{background:#fff;border:1px solid #ddd;border-radius:4px;padding:10px;min-height:60px;\n",
    "     font:15px/1.9 ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}\n",
    "#out .p{color:#777}#out .t{border-radius:3px;padding:1px 0}\n",
    "#legend{display:flex;align-items:center;gap:8px;font-size:12px;color:#555;margin:8px 0}\n",
    "#bar{width:220px;height:12px;border:1px solid #ccc}\n",
    "#totals{font-size:13px;color:#333;margin-top:6px}#err{color:#b00;font-size:13px}\n",
    "</style></head><body><main>\n",
    "<h1>huginn serve</h1>\n",
    "<p class=\"sub\">A recurrent-depth model: each token is computed by iterating the core block; every token\n",
    "below is coloured by the iterations it used.</p>\n",
    "<textarea id=\"prompt\" placeholder=\"prompt\">k=3;a=k;z=1;d=a;?d=</textarea>\n",
    "<div class=\"row\">\n",
    " <label>mode<select id=\"mode\"><option value=\"completion\">completion</option>",
    "<option value=\"chat\">chat</option></select></label>\n",
    " <label>depth (num_steps)<input id=\"steps\" type=\"number\" min=\"0\" value=\"16\"></label>\n",
    " <label>exit criterion<select id=\"exit\">",
    "<option>none</option><option>entropy-diff</option><option>latent-diff</option><option>kl</option>",
    "<option>minp-kl</option><option>argmax-stability</option><option>cosine</option></select></label>\n",
    " <label>threshold<input id=\"thr\" value=\"auto\" size=\"7\"></label>\n",
    " <label>max tokens<input id=\"max\" type=\"number\" min=\"1\" value=\"16\"></label>\n",
    " <label>temperature<input id=\"temp\" type=\"number\" min=\"0\" step=\"0.1\" value=\"0\"></label>\n",
    " <label>init scale<input id=\"init\" type=\"number\" min=\"0\" step=\"0.1\" value=\"0\"></label>\n",
    " <button id=\"go\">Generate</button>\n",
    "</div>\n",
    "<div id=\"legend\"><span>iterations per token:</span><span id=\"lo\">0</span><canvas id=\"bar\" width=\"220\" ",
    "height=\"12\"></canvas><span id=\"hi\">16</span></div>\n",
    "<div id=\"out\"></div>\n",
    "<div id=\"totals\"></div><div id=\"err\"></div>\n",
    "</main>\n",
    "<script>\n",
    "const $ = (id) => document.getElementById(id);\n",
    "function colour(steps, max) {\n",
    "  const x = max > 0 ? Math.min(1, steps / max) : 0;\n",
    "  const hue = 220 - 220 * x;  /* blue: few iterations ... red: many */\n",
    "  return `hsl(${hue}, 75%, ${88 - 18 * x}%)`;\n",
    "}\n",
    "function legend(max) {\n",
    "  const c = $('bar').getContext('2d');\n",
    "  for (let i = 0; i < 220; i++) { c.fillStyle = colour(i / 219 * max, max); c.fillRect(i, 0, 1, 12); }\n",
    "  $('lo').textContent = '0'; $('hi').textContent = String(max);\n",
    "}\n",
    "async function run() {\n",
    "  const out = $('out'), err = $('err'), totals = $('totals');\n",
    "  out.textContent = ''; err.textContent = ''; totals.textContent = '';\n",
    "  const steps = parseInt($('steps').value, 10), chat = $('mode').value === 'chat';\n",
    "  legend(steps);\n",
    "  const body = { max_tokens: parseInt($('max').value, 10), temperature: parseFloat($('temp').value),\n",
    "    num_steps: steps, exit_criterion: $('exit').value, init_scale: parseFloat($('init').value), stream: true };\n",
    "  const thr = $('thr').value.trim();\n",
    "  body.exit_threshold = thr === 'auto' || thr === '' ? 'auto' : parseFloat(thr);\n",
    "  if (chat) body.messages = [{ role: 'user', content: $('prompt').value }];\n",
    "  else { body.prompt = $('prompt').value; const p = document.createElement('span');\n",
    "    p.className = 'p'; p.textContent = $('prompt').value; out.appendChild(p); }\n",
    "  const t0 = performance.now();\n",
    "  let n = 0, iters = 0, tFirst = 0;\n",
    "  const res = await fetch(chat ? '/v1/chat/completions' : '/v1/completions', {\n",
    "    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });\n",
    "  if (!res.ok) { const e = await res.json().catch(() => ({})); err.textContent =\n",
    "    `${res.status}: ${(e.error && e.error.message) || res.statusText}`; return; }\n",
    "  const reader = res.body.getReader(), dec = new TextDecoder();\n",
    "  let buf = '';\n",
    "  for (;;) {\n",
    "    const { value, done } = await reader.read();\n",
    "    if (done) break;\n",
    "    buf += dec.decode(value, { stream: true });\n",
    "    let i;\n",
    "    while ((i = buf.indexOf('\\n\\n')) >= 0) {\n",
    "      const ev = buf.slice(0, i); buf = buf.slice(i + 2);\n",
    "      if (!ev.startsWith('data: ')) continue;\n",
    "      const data = ev.slice(6);\n",
    "      if (data === '[DONE]') continue;\n",
    "      const j = JSON.parse(data);\n",
    "      if (j.error) { err.textContent = j.error.message; continue; }\n",
    "      const c = j.choices[0];\n",
    "      const text = chat ? (c.delta && c.delta.content) || '' : c.text || '';\n",
    "      for (const s of c.steps) {\n",
    "        if (!tFirst) tFirst = performance.now();\n",
    "        const span = document.createElement('span');\n",
    "        span.className = 't'; span.textContent = text; span.dataset.steps = s;\n",
    "        span.title = `${s} iterations`; span.style.background = colour(s, steps);\n",
    "        out.appendChild(span); n++; iters += s;\n",
    "      }\n",
    "      if (c.steps.length === 0 && text) out.appendChild(document.createTextNode(text));\n",
    "    }\n",
    "    const dt = (performance.now() - (tFirst || t0)) / 1000;\n",
    "    totals.textContent = `${n} tokens, mean ${(n ? iters / n : 0).toFixed(2)} iterations/token, ` +\n",
    "      `${(n > 1 && dt > 0 ? (n - 1) / dt : 0).toFixed(1)} tokens/s`;\n",
    "  }\n",
    "  totals.dataset.done = '1';\n",
    "}\n",
    "$('go').addEventListener('click', () => run().catch((e) => { $('err').textContent = String(e); }));\n",
    "legend(16);\n",
    "</script></body></html>\n",
};

static char *g_page;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void join_parts(void) {
    size_t n = 0;
    for (size_t i = 0; i < sizeof k_parts / sizeof *k_parts; i++) n += strlen(k_parts[i]);
    g_page = malloc(n + 1);
    if (!g_page) return;
    g_page[0] = 0;
    for (size_t i = 0, at = 0; i < sizeof k_parts / sizeof *k_parts; i++) {
        const size_t l = strlen(k_parts[i]);
        memcpy(g_page + at, k_parts[i], l + 1);
        at += l;
    }
}

const char *srv_page(void) {
    pthread_once(&g_once, join_parts);
    return g_page ? g_page : "";
}
