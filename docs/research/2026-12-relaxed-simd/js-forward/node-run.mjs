// The JS + wasm forward against the full graph and the shipped compact graph, and its time per
// caption with the int16 kernel (Node 20 runs the relaxed one wrongly; the flag only lets the
// module compile): node --experimental-wasm-relaxed-simd docs/research/2026-12-relaxed-simd/js-forward/node-run.mjs
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEncoder, cosine } from './forward.mjs';
const blob = new Uint8Array(readFileSync(join(tmpdir(), 'cvae-js-forward.bin')));
const wasmBytes = readFileSync(new URL('../int8-gemm.wasm', import.meta.url));
const inst = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), {});
const enc = makeEncoder(blob, inst.exports, 'gemm_i16');
const full = enc.ref('ref_full'), comp = enc.ref('ref_compact');
const n = enc.header.captions.length;
const cf = [], cc = [], ours = [];
for (let i = 0; i < n; i++) {
  if (/[.!?]\s+\S/.test(enc.header.texts[i])) continue; // several sentences: the reference averages them
  const e = enc.encode(enc.header.captions[i]);
  cf.push(cosine(e, full.subarray(i * 512, (i + 1) * 512)));
  cc.push(cosine(comp.subarray(i * 512, (i + 1) * 512), full.subarray(i * 512, (i + 1) * 512)));
}
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
console.log(`ours vs full: mean ${mean(cf).toFixed(5)} min ${Math.min(...cf).toFixed(5)}; ORT compact vs full: mean ${mean(cc).toFixed(5)} min ${Math.min(...cc).toFixed(5)}`);
const lens = enc.header.captions.map((c) => c.length); console.log('lengths', Math.min(...lens), Math.max(...lens), mean(lens).toFixed(1));
// time: captions of ~16 tokens
const sel = enc.header.captions.filter((_, i) => !/[.!?]\s+\S/.test(enc.header.texts[i])).slice(0, 150);
console.log('sel', sel.length, 'mean tokens', mean(sel.map((c) => c.length)).toFixed(1));
for (let r = 0; r < 3; r++) {
  const t0 = performance.now(); let k = 0;
  for (const c of sel.slice(r * 50, r * 50 + 50)) { enc.encode(c); k++; }
  console.log(`${((performance.now() - t0) / k).toFixed(2)} ms per caption (i16 kernel, Node)`);
}
// split: kernel alone
{
  const ex = inst.exports; let kt = 0;
  const wrapped = { memory: ex.memory, gemm_i16: (...a) => { const t0 = performance.now(); ex.gemm_i16(...a); kt += performance.now() - t0; }, nop: () => {} };
  const e2 = makeEncoder(blob, wrapped, 'gemm_i16');
  const t0 = performance.now();
  for (const c of sel) e2.encode(c);
  const all = (performance.now() - t0) / sel.length;
  console.log(`per caption ${all.toFixed(1)} ms, kernel ${(kt / sel.length).toFixed(1)} ms`);
}
