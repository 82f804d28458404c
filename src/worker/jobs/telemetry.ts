import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * What `cvae worker` tells an operator: one JSON log line per job event (pino, on stdout) and
 * Prometheus metrics (prom-client) on `GET /metrics` when a metrics port is given. Events come
 * from the loop (leases) and from the job's thread (epochs, publishing), so both feed this.
 */
export type JobEvent =
  | { event: 'leased'; job: string; architecture: string; attempt: number }
  | { event: 'started'; job: string; architecture: string; epochs: number; resume: boolean }
  | {
      event: 'epoch';
      job: string;
      architecture: string;
      epoch: number;
      epochs: number;
      loss: number;
      seconds: number;
    }
  | { event: 'published'; job: string; architecture: string; model: string }
  | {
      event: 'finished';
      job: string;
      architecture: string;
      outcome: 'completed' | 'stopped' | 'cancelled' | 'failed';
      seconds: number;
      error?: string;
    }
  | { event: 'lease_failed'; error: string };

export interface WorkerTelemetry {
  /** free-text lines (start-up, stopping, clean-up) */
  log(message: string): void;
  event(e: JobEvent): void;
  registry: Registry;
}

export function workerTelemetry(workerId: string, destination?: pino.DestinationStream): WorkerTelemetry {
  const logger = pino({ name: 'cvae-worker', base: { service: 'cvae-worker', worker: workerId } }, destination);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const jobs = new Counter({
    name: 'cvae_worker_jobs_total',
    help: 'Jobs this worker ended, by architecture and outcome',
    labelNames: ['architecture', 'outcome'],
    registers: [registry],
  });
  const jobSeconds = new Histogram({
    name: 'cvae_worker_job_duration_seconds',
    help: 'Wall time from lease to end of a job on this worker, by architecture and outcome',
    labelNames: ['architecture', 'outcome'],
    buckets: [10, 60, 300, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400],
    registers: [registry],
  });
  const epochs = new Counter({
    name: 'cvae_worker_epochs_total',
    help: 'Epochs trained and checkpointed, by architecture',
    labelNames: ['architecture'],
    registers: [registry],
  });
  const epochSeconds = new Histogram({
    name: 'cvae_worker_epoch_duration_seconds',
    help: 'Wall time of one epoch, by architecture',
    labelNames: ['architecture'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600],
    registers: [registry],
  });
  const leaseFailures = new Counter({
    name: 'cvae_worker_lease_failures_total',
    help: 'Lease requests to the edge that failed (network, auth, server errors)',
    registers: [registry],
  });
  const busy = new Gauge({
    name: 'cvae_worker_busy',
    help: '1 while the worker holds a job',
    registers: [registry],
  });
  return {
    registry,
    log: (message) => logger.info(message),
    event(e) {
      if (e.event === 'lease_failed' || (e.event === 'finished' && e.outcome === 'failed')) logger.warn(e, e.event);
      else logger.info(e, e.event);
      switch (e.event) {
        case 'leased':
          busy.set(1);
          break;
        case 'epoch':
          epochs.inc({ architecture: e.architecture });
          epochSeconds.observe({ architecture: e.architecture }, e.seconds);
          break;
        case 'finished':
          busy.set(0);
          jobs.inc({ architecture: e.architecture, outcome: e.outcome });
          jobSeconds.observe({ architecture: e.architecture, outcome: e.outcome }, e.seconds);
          break;
        case 'lease_failed':
          leaseFailures.inc();
          break;
      }
    },
  };
}

/** `GET /metrics` (and nothing else) on its own port, for Prometheus to scrape. */
export async function serveWorkerMetrics(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
): Promise<Server & { url: string }> {
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { code: 'not_found', message: 'only GET /metrics is here' } }));
    }
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return Object.assign(server, { url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}` });
}
