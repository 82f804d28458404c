import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FASHION_ARCHITECTURES, fashionClassifier } from '../../src/shared/arch/fashion.js';
import { describeClassifier, describeCvae } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { classify } from '../../src/worker/model/classifier.js';
import { decode, encode, oneHot } from '../../src/worker/model/cvae.js';
import { createVariables, initialValues } from '../../src/worker/model/weights.js';
import { initBackend } from '../../src/worker/tf/backend.js';

// Shape contracts: what the spec says is what the tfjs interpreter builds.
beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe.each(Object.values(FASHION_ARCHITECTURES))('$id', (spec: CvaeSpec) => {
  const info = describeCvae(spec);

  it('encodes [B,28,28,1] + one-hot to mu/logvar [B,128] and decodes back to [B,28,28,1] in [0,1]', () => {
    const vars = createVariables(info.params, initialValues(info.params, 1));
    tf.tidy(() => {
      const x = tf.randomUniform([3, 28, 28, 1]);
      const c = oneHot([0, 4, 9], 10);
      const { mu, logvar } = encode(spec, vars, x, c, { training: false });
      expect(mu.shape).toEqual([3, spec.latentDim]);
      expect(logvar.shape).toEqual([3, spec.latentDim]);
      const y = decode(spec, vars, mu, c, { training: false });
      expect(y.shape).toEqual([3, 28, 28, 1]);
      expect(tf.min(y).dataSync()[0]).toBeGreaterThanOrEqual(0);
      expect(tf.max(y).dataSync()[0]).toBeLessThanOrEqual(1);
    });
    tf.dispose(Object.values(vars));
  });

  it('has one weight per declared parameter, and the documented size', () => {
    const names = info.params.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(info.conditionSize).toBe(10);
    // Counted by hand from the layer widths in docs/ARCHITECTURE.md:
    // fc:   (784·512+512) + (512·256+256) + 10·16 + 2·(272·128+128) + 10·16 + (144·256+256) + (256·512+512) + (512·784+784)
    // conv: 320 + 18496 + 36928 + 10·1024 + 2·(1024·128+128) + 10·16 + (144·3136+3136) + 18464 + 9248 + 289
    expect(info.parameterCount).toBe(spec.id === 'fashion-fc' ? 1_174_352 : 811_265);
  });

  it('is seeded: same seed same weights, other seed other weights', () => {
    const a = initialValues(info.params, 5);
    const b = initialValues(info.params, 5);
    const c = initialValues(info.params, 6);
    const name = info.params[0]?.name as string;
    expect(a[name]).toEqual(b[name]);
    expect(a[name]).not.toEqual(c[name]);
  });
});

describe('spec validation', () => {
  it('refuses a decoder that does not end at the image shape', () => {
    const bad = structuredClone(FASHION_ARCHITECTURES['fashion-fc'] as CvaeSpec);
    bad.decoder.layers = bad.decoder.layers.slice(0, 2);
    expect(() => describeCvae(bad)).toThrow(/decoder ends \[512\], image is \[28,28,1\]/);
  });
  it('refuses an impossible reshape', () => {
    const bad = structuredClone(FASHION_ARCHITECTURES['fashion-conv'] as CvaeSpec);
    bad.decoder.layers[1] = { type: 'reshape', shape: [7, 7, 63] };
    expect(() => describeCvae(bad)).toThrow(/cannot reshape/);
  });
});

describe('classifier', () => {
  it('gives 10 logits and 128-d features', () => {
    const info = describeClassifier(fashionClassifier);
    const vars = createVariables(info.params, initialValues(info.params, 1));
    const { logits, features } = classify(fashionClassifier, vars, tf.zeros([2, 28, 28, 1]));
    expect(logits.shape).toEqual([2, 10]);
    expect(features.shape).toEqual([2, info.featureSize]);
    expect(info.featureSize).toBe(128);
  });
});
