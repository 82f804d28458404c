import { join } from 'node:path';
import type { Command } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { downloadVerified } from '../data/download.js';
import { cacheDir, FASHION_MNIST_BASE_URL, FASHION_MNIST_FILES } from '../data/fashion-mnist.js';
import { createBar } from './progress.js';

export function registerDatasets(program: Command): void {
  const datasets = program.command('datasets').description('download and inspect datasets');
  datasets
    .command('fetch')
    .description('download a dataset with checksum verification (fashion-mnist)')
    .argument('<name>', 'dataset: fashion-mnist')
    .option('--dir <dir>', 'destination folder (default: the cache, where the loader looks)')
    .option('--base-url <url>', 'mirror to download from', FASHION_MNIST_BASE_URL)
    .action(async (name: string, flags: { dir?: string; baseUrl: string }) => {
      if (name !== 'fashion-mnist')
        throw new CvaeError('unknown_dataset', `unknown dataset '${name}'; available: fashion-mnist`);
      const dir = flags.dir ?? join(cacheDir(), 'datasets', 'fashion-mnist');
      let bar: ReturnType<typeof createBar> | undefined;
      await downloadVerified(flags.baseUrl, Object.values(FASHION_MNIST_FILES), dir, {
        onStart: (file, bytes) => {
          bar = createBar(file, bytes ?? 0);
        },
        onProgress: (_file, received) => bar?.update(received, `${(received / 1e6).toFixed(1)} MB`),
        onDone: (file, skipped) => {
          bar?.stop();
          bar = undefined;
          console.error(`${file}: ${skipped ? 'already present, checksum ok' : 'downloaded, checksum ok'}`);
        },
      });
      console.log(dir);
    });
}
