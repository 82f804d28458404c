import { parentPort, workerData } from 'node:worker_threads';
import { type BackendChoice, initBackend } from '../tf/backend.js';
import { adoptModules } from '../wasm/assemble.js';
import { Replica, type ReplicaInit, type UpdateRequest } from './replica.js';

/**
 * Worker-thread host of one Replica. Requests: {id, op: 'gradients' | 'update', …}; replies: {id, result} or
 * {id, error}. Started by pool.ts through replica-thread-entry.mjs.
 */
const { init, backend, modules } = workerData as {
  init: ReplicaInit;
  backend: BackendChoice;
  modules?: [string, WebAssembly.Module][];
};
adoptModules(modules);
const port = parentPort;
if (!port) throw new Error('replica-thread must run in a worker thread');

const ready = initBackend(backend, () => {}).then(() => new Replica(init));

type Request = { id: number } & (
  | { op: 'gradients'; indices: Int32Array; eps: Float32Array; klWeight: number }
  | { op: 'update'; update: UpdateRequest }
);

port.on('message', async (req: Request) => {
  try {
    const replica = await ready;
    if (req.op === 'gradients')
      port.postMessage({ id: req.id, result: await replica.gradients(req.indices, req.eps, req.klWeight) });
    else {
      await replica.update(req.update);
      port.postMessage({ id: req.id, result: null });
    }
  } catch (error) {
    port.postMessage({ id: req.id, error: (error as Error).stack ?? String(error) });
  }
});
