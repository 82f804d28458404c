import * as tf from '@tensorflow/tfjs-core';
import { describeClassifier } from '../../shared/arch/shapes.js';
import type { ClassifierSpec } from '../../shared/arch/spec.js';
import { createRng, deriveSeed, permutation } from '../../shared/random.js';
import { classify } from '../model/classifier.js';
import { createVariables, initialValues } from '../model/weights.js';
import { adamStep, createAdamState, DEFAULT_ADAM } from '../train/adam.js';
import { gatherBatch, type SharedDataset } from '../train/dataset.js';
import { flatten, paramLayout, unflatten } from '../train/layout.js';
import { type BlurAugmentation, blurSome } from './blur.js';

/**
 * Trains the FID feature extractor / accuracy judge: cross-entropy, Adam (no weight decay), in
 * this thread. Small enough that data parallelism is not worth it.
 */
export async function trainClassifier(
  spec: ClassifierSpec,
  data: SharedDataset,
  opts: {
    epochs: number;
    batchSize: number;
    seed: number;
    /** blur a share of each batch (the class-fidelity judge, blur.ts) */
    blur?: BlurAugmentation;
    onBatch?: (epoch: number, seen: number, loss: number) => void;
  },
): Promise<Record<string, Float32Array>> {
  const params = describeClassifier(spec).params;
  const layout = paramLayout(params);
  const flat = flatten(layout, initialValues(params, opts.seed), new Float32Array(layout.totalSize));
  const adam = createAdamState(layout.trainableSize);
  const vars = createVariables(params, unflatten(layout, flat));
  const grads = new Float32Array(layout.trainableSize);
  const cfg = { ...DEFAULT_ADAM, weightDecay: 0 };
  const blurRng = createRng(deriveSeed(opts.seed, 5));
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const order = permutation(createRng(deriveSeed(opts.seed, 3, epoch)), data.count);
    for (let start = 0; start < data.count; start += opts.batchSize) {
      const idx = order.subarray(start, Math.min(start + opts.batchSize, data.count));
      const batch = gatherBatch(data, idx);
      if (opts.blur) blurSome(batch.images, batch.count, data.imageShape, opts.blur, blurRng.next);
      const images = tf.tensor4d(batch.images, [batch.count, ...data.imageShape]);
      const labels = tf.tensor2d(batch.conditions, [batch.count, data.conditionSize]);
      const { value, grads: g } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(labels, classify(spec, vars, images).logits) as tf.Scalar,
      );
      for (const e of layout.entries)
        if (e.trainable)
          grads.set((await (g[(vars[e.name] as tf.Variable).name] as tf.Tensor).data()) as Float32Array, e.offset);
      const loss = (await value.data())[0] as number;
      tf.dispose([images, labels, value, ...Object.values(g)]);
      adamStep(flat, [grads], [1], adam, cfg);
      for (const e of layout.entries) {
        const v = vars[e.name] as tf.Variable;
        tf.tidy(() => v.assign(tf.tensor(flat.subarray(e.offset, e.offset + e.length), e.shape)));
      }
      opts.onBatch?.(epoch + 1, start + idx.length, loss);
      // wasm's data() resolves as a microtask: yield so timers (the progress bar) can run.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const values = unflatten(layout, flat);
  tf.dispose(Object.values(vars));
  return values;
}
