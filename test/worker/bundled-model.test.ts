import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { fashionClassifier } from '../../src/shared/arch/fashion.js';
import { parsePrompt } from '../../src/shared/prompt/parse-prompt.js';
import { createRng, normalArray } from '../../src/shared/random.js';
import { loadClassifier } from '../../src/worker/eval/classifier-store.js';
import { classifierExtractor } from '../../src/worker/eval/feature-extractor.js';
import { MODELS_DIR } from '../../src/worker/paths.js';
import { verifyPackage } from '../../src/worker/registry/package.js';
import { initBackend } from '../../src/worker/tf/backend.js';

// The model shipped in models/fashion-conv: a fresh clone generates with it, no training needed.
const dir = join(MODELS_DIR, 'fashion-conv');

beforeAll(async () => {
  await initBackend('wasm', () => {});
  ortWeb.env.wasm.numThreads = 1;
});

describe('bundled fashion-conv model', () => {
  it('is a valid package with test-set metrics and the command that made it', async () => {
    const manifest = await verifyPackage(dir);
    expect(manifest.id).toBe('fashion-conv');
    expect(manifest.metrics?.testImages).toBe(10000);
    expect(manifest.metrics?.fidExtractor).toBe('fashion-classifier');
    expect(manifest.metrics?.mse).toBeLessThan(10);
    expect(manifest.command).toMatch(/cvae export fashion-conv/);
  });

  for (const [name, ort] of [
    ['onnxruntime-node', ortNode],
    ['onnxruntime-web', ortWeb],
  ] as const) {
    it(`${name}: "Make a dress" decodes to dresses the classifier recognises`, async () => {
      const { classIndex } = parsePrompt('Make a dress');
      const n = 32;
      const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(join(dir, 'decoder.onnx'))));
      const out = await session.run({
        z: new ort.Tensor('float32', normalArray(createRng(1), n * 128), [n, 128]),
        label: new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(classIndex)), [n]),
      } as never);
      const image = out.image as ortNode.Tensor;
      expect(image.dims).toEqual([n, 1, 28, 28]);
      const pixels = image.data as Float32Array;
      expect(Math.min(...pixels)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...pixels)).toBeLessThanOrEqual(1);
      const classifier = await loadClassifier(join(MODELS_DIR, fashionClassifier.id));
      const judge = classifierExtractor(classifier.meta.spec, classifier.values);
      const predicted = await (judge.classify as NonNullable<typeof judge.classify>)(pixels, n); // 1 channel: NCHW = NHWC
      judge.dispose();
      const dresses = predicted.filter((p) => p === classIndex).length;
      expect(dresses / n).toBeGreaterThan(0.8);
      await session.release();
    });
  }
});
