import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fashionConv, fashionFc } from '../../src/shared/arch/fashion.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { createRng, normalArray } from '../../src/shared/random.js';
import { createVariables, initialValues } from '../../src/worker/model/weights.js';
import { type DensePlan, densePlan } from '../../src/worker/train/dense-plan.js';
import { DenseStep } from '../../src/worker/train/dense-step.js';
import { flatten, paramLayout, unflatten } from '../../src/worker/train/layout.js';
import { computeGradients } from '../../src/worker/train/step.js';
import { SharedArena } from '../../src/worker/wasm/arena.js';

/**
 * The hand-written dense step (src/worker/train/dense-step.ts) against the tfjs step it stands in
 * for (step.ts, on tfjs' stock CPU kernels): the same weights, batch and noise must give the same
 * losses and gradients, for every join, activation and bound the dense specs can have.
 */

const small = (overrides: Partial<CvaeSpec>): CvaeSpec => ({
  id: 'dense-test',
  description: 'test',
  task: 'short-text',
  image: { height: 4, width: 5, channels: 1 },
  latentDim: 6,
  condition: { type: 'class', classes: 3 },
  encoder: {
    layers: [
      { type: 'flatten' },
      { type: 'dense', units: 13, activation: 'relu' },
      { type: 'dense', units: 9, activation: 'sigmoid' },
    ],
    condition: { join: 'concat', size: 4 },
  },
  decoder: {
    condition: { join: 'concat', size: 5 },
    layers: [
      { type: 'dense', units: 11, activation: 'relu' },
      { type: 'dense', units: 20, activation: 'sigmoid' },
      { type: 'reshape', shape: [4, 5, 1] },
    ],
  },
  ...overrides,
});

const SPECS: [string, CvaeSpec][] = [
  ['fashion-fc', fashionFc],
  ['concat joins, a sigmoid hidden layer', small({})],
  [
    'add joins, a bounded logvar, a linear hidden layer',
    small({
      logvarLimit: 3,
      encoder: {
        layers: [
          { type: 'flatten' },
          { type: 'dense', units: 10, activation: 'linear' },
          { type: 'dense', units: 8, activation: 'relu' },
        ],
        condition: { join: 'add' },
      },
      decoder: {
        condition: { join: 'add' },
        layers: [
          { type: 'dense', units: 7, activation: 'relu' },
          { type: 'dense', units: 20, activation: 'sigmoid' },
          { type: 'reshape', shape: [4, 5, 1] },
        ],
      },
    }),
  ],
  ['a text-embedding condition (its projection has a bias)', small({ condition: { type: 'text-embedding', dim: 7 } })],
];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function batch(spec: CvaeSpec, n: number, seed: number) {
  const rng = createRng(seed);
  const info = describeCvae(spec);
  const pixels = info.imageShape.reduce((a, b) => a * b, 1);
  const images = Float32Array.from({ length: n * pixels }, () => rng.next());
  const conditions = new Float32Array(n * info.conditionSize);
  if (spec.condition.type === 'class')
    for (let r = 0; r < n; r++) conditions[r * info.conditionSize + Math.floor(rng.next() * info.conditionSize)] = 1;
  else conditions.set(normalArray(rng, conditions.length));
  return { images, conditions, eps: normalArray(rng, n * spec.latentDim), info };
}

describe('dense step', () => {
  for (const [name, spec] of SPECS) {
    it(`matches the tfjs step: ${name}`, async () => {
      const plan = densePlan(spec);
      expect('unsupported' in plan).toBe(false);
      const layout = paramLayout(describeCvae(spec).params);
      // the trainer's arrangement: weights, gradients and workspace in one shared arena
      const rows = 7;
      const workspaceFloats = DenseStep.workspaceFloats(plan as DensePlan, rows);
      const arena = new SharedArena(layout.totalSize + layout.trainableSize + workspaceFloats, 3);
      const space = {
        memory: arena.memory,
        weights: arena.floats(layout.totalSize),
        grads: arena.floats(layout.trainableSize),
        workspace: arena.floats(workspaceFloats),
      };
      const engine = await DenseStep.create(plan as DensePlan, layout, space, rows);
      // two batch sizes through one engine: a short last batch reuses the buffers
      for (const [n, seed] of [
        [7, 1],
        [3, 2],
      ] as const) {
        const { images, conditions, eps, info } = batch(spec, n, seed);
        // Glorot kernels and random biases, so each gradient is exercised at a sane scale
        const weights = flatten(layout, initialValues(info.params, seed), space.weights);
        const noise = normalArray(createRng(seed + 10), layout.totalSize);
        for (const e of layout.entries.filter((x) => x.name.endsWith('.bias')))
          for (let i = e.offset; i < e.offset + e.length; i++) weights[i] = 0.1 * (noise[i] as number);
        const klWeight = 0.7;
        space.grads.fill(Number.NaN); // every gradient must be written
        const ours = engine.gradients(images, conditions, eps, n, klWeight);
        const grads = space.grads;

        const vars = createVariables(info.params, unflatten(layout, weights));
        const inputs = [
          tf.tensor4d(images, [n, ...info.imageShape]),
          tf.tensor2d(conditions, [n, info.conditionSize]),
          tf.tensor2d(eps, [n, spec.latentDim]),
        ] as const;
        const theirs = computeGradients(spec, vars, ...inputs, klWeight);
        expect(ours.loss).toBeCloseTo(theirs.loss.dataSync()[0] as number, 2);
        expect(ours.reconstruction).toBeCloseTo(theirs.reconstruction.dataSync()[0] as number, 2);
        expect(ours.kl).toBeCloseTo(theirs.kl.dataSync()[0] as number, 3);
        const ourGrads = unflatten(layout, grads, true);
        let compared = 0;
        for (const e of layout.entries.filter((x) => x.trainable)) {
          const want = theirs.grads[e.name]?.dataSync() as Float32Array;
          const got = ourGrads[e.name] as Float32Array;
          const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-3);
          const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - (want[i] as number))), 0);
          expect(worst / scale, `${e.name} (n = ${n})`).toBeLessThan(2e-4);
          compared++;
        }
        expect(compared).toBe(layout.entries.filter((x) => x.trainable).length);
        tf.dispose([...inputs, ...Object.values(vars), theirs.loss, theirs.reconstruction, theirs.kl]);
        tf.dispose(Object.values(theirs.grads));
      }
    });
  }

  it('refuses a batch larger than its workspace, and arrays outside its memory', async () => {
    const plan = densePlan(fashionFc) as DensePlan;
    const layout = paramLayout(describeCvae(fashionFc).params);
    const floats = DenseStep.workspaceFloats(plan, 2);
    const arena = new SharedArena(layout.totalSize + layout.trainableSize + floats, 3);
    const space = {
      memory: arena.memory,
      weights: arena.floats(layout.totalSize),
      grads: arena.floats(layout.trainableSize),
      workspace: arena.floats(floats),
    };
    const engine = await DenseStep.create(plan, layout, space, 2);
    const { images, conditions, eps } = batch(fashionFc, 3, 1);
    expect(() => engine.gradients(images, conditions, eps, 3, 1)).toThrow(/3 examples, room for 2/);
    await expect(DenseStep.create(plan, layout, space, 3)).rejects.toThrow(/workspace too small/);
    const outside = { ...space, grads: new Float32Array(layout.trainableSize) };
    await expect(DenseStep.create(plan, layout, outside, 2)).rejects.toThrow(/outside its memory/);
  });

  it('has no plan for convolutions or a whitened condition (those train through tfjs)', () => {
    expect(densePlan(fashionConv)).toEqual({ unsupported: 'a conv2d layer' });
    expect(densePlan(small({ condition: { type: 'text-embedding', dim: 7, whiten: true } }))).toEqual({
      unsupported: 'a whitened condition',
    });
  });
});
