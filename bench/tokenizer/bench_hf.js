#!/usr/bin/env node
// bench_hf.js — the peer of bench_tokenizer.c: Hugging Face tokenizers (npm tokenizers@0.23.2, the
// native Rust core through its node binding) encoding the same files, one string each, best of REPS,
// one thread (RAYON_NUM_THREADS=1 is set by run.sh). Writes each file's ids (uint32 LE) to OUT_DIR for
// bench_tokenizer to check against. Timing includes the binding's call overhead (one call per file).
// Usage: node bench_hf.js TOKENIZER.json REPS OUT_DIR FILE...
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, '..', '..', 'tests', 'oracle', 'node_modules', 'tokenizers'));
const [tokPath, repsArg, outDir, ...files] = process.argv.slice(2);
(async () => {
  const tok = Tokenizer.fromFile(tokPath);
  let best = 0, cold = 0, bytes = 0;
  for (const f of files) {
    const buf = fs.readFileSync(f);
    const text = buf.toString('utf8');
    let b = Infinity;
    for (let r = 0; r < parseInt(repsArg, 10); r++) {
      const t0 = process.hrtime.bigint();
      const enc = await tok.encode(text, null, { addSpecialTokens: false });
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r === 0) {
        cold += dt;
        fs.writeFileSync(path.join(outDir, path.basename(f) + '.ids'), Buffer.from(Uint32Array.from(enc.getIds()).buffer));
      }
      b = Math.min(b, dt);
    }
    best += b;
    bytes += buf.length;
  }
  console.log(`hf_MBps=${(bytes / best / 1e6).toFixed(2)} hf_cold_MBps=${(bytes / cold / 1e6).toFixed(2)} bytes=${bytes}`);
})();
