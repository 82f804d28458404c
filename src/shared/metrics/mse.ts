import { assertSameShape, type FloatImage } from './image.js';

/**
 * MSE as the paper defines it (4.1): the per-image SUM of squared pixel errors (pixels in [0, 1]),
 * which the tables then average over the test set. For 28x28 images this is 784 × the usual mean.
 */
export function sumSquaredError(a: FloatImage, b: FloatImage): number {
  assertSameShape(a, b);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = (a.data[i] as number) - (b.data[i] as number);
    sum += d * d;
  }
  return sum;
}
