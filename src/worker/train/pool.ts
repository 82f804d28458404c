import { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../tf/backend.js';
import { assembledModules } from '../wasm/assemble.js';
import { type DenseReplica, type GradientSummary, Replica, type ReplicaInit, type UpdateRequest } from './replica.js';

/** The trainer's view of a replica, wherever it runs. */
export interface ReplicaHandle {
  gradients(indices: Int32Array, eps: Float32Array, klWeight: number): Promise<GradientSummary>;
  update(req: UpdateRequest): Promise<void>;
  close(): Promise<void>;
}

export function localReplica(init: ReplicaInit): ReplicaHandle {
  const replica = new Replica(init);
  return {
    gradients: (indices, eps, klWeight) => replica.gradients(indices, eps, klWeight),
    update: (req) => replica.update(req),
    close: async () => replica.dispose(),
  };
}

export function threadReplica(init: ReplicaInit, backend: BackendChoice): ReplicaHandle {
  const worker = new Worker(new URL('./replica-thread-entry.mjs', import.meta.url), {
    // this thread's assembled wasm kernels: the replica compiles none itself (wasm/assemble.ts)
    workerData: { init, backend, modules: assembledModules() },
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  worker.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`replica thread: ${msg.error}`));
    else p.resolve(msg.result);
  });
  worker.on('error', (e) => failAll(e));
  worker.on('exit', (code) => failAll(new Error(`replica thread exited with code ${code}`)));
  const call = <T>(msg: object): Promise<T> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, ...msg });
    });
  };
  return {
    gradients: (indices, eps, klWeight) => call({ op: 'gradients', indices, eps, klWeight }),
    update: (update) => call({ op: 'update', update }),
    close: async () => {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}

/** A Float32Array that worker threads can share. */
export function sharedFloats(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

/**
 * One in-thread replica for the native TensorFlow backends (they use every core themselves);
 * `count` worker-thread replicas for wasm and cpu, which run on one core each.
 */
export function createReplicas(
  base: Omit<ReplicaInit, 'grads' | 'allGrads'>,
  trainableSize: number,
  backendName: string,
  count: number,
  alloc: (n: number) => Float32Array = sharedFloats,
  /** the k-th replica's dense step, for those that step without tfjs (dense-step.ts) */
  dense?: (k: number) => DenseReplica,
): { replicas: ReplicaHandle[]; gradSlots: Float32Array[] } {
  const threaded = count > 1 && backendName !== 'tensorflow';
  const n = threaded ? count : 1;
  const gradSlots = Array.from({ length: n }, () => alloc(trainableSize));
  const replicas = gradSlots.map((grads, k) => {
    const init = { ...base, grads, allGrads: gradSlots, ...(dense ? { dense: dense(k) } : {}) };
    return threaded ? threadReplica(init, backendName as BackendChoice) : localReplica(init);
  });
  return { replicas, gradSlots };
}
