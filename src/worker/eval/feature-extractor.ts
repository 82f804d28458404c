import * as tf from '@tensorflow/tfjs-core';
import { describeClassifier } from '../../shared/arch/shapes.js';
import type { ClassifierSpec } from '../../shared/arch/spec.js';
import { classify } from '../model/classifier.js';
import { createVariables } from '../model/weights.js';

/**
 * FID needs features; which network makes them is pluggable, and its id is printed beside every
 * FID (scores from different extractors are not comparable).
 */
export interface FeatureExtractor {
  id: string;
  description: string;
  dim: number;
  /** features of `count` HWC images in [0, 1], back to back */
  features(images: Float32Array, count: number): Promise<Float32Array>;
  /** predicted class per image, where the extractor is a classifier of the same classes */
  classify?(images: Float32Array, count: number): Promise<Int32Array>;
  dispose(): void;
}

const CHUNK = 500;

export function classifierExtractor(spec: ClassifierSpec, values: Record<string, Float32Array>): FeatureExtractor {
  const info = describeClassifier(spec);
  const vars = createVariables(info.params, values);
  const [h, w, c] = [spec.image.height, spec.image.width, spec.image.channels];
  const run = async <T>(
    images: Float32Array,
    count: number,
    pick: (r: ReturnType<typeof classify>) => tf.Tensor,
    make: (n: number) => T & { set(a: ArrayLike<number>, o: number): void },
    width: number,
  ) => {
    const out = make(count * width);
    for (let start = 0; start < count; start += CHUNK) {
      const n = Math.min(CHUNK, count - start);
      const t = tf.tidy(() =>
        pick(
          classify(spec, vars, tf.tensor4d(images.subarray(start * h * w * c, (start + n) * h * w * c), [n, h, w, c])),
        ),
      );
      out.set((await t.data()) as ArrayLike<number>, start * width);
      t.dispose();
    }
    return out;
  };
  return {
    id: spec.id,
    description: `${spec.description} (project-trained, shipped in models/${spec.id})`,
    dim: info.featureSize,
    features: (images, count) =>
      run(
        images,
        count,
        (r) => r.features,
        (n) => new Float32Array(n),
        info.featureSize,
      ),
    classify: (images, count) =>
      run(
        images,
        count,
        (r) => tf.cast(tf.argMax(r.logits, 1), 'int32'),
        (n) => new Int32Array(n),
        1,
      ),
    dispose: () => tf.dispose(Object.values(vars)),
  };
}
