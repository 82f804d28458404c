import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fid } from '../../src/shared/metrics/fid.js';
import { onnxExtractor } from '../../src/worker/eval/onnx-extractor.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import { tinyImageFeatureModel } from '../helpers/onnx-fixtures.js';

beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('ONNX feature extractor (the InceptionV3 slot)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-'));
  const path = join(dir, 'tiny.onnx');
  // features = [mean R, mean G, mean B] · W with W = I (3x3): the per-channel means.
  writeFileSync(path, tinyImageFeatureModel(16, 3, [1, 0, 0, 0, 1, 0, 0, 0, 1]));

  it('reads the input size from the model, greys to RGB, normalises to [-1, 1], names itself', async () => {
    const extractor = await onnxExtractor(path);
    // Two 28x28 grey images: flat 0.25 and flat 1.0 → channel means 2·v − 1.
    const images = new Float32Array(2 * 784);
    images.fill(0.25, 0, 784);
    images.fill(1, 784);
    const features = await extractor.features(images, 2);
    expect(extractor.dim).toBe(3);
    expect(Array.from(features).map((v) => Number(v.toFixed(5)))).toEqual([-0.5, -0.5, -0.5, 1, 1, 1]);
    expect(extractor.id).toBe('onnx:tiny.onnx');
    expect(extractor.description).toContain('16x16');
    extractor.dispose();
  });

  it('feeds FID: identical sets score 0, shifted sets more', async () => {
    const extractor = await onnxExtractor(path, { normalize: 'imagenet', id: 'tiny' });
    const n = 40;
    const a = new Float32Array(n * 8 * 8 * 3).map((_, i) => ((i * 7919) % 101) / 100);
    const b = a.map((v) => Math.min(1, v + 0.2));
    const fa = await extractor.features(a, n);
    const fb = await extractor.features(b, n);
    expect(fid(fa, n, fa, n, extractor.dim)).toBeCloseTo(0, 6);
    expect(fid(fa, n, fb, n, extractor.dim)).toBeGreaterThan(0.1);
    extractor.dispose();
  });

  it('refuses a file that is not an ONNX model, clearly', async () => {
    const bad = join(dir, 'bad.onnx');
    writeFileSync(bad, 'not a model');
    await expect(onnxExtractor(bad)).rejects.toThrow(/cannot load FID feature model .*bad\.onnx/);
  });
});
