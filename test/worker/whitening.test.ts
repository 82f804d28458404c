import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeCvae, WHITENING } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { createRng, normalArray } from '../../src/shared/random.js';
import { decode } from '../../src/worker/model/cvae.js';
import { createVariables } from '../../src/worker/model/weights.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import { loadCheckpoint } from '../../src/worker/train/checkpoint.js';
import type { SharedDataset } from '../../src/worker/train/dataset.js';
import { DEFAULT_TRAIN_OPTIONS, train } from '../../src/worker/train/trainer.js';
import { fitWhitening } from '../../src/worker/train/whitening.js';

const D = 8;

/** Embeddings like CLIP's: a large shared component, and caption-specific parts of very unequal scale. */
function embeddings(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n * D);
  const scales = [3, 1, 0.3, 0.1, 0.05, 1, 2, 0.5];
  for (let i = 0; i < n; i++) {
    const shared = normalArray(rng, 1)[0] as number;
    const own = normalArray(rng, D);
    for (let j = 0; j < D; j++) out[i * D + j] = 5 + 2 * shared + (scales[j] as number) * (own[j] as number);
  }
  return out;
}

function applyWhitening(x: Float32Array, mean: Float32Array, matrix: Float32Array): Float64Array {
  const n = x.length / D;
  const y = new Float64Array(x.length);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += ((x[r * D + k] as number) - (mean[k] as number)) * (matrix[k * D + j] as number);
      y[r * D + j] = s;
    }
  return y;
}

function moments(y: Float64Array) {
  const n = y.length / D;
  const mean = new Float64Array(D);
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) mean[j] = (mean[j] as number) + (y[r * D + j] as number) / n;
  const cov = new Float64Array(D * D);
  for (let r = 0; r < n; r++)
    for (let a = 0; a < D; a++)
      for (let b = 0; b < D; b++)
        cov[a * D + b] =
          (cov[a * D + b] as number) +
          (((y[r * D + a] as number) - (mean[a] as number)) * ((y[r * D + b] as number) - (mean[b] as number))) / n;
  return { mean, cov };
}

describe('fitWhitening', () => {
  it('maps the fitted conditions to zero mean and identity covariance', () => {
    const x = embeddings(4000, 1);
    const { mean, matrix } = fitWhitening(x, D, { shrinkage: 1e-6 });
    const m = moments(applyWhitening(x, mean, matrix));
    for (let a = 0; a < D; a++) {
      expect(Math.abs(m.mean[a] as number)).toBeLessThan(1e-4);
      for (let b = 0; b < D; b++) expect(m.cov[a * D + b]).toBeCloseTo(a === b ? 1 : 0, 2);
    }
    // and new conditions from the same distribution come out close to white too
    const held = moments(applyWhitening(embeddings(4000, 2), mean, matrix));
    for (let a = 0; a < D; a++) expect(held.cov[a * D + a]).toBeGreaterThan(0.9);
    for (let a = 0; a < D; a++) expect(held.cov[a * D + a]).toBeLessThan(1.1);
  });

  it('shrinkage bounds the gain of directions the data does not use', () => {
    const x = embeddings(500, 3);
    for (let r = 0; r < 500; r++) x[r * D + 4] = 7; // one dimension never varies
    const { matrix } = fitWhitening(x, D, { shrinkage: 1e-3 });
    expect(matrix.every(Number.isFinite)).toBe(true);
    // a unit step along the unused dimension is amplified, but boundedly: ≤ 1/√ε of the mean scale
    const meanVariance = moments(Float64Array.from(x)).cov.reduce((s, v, i) => (i % (D + 1) === 0 ? s + v : s), 0) / D;
    let gain = 0;
    for (let j = 0; j < D; j++) gain += (matrix[4 * D + j] as number) ** 2;
    expect(Math.sqrt(gain * meanVariance)).toBeLessThanOrEqual(1 / Math.sqrt(1e-3) + 1e-6);
    expect(Math.sqrt(gain * meanVariance)).toBeGreaterThan(1);
  });

  it('refuses fewer than two conditions', () => {
    expect(() => fitWhitening(new Float32Array(D), D)).toThrow(/at least 2/);
  });
});

const spec: CvaeSpec = {
  id: 'tiny-text',
  description: 'a small text-conditioned CVAE with a whitened condition',
  task: 'long-text',
  image: { height: 8, width: 8, channels: 3 },
  latentDim: 4,
  condition: { type: 'text-embedding', dim: D, whiten: true },
  encoder: {
    layers: [{ type: 'conv2d', filters: 4, kernel: 3, stride: 2, activation: 'relu' }, { type: 'flatten' }],
    condition: { join: 'concat', size: 4 },
  },
  decoder: {
    condition: { join: 'add' },
    layers: [
      { type: 'dense', units: 4 * 4 * 4, activation: 'relu', batchNorm: true },
      { type: 'reshape', shape: [4, 4, 4] },
      { type: 'conv2dTranspose', filters: 3, kernel: 3, stride: 2, activation: 'sigmoid' },
    ],
  },
};

function dataset(n: number): SharedDataset {
  const pixels = new Uint8Array(new SharedArrayBuffer(n * 8 * 8 * 3));
  const rng = createRng(4);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(rng.next() * 256);
  const conditions = new Float32Array(new SharedArrayBuffer(n * D * 4));
  conditions.set(embeddings(n, 5));
  return { count: n, imageShape: [8, 8, 3], pixels, conditions, conditionSize: D, labels: new Uint8Array(0) };
}

describe('training with a whitened condition', () => {
  beforeAll(async () => {
    await initBackend('wasm', () => {});
  });

  it('fits the whitening on the training conditions before the first step, and keeps it fixed', async () => {
    const data = dataset(64);
    const outDir = mkdtempSync(join(tmpdir(), 'whiten-'));
    const result = await train(spec, data, { ...DEFAULT_TRAIN_OPTIONS, epochs: 2, batchSize: 16, replicas: 2, outDir });
    const fitted = fitWhitening(data.conditions, D);
    expect(result.state.values[WHITENING.mean]).toEqual(fitted.mean);
    expect(result.state.values[WHITENING.matrix]).toEqual(fitted.matrix);
    // the checkpoint carries it, and resuming keeps it (it is not refitted or trained)
    const resumed = await train(spec, data, {
      ...DEFAULT_TRAIN_OPTIONS,
      epochs: 3,
      batchSize: 16,
      replicas: 2,
      outDir,
      resume: true,
    });
    expect(resumed.state.values[WHITENING.matrix]).toEqual(fitted.matrix);
  });

  it('fits with the shrinkage asked for, records it, and refuses to resume with another', async () => {
    const data = dataset(32);
    const outDir = mkdtempSync(join(tmpdir(), 'whiten-shrink-'));
    const options = { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 16, replicas: 1, outDir, whitenShrinkage: 0.2 };
    const result = await train(spec, data, options);
    expect(result.state.values[WHITENING.matrix]).toEqual(fitWhitening(data.conditions, D, { shrinkage: 0.2 }).matrix);
    expect(result.state.values[WHITENING.matrix]).not.toEqual(fitWhitening(data.conditions, D).matrix);
    const meta = JSON.parse(readFileSync(join(outDir, 'checkpoint.json'), 'utf8'));
    expect(meta.config.whitenShrinkage).toBe(0.2);
    await expect(train(spec, data, { ...options, epochs: 2, resume: true, whitenShrinkage: 0.01 })).rejects.toThrow(
      /whitening was fitted with shrinkage 0.2, now 0.01/,
    );
  });

  it('resumes a checkpoint from before the option without claiming a shrinkage for it', async () => {
    const data = dataset(32);
    const outDir = mkdtempSync(join(tmpdir(), 'whiten-unsaid-'));
    const options = { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 16, replicas: 1, outDir };
    await train(spec, data, options);
    const metaPath = join(outDir, 'checkpoint.json');
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    delete meta.config.whitenShrinkage;
    writeFileSync(metaPath, JSON.stringify(meta));
    await train(spec, data, { ...options, epochs: 2, resume: true, whitenShrinkage: 0.05 });
    const resumed = JSON.parse(readFileSync(metaPath, 'utf8'));
    expect(resumed.epoch).toBe(2);
    expect('whitenShrinkage' in resumed.config).toBe(false);
  });

  it('loads a checkpoint saved before whitening existed as the identity map', async () => {
    const data = dataset(32);
    const outDir = mkdtempSync(join(tmpdir(), 'whiten-old-'));
    await train(spec, data, { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 16, replicas: 1, outDir });
    // strip the whitening tensors from the checkpoint's index, as an older version wrote it
    const metaPath = join(outDir, 'checkpoint.json');
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    meta.tensors = meta.tensors.filter((t: { name: string }) => !t.name.startsWith('condition.whiten.'));
    writeFileSync(metaPath, JSON.stringify(meta));
    const { state } = await loadCheckpoint(outDir, spec);
    expect(Array.from(state.values[WHITENING.mean] as Float32Array)).toEqual(new Array(D).fill(0));
    const identity = state.values[WHITENING.matrix] as Float32Array;
    expect(identity.filter((v, i) => v === (i % (D + 1) === 0 ? 1 : 0)).length).toBe(D * D);
    // with the identity, the decoder computes exactly what it computes without whitening
    const plain: CvaeSpec = { ...spec, condition: { type: 'text-embedding', dim: D } };
    const z = tf.tensor2d(normalArray(createRng(6), 2 * 4), [2, 4]);
    const c = tf.tensor2d(data.conditions.slice(0, 2 * D), [2, D]);
    const a = decode(spec, createVariables(describeCvae(spec).params, state.values), z, c, { training: false });
    const b = decode(plain, createVariables(describeCvae(plain).params, state.values), z, c, { training: false });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
  });
});
