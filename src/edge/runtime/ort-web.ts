/**
 * onnxruntime-web inside workerd, without patching ORT.
 *
 * workerd refuses to compile WebAssembly from bytes at run time and has no `import.meta.url`, so
 * ORT cannot fetch and compile its .wasm the way it does in browsers. Instead wrangler's default
 * CompiledWasm rule turns the import below into a precompiled `WebAssembly.Module`. ORT is given a
 * tiny sentinel buffer as `wasmBinary`; its loader passes that to `WebAssembly.instantiate`, which
 * we wrap so that exactly this call instantiates the precompiled module instead. One thread, no
 * proxy worker: isolates have neither threads nor workers.
 */

import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import * as ort from 'onnxruntime-web/wasm';
import type { OnnxRuntime, SessionOptions } from '../../shared/generation/runtime.js';
import type { TensorSignature } from '../../shared/manifest.js';

const sentinel = new ArrayBuffer(8);
let installed = false;
let memory: WebAssembly.Memory | undefined;

/** ORT's wasm memory now (it only grows): for the benchmark's account of the isolate's memory. */
export function wasmMemoryBytes(): number {
  return memory?.buffer.byteLength ?? 0;
}

function findMemory(instance: WebAssembly.Instance, imports?: WebAssembly.Imports): WebAssembly.Memory | undefined {
  const candidates = [
    ...Object.values(instance.exports),
    ...Object.values(imports ?? {}).flatMap((m) => Object.values(m as Record<string, unknown>)),
  ];
  return candidates.find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory);
}

function install(): void {
  if (installed) return;
  installed = true;
  const instantiate = WebAssembly.instantiate.bind(WebAssembly);
  const wrapped = async (source: unknown, imports?: WebAssembly.Imports) => {
    const bytes = source instanceof Uint8Array ? source.buffer : source;
    if (bytes === sentinel) {
      const instance = await instantiate(ortWasm, imports);
      memory = findMemory(instance, imports);
      return { module: ortWasm, instance };
    }
    return instantiate(source as BufferSource, imports);
  };
  (WebAssembly as { instantiate: unknown }).instantiate = wrapped;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = sentinel;
  ort.env.logLevel = 'error';
}

const create = (bytes: Uint8Array, options: SessionOptions = {}) => {
  install();
  return ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: options.optimization ?? 'all',
    ...(options.externalData ? { externalData: options.externalData } : {}),
  });
};

/** Sessions made ahead of any request (see `prewarm`), waiting for the first createSession of the same bytes. */
const prewarmed: { bytes: Uint8Array; session: Promise<ort.InferenceSession> }[] = [];

const sameBytes = (a: Uint8Array, b: Uint8Array) => {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
};

/** Zeros of a signature's shape, symbolic dimensions (batch) as 1. */
const zeros = (s: TensorSignature) => {
  const dims = s.shape.map((d) => (typeof d === 'number' ? d : 1));
  const size = dims.reduce((a, b) => a * b, 1);
  return s.type === 'int64'
    ? new ort.Tensor('int64', new BigInt64Array(size), dims)
    : new ort.Tensor('float32', new Float32Array(size), dims);
};

/**
 * Initialises ORT, makes a session for `bytes` and runs it once on zeros, while the isolate
 * starts, before any request. Most of a cold request is ORT's own start (its CPU kernel registry,
 * built on the first session, and wasm functions compiled on their first call), not the model.
 * Cloudflare starts isolates while the TLS handshake runs, and WebAssembly is allowed at startup
 * (I/O is not, hence bytes already in the bundle), so this takes that cost off the first request.
 * The session is handed to the first createSession of the same bytes.
 */
export async function prewarm(
  bytes: Uint8Array,
  inputs: readonly TensorSignature[] = [],
): Promise<ort.InferenceSession> {
  const session = create(bytes);
  prewarmed.push({ bytes, session });
  const s = await session;
  if (inputs.length > 0) await s.run(Object.fromEntries(inputs.map((i) => [i.name, zeros(i)])));
  return s;
}

export const webRuntime: OnnxRuntime = {
  name: `onnxruntime-web ${ort.env.versions.web ?? ''} (wasm, workerd)`,
  createSession(bytes, options) {
    const i = options ? -1 : prewarmed.findIndex((p) => sameBytes(p.bytes, bytes));
    if (i < 0) return create(bytes, options);
    const [hit] = prewarmed.splice(i, 1);
    return (hit as (typeof prewarmed)[number]).session;
  },
  float32: (data, dims) => new ort.Tensor('float32', data, dims),
  int64: (data, dims) => new ort.Tensor('int64', data, dims),
};
