import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Command } from 'commander';
import { fashionClassifier } from '../../shared/arch/fashion.js';
import { loadFashionMnist } from '../data/fashion-mnist.js';
import { saveClassifier } from '../eval/classifier-store.js';
import { classifierExtractor } from '../eval/feature-extractor.js';
import { trainClassifier } from '../eval/train-classifier.js';
import { MODELS_DIR } from '../paths.js';
import { initBackend } from '../tf/backend.js';
import { sharedFromLabeled } from '../train/dataset.js';
import { intOption } from './options.js';
import { createBar } from './progress.js';

export function registerClassifier(program: Command): void {
  program
    .command('classifier')
    .description('the Fashion-MNIST classifier used for class accuracy and as the default FID extractor')
    .command('train')
    .description(`train it on the 60k training images and write models/${fashionClassifier.id}/`)
    .option('--epochs <n>', 'epochs', intOption(1), 10)
    .option('--seed <n>', 'seed', intOption(0), 1)
    .option('--out <dir>', 'output folder', join(MODELS_DIR, fashionClassifier.id))
    .action(async (flags: { epochs: number; seed: number; out: string }) => {
      const backend = await initBackend();
      const fm = await loadFashionMnist();
      const data = sharedFromLabeled(fm.train.pixels, fm.train.labels, [28, 28, 1], 10);
      let bar: ReturnType<typeof createBar> | undefined;
      let current = 0;
      const values = await trainClassifier(fashionClassifier, data, {
        epochs: flags.epochs,
        batchSize: 128,
        seed: flags.seed,
        onBatch: (epoch, seen, loss) => {
          if (epoch !== current) {
            bar?.stop();
            bar = createBar(`classifier epoch ${epoch}/${flags.epochs}`, data.count);
            current = epoch;
          }
          bar?.update(seen, `loss ${loss.toFixed(3)}`);
        },
      });
      bar?.stop();
      const test = new Float32Array(fm.test.pixels.length);
      for (let i = 0; i < test.length; i++) test[i] = (fm.test.pixels[i] as number) / 255;
      const extractor = classifierExtractor(fashionClassifier, values);
      const predicted = await (extractor.classify as NonNullable<typeof extractor.classify>)(test, fm.test.count);
      extractor.dispose();
      const correct = predicted.reduce((n, p, i) => n + (p === fm.test.labels[i] ? 1 : 0), 0);
      const testAccuracy = correct / fm.test.count;
      await saveClassifier(
        flags.out,
        {
          spec: fashionClassifier,
          testAccuracy,
          trainedWith: `cvae classifier train --epochs ${flags.epochs} --seed ${flags.seed}`,
          backend: `${backend.label} (tfjs ${tf.version_core})`,
          createdAt: new Date().toISOString(),
        },
        values,
      );
      console.log(JSON.stringify({ out: flags.out, testAccuracy }, null, 2));
    });
}
