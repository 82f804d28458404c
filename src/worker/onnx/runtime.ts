/**
 * The worker's one seam to an ONNX runtime (onnxruntime-node: CPU here, CUDA where present).
 * Nothing else in src/worker imports onnxruntime directly.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { OnnxRuntime, SessionOptions } from '../../shared/generation/runtime.js';

export { ort };

export async function loadSession(pathOrBytes: string | Uint8Array): Promise<ort.InferenceSession> {
  return typeof pathOrBytes === 'string'
    ? ort.InferenceSession.create(pathOrBytes)
    : ort.InferenceSession.create(pathOrBytes);
}

/** Input dims from the model's metadata where it has them (symbolic dims come back as strings). */
export function inputDims(session: ort.InferenceSession, name: string): (number | string)[] | undefined {
  const meta = (session as unknown as { inputMetadata?: { name: string; shape?: (number | string)[] }[] })
    .inputMetadata;
  return meta?.find((m) => m.name === name)?.shape;
}

/**
 * The execution provider for serving: CUDA where onnxruntime-node's CUDA build and a GPU are there
 * (the GPU container), else CPU. Decided by trying once; the outcome is logged.
 */
let provider: 'cuda' | 'cpu' | undefined = process.env.CVAE_ORT_PROVIDER === 'cpu' ? 'cpu' : undefined;

/** onnxruntime-node ships the CUDA provider library only in its CUDA install (the GPU container). */
function cudaProviderInstalled(): boolean {
  const binDir = join(
    dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  );
  return existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'));
}

/**
 * onnxruntime-node reads external data from files beside the graph, not from memory: both go to a
 * temporary folder for the session's creation (ORT has read them all once it returns).
 */
async function withExternalData<T>(
  bytes: Uint8Array,
  options: SessionOptions,
  create: (model: Uint8Array | string) => Promise<T>,
): Promise<T> {
  if (!options.externalData?.length) return create(bytes);
  const dir = await mkdtemp(join(tmpdir(), 'ort-external-'));
  try {
    for (const f of options.externalData) await writeFile(join(dir, basename(f.path)), f.data);
    await writeFile(join(dir, 'model.onnx'), bytes);
    return await create(join(dir, 'model.onnx'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function createServingSession(bytes: Uint8Array, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  const level = options.optimization ?? 'all';
  const make = (ep: 'cuda' | 'cpu') =>
    withExternalData(bytes, options, (model) =>
      typeof model === 'string'
        ? ort.InferenceSession.create(model, { executionProviders: [ep], graphOptimizationLevel: level })
        : ort.InferenceSession.create(model, { executionProviders: [ep], graphOptimizationLevel: level }),
    );
  if (provider === undefined && !cudaProviderInstalled()) provider = 'cpu';
  if (provider === undefined) {
    try {
      const session = await make('cuda');
      provider = 'cuda';
      console.error('onnxruntime-node: CUDA execution provider');
      return session;
    } catch (error) {
      provider = 'cpu';
      console.error(
        `onnxruntime-node: CPU execution provider (CUDA unavailable: ${(error as Error).message.split('\n')[0]})`,
      );
    }
  }
  return make(provider);
}

/** onnxruntime-node as the generation core's runtime (src/shared/generation/runtime.ts). */
export const nodeRuntime: OnnxRuntime = {
  get name() {
    return `onnxruntime-node ${ort.env.versions.common} (${provider ?? 'cpu'})`;
  },
  createSession: createServingSession,
  float32: (data, dims) => new ort.Tensor('float32', data, dims),
  int64: (data, dims) => new ort.Tensor('int64', data, dims),
};
