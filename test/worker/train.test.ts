import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FASHION_ARCHITECTURES } from '../../src/shared/arch/fashion.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { type FashionMnist, loadFashionMnist, takeFirst } from '../../src/worker/data/fashion-mnist.js';
import { testSet } from '../../src/worker/data/training-data.js';
import { reconstructionScores, runModel } from '../../src/worker/eval/evaluate.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import { loadCheckpoint } from '../../src/worker/train/checkpoint.js';
import { sharedFromLabeled } from '../../src/worker/train/dataset.js';
import { DENSE_STEP } from '../../src/worker/train/dense-step.js';
import { learningRateAt, parseLearningRateSteps, scheduleConflict } from '../../src/worker/train/schedule.js';
import {
  DEFAULT_TRAIN_OPTIONS,
  epochFolder,
  klWeightAt,
  type TrainOptions,
  train,
} from '../../src/worker/train/trainer.js';
import { expectSameFloats } from '../helpers/same-floats.js';

// Short real training runs on a subset of the real data (the full runs are `cvae experiment table1`).
let fm: FashionMnist;
beforeAll(async () => {
  await initBackend('wasm', () => {});
  fm = await loadFashionMnist();
});

const fc = FASHION_ARCHITECTURES['fashion-fc'] as CvaeSpec;
const conv = FASHION_ARCHITECTURES['fashion-conv'] as CvaeSpec;

const bytes = (a: Float32Array | undefined) => new Uint8Array((a as Float32Array).buffer);

function subset(n: number) {
  const s = takeFirst(fm.train, n);
  return sharedFromLabeled(s.pixels, s.labels, [28, 28, 1], 10);
}

// One in-thread replica unless a test is about replicas: each thread replica costs seconds to start
// (tsx, tfjs, wasm), more than these small runs train.
function options(over: Partial<TrainOptions>): TrainOptions {
  return { ...DEFAULT_TRAIN_OPTIONS, replicas: 1, epochs: 1, outDir: mkdtempSync(join(tmpdir(), 'train-')), ...over };
}

describe('training', () => {
  it('fashion-fc: loss falls and reconstructions beat the mean-image baseline', async () => {
    const data = subset(3000);
    const result = await train(fc, data, options({ epochs: 3, replicas: 2 }));
    const losses = result.history.map((h) => h.loss);
    expect(losses[2]).toBeLessThan(losses[0] as number);
    expect(result.replicas).toBe(2);

    const set = testSet(fm, 500);
    const outputs = await runModel(fc, result.state.values, set, 1);
    const model = reconstructionScores(set.images, outputs.reconstructions, set.count, set.shape);
    // Baseline: predict the mean training image for every test image.
    const mean = new Float32Array(784);
    for (let i = 0; i < data.count; i++)
      for (let p = 0; p < 784; p++)
        mean[p] = (mean[p] as number) + (data.pixels[i * 784 + p] as number) / 255 / data.count;
    const baselineImages = new Float32Array(set.count * 784);
    for (let i = 0; i < set.count; i++) baselineImages.set(mean, i * 784);
    const baseline = reconstructionScores(set.images, baselineImages, set.count, set.shape);
    expect(model.mse).toBeLessThan(baseline.mse * 0.75);
    expect(model.ssimGaussian).toBeGreaterThan(baseline.ssimGaussian);
  });

  it('fashion-fc steps without tfjs on wasm (dense-step.ts) and trains as the tfjs step does', async () => {
    const data = subset(512);
    const run = () => train(fc, data, options({ epochs: 2, batchSize: 64 }));
    const ours = await run();
    process.env.CVAE_TRAIN_STEP = 'tfjs';
    const theirs = await run().finally(() => {
      delete process.env.CVAE_TRAIN_STEP;
    });
    expect(ours.backend.label).toContain(DENSE_STEP);
    expect(theirs.backend.label).not.toContain(DENSE_STEP);
    // the same run to float32 rounding: epoch losses within 0.1%
    ours.history.forEach((h, i) => {
      const other = theirs.history[i]?.loss as number;
      expect(Math.abs(h.loss - other) / other).toBeLessThan(1e-3);
    });
    expect(ours.history[1]?.loss).toBeLessThan(ours.history[0]?.loss as number);
  });

  it('fashion-conv: loss falls on a short run', async () => {
    const result = await train(conv, subset(512), options({ epochs: 2, batchSize: 64 }));
    expect(result.history[1]?.loss).toBeLessThan(result.history[0]?.loss as number);
    expect(result.history[0]?.imagesPerSecond).toBeGreaterThan(0);
  });

  it('an in-thread replica lets timers run between batches (progress bars, heartbeats, signals)', async () => {
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 1);
    const seenAt: number[] = [];
    try {
      await train(fc, subset(512), options({ batchSize: 64 }), {
        onBatch: () => {
          seenAt.push(ticks);
        },
      });
    } finally {
      clearInterval(timer);
    }
    expect(seenAt).toHaveLength(8);
    // the interval fired while the epoch was still running, not only after it
    expect(seenAt[6]).toBeGreaterThan(seenAt[0] as number);
  });

  it('is deterministic: same seed, same backend, same replicas → identical weights', async () => {
    const data = subset(512);
    const a = await train(fc, data, options({ seed: 9 }));
    const b = await train(fc, data, options({ seed: 9 }));
    const c = await train(fc, data, options({ seed: 10 }));
    const name = 'decoder.2.kernel';
    expectSameFloats(b.state.values[name], a.state.values[name], name);
    expect(Buffer.compare(bytes(c.state.values[name]), bytes(a.state.values[name]))).not.toBe(0);
  });

  it('resumes from the last checkpoint to exactly where an uninterrupted run gets', async () => {
    const data = subset(512);
    // two thread replicas: their gradients are summed in a fixed order, so this holds there too
    const straight = await train(fc, data, options({ epochs: 2, seed: 4, replicas: 2 }));
    const outDir = mkdtempSync(join(tmpdir(), 'resume-'));
    await train(fc, data, options({ epochs: 1, seed: 4, outDir, replicas: 2 }));
    const resumed = await train(fc, data, options({ epochs: 2, seed: 4, outDir, resume: true, replicas: 2 }));
    expect(resumed.epochsRun).toBe(1);
    expect(resumed.history).toHaveLength(2);
    for (const name of Object.keys(straight.state.values)) {
      expectSameFloats(resumed.state.values[name], straight.state.values[name], name);
    }
  });

  it("keeps every n-th epoch's weights in epoch-<n>/, without the optimiser, beside the latest checkpoint", async () => {
    const data = subset(256);
    const outDir = mkdtempSync(join(tmpdir(), 'keep-'));
    const three = await train(fc, data, options({ epochs: 3, seed: 5, outDir, keepEvery: 2 }));
    const two = await train(fc, data, options({ epochs: 2, seed: 5 }));
    expect(existsSync(join(outDir, epochFolder(1)))).toBe(false);
    expect(existsSync(join(outDir, epochFolder(3)))).toBe(false);
    const kept = await loadCheckpoint(join(outDir, epochFolder(2)), fc);
    expect(kept.meta.epoch).toBe(2);
    expect(kept.state.adam).toBeUndefined();
    const latest = await loadCheckpoint(outDir, fc);
    expect(latest.meta.epoch).toBe(3);
    expect(latest.state.adam).toBeDefined();
    for (const name of Object.keys(two.state.values)) {
      expectSameFloats(kept.state.values[name], two.state.values[name], name);
      expectSameFloats(latest.state.values[name], three.state.values[name], name);
    }
  });

  it('a resumed warm start keeps its origin on record, with or without --init-from again', async () => {
    const data = subset(256);
    const outDir = mkdtempSync(join(tmpdir(), 'origin-'));
    const warmStart = { from: 'fashion-fc@v9', values: (fresh: Record<string, Float32Array>) => fresh };
    await train(fc, data, options({ epochs: 1, outDir, warmStart }));
    await train(fc, data, options({ epochs: 2, outDir, resume: true }));
    expect((await loadCheckpoint(outDir, fc)).meta.config.initFrom).toBe('fashion-fc@v9');
    await train(fc, data, options({ epochs: 3, outDir, resume: true, warmStart: { ...warmStart, from: 'other@v1' } }));
    expect((await loadCheckpoint(outDir, fc)).meta.config.initFrom).toBe('fashion-fc@v9');
    // a run that began from random weights stays so
    const cold = mkdtempSync(join(tmpdir(), 'origin-'));
    await train(fc, data, options({ epochs: 1, outDir: cold }));
    await train(fc, data, options({ epochs: 2, outDir: cold, resume: true, warmStart }));
    expect((await loadCheckpoint(cold, fc)).meta.config.initFrom).toBeUndefined();
  });

  it('refuses to resume a run made with another configuration', async () => {
    const data = subset(256);
    const outDir = mkdtempSync(join(tmpdir(), 'resume-'));
    await train(fc, data, options({ epochs: 1, outDir }));
    await expect(train(fc, data, options({ epochs: 2, outDir, resume: true, batchSize: 64 }))).rejects.toThrow(
      /trained with batchSize=128, now batchSize=64/,
    );
    await expect(train(fc, data, options({ epochs: 2, outDir, resume: true, klWeight: 4 }))).rejects.toThrow(
      /trained with klWeight=1, now klWeight=4/,
    );
  });

  it('a learning-rate step applies from its epoch on, is recorded, and a resume may add one only for epochs to come', async () => {
    const data = subset(512);
    const outDir = mkdtempSync(join(tmpdir(), 'lr-steps-'));
    const first = await train(fc, data, options({ epochs: 1, seed: 5, outDir }));
    // epoch 2 at a vanishing rate: Adam moves no weight measurably
    const frozen = await train(
      fc,
      data,
      options({ epochs: 2, seed: 5, outDir, resume: true, learningRateSteps: [{ from: 2, lr: 1e-12 }] }),
    );
    expect(frozen.history.map((h) => h.learningRate)).toEqual([1e-3, 1e-12]);
    const name = 'decoder.2.kernel';
    const before = first.state.values[name] as Float32Array;
    const after = frozen.state.values[name] as Float32Array;
    const moved = (a: Float32Array, b: Float32Array) =>
      a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
    expect(moved(after, before)).toBeLessThan(1e-8);
    // the same epoch at the base rate moves them
    const straight = await train(fc, data, options({ epochs: 2, seed: 5 }));
    expect(moved(straight.state.values[name] as Float32Array, before)).toBeGreaterThan(1e-4);
    // changing the rate of an epoch already trained is refused
    await expect(
      train(
        fc,
        data,
        options({ epochs: 3, seed: 5, outDir, resume: true, learningRateSteps: [{ from: 1, lr: 1e-4 }] }),
      ),
    ).rejects.toThrow(/its epoch 1 trained at learning rate 0.001, the schedule asked for now gives 0.0001/);
    await expect(train(fc, data, options({ epochs: 3, seed: 5, outDir, resume: true }))).rejects.toThrow(
      /its epoch 2 trained at learning rate 1e-12/,
    );
  });

  it('β weights the KL term: a large β pulls the posterior to the prior', async () => {
    const data = subset(512);
    const plain = await train(fc, data, options({ epochs: 2 }));
    const strong = await train(fc, data, options({ epochs: 2, klWeight: 20 }));
    const kl = (r: typeof plain) => r.history.at(-1)?.kl as number;
    const rec = (r: typeof plain) => r.history.at(-1)?.reconstruction as number;
    expect(kl(strong)).toBeLessThan(kl(plain) / 2);
    expect(rec(strong)).toBeGreaterThan(rec(plain));
  });
});

describe('the learning-rate schedule', () => {
  it('is the base rate, then each step from its epoch on', () => {
    const steps = parseLearningRateSteps('29=1e-5,26=1e-4');
    expect(steps).toEqual([
      { from: 26, lr: 1e-4 },
      { from: 29, lr: 1e-5 },
    ]);
    expect([1, 25, 26, 28, 29, 40].map((e) => learningRateAt(1e-3, steps, e))).toEqual([
      1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5,
    ]);
    expect(learningRateAt(1e-3, undefined, 7)).toBe(1e-3);
    expect(
      scheduleConflict({ learningRate: 1e-3 }, { learningRate: 1e-3, learningRateSteps: steps }, 25),
    ).toBeUndefined();
    expect(scheduleConflict({ learningRate: 1e-3 }, { learningRate: 1e-3, learningRateSteps: steps }, 27)).toBe(26);
    for (const bad of ['26', '0=1e-4', '26=0', '26=x', '26=1e-4,26=1e-5'])
      expect(() => parseLearningRateSteps(bad), bad).toThrow(/--lr-steps/);
  });
});

describe('the β schedule', () => {
  it('moves linearly from klWeightFrom to klWeight over klAnnealEpochs, then stays', () => {
    const o = { klWeight: 1, klWeightFrom: 21, klAnnealEpochs: 4 };
    expect(klWeightAt(o, 0)).toBe(21);
    expect(klWeightAt(o, 1)).toBe(16);
    expect(klWeightAt(o, 3.5)).toBeCloseTo(3.5);
    expect(klWeightAt(o, 4)).toBe(1);
    expect(klWeightAt(o, 9)).toBe(1);
    expect(klWeightAt({ klWeight: 2 }, 0)).toBe(2);
  });
});
