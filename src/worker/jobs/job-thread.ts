import { parentPort, workerData } from 'node:worker_threads';
import type { Lease } from '../../shared/api/jobs-schemas.js';
import { type S3Config, s3Store } from '../registry/s3-store.js';
import { EdgeJobsClient } from './edge-client.js';
import { runJob } from './run-job.js';
import type { JobEvent } from './telemetry.js';

/**
 * One training job in its own thread (see job-runner.ts): everything the job allocates — the
 * dataset, the tfjs backend's WebAssembly memory, which can grow but never shrink — goes with the
 * thread when it ends, so an idle worker returns to its idle footprint.
 */
export interface JobThreadData {
  lease: Lease;
  edgeUrl: string;
  token: string;
  workerId: string;
  s3: S3Config;
  workDir: string;
  keepCheckpointsDays: number;
  replicas?: number;
  /** Int32 flag: 1 once the process was asked to stop */
  stopFlag: SharedArrayBuffer;
}

export type JobThreadMessage =
  | { log: string }
  | { event: JobEvent }
  | { outcome: 'completed' | 'stopped' | 'cancelled' }
  | { error: { message: string; code?: string } };

const data = workerData as JobThreadData;
const post = (message: JobThreadMessage) => parentPort?.postMessage(message);
const stop = new Int32Array(data.stopFlag);

runJob(data.lease, {
  client: new EdgeJobsClient(data.edgeUrl, data.token, data.workerId),
  store: s3Store(data.s3),
  workDir: data.workDir,
  keepCheckpointsDays: data.keepCheckpointsDays,
  ...(data.replicas ? { replicas: data.replicas } : {}),
  stopping: () => Atomics.load(stop, 0) === 1,
  log: (line) => post({ log: line }),
  event: (e) => post({ event: e }),
})
  .then((outcome) => post({ outcome }))
  .catch((error: Error & { code?: string }) =>
    post({ error: { message: error.message, ...(error.code ? { code: error.code } : {}) } }),
  );
