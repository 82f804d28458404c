import * as tf from '@tensorflow/tfjs-core';
import { CvaeError } from '../../shared/errors.js';
import { inputDims, loadSession, ort } from '../onnx/runtime.js';
import type { FeatureExtractor } from './feature-extractor.js';

/**
 * FID features from an ONNX image network — InceptionV3 in the usual FID setups (pool3, 2048-d).
 * Images are made 3-channel (grey is repeated), resized bilinearly to the model's input size,
 * normalised, and fed as NCHW float32; the first output, flattened per image, is the feature.
 *
 * Normalisation: 'inception' maps [0, 1] to [-1, 1] (TF-Slim/pytorch-fid InceptionV3);
 * 'imagenet' subtracts the ImageNet mean and divides by its std (torchvision models).
 */
export interface OnnxExtractorOptions {
  /** input side length; default: read from the model, else 299 */
  size?: number;
  normalize?: 'inception' | 'imagenet' | undefined;
  /** label printed beside every FID; default: the file name */
  id?: string;
  batch?: number;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

export async function onnxExtractor(path: string, options: OnnxExtractorOptions = {}): Promise<FeatureExtractor> {
  let session: ort.InferenceSession;
  try {
    session = await loadSession(path);
  } catch (error) {
    throw new CvaeError('fid_model_invalid', `cannot load FID feature model ${path}: ${(error as Error).message}`);
  }
  const inputName = session.inputNames[0] as string;
  const outputName = session.outputNames[0] as string;
  const dims = inputDims(session, inputName);
  const fromModel = typeof dims?.[2] === 'number' ? (dims[2] as number) : undefined;
  const size = options.size ?? fromModel ?? 299;
  if (dims && typeof dims[1] === 'number' && dims[1] !== 3) {
    throw new CvaeError(
      'fid_model_invalid',
      `${path}: expected an NCHW input with 3 channels, got [${dims.join(', ')}]`,
    );
  }
  const normalize = options.normalize ?? 'inception';
  const batch = options.batch ?? 32;
  const id = options.id ?? `onnx:${path.split('/').pop()}`;

  const preprocess = (images: Float32Array, n: number, h: number, w: number, c: number): Float32Array =>
    tf.tidy(() => {
      let x = tf.tensor4d(images, [n, h, w, c]);
      if (c === 1) x = tf.tile(x, [1, 1, 1, 3]);
      x = tf.image.resizeBilinear(x, [size, size]);
      x =
        normalize === 'inception'
          ? tf.sub(tf.mul(x, 2), 1)
          : tf.div(tf.sub(x, tf.tensor1d(IMAGENET_MEAN)), tf.tensor1d(IMAGENET_STD));
      return tf.transpose(x, [0, 3, 1, 2]).dataSync() as Float32Array;
    });

  let dim = 0;
  const extractor: FeatureExtractor = {
    id,
    description: `ONNX model ${path} (input ${size}x${size}, ${normalize} normalisation)`,
    get dim() {
      return dim;
    },
    async features(images, count) {
      const perImage = images.length / count;
      // The evaluation sets here are square images; infer side and channels from the size.
      const c = perImage % 3 === 0 && Number.isInteger(Math.sqrt(perImage / 3)) ? 3 : 1;
      const side = Math.sqrt(perImage / c);
      const chunks: Float32Array[] = [];
      for (let start = 0; start < count; start += batch) {
        const n = Math.min(batch, count - start);
        const input = preprocess(images.subarray(start * perImage, (start + n) * perImage), n, side, side, c);
        const result = await session.run({ [inputName]: new ort.Tensor('float32', input, [n, 3, size, size]) });
        const out = result[outputName] as ort.Tensor;
        const d = (out.data as Float32Array).length / n;
        if (dim === 0) dim = d;
        chunks.push(out.data as Float32Array);
      }
      const features = new Float32Array(count * dim);
      let offset = 0;
      for (const ch of chunks) {
        features.set(ch, offset);
        offset += ch.length;
      }
      return features;
    },
    dispose() {
      void session.release();
    },
  };
  return extractor;
}
