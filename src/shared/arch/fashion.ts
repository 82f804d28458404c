import type { ClassifierSpec, CvaeSpec } from './spec.js';

const image = { height: 28, width: 28, channels: 1 };

/**
 * Paper 3.2: three dense layers in the encoder (two ReLU, then the class embedding is concatenated
 * and a third layer gives mu and logvar), three in the decoder (z ⊕ embedding → ReLU, ReLU, sigmoid).
 */
export const fashionFc: CvaeSpec = {
  id: 'fashion-fc',
  description: 'Fully connected CVAE for 28x28 Fashion-MNIST (paper 3.2)',
  task: 'short-text',
  image,
  latentDim: 128,
  condition: { type: 'class', classes: 10 },
  encoder: {
    layers: [
      { type: 'flatten' },
      { type: 'dense', units: 512, activation: 'relu' },
      { type: 'dense', units: 256, activation: 'relu' },
    ],
    condition: { join: 'concat', size: 16 },
  },
  decoder: {
    condition: { join: 'concat', size: 16 },
    layers: [
      { type: 'dense', units: 256, activation: 'relu' },
      { type: 'dense', units: 512, activation: 'relu' },
      { type: 'dense', units: 784, activation: 'sigmoid' },
      { type: 'reshape', shape: [28, 28, 1] },
    ],
  },
};

/**
 * Paper 3.3: three ReLU convolutions (28→14→7→4), flatten, class embedding added, linear heads
 * for mu and logvar; the decoder takes z ⊕ embedding through a dense projection to 7x7x64 and
 * three transposed convolutions (7→14→28→28; ReLU, ReLU, sigmoid). Widths were chosen for ~5M
 * multiply-adds per image forward, so the CPU fallback trains at a few hundred images/s.
 */
export const fashionConv: CvaeSpec = {
  id: 'fashion-conv',
  description: 'Convolutional CVAE for 28x28 Fashion-MNIST (paper 3.3)',
  task: 'short-text',
  image,
  latentDim: 128,
  condition: { type: 'class', classes: 10 },
  encoder: {
    layers: [
      { type: 'conv2d', filters: 32, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'conv2d', filters: 64, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'conv2d', filters: 64, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'flatten' },
    ],
    condition: { join: 'add' },
  },
  decoder: {
    condition: { join: 'concat', size: 16 },
    layers: [
      { type: 'dense', units: 7 * 7 * 64, activation: 'relu' },
      { type: 'reshape', shape: [7, 7, 64] },
      { type: 'conv2dTranspose', filters: 32, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'conv2dTranspose', filters: 32, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'conv2dTranspose', filters: 1, kernel: 3, stride: 1, activation: 'sigmoid' },
    ],
  },
};

/**
 * The Fashion-MNIST classifier the project trains and ships: it scores class accuracy of
 * generations and its 128-d penultimate layer is the default FID feature extractor.
 */
export const fashionClassifier: ClassifierSpec = {
  id: 'fashion-classifier',
  description: 'Small CNN classifier for Fashion-MNIST; FID features from its 128-d dense layer',
  image,
  layers: [
    { type: 'conv2d', filters: 32, kernel: 3, stride: 2, activation: 'relu' },
    { type: 'conv2d', filters: 64, kernel: 3, stride: 2, activation: 'relu' },
    { type: 'flatten' },
    { type: 'dense', units: 128, activation: 'relu' },
    { type: 'dense', units: 10, activation: 'linear' },
  ],
  featureLayer: 3,
  classes: 10,
};

/**
 * The class-fidelity judge: the same network, trained with blur augmentation (blur.ts) so that it
 * reads a VAE's soft generations by their shape, not their sharpness. It scores class accuracy
 * and the per-class confusion of generations; FID keeps the crisp classifier's features.
 */
export const fashionJudge: ClassifierSpec = {
  ...fashionClassifier,
  id: 'fashion-judge',
  description: 'The Fashion-MNIST classifier network trained with blur augmentation; judges class fidelity',
};

export const FASHION_ARCHITECTURES: Record<string, CvaeSpec> = {
  [fashionFc.id]: fashionFc,
  [fashionConv.id]: fashionConv,
};
