import { availableParallelism } from 'node:os';
import { type Command, Option } from 'commander';
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
    // settings a container sets in its environment: commander reads them and names the variable
    // when a value is malformed
    .addOption(
      new Option('--replicas <n>', 'data-parallel training threads per job on the wasm/cpu backends')
        .env('CVAE_WORKER_REPLICAS')
        .argParser(intOption(1))
        // not the trainer's default: importing the trainer would load tfjs into the main thread,
        // which only polls (each job trains in a thread of its own)
        .default(availableParallelism(), 'one per core'),
    )
    .addOption(
      new Option(
        '--metrics-port <port>',
        'serve Prometheus metrics on GET /metrics at this port (0: any free port; default: off)',
      )
        .env('CVAE_WORKER_METRICS_PORT')
        .argParser(intOption(0, 65535)),
    )
    .addOption(
      new Option(
        '--keep-checkpoints-days <n>',
        "days to keep a finished job's checkpoints in the bucket (0: removed when it ends)",
      )
        .env('CVAE_KEEP_CHECKPOINTS_DAYS')
        .argParser(intOption(0))
        .default(0),
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
