// The JS + wasm forward inside local workerd (Miniflare), with either kernel: each request encodes
// 50 captions r times and is timed from outside (time stands still inside a request), minus an
// empty request. Run ../build.cjs and prep.ts first.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';

const here = new URL('.', import.meta.url);
const worker = `
import wasm from './int8-gemm.wasm';
import blob from './blob.bin';
import { makeEncoder, cosine } from './forward.mjs';
const encoders = {};
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const kernel = url.searchParams.get('k');
    const r = Number(url.searchParams.get('r'));
    encoders[kernel] ??= makeEncoder(new Uint8Array(blob), new WebAssembly.Instance(wasm, {}).exports, kernel);
    const enc = encoders[kernel];
    const single = enc.header.captions.map((c, i) => [c, i]).filter(([, i]) => !/[.!?]\\s+\\S/.test(enc.header.texts[i])).slice(0, 50);
    let cos = 0, min = 1;
    for (let k = 0; k < r; k++) for (const [c, i] of single) {
      const e = enc.encode(c);
      if (k === 0) { const x = cosine(e, enc.ref('ref_full').subarray(i * 512, (i + 1) * 512)); cos += x; min = Math.min(min, x); }
    }
    return new Response(JSON.stringify({ captions: single.length, tokens: single.reduce((a, [c]) => a + c.length, 0) / single.length, cosine: cos / single.length, min }));
  },
};`;
const mf = new Miniflare({
  modules: [
    { type: 'ESModule', path: 'worker.mjs', contents: worker },
    { type: 'ESModule', path: 'forward.mjs', contents: readFileSync(new URL('forward.mjs', here), 'utf8') },
    { type: 'CompiledWasm', path: 'int8-gemm.wasm', contents: readFileSync(new URL('../int8-gemm.wasm', here)) },
    { type: 'Data', path: 'blob.bin', contents: readFileSync(join(tmpdir(), 'cvae-js-forward.bin')) },
  ],
  compatibilityDate: '2025-01-01',
});
const call = async (k, r) => {
  const t = performance.now();
  const body = await (await mf.dispatchFetch(`http://x/?k=${k}&r=${r}`)).json();
  return { ms: performance.now() - t, ...body };
};
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const k of ['gemm_relaxed', 'gemm_i16']) await call(k, 1);
const times = { gemm_relaxed: [], gemm_i16: [], empty: [] };
let info = {};
for (let rep = 0; rep < 5; rep++) {
  for (const k of ['gemm_relaxed', 'gemm_i16']) {
    const o = await call(k, 2);
    times[k].push(o.ms);
    info[k] = o;
  }
  times.empty.push((await call('gemm_i16', 0)).ms);
}
for (const k of ['gemm_relaxed', 'gemm_i16']) {
  const o = info[k];
  console.log(`${k}: ${((median(times[k]) - median(times.empty)) / (2 * o.captions)).toFixed(1)} ms per caption (${o.captions} captions, ${o.tokens.toFixed(1)} tokens on average); cosine to the full graph mean ${o.cosine.toFixed(5)} min ${o.min.toFixed(5)}`);
}
await mf.dispose();
