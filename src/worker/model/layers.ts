import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM_EPSILON } from '../../shared/arch/shapes.js';
import type { Activation, Layer } from '../../shared/arch/spec.js';
import { batchNormTraining } from './batch-norm.js';
import { fusesWithUpsample, upsampleConv3x3 } from './upsample-conv.js';
import type { Weights } from './weights.js';

/**
 * tfjs interpreter for spec layers. Training and inference both run through here; the ONNX writer
 * interprets the same specs for export.
 */
export interface RunOptions {
  training: boolean;
  /**
   * each batch norm's input statistics on this batch: in training for the caller to fold into the
   * moving averages; in inference to calibrate batch norms (onnx/import-cvae.ts)
   */
  batchStats?: { name: string; mean: tf.Tensor; variance: tf.Tensor }[];
  /** return the last layer's pre-activation (e.g. logits for a stable BCE loss) */
  logits?: boolean;
  /**
   * The stack's input is data (the encoder's images), not computed from weights: in training its
   * first dense or convolutional layer skips the gradient to its input, which nothing reads.
   */
  dataInput?: boolean;
}

function param(w: Weights, name: string): tf.Tensor {
  const t = w[name];
  if (!t) throw new Error(`missing weight ${name}`);
  return t;
}

function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  if (activation === 'relu') return tf.relu(x);
  if (activation === 'sigmoid') return tf.sigmoid(x);
  return x;
}

/** Batch norm, then `activation` (in training the kernel path fuses a ReLU into it). */
function batchNorm(x: tf.Tensor, w: Weights, prefix: string, opts: RunOptions, activation: Activation): tf.Tensor {
  const gamma = param(w, `${prefix}.bn.gamma`);
  const beta = param(w, `${prefix}.bn.beta`);
  if (opts.training) {
    const trained = batchNormTraining(x, gamma, beta, BATCH_NORM_EPSILON, activation === 'relu');
    const { y, mean, variance } = trained;
    if (opts.batchStats) opts.batchStats.push({ name: prefix, mean, variance });
    else tf.dispose([mean, variance]);
    return trained.activated ? y : activate(y, activation);
  }
  if (opts.batchStats)
    opts.batchStats.push({
      name: prefix,
      ...tf.moments(
        x,
        x.shape.slice(0, -1).map((_, i) => i),
      ),
    });
  const y = tf.batchNorm(
    x,
    param(w, `${prefix}.bn.mean`),
    param(w, `${prefix}.bn.variance`),
    beta,
    gamma,
    BATCH_NORM_EPSILON,
  );
  return activate(y, activation);
}

export function runLayer(
  layer: Layer,
  x: tf.Tensor,
  w: Weights,
  prefix: string,
  opts: RunOptions,
  last: boolean,
  /** x is data, not computed from weights: no gradient to it (see RunOptions.dataInput) */
  dataX = false,
  /** a conv2d layer reading x upsampled ×2 by the layer before it, which was skipped (runStack) */
  upsampled = false,
): tf.Tensor {
  const activation: Activation = 'activation' in layer ? (last && opts.logits ? 'linear' : layer.activation) : 'linear';
  const bn = 'batchNorm' in layer && layer.batchNorm === true;
  // Fused kernels carry bias + ReLU in one op (and one gradient); sigmoid and batch norm run apart.
  const fusedActivation = !bn && (activation === 'relu' || activation === 'linear') ? activation : 'linear';
  const after = (y: tf.Tensor) => {
    if (bn) return batchNorm(y, w, prefix, opts, activation);
    return fusedActivation === activation ? y : activate(y, activation);
  };
  /** what a fused op computes after its product, for a product made by a plain op */
  const biasThenAfter = (y: tf.Tensor, bias: tf.Tensor) => {
    const biased = tf.add(y, bias);
    return after(fusedActivation === 'relu' ? tf.relu(biased) : biased);
  };
  switch (layer.type) {
    case 'dense': {
      const kernel = param(w, `${prefix}.kernel`) as tf.Tensor2D;
      const bias = param(w, `${prefix}.bias`);
      if (dataX && opts.training) {
        // as for conv2d below: the plain product's gradient to the data is never computed
        return biasThenAfter(tf.matMul(x as tf.Tensor2D, kernel), bias);
      }
      return after(tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel, bias, activation: fusedActivation }));
    }
    case 'conv2d': {
      const filter = param(w, `${prefix}.kernel`) as tf.Tensor4D;
      const bias = param(w, `${prefix}.bias`);
      if (upsampled) return after(upsampleConv3x3(x as tf.Tensor4D, filter, bias, fusedActivation));
      if (dataX && opts.training) {
        // The fused op's gradient (a customGrad) computes the gradient to its input every time;
        // the plain op's is lazy, and the tape drops it for data. tfjs unfuses ReLU layers while
        // recording gradients anyway, so this matters before a batch norm (linear): at 256 px the
        // image-sized, 3-channel Conv2DBackpropInput of every step (docs/PERFORMANCE.md, 2026-12-01).
        return biasThenAfter(tf.conv2d(x as tf.Tensor4D, filter, layer.stride, 'same'), bias);
      }
      return after(
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter,
          strides: layer.stride,
          pad: 'same',
          bias,
          activation: fusedActivation,
        }),
      );
    }
    case 'conv2dTranspose': {
      const [b, h, wd] = x.shape as number[];
      const out = tf.conv2dTranspose(
        x as tf.Tensor4D,
        param(w, `${prefix}.kernel`) as tf.Tensor4D,
        [b as number, (h as number) * layer.stride, (wd as number) * layer.stride, layer.filters],
        layer.stride,
        'same',
      );
      return biasThenAfter(out, param(w, `${prefix}.bias`));
    }
    case 'upsample': {
      const [, h, wd] = x.shape as number[];
      return tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [
        (h as number) * layer.factor,
        (wd as number) * layer.factor,
      ]);
    }
    case 'flatten':
      return tf.reshape(x, [x.shape[0] as number, -1]);
    case 'reshape':
      return tf.reshape(x, [x.shape[0] as number, ...layer.shape]);
  }
}

export function runStack(layers: Layer[], x: tf.Tensor, w: Weights, prefix: string, opts: RunOptions): tf.Tensor {
  // The output activation is that of the last layer that has one (a reshape may follow it).
  const lastActive = layers.findLastIndex((l) => 'activation' in l);
  // the first layer with weights sees the stack's input (a flatten or reshape before it is no op)
  const firstWeighted = layers.findIndex((l) => l.type === 'dense' || l.type === 'conv2d');
  let y = x;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i] as Layer;
    const next = layers[i + 1];
    if (
      layer.type === 'upsample' &&
      next?.type === 'conv2d' &&
      i + 1 !== firstWeighted &&
      fusesWithUpsample(layer.factor, next.kernel, next.stride)
    ) {
      // the pair as one resize-convolution at the input's resolution (upsample-conv.ts)
      i++;
      y = runLayer(next, y, w, `${prefix}.${i}`, opts, i === lastActive, false, true);
      continue;
    }
    y = runLayer(layer, y, w, `${prefix}.${i}`, opts, i === lastActive, opts.dataInput === true && i === firstWeighted);
  }
  return y;
}
