import { Worker } from 'node:worker_threads';
import { CvaeError } from '../../shared/errors.js';
import type { JobThreadData, JobThreadMessage } from './job-thread.js';
import type { JobEvent } from './telemetry.js';

/**
 * Runs one leased job in a worker thread (job-thread.ts) and resolves with its outcome; a job's
 * error comes back as a CvaeError with its code, so the loop can tell bad jobs from retryable ones.
 */
export function runJobInThread(
  data: Omit<JobThreadData, 'stopFlag'>,
  stopFlag: SharedArrayBuffer,
  log: (line: string) => void,
  event: (e: JobEvent) => void,
): Promise<'completed' | 'stopped' | 'cancelled'> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(new URL('./job-thread-entry.mjs', import.meta.url), {
      workerData: { ...data, stopFlag } satisfies JobThreadData,
    });
    let settled = false;
    thread.on('message', (message: JobThreadMessage) => {
      if ('log' in message) return log(message.log);
      if ('event' in message) return event(message.event);
      settled = true;
      if ('outcome' in message) resolve(message.outcome);
      else reject(new CvaeError(message.error.code ?? 'job_failed', message.error.message));
      // the thread's job is done; end it so its memory goes with it
      void thread.terminate();
    });
    thread.on('error', (error) => {
      if (!settled) reject(error);
      settled = true;
    });
    thread.on('exit', (code) => {
      if (!settled) reject(new Error(`the job thread exited with code ${code}`));
      settled = true;
    });
  });
}
