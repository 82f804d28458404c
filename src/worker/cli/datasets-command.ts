import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { fetchCoco } from '../data/coco-fetch.js';
import { downloadVerified } from '../data/download.js';
import { cacheDir, FASHION_MNIST_BASE_URL, FASHION_MNIST_FILES } from '../data/fashion-mnist.js';
import { writeSynthCoco } from '../data/synth-coco.js';
import { intOption, numberOption } from './options.js';
import { createBar } from './progress.js';

export function registerDatasets(program: Command): void {
  const datasets = program.command('datasets').description('download and inspect datasets');
  datasets
    .command('fetch')
    .description('download a dataset with checksum verification (fashion-mnist, coco)')
    .argument('<name>', 'dataset: fashion-mnist or coco')
    .option('--dir <dir>', 'destination folder (default: the cache for fashion-mnist, data/coco for coco)')
    .option('--base-url <url>', 'mirror to download from (default: the official one)')
    .addOption(new Option('--year <year>', 'coco: 2014 or 2017').choices(['2014', '2017']).default('2017'))
    .option('--fraction <x>', 'coco: share of the images to download (the paper used about 0.2)', numberOption(0), 0.2)
    .option('--seed <n>', 'coco: which images the fraction picks', intOption(0), 1)
    .action(
      async (name: string, flags: { dir?: string; baseUrl?: string; year: string; fraction: number; seed: number }) => {
        if (name === 'coco') {
          const dir = flags.dir ?? 'data/coco';
          let bar: ReturnType<typeof createBar> | undefined;
          const counts = await fetchCoco({
            dir,
            year: Number(flags.year) as 2014 | 2017,
            fraction: flags.fraction,
            seed: flags.seed,
            ...(flags.baseUrl ? { baseUrl: flags.baseUrl } : {}),
            onStage: (stage, total) => {
              bar?.stop();
              bar = total > 0 ? createBar(stage, total) : undefined;
              if (!bar) console.error(`${stage}…`);
            },
            onProgress: (done) => bar?.update(done),
          });
          bar?.stop();
          console.log(JSON.stringify({ dir, year: Number(flags.year), fraction: flags.fraction, ...counts }));
          return;
        }
        if (name !== 'fashion-mnist')
          throw new CvaeError('unknown_dataset', `unknown dataset '${name}'; available: fashion-mnist, coco`);
        const dir = flags.dir ?? join(cacheDir(), 'datasets', 'fashion-mnist');
        let bar: ReturnType<typeof createBar> | undefined;
        await downloadVerified(flags.baseUrl ?? FASHION_MNIST_BASE_URL, Object.values(FASHION_MNIST_FILES), dir, {
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
      },
    );
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
