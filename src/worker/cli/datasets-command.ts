import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { downloadVerified } from '../data/download.js';
import { cacheDir, FASHION_MNIST_BASE_URL, FASHION_MNIST_FILES } from '../data/fashion-mnist.js';
import { writeSynthCoco } from '../data/synth-coco.js';
import { intOption } from './options.js';
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
  datasets
    .command('synth-coco')
    .description('write a COCO-format captions dataset of generated scenes (shapes, colours, positions, counts)')
    .option('--out <dir>', 'destination folder', 'data/synth-coco')
    .option('--images <n>', 'number of images (10% go to val)', intOption(2), 2000)
    .option('--size <px>', 'JPEG size', intOption(16), 256)
    .option('--seed <n>', 'seed', intOption(0), 1)
    .addOption(new Option('--year <year>', 'layout year').choices(['2014', '2017']).default('2017'))
    .action(async (flags: { out: string; images: number; size: number; seed: number; year: string }) => {
      const bar = createBar('synth-coco', flags.images);
      const splits = await writeSynthCoco({
        out: flags.out,
        images: flags.images,
        size: flags.size,
        seed: flags.seed,
        year: Number(flags.year) as 2014 | 2017,
        onImage: (d) => bar.update(d),
      });
      bar.stop();
      console.log(JSON.stringify({ out: flags.out, ...splits }));
    });
}
