import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/worker/tf/backend.js';
import { copyTensorInto } from '../../src/worker/tf/copy-into.js';

/** A replica copies its gradients into the trainer's shared memory with this (train/replica.ts). */
describe.each([
  { name: 'wasm', setup: async () => void (await initBackend('wasm', () => {})) },
  { name: 'cpu', setup: async () => void (await tf.setBackend('cpu')) },
])('copyTensorInto on $name', ({ name, setup }) => {
  it('writes the values at the offset and nothing else', async () => {
    await setup();
    expect(tf.getBackend()).toBe(name);
    const out = new Float32Array(new SharedArrayBuffer(4 * 30)).fill(-1);
    // a kernel's output, and a reshape of it (the same data)
    const t = tf.tidy(() => tf.mul(tf.range(0, 12, 1, 'float32'), 0.5));
    copyTensorInto(t, out, 2);
    copyTensorInto(tf.reshape(t, [3, 4]), out, 16);
    const expected = new Float32Array(30).fill(-1);
    expected.set(
      Array.from({ length: 12 }, (_, i) => i * 0.5),
      2,
    );
    expected.set(
      Array.from({ length: 12 }, (_, i) => i * 0.5),
      16,
    );
    expect(Array.from(out)).toEqual(Array.from(expected));
    expect(() => copyTensorInto(tf.tensor1d([1, 2], 'int32'), out, 0)).toThrow(/float32 tensors only/);
  });
});
