import * as ortWeb from 'onnxruntime-web';
import type { OnnxRuntime } from '../../src/shared/generation/runtime.js';

/** onnxruntime-web in Node as the generation core's runtime: the edge's engine, for reference runs. */
export const nodeWebRuntime: OnnxRuntime = {
  name: 'onnxruntime-web (node)',
  createSession: (bytes) => ortWeb.InferenceSession.create(bytes),
  float32: (data, dims) => new ortWeb.Tensor('float32', data, dims),
  int64: (data, dims) => new ortWeb.Tensor('int64', data, dims),
};
