import type { Command } from 'commander';
import { runStack } from '../dev/stack.js';
import { intOption } from './options.js';

/** `cvae stack` (`npm start`): the whole system locally — registry, edge, GPU server, worker. */
export function registerStack(program: Command): void {
  program
    .command('stack')
    .description('run everything locally: S3 registry, the edge in workerd (D1), cvae serve, a training worker')
    .option('--dir <dir>', 'state folder', '.cache/stack')
    .option('--edge-port <n>', 'edge (playground and API)', intOption(0), 8787)
    .option('--serve-port <n>', 'cvae serve (the GPU server)', intOption(0), 8788)
    .option('--worker-metrics-port <n>', "the training worker's Prometheus metrics", intOption(0), 8789)
    .option(
      '--text-encoder <dir>',
      'a text-encoder package to serve (e.g. real CLIP weights, `cvae clip publish`; default: the generated CLIP graph)',
    )
    .option('--s3-port <n>', 'local S3 API', intOption(0), 9000)
    .action(
      async (flags: {
        dir: string;
        edgePort: number;
        servePort: number;
        s3Port: number;
        workerMetricsPort: number;
      }) => {
        await runStack(flags);
      },
    );
}
