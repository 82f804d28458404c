import { hostname } from 'node:os';
import { CvaeError } from '../../shared/errors.js';
import { type S3Config, s3Store } from '../registry/s3-store.js';
import { EdgeJobsClient } from './edge-client.js';
import { runJobInThread } from './job-runner.js';
import { sweepCheckpoints } from './retention.js';
import { serveWorkerMetrics, type WorkerTelemetry, workerTelemetry } from './telemetry.js';

/**
 * `cvae worker`: lease → train → export → publish → complete, forever. Any number of workers can
 * run side by side: the edge hands each job to one lease holder at a time. SIGTERM/SIGINT finish
 * the current epoch, upload its checkpoint, release the lease and exit.
 */
export interface WorkerOptions {
  edgeUrl: string;
  token: string;
  /** the registry bucket (checkpoints and published models) */
  s3: S3Config;
  workDir: string;
  workerId?: string;
  pollSeconds?: number;
  /** stop after one job (or when none is queued) */
  once?: boolean;
  /** days to keep finished jobs' checkpoints in the bucket (default 0: removed when the job ends) */
  keepCheckpointsDays?: number;
  /** training threads per job on the wasm/cpu backends (default: one per core) */
  replicas?: number;
  /** serve Prometheus metrics on this port (0: any free port); off when undefined */
  metricsPort?: number;
  /** JSON log lines and metrics; default: pino on stdout */
  telemetry?: WorkerTelemetry;
}

export async function runWorker(opts: WorkerOptions): Promise<void> {
  const workerId = opts.workerId ?? `${hostname()}-${process.pid}`;
  const client = new EdgeJobsClient(opts.edgeUrl, opts.token, workerId);
  const telemetry = opts.telemetry ?? workerTelemetry(workerId);
  const log = telemetry.log;
  const metrics =
    opts.metricsPort === undefined ? undefined : await serveWorkerMetrics(telemetry.registry, opts.metricsPort);
  if (metrics) log(`metrics on ${metrics.url}/metrics`);
  const store = s3Store(opts.s3);
  let stopping = false;
  // the running job's thread reads this flag between epochs
  const stopFlag = new SharedArrayBuffer(4);
  let wake: (() => void) | undefined;
  const stop = () => {
    if (!stopping) log('stopping: finishing the current epoch, then releasing the lease');
    stopping = true;
    Atomics.store(new Int32Array(stopFlag), 0, 1);
    wake?.();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  log(`polling ${opts.edgeUrl} for training jobs`);
  // kept checkpoints are swept by idle workers, at most hourly
  let lastSweep = 0;
  const sweepIfDue = async () => {
    const keepDays = opts.keepCheckpointsDays ?? 0;
    if (keepDays <= 0 || Date.now() - lastSweep < 3_600_000) return;
    lastSweep = Date.now();
    const swept = await sweepCheckpoints({ store, keepDays, log }).catch((e: Error) => {
      log(`checkpoint sweep failed: ${e.message}`);
      return 0;
    });
    if (swept) log(`removed the checkpoints of ${swept} job(s) that ended over ${keepDays} day(s) ago`);
  };
  try {
    while (!stopping) {
      let lease: Awaited<ReturnType<EdgeJobsClient['lease']>>;
      try {
        lease = await client.lease();
      } catch (error) {
        telemetry.event({ event: 'lease_failed', error: (error as Error).message });
        lease = undefined;
      }
      if (!lease) {
        if (opts.once) return;
        await sweepIfDue();
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, (opts.pollSeconds ?? 5) * 1000);
        });
        continue;
      }
      const { job } = lease;
      const architecture = String((job.config as { architecture?: unknown }).architecture ?? 'unknown');
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      telemetry.event({ event: 'leased', job: job.id, architecture, attempt: job.attempts });
      try {
        const outcome = await runJobInThread(
          {
            lease,
            edgeUrl: opts.edgeUrl,
            token: opts.token,
            workerId,
            s3: opts.s3,
            workDir: opts.workDir,
            keepCheckpointsDays: opts.keepCheckpointsDays ?? 0,
            ...(opts.replicas ? { replicas: opts.replicas } : {}),
          },
          stopFlag,
          log,
          telemetry.event,
        );
        telemetry.event({ event: 'finished', job: job.id, architecture, outcome, seconds: seconds() });
      } catch (error) {
        const message = (error as Error).message;
        telemetry.event({
          event: 'finished',
          job: job.id,
          architecture,
          outcome: 'failed',
          seconds: seconds(),
          error: message,
        });
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
    metrics?.close();
  }
}
