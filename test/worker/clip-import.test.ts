import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceAvailable, referencePython } from '../../bench/reference/run.js';
import { tokenizerFromVocabGz } from '../../src/shared/clip/tokenizer-loader.js';
import type { CvaeError } from '../../src/shared/errors.js';
import { importClipPackage } from '../../src/worker/clip/import.js';
import { CLIP_VOCAB_PATH, openClipPackage } from '../../src/worker/clip/local-encoder.js';
import { fileRangeReader, httpRangeReader } from '../../src/worker/clip/range-reader.js';
import { openSafetensors } from '../../src/worker/clip/safetensors.js';
import { buildClipTextModel, CLIP_TEXT_CONFIGS, readClipTextWeights } from '../../src/worker/clip/text-graph.js';
import { cvae } from '../helpers/cvae-cli.js';
import { type StTensor, writeSafetensors } from '../helpers/safetensors.js';

const root = mkdtempSync(join(tmpdir(), 'clip-import-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array) => {
  const path = join(root, name);
  writeFileSync(path, bytes);
  return path;
};
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: CvaeError) => `${e.code}: ${e.message}`,
  );

// The generated tiny CLIP graph's weights (our names, [in, out] matrices) are the ground truth;
// the checkpoints below hold them as Hugging Face's and OpenAI's modules store them.
const tiny = CLIP_TEXT_CONFIGS.tiny;
const original = readClipTextWeights(buildClipTextModel(tiny, { seed: 7 })).weights;
const W = tiny.width;
const w = (name: string) => original.get(name) as Float32Array;
const t = (m: Float32Array, rows: number, cols: number) => {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c] as number;
  return out;
};
const concat = (...parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
/** what a CLIPModel checkpoint holds besides the text tower */
const vision: StTensor[] = [
  { name: 'logit_scale', shape: [], values: new Float32Array([4.6]) },
  { name: 'vision_model.embeddings.patch_embedding.weight', shape: [256, 1024], values: new Float32Array(256 * 1024) },
];

function huggingFace(dtype: StTensor['dtype'] = 'F32'): StTensor[] {
  const p = 'text_model.';
  const out: StTensor[] = [
    { name: `${p}embeddings.position_ids`, shape: [1, 77], values: new BigInt64Array(77), dtype: 'I64' },
    { name: `${p}embeddings.token_embedding.weight`, shape: [tiny.vocab, W], values: w('token_embedding') },
    { name: `${p}embeddings.position_embedding.weight`, shape: [77, W], values: w('positional_embedding') },
  ];
  for (let l = 0; l < tiny.layers; l++) {
    const b = `${p}encoder.layers.${l}.`;
    const o = `layer${l}.`;
    const lin = (theirs: string, ours: string, inDim: number, outDim: number) =>
      out.push(
        { name: `${b}${theirs}.weight`, shape: [outDim, inDim], values: t(w(`${o}${ours}.weight`), inDim, outDim) },
        { name: `${b}${theirs}.bias`, shape: [outDim], values: w(`${o}${ours}.bias`) },
      );
    const norm = (theirs: string, ours: string) =>
      out.push(
        { name: `${b}${theirs}.weight`, shape: [W], values: w(`${o}${ours}.weight`) },
        { name: `${b}${theirs}.bias`, shape: [W], values: w(`${o}${ours}.bias`) },
      );
    norm('layer_norm1', 'ln_1');
    for (const x of ['q', 'k', 'v']) lin(`self_attn.${x}_proj`, `attn.${x}`, W, W);
    lin('self_attn.out_proj', 'attn.out_proj', W, W);
    norm('layer_norm2', 'ln_2');
    lin('mlp.fc1', 'mlp.c_fc', W, 4 * W);
    lin('mlp.fc2', 'mlp.c_proj', 4 * W, W);
  }
  out.push(
    { name: `${p}final_layer_norm.weight`, shape: [W], values: w('ln_final.weight') },
    { name: `${p}final_layer_norm.bias`, shape: [W], values: w('ln_final.bias') },
    { name: 'text_projection.weight', shape: [tiny.embedDim, W], values: t(w('text_projection'), W, tiny.embedDim) },
  );
  // safetensors sorts by name: the text tower sits between logit_scale and vision_model
  return [vision[0] as StTensor, ...out.map((x) => (x.dtype ? x : { ...x, dtype })), vision[1] as StTensor];
}

function openAi(): StTensor[] {
  const out: StTensor[] = [
    { name: 'token_embedding.weight', shape: [tiny.vocab, W], values: w('token_embedding') },
    { name: 'positional_embedding', shape: [77, W], values: w('positional_embedding') },
  ];
  for (let l = 0; l < tiny.layers; l++) {
    const b = `transformer.resblocks.${l}.`;
    const o = `layer${l}.`;
    const tw = (ours: string, inDim: number, outDim: number) => t(w(`${o}${ours}.weight`), inDim, outDim);
    out.push(
      { name: `${b}ln_1.weight`, shape: [W], values: w(`${o}ln_1.weight`) },
      { name: `${b}ln_1.bias`, shape: [W], values: w(`${o}ln_1.bias`) },
      {
        name: `${b}attn.in_proj_weight`,
        shape: [3 * W, W],
        values: concat(tw('attn.q', W, W), tw('attn.k', W, W), tw('attn.v', W, W)),
      },
      {
        name: `${b}attn.in_proj_bias`,
        shape: [3 * W],
        values: concat(w(`${o}attn.q.bias`), w(`${o}attn.k.bias`), w(`${o}attn.v.bias`)),
      },
      { name: `${b}attn.out_proj.weight`, shape: [W, W], values: tw('attn.out_proj', W, W) },
      { name: `${b}attn.out_proj.bias`, shape: [W], values: w(`${o}attn.out_proj.bias`) },
      { name: `${b}ln_2.weight`, shape: [W], values: w(`${o}ln_2.weight`) },
      { name: `${b}ln_2.bias`, shape: [W], values: w(`${o}ln_2.bias`) },
      { name: `${b}mlp.c_fc.weight`, shape: [4 * W, W], values: tw('mlp.c_fc', W, 4 * W) },
      { name: `${b}mlp.c_fc.bias`, shape: [4 * W], values: w(`${o}mlp.c_fc.bias`) },
      { name: `${b}mlp.c_proj.weight`, shape: [W, 4 * W], values: tw('mlp.c_proj', 4 * W, W) },
      { name: `${b}mlp.c_proj.bias`, shape: [W], values: w(`${o}mlp.c_proj.bias`) },
    );
  }
  out.push(
    { name: 'ln_final.weight', shape: [W], values: w('ln_final.weight') },
    { name: 'ln_final.bias', shape: [W], values: w('ln_final.bias') },
    { name: 'text_projection', shape: [W, tiny.embedDim], values: w('text_projection') },
  );
  return out;
}

const CAPTIONS = ['A large red circle at the top left on a black background.', 'green', 'a photo of a dog'];
async function embeddings(dir: string): Promise<Float32Array> {
  const { encoder } = await openClipPackage(dir);
  return encoder.embedSentences(CAPTIONS);
}
const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);

let generatedDir: string;
let reference: Float32Array;
beforeAll(async () => {
  generatedDir = join(root, 'generated');
  const { generateClipPackage } = await import('../../src/worker/clip/local-encoder.js');
  await generateClipPackage({ config: 'tiny', seed: 7, vocab: CLIP_VOCAB_PATH, out: generatedDir, compact: false });
  reference = await embeddings(generatedDir);
}, 60_000);

describe('safetensors', () => {
  it('reads F32, F16 and BF16 tensors as float32, and only the byte range of those asked for', async () => {
    const values = new Float32Array([0.5, -2, 1.25, 65504]); // all exact in F16; BF16 keeps 8 mantissa bits
    const path = file(
      'dtypes.safetensors',
      writeSafetensors([
        { name: 'a', shape: [2, 2], values },
        { name: 'b', shape: [4], values, dtype: 'F16' },
        { name: 'c', shape: [4], values, dtype: 'BF16' },
        { name: 'd', shape: [1], values: new BigInt64Array([3n]), dtype: 'I64' },
      ]),
    );
    const reads: [number, number][] = [];
    const source = await fileRangeReader(path);
    const st = await openSafetensors({
      ...source,
      read(o, n, cb) {
        reads.push([o, n]);
        return source.read(o, n, cb);
      },
    });
    expect([...st.entries.keys()]).toEqual(['a', 'b', 'c', 'd']);
    expect(st.entries.get('a')?.shape).toEqual([2, 2]);
    reads.length = 0;
    const got = await st.read(['b', 'c']);
    expect([...(got.get('b') as Float32Array)]).toEqual([0.5, -2, 1.25, 65504]);
    expect([...(got.get('c') as Float32Array)]).toEqual([0.5, -2, 1.25, 65280]); // 65504 cut to bf16 by the writer
    expect(reads).toEqual([[(st.entries.get('b') as { begin: number }).begin, 16]]);
    expect(await code(st.read(['d']))).toMatch(/clip_invalid: .*tensor d is I64; only F32, F16 and BF16/);
    expect(await code(st.read(['nope']))).toMatch(/clip_invalid: .* has no tensor nope/);
  });

  it('refuses a file that is not safetensors with a clear error, whatever its header claims', async () => {
    const good = writeSafetensors([{ name: 'a', shape: [2], values: new Float32Array(2) }]);
    const open = async (bytes: Uint8Array, name: string) =>
      code(openSafetensors(await fileRangeReader(file(name, bytes))));
    expect(await open(new Uint8Array(4), 'short')).toMatch(/clip_invalid: .*not a safetensors file: 4 bytes/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(await open(huge, 'huge')).toMatch(/clip_invalid: .*header length 1099511627776/);
    const notJson = good.slice();
    notJson[8] = 0x7a;
    expect(await open(notJson, 'not-json')).toMatch(/clip_invalid: .*header is not JSON/);
    const past = writeSafetensors([{ name: 'a', shape: [2], values: new Float32Array(2) }]).slice(0, -4);
    expect(await open(past, 'truncated')).toMatch(/clip_invalid: .*tensor a has a malformed entry/);
    const lying = new TextEncoder().encode(
      JSON.stringify({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }).padEnd(48),
    );
    const wrongCount = new Uint8Array(8 + lying.length + 8);
    new DataView(wrongCount.buffer).setBigUint64(0, BigInt(lying.length), true);
    wrongCount.set(lying, 8);
    const st = await openSafetensors(await fileRangeReader(file('wrong-count', wrongCount)));
    expect(await code(st.read(['a']))).toMatch(/clip_invalid: .*tensor a holds 8 bytes for 3 F32 values/);
    expect(await code(fileRangeReader(join(root, 'missing.safetensors')))).toMatch(/clip_invalid: .*does not exist/);
  });
});

describe('cvae clip import', () => {
  it("Hugging Face's layout: the same weights as the graph they came from, the same embeddings, and the compact form", async () => {
    const out = join(root, 'hf');
    const { manifest, layout, config } = await importClipPackage({
      from: file('hf.safetensors', writeSafetensors(huggingFace())),
      out,
      vocab: CLIP_VOCAB_PATH,
      heads: tiny.heads,
    });
    expect(layout).toBe('huggingface');
    expect(config).toEqual(tiny);
    const imported = readClipTextWeights(readFileSync(join(out, 'text-encoder.onnx'))).weights;
    expect([...imported.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [name, values] of original) expect(imported.get(name), name).toEqual(values);
    expect(maxDiff(await embeddings(out), reference)).toBe(0);
    expect(manifest.version).toMatch(/^import-[0-9a-f]{12}$/);
    expect(manifest.command).toMatch(/^cvae clip import --from .*hf\.safetensors --heads 2$/);
    expect(manifest.files.map((f) => f.role)).toContain('text-encoder-compact');
  }, 60_000);

  it("OpenAI's layout (in_proj split into q, k, v), and float16 checkpoints", async () => {
    const oa = await importClipPackage({
      from: file('openai.safetensors', writeSafetensors(openAi())),
      out: join(root, 'openai'),
      vocab: CLIP_VOCAB_PATH,
      heads: tiny.heads,
      compact: false,
    });
    expect(oa.layout).toBe('openai');
    expect(maxDiff(await embeddings(join(root, 'openai')), reference)).toBe(0);
    // the same weights give the same graph, and so the same version
    const again = await importClipPackage({
      from: join(root, 'openai.safetensors'),
      out: join(root, 'openai-again'),
      vocab: CLIP_VOCAB_PATH,
      heads: tiny.heads,
      compact: false,
    });
    expect(again.manifest.version).toBe(oa.manifest.version);

    await importClipPackage({
      from: file('hf16.safetensors', writeSafetensors(huggingFace('F16'))),
      out: join(root, 'hf16'),
      vocab: CLIP_VOCAB_PATH,
      heads: tiny.heads,
      compact: false,
    });
    const half = await embeddings(join(root, 'hf16'));
    expect(maxDiff(half, reference)).toBeGreaterThan(0);
    expect(maxDiff(half, reference)).toBeLessThan(0.05);
  }, 60_000);

  it('finds the tower under a prefix on every name (a wrapped model saved whole)', async () => {
    const wrapped = huggingFace().map((x) => ({ ...x, name: `clip.${x.name}` }));
    const { layout } = await importClipPackage({
      from: file('wrapped.safetensors', writeSafetensors(wrapped)),
      out: join(root, 'wrapped'),
      vocab: CLIP_VOCAB_PATH,
      heads: tiny.heads,
      compact: false,
    });
    expect(layout).toBe('huggingface');
    expect(maxDiff(await embeddings(join(root, 'wrapped')), reference)).toBe(0);
  }, 60_000);

  it('names what is missing or wrong in a checkpoint', async () => {
    const tensors = huggingFace();
    const noLayerNorm = tensors.filter((x) => x.name !== 'text_model.encoder.layers.1.mlp.fc2.bias');
    const imp = (name: string, list: StTensor[], heads = tiny.heads) =>
      code(
        importClipPackage({
          from: file(name, writeSafetensors(list)),
          out: join(root, name),
          vocab: CLIP_VOCAB_PATH,
          heads,
        }),
      );
    expect(await imp('missing', noLayerNorm)).toMatch(
      /clip_invalid: .* has no tensor text_model\.encoder\.layers\.1\.mlp\.fc2\.bias \(a huggingface CLIP checkpoint has one\)/,
    );
    expect(await imp('vision-only', vision)).toMatch(/clip_invalid: .*holds no CLIP text tower/);
    expect(await imp('bad-heads', tensors, 5)).toMatch(
      /clip_invalid: .*width 32 with 5 heads is not a CLIP text tower/,
    );
  });
});

describe('the cvae clip import command', () => {
  it('prints the package it wrote; a bad file exits non-zero with the reason', async () => {
    const from = file('cli.safetensors', writeSafetensors(openAi()));
    const out = join(root, 'cli');
    const ok = await cvae('clip', 'import', '--from', from, '--heads', '2', '--out', out, '--no-compact');
    expect(ok.code, ok.stderr).toBe(0);
    const printed = JSON.parse(ok.stdout) as { out: string; layout: string; version: string; compact: boolean };
    expect(printed).toMatchObject({ out, layout: 'openai', compact: false });
    expect(printed.version).toMatch(/^import-/);
    expect(ok.stderr).toMatch(/CLIP text tower in openai names \(width 32, 2 layers, 2 heads, 512-d\)/);
    const bad = await cvae('clip', 'import', '--from', file('cli-bad.safetensors', new Uint8Array(3)), '--out', out);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/not a safetensors file: 3 bytes/);
  }, 60_000);
});

describe('cvae clip import from a URL', () => {
  let bytes: Uint8Array;
  let served = 0;
  let breakNext = false;
  let ranges = true;
  let server: Server;
  let url: string;
  beforeAll(async () => {
    bytes = writeSafetensors(huggingFace());
    server = createServer((req, res) => {
      const m = req.headers.range?.match(/^bytes=(\d+)-(\d+)$/);
      if (!ranges || !m) {
        served += bytes.length;
        return void res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      }
      const from = Number(m[1]);
      const to = Math.min(Number(m[2]), bytes.length - 1);
      const body = bytes.subarray(from, to + 1);
      res.writeHead(206, { 'content-range': `bytes ${from}-${to}/${bytes.length}`, 'content-length': body.length });
      if (breakNext && body.length > 1024) {
        // the connection drops half-way: the reader asks again for the rest
        breakNext = false;
        served += 512;
        res.write(body.subarray(0, 512), () => res.destroy());
        return;
      }
      served += body.length;
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.safetensors`;
  });
  afterAll(() => server.close());

  it('fetches only the text tower, and resumes a range that broke off', async () => {
    served = 0;
    breakNext = true;
    const progress: number[] = [];
    const { layout } = await importClipPackage({
      from: url,
      out: join(root, 'remote'),
      vocab: CLIP_VOCAB_PATH,
      heads: tiny.heads,
      compact: false,
      onBytes: (received) => progress.push(received),
    });
    expect(layout).toBe('huggingface');
    expect(maxDiff(await embeddings(join(root, 'remote')), reference)).toBe(0);
    expect(breakNext).toBe(false); // the break happened
    // the vision tensor (1 MiB) was never sent
    expect(served).toBeLessThan(bytes.length - 1024 * 1024 + 4096);
    expect(progress.at(-1)).toBeGreaterThan(progress[0] as number);
  }, 60_000);

  it('says so when the server ignores Range requests', async () => {
    ranges = false;
    try {
      expect(await code(httpRangeReader(url))).toMatch(/download_failed: .*does not answer HTTP Range requests/);
    } finally {
      ranges = true;
    }
  });
});

// Against torch itself: OpenAI's model.py modules (nn.MultiheadAttention's packed in_proj, Linear
// [out, in]), random weights, saved as safetensors and imported. Needs python3-torch, which CI
// installs (there the test never skips).
const torch = referenceAvailable();
describe.skipIf(torch !== true && !process.env.CI)(
  `against PyTorch (${torch === true ? 'torch found' : torch})`,
  () => {
    it("the imported graph embeds as OpenAI's text tower does in torch", async () => {
      const tokenizer = await tokenizerFromVocabGz(new Uint8Array(readFileSync(CLIP_VOCAB_PATH)));
      const ids = CAPTIONS.map((c) => {
        const row = new Array(77).fill(0);
        tokenizer.encodeForModel(c).ids.forEach((id, i) => {
          row[i] = id;
        });
        return row;
      });
      const out = join(root, 'torch.safetensors');
      const config = { width: 64, layers: 2, heads: 4, vocab: tiny.vocab, context: 77, embed: 512, seed: 3, ids, out };
      const run = spawnSync(referencePython() ?? 'python3', [join(__dirname, '../fixtures/clip-text-reference.py')], {
        input: JSON.stringify(config),
        encoding: 'utf8',
        maxBuffer: 1 << 24,
        env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
      });
      expect(run.status, run.stderr).toBe(0);
      const expected = Float32Array.from((JSON.parse(run.stdout) as { embeddings: number[][] }).embeddings.flat());
      const imported = await importClipPackage({
        from: out,
        out: join(root, 'torch'),
        vocab: CLIP_VOCAB_PATH,
        heads: 4,
        compact: false,
      });
      expect(imported.config).toEqual({
        vocab: tiny.vocab,
        context: 77,
        width: 64,
        layers: 2,
        heads: 4,
        embedDim: 512,
      });
      const got = await embeddings(join(root, 'torch'));
      const scale = expected.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(scale).toBeGreaterThan(0.1);
      expect(maxDiff(got, expected) / scale).toBeLessThan(1e-4);
    }, 120_000);
  },
);
