import { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../tf/backend.js';
import { type GradientSummary, Replica, type ReplicaInit } from './replica.js';

/** The trainer's view of a replica, wherever it runs. */
export interface ReplicaHandle {
  gradients(indices: Int32Array, eps: Float32Array): Promise<GradientSummary>;
  close(): Promise<void>;
}

export function localReplica(init: ReplicaInit): ReplicaHandle {
  const replica = new Replica(init);
  return {
    gradients: (indices, eps) => replica.gradients(indices, eps),
    close: async () => replica.dispose(),
  };
}

export function threadReplica(init: ReplicaInit, backend: BackendChoice): ReplicaHandle {
  const worker = new Worker(new URL('./replica-thread-entry.mjs', import.meta.url), { workerData: { init, backend } });
  const pending = new Map<number, { resolve: (v: GradientSummary) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  worker.on('message', (msg: { id: number; result?: GradientSummary; error?: string }) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error || !msg.result) p.reject(new Error(`replica thread: ${msg.error}`));
    else p.resolve(msg.result);
  });
  worker.on('error', (e) => failAll(e));
  worker.on('exit', (code) => failAll(new Error(`replica thread exited with code ${code}`)));
  return {
    gradients: (indices, eps) => {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, indices, eps });
      });
    },
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
  base: Omit<ReplicaInit, 'grads'>,
  trainableSize: number,
  backendName: string,
  count: number,
): { replicas: ReplicaHandle[]; gradSlots: Float32Array[] } {
  const threaded = count > 1 && backendName !== 'tensorflow';
  const n = threaded ? count : 1;
  const gradSlots = Array.from({ length: n }, () => sharedFloats(trainableSize));
  const replicas = gradSlots.map((grads) =>
    threaded ? threadReplica({ ...base, grads }, backendName as BackendChoice) : localReplica({ ...base, grads }),
  );
  return { replicas, gradSlots };
}
