import { hostname } from 'node:os';
import { CvaeError } from '../../shared/errors.js';
import type { ObjectStore } from '../registry/object-store.js';
import { EdgeJobsClient } from './edge-client.js';
import { runJob } from './run-job.js';

/**
 * `cvae worker`: lease → train → export → publish → complete, forever. Any number of workers can
 * run side by side: the edge hands each job to one lease holder at a time. SIGTERM/SIGINT finish
 * the current epoch, upload its checkpoint, release the lease and exit.
 */
export interface WorkerOptions {
  edgeUrl: string;
  token: string;
  store: ObjectStore;
  workDir: string;
  workerId?: string;
  pollSeconds?: number;
  /** stop after one job (or when none is queued) */
  once?: boolean;
  log?: (line: string) => void;
}

export async function runWorker(opts: WorkerOptions): Promise<void> {
  const workerId = opts.workerId ?? `${hostname()}-${process.pid}`;
  const client = new EdgeJobsClient(opts.edgeUrl, opts.token, workerId);
  const log = opts.log ?? ((line: string) => console.error(`[worker ${workerId}] ${line}`));
  let stopping = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    if (!stopping) log('stopping: finishing the current epoch, then releasing the lease');
    stopping = true;
    wake?.();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  log(`polling ${opts.edgeUrl} for training jobs`);
  try {
    while (!stopping) {
      let lease: Awaited<ReturnType<EdgeJobsClient['lease']>>;
      try {
        lease = await client.lease();
      } catch (error) {
        log(`lease failed: ${(error as Error).message}`);
        lease = undefined;
      }
      if (!lease) {
        if (opts.once) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, (opts.pollSeconds ?? 5) * 1000);
        });
        continue;
      }
      try {
        const outcome = await runJob(lease, {
          client,
          store: opts.store,
          workDir: opts.workDir,
          stopping: () => stopping,
          log,
        });
        log(`${lease.job.id}: ${outcome}`);
      } catch (error) {
        const message = (error as Error).message;
        log(`${lease.job.id}: failed: ${message}`);
        const retryable = !(error instanceof CvaeError && ['bad_job', 'bad_option'].includes(error.code));
        await client
          .fail(lease.job.id, message, retryable)
          .catch((e: Error) => log(`could not report the failure: ${e.message}`));
      }
      if (opts.once) return;
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
