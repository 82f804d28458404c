import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { runWorker } from '../jobs/worker-loop.js';
import { s3ConfigFromEnv } from '../registry/s3-store.js';
import { intOption } from './options.js';

/** `cvae worker`: a training worker pulling training jobs from the edge. */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('pull training jobs from the edge: lease, train, export, publish to the registry, complete; repeat')
    .requiredOption('--edge <url>', 'the edge base URL, e.g. https://cvae.example.workers.dev')
    .option('--token-env <name>', 'environment variable holding the worker token', 'CVAE_WORKER_TOKEN')
    .option('--id <name>', 'worker id in leases and logs (default: host-pid)')
    .option('--work-dir <dir>', 'local run folders', 'runs/jobs')
    .option('--poll <seconds>', 'wait between empty polls', intOption(1), 5)
    .option('--once', 'handle at most one job, then exit')
    .option(
      '--replicas <n>',
      'data-parallel training threads per job on the wasm/cpu backends, one per core unless set (or CVAE_WORKER_REPLICAS)',
      intOption(1),
      // not the trainer's default: importing the trainer would load tfjs into the main thread, which
      // only polls (each job trains in a thread of its own)
      process.env.CVAE_WORKER_REPLICAS === undefined
        ? availableParallelism()
        : Number(process.env.CVAE_WORKER_REPLICAS),
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on GET /metrics at this port (0: any free port; default: off)',
      intOption(0),
      process.env.CVAE_WORKER_METRICS_PORT === undefined ? undefined : Number(process.env.CVAE_WORKER_METRICS_PORT),
    )
    .option(
      '--keep-checkpoints-days <n>',
      "days to keep a finished job's checkpoints in the bucket (0: removed when it ends)",
      intOption(0),
      Number(process.env.CVAE_KEEP_CHECKPOINTS_DAYS ?? 0),
    )
    .action(
      async (flags: {
        edge: string;
        tokenEnv: string;
        id?: string;
        workDir: string;
        poll: number;
        once?: boolean;
        keepCheckpointsDays: number;
        replicas: number;
        metricsPort?: number;
      }) => {
        const token = process.env[flags.tokenEnv];
        if (!token) throw new CvaeError('bad_option', `set ${flags.tokenEnv} to the edge's WORKER_TOKEN`);
        const port = flags.metricsPort;
        if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536))
          throw new CvaeError(
            'bad_option',
            `CVAE_WORKER_METRICS_PORT must be a port number, not '${process.env.CVAE_WORKER_METRICS_PORT}'`,
          );
        if (!(Number.isInteger(flags.replicas) && flags.replicas >= 1))
          throw new CvaeError(
            'bad_option',
            `CVAE_WORKER_REPLICAS must be a whole number ≥ 1, not '${process.env.CVAE_WORKER_REPLICAS}'`,
          );
        await runWorker({
          edgeUrl: flags.edge,
          token,
          s3: s3ConfigFromEnv(),
          workDir: flags.workDir,
          pollSeconds: flags.poll,
          keepCheckpointsDays: flags.keepCheckpointsDays,
          replicas: flags.replicas,
          ...(flags.id ? { workerId: flags.id } : {}),
          ...(flags.once ? { once: true } : {}),
          ...(flags.metricsPort !== undefined ? { metricsPort: flags.metricsPort } : {}),
        });
        // done (or told to stop): do not wait for idle sockets and worker threads to wind down
        process.exit(0);
      },
    );
}
