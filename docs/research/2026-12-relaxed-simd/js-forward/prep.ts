// The input of the JS + wasm CLIP text forward (forward.mjs): the generated CLIP's weights (as npm
// start caches them in .cache/clip/random-full-s1) with 7-bit matrices [N][K] (+64) and a scale per
// output, token rows for 200 synthetic captions, and the references: those captions embedded by
// the full float32 graph and by the shipped compact graph (onnxruntime-node). Written to the
// system's temp folder. Usage: npx tsx docs/research/2026-12-relaxed-simd/js-forward/prep.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenizerFromVocabGz } from '../../../../src/shared/clip/tokenizer-loader.js';
import { readClipTextWeights } from '../../../../src/worker/clip/text-graph.js';
import { captions, randomScene } from '../../../../src/worker/data/synth-coco.js';
import { createRng } from '../../../../src/shared/random.js';
import { ModelCache } from '../../../../src/shared/generation/model-cache.js';
import { RegistryReader } from '../../../../src/shared/registry/reader.js';
import { nodeRuntime } from '../../../../src/worker/onnx/runtime.js';
import { folderSource } from '../../../../src/worker/registry/folder-source.js';
const dir = '.cache/clip/random-full-s1';
const { weights, config } = readClipTextWeights(new Uint8Array(readFileSync(`${dir}/text-encoder.onnx`)));
const tok = await tokenizerFromVocabGz(new Uint8Array(readFileSync(`${dir}/bpe_simple_vocab_16e6.txt.gz`)));
const W = config.width, L = config.layers;
const parts: { name: string; data: Uint8Array; type: string; dims: number[] }[] = [];
const f32 = (name: string, a: Float32Array, dims: number[]) => parts.push({ name, data: new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)), type: 'f32', dims });
// [in, out] float → [out][in] 7-bit + 64, scale per out
function q7(name: string, mats: Float32Array[], inDim: number, outs: number[]) {
  const N = outs.reduce((a, b) => a + b, 0);
  const bytes = new Uint8Array(N * inDim), scales = new Float32Array(N);
  let n0 = 0;
  mats.forEach((w, j) => {
    const out = outs[j]!;
    for (let o = 0; o < out; o++) {
      let m = 0;
      for (let i = 0; i < inDim; i++) m = Math.max(m, Math.abs(w[i * out + o]!));
      const s = m / 63 || 1;
      scales[n0 + o] = s;
      for (let i = 0; i < inDim; i++) bytes[(n0 + o) * inDim + i] = Math.round(w[i * out + o]! / s) + 64;
    }
    n0 += out;
  });
  parts.push({ name: `${name}.w7`, data: bytes, type: 'u8', dims: [N, inDim] });
  f32(`${name}.scale`, scales, [N]);
}
const get = (n: string) => weights.get(n)!;
f32('positional_embedding', get('positional_embedding'), [config.context, W]);
f32('ln_final.weight', get('ln_final.weight'), [W]);
f32('ln_final.bias', get('ln_final.bias'), [W]);
f32('text_projection', get('text_projection'), [W, config.embedDim]);
for (let l = 0; l < L; l++) {
  const p = `layer${l}`;
  for (const n of ['ln_1.weight', 'ln_1.bias', 'ln_2.weight', 'ln_2.bias']) f32(`${p}.${n}`, get(`${p}.${n}`), [W]);
  q7(`${p}.q`, [get(`${p}.attn.q.weight`)], W, [W]);
  q7(`${p}.kv`, [get(`${p}.attn.k.weight`), get(`${p}.attn.v.weight`)], W, [W, W]);
  f32(`${p}.q.bias`, get(`${p}.attn.q.bias`), [W]);
  const kvb = new Float32Array(2 * W); kvb.set(get(`${p}.attn.k.bias`)); kvb.set(get(`${p}.attn.v.bias`), W);
  f32(`${p}.kv.bias`, kvb, [2 * W]);
  q7(`${p}.out`, [get(`${p}.attn.out_proj.weight`)], W, [W]);
  f32(`${p}.out.bias`, get(`${p}.attn.out_proj.bias`), [W]);
  q7(`${p}.fc`, [get(`${p}.mlp.c_fc.weight`)], W, [4 * W]);
  f32(`${p}.fc.bias`, get(`${p}.mlp.c_fc.bias`), [4 * W]);
  q7(`${p}.proj`, [get(`${p}.mlp.c_proj.weight`)], 4 * W, [W]);
  f32(`${p}.proj.bias`, get(`${p}.mlp.c_proj.bias`), [W]);
}
// captions: 200 synthetic + calibration-like; token rows for the ids they use
const rng = createRng(3);
const texts: string[] = ['A large red circle at the top left. A small blue square below it.', 'a photo of a cat sitting on a wooden table next to a laptop computer'];
while (texts.length < 200) texts.push(...captions(randomScene(rng), rng));
texts.length = 200;
const ids = texts.map((t) => tok.encodeForModel(t).ids);
const used = [...new Set(ids.flat())];
const table = get('token_embedding');
const rows = new Float32Array(used.length * W);
used.forEach((id, r) => rows.set(table.subarray(id * W, (id + 1) * W), r * W));
f32('token_rows', rows, [used.length, W]);
// references: the full graph and ORT's compact graph (onnxruntime-node)
const reader = new RegistryReader(await folderSource('.cache/clip'));
const full = await new ModelCache(reader, nodeRuntime).textEncoder('clip-vit-b32-text');
const compact = await new ModelCache(reader, nodeRuntime, { textEncoder: { form: 'compact', maxBytes: 2 ** 30 } }).textEncoder('clip-vit-b32-text');
f32('ref_full', await full.embedMany(texts), [texts.length, 512]);
f32('ref_compact', await compact.embedMany(texts), [texts.length, 512]);
let off = 0;
const header = { config, tokenIds: used, captions: ids, texts, tensors: {} as Record<string, { offset: number; bytes: number; type: string; dims: number[] }> };
for (const p of parts) { off = (off + 15) & ~15; header.tensors[p.name] = { offset: off, bytes: p.data.length, type: p.type, dims: p.dims }; off += p.data.length; }
const data = new Uint8Array(off);
for (const p of parts) data.set(p.data, header.tensors[p.name]!.offset);
const hj = new TextEncoder().encode(JSON.stringify(header));
const out = new Uint8Array(8 + hj.length + data.length);
new DataView(out.buffer).setUint32(0, hj.length, true);
out.set(hj, 8); out.set(data, 8 + hj.length);
export const BLOB = join(tmpdir(), 'cvae-js-forward.bin');
writeFileSync(BLOB, out);
console.log(`${BLOB}: ${(out.length / 2 ** 20).toFixed(1)} MiB, ${used.length} token rows`);
