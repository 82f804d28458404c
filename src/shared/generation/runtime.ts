import type { InferenceSession, Tensor } from 'onnxruntime-common';

/**
 * What generation needs from an ONNX runtime. Each side supplies one adapter:
 * onnxruntime-web in workerd (src/edge/runtime/ort-web.ts), onnxruntime-node in the worker
 * (src/worker/onnx/runtime.ts). Both are onnxruntime-common underneath, so the types are shared.
 */
/** How to make a session, beyond the graph's bytes. */
export interface SessionOptions {
  /** the files a graph names as its external data (`location` → bytes) */
  externalData?: { path: string; data: Uint8Array }[];
  /**
   * ORT's graph optimisation level: 'all' (the default) suits the decoders; the compact text
   * encoder runs faster and loads ~8× sooner at 'basic' (docs/research/edge-text-encoder.md)
   */
  optimization?: 'basic' | 'all';
}

export interface OnnxRuntime {
  /** for logs and /healthz, e.g. "onnxruntime-web 1.30.0 (wasm)" */
  readonly name: string;
  createSession(bytes: Uint8Array, options?: SessionOptions): Promise<InferenceSession>;
  float32(data: Float32Array, dims: readonly number[]): Tensor;
  int64(data: BigInt64Array, dims: readonly number[]): Tensor;
}

/**
 * Runs one request at a time per session. ORT's wasm build computes synchronously inside `run`,
 * but a session must not see a second run before the first has resolved.
 */
export class SerialSession {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(readonly session: InferenceSession) {}

  run(feeds: InferenceSession.FeedsType): Promise<InferenceSession.ReturnType> {
    const result = this.tail.then(() => this.session.run(feeds));
    this.tail = result.catch(() => undefined);
    return result;
  }
}
