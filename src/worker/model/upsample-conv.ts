import * as tf from '@tensorflow/tfjs-core';
import { getKernel } from '@tensorflow/tfjs-core';
import { PHASES_TO_IMAGE, phasesToImage } from '../tf/kernels/phases.js';

/**
 * Nearest ×2 upsampling followed by a 3×3, stride-1 'same' convolution (the COCO decoders'
 * resize-convolution), computed at the input's resolution.
 *
 * Output row 2i + a (a = 0, 1) of the upsampled image's convolution reads upsampled rows
 * 2i + a − 1 … 2i + a + 1, which are input rows i − 1, i, i (a = 0) or i, i, i + 1 (a = 1): two
 * input rows, with the 3×3 kernel's rows summed where they land on the same one. Columns alike. So
 * each of the four output phases (a, b) is a 2×2 convolution of the input, and the four together
 * are one 2×2 'valid' convolution with 4·O outputs over the input padded by one pixel: 16
 * multiply-adds per input pixel and channel pair where the upsampled convolution takes 36, in the
 * forward pass and in both gradients (tfjs differentiates this composition as it stands). The
 * phases are then interleaved into the 2H × 2W output.
 *
 * The spec, the ONNX export and the exported graphs keep the plain upsample + convolution: this is
 * the same function, evaluated in fewer operations (test/worker/upsample-conv.test.ts).
 */

/**
 * [16, 9]: row (u, v, phase) of the 2×2 phase kernels as sums of the 3×3 kernel's taps (p, q);
 * phase = 2a + b. Taps of row phase a that land on the input's row u: a = 0 → u = 0: {0}, u = 1:
 * {1, 2}; a = 1 → u = 0: {0, 1}, u = 1: {2}.
 */
const LANDS: number[][][] = [
  [[0], [1, 2]],
  [[0, 1], [2]],
];
let phaseMatrix: Float32Array | undefined;
function phaseTaps(): Float32Array {
  if (phaseMatrix) return phaseMatrix;
  const m = new Float32Array(16 * 9);
  for (let u = 0; u < 2; u++)
    for (let v = 0; v < 2; v++)
      for (let a = 0; a < 2; a++)
        for (let b = 0; b < 2; b++) {
          const row = (u * 2 + v) * 4 + 2 * a + b;
          for (const p of LANDS[a]?.[u] ?? []) for (const q of LANDS[b]?.[v] ?? []) m[row * 9 + p * 3 + q] = 1;
        }
  phaseMatrix = m;
  return m;
}

/** Whether `upsampleConv3x3` computes this pair of layers. */
export function fusesWithUpsample(factor: number, kernel: number, stride: number): boolean {
  return factor === 2 && kernel === 3 && stride === 1;
}

/**
 * conv2d(upsample2x(x), filter, 'same') + bias, then `activation` (relu or none), for a [3, 3, C, O]
 * filter.
 */
export function upsampleConv3x3(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor,
  activation: 'relu' | 'linear',
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = x.shape;
    const [, , c, o] = filter.shape;
    // [16 (u, v, phase), C·O] → [2, 2, C, 4·O], output channels ordered (phase, o)
    const taps = tf.matMul(tf.tensor2d(phaseTaps(), [16, 9]), tf.reshape(filter, [9, c * o]));
    const kernel = tf.reshape(tf.transpose(tf.reshape(taps, [4, 4, c, o]), [0, 2, 1, 3]), [2, 2, c, 4 * o]);
    // [N, H + 1, W + 1, 4·O] over the input padded by one: phase (a, b) is the H × W window from (a, b)
    const all = tf.fused.conv2d({
      x,
      filter: kernel as tf.Tensor4D,
      strides: 1,
      pad: [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
      bias: tf.tile(bias, [4]),
      activation,
    });
    // one pass where the backend has the kernel (tf/kernels/phases.ts), else slices and concatenations
    if (getKernel(PHASES_TO_IMAGE, tf.getBackend())) return phasesToImage(all) as tf.Tensor4D;
    const phase = (a: number, b: number) => tf.slice(all, [0, a, b, (2 * a + b) * o], [n, h, w, o]);
    // channels (b, o) of a row phase are columns 2j + b; then rows (a, ·) are rows 2i + a
    const rowPhase = (a: number) => tf.reshape(tf.concat([phase(a, 0), phase(a, 1)], 3), [n, h, 2 * w, o]);
    return tf.reshape(tf.concat([rowPhase(0), rowPhase(1)], 2), [n, 2 * h, 2 * w, o]);
  });
}
