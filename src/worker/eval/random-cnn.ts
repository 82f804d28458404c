import { describeClassifier } from '../../shared/arch/shapes.js';
import type { ClassifierSpec } from '../../shared/arch/spec.js';
import { initialValues } from '../model/weights.js';
import { classifierExtractor, type FeatureExtractor } from './feature-extractor.js';

/**
 * FID features for RGB images when no Inception network is at hand: a fixed, seeded, untrained
 * CNN (4 conv 3x3/2 ReLU + dense 256). Random convolutional features still separate colour,
 * layout and texture statistics, so the score ranks models, but it is not comparable with the
 * paper's Inception FID; its id says so everywhere it is printed. Pass --fid-onnx with an
 * InceptionV3 feature model for the paper's FID.
 */
export function randomCnnSpec(size: number): ClassifierSpec {
  return {
    id: `random-cnn-${size}`,
    description: `seeded untrained CNN features for ${size}x${size} RGB (not Inception)`,
    image: { height: size, width: size, channels: 3 },
    layers: [
      { type: 'conv2d', filters: 16, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'conv2d', filters: 32, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'conv2d', filters: 64, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'conv2d', filters: 64, kernel: 3, stride: 2, activation: 'relu' },
      { type: 'flatten' },
      { type: 'dense', units: 256, activation: 'relu' },
      { type: 'dense', units: 2, activation: 'linear' },
    ],
    featureLayer: 5,
    classes: 2,
  };
}

export function randomCnnExtractor(size: number, seed = 7): FeatureExtractor {
  const spec = randomCnnSpec(size);
  const extractor = classifierExtractor(spec, initialValues(describeClassifier(spec).params, seed));
  return { ...extractor, classify: undefined, description: spec.description };
}
