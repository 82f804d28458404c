import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCache } from '../../src/shared/generation/model-cache.js';
import type { Manifest } from '../../src/shared/manifest.js';
import { cosine } from '../../src/shared/metrics/cosine.js';
import { createRng } from '../../src/shared/random.js';
import { RegistryReader } from '../../src/shared/registry/reader.js';
import type { ClipTextEncoder } from '../../src/shared/text/text-encoder.js';
import { addCompactEncoder } from '../../src/worker/clip/compact.js';
import { CLIP_VOCAB_PATH, generateClipPackage } from '../../src/worker/clip/local-encoder.js';
import { readClipTextWeights } from '../../src/worker/clip/text-graph.js';
import { captions, randomScene } from '../../src/worker/data/synth-coco.js';
import { nodeRuntime } from '../../src/worker/onnx/runtime.js';
import { folderSource } from '../../src/worker/registry/folder-source.js';
import { cvae } from '../helpers/cvae-cli.js';

// The edge's compact text encoder against the full graph it is made from (tiny configuration:
// the same code at a width tests can afford; the full size is measured by npm run bench:edge).
const GOLDEN = JSON.parse(readFileSync(join(__dirname, '../fixtures/clip/tokenizer-golden.json'), 'utf8')) as {
  cases: { text: string }[];
};
let root: string;
let manifest: Manifest;
let full: ClipTextEncoder;
let compact: ClipTextEncoder;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'compact-clip-'));
  manifest = await generateClipPackage({ config: 'tiny', seed: 3, vocab: CLIP_VOCAB_PATH, out: join(root, 'clip') });
  const reader = new RegistryReader(await folderSource(root));
  const ref = `${manifest.id}@${manifest.version}`;
  full = await new ModelCache(reader, nodeRuntime).textEncoder(ref);
  compact = await new ModelCache(reader, nodeRuntime, {
    textEncoder: { form: 'compact', maxBytes: 2 ** 30 },
  }).textEncoder(ref);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('the compact text encoder', () => {
  it('is added beside the full graph, whose bytes (and the sha256 models cite) stay', async () => {
    const roles = manifest.files.map((f) => f.role);
    expect(roles).toEqual(
      expect.arrayContaining([
        'text-encoder',
        'text-encoder-compact',
        'weights',
        'token-embeddings',
        'token-embeddings-index',
      ]),
    );
    const before = manifest.files.find((f) => f.role === 'text-encoder')?.sha256;
    const again = await addCompactEncoder(join(root, 'clip'));
    expect(again.manifest.files.find((f) => f.role === 'text-encoder')?.sha256).toBe(before);
    expect(again.manifest.files).toHaveLength(manifest.files.length); // replaced, not added twice
    const table = manifest.files.find((f) => f.role === 'token-embeddings');
    expect(table?.table).toEqual({ rows: 49408, width: 32, shardRows: 64 });
    expect(table?.bytes).toBe(49408 * 32 * 2);
  });

  it('embeds the golden captions and 500 synthetic ones as the full graph does (cosine mean ≥ 0.999, min ≥ 0.995)', async () => {
    const rng = createRng(7);
    const texts = GOLDEN.cases.map((c) => c.text).filter((t) => /\w/.test(t));
    while (texts.length < GOLDEN.cases.length + 500) texts.push(...captions(randomScene(rng), rng));
    const a = await full.embedMany(texts);
    const b = await compact.embedMany(texts);
    const cosines = texts.map((_, i) => cosine(a.subarray(i * 512, (i + 1) * 512), b.subarray(i * 512, (i + 1) * 512)));
    const mean = cosines.reduce((s, c) => s + c, 0) / cosines.length;
    expect(mean).toBeGreaterThanOrEqual(0.999);
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.995);
    expect(Math.max(...cosines)).toBeLessThan(1); // int8: it is the compact graph that ran
  });

  it('runs each sentence at its own length: batching short with long changes nothing', async () => {
    const short = 'green';
    const long = 'Two men riding horses on a beach at sunset while a dog runs behind them in the waves';
    const together = await compact.embedSentences([short, long]);
    const fresh = await new ModelCache(new RegistryReader(await folderSource(root)), nodeRuntime, {
      textEncoder: { form: 'compact', maxBytes: 2 ** 30 },
    }).textEncoder(`${manifest.id}@${manifest.version}`);
    const alone = await fresh.embedSentences([short]);
    Array.from(alone).forEach((v, i) => {
      expect(together[i]).toBeCloseTo(v, 4);
    });
  });

  it('reads the configuration back from the full graph, and refuses a graph that is not one', async () => {
    const onnx = new Uint8Array(await readFile(join(root, 'clip', 'text-encoder.onnx')));
    expect(readClipTextWeights(onnx).config).toEqual({
      vocab: 49408,
      context: 77,
      width: 32,
      layers: 2,
      heads: 2,
      embedDim: 512,
    });
    const decoder = new Uint8Array(readFileSync(join(__dirname, '../../models/fashion-conv/decoder.onnx')));
    expect(() => readClipTextWeights(decoder)).toThrow(/not a CLIP text graph/);
  });

  it('cvae clip compact adds the form to a package made without it, and reports its fidelity', async () => {
    const dir = join(root, 'plain');
    const plain = await generateClipPackage({
      config: 'tiny',
      seed: 4,
      vocab: CLIP_VOCAB_PATH,
      out: dir,
      compact: false,
    });
    expect(plain.files.map((f) => f.role)).toEqual(['text-encoder', 'tokenizer']);
    const r = await cvae('clip', 'compact', dir);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { cosine: { mean: number; min: number }; bytes: { table: number } };
    expect(report.cosine.min).toBeGreaterThanOrEqual(0.995);
    expect(report.bytes.table).toBe(49408 * 32 * 2);
    expect(r.stderr).toMatch(/cosine to the full graph on 8 captions/);
    await expect(addCompactEncoder(join(root, 'nowhere'))).rejects.toThrow(/no manifest\.json/);
  });

  it('is refused by a cache that allows less than its size, with the reason', async () => {
    const small = new ModelCache(new RegistryReader(await folderSource(root)), nodeRuntime, {
      textEncoder: { form: 'compact', maxBytes: 1024 },
    });
    await expect(small.textEncoder(`${manifest.id}@${manifest.version}`)).rejects.toMatchObject({
      code: 'text_encoder_unavailable',
      message: expect.stringMatching(/more than the edge's 0 MiB/),
    });
  });
});
