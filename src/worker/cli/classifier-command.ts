import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Command } from 'commander';
import { fashionClassifier, fashionJudge } from '../../shared/arch/fashion.js';
import { loadFashionMnist } from '../data/fashion-mnist.js';
import { blurImage, JUDGE_BLUR } from '../eval/blur.js';
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
    .description('the Fashion-MNIST classifiers: the FID feature extractor, and the judge of class fidelity')
    .command('train')
    .description(
      `train on the 60k training images and write models/${fashionClassifier.id}/ (or, with --judge, models/${fashionJudge.id}/)`,
    )
    .option('--epochs <n>', 'epochs', intOption(1), 10)
    .option('--seed <n>', 'seed', intOption(0), 1)
    .option(
      '--judge',
      `train the class-fidelity judge: half of the images blurred, sigma ${JUDGE_BLUR.minSigma}–${JUDGE_BLUR.maxSigma} px`,
      false,
    )
    .option('--out <dir>', 'output folder (default: models/<id>)')
    .action(async (flags: { epochs: number; seed: number; judge: boolean; out?: string }) => {
      const spec = flags.judge ? fashionJudge : fashionClassifier;
      const out = flags.out ?? join(MODELS_DIR, spec.id);
      const augmentation = flags.judge ? JUDGE_BLUR : undefined;
      const backend = await initBackend();
      const fm = await loadFashionMnist();
      const data = sharedFromLabeled(fm.train.pixels, fm.train.labels, [28, 28, 1], 10);
      let bar: ReturnType<typeof createBar> | undefined;
      let current = 0;
      const values = await trainClassifier(spec, data, {
        epochs: flags.epochs,
        batchSize: 128,
        seed: flags.seed,
        ...(augmentation ? { blur: augmentation } : {}),
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
      const extractor = classifierExtractor(spec, values);
      const accuracy = async (images: Float32Array) => {
        const predicted = await (extractor.classify as NonNullable<typeof extractor.classify>)(images, fm.test.count);
        return predicted.reduce((n, p, i) => n + (p === fm.test.labels[i] ? 1 : 0), 0) / fm.test.count;
      };
      const testAccuracy = await accuracy(test);
      const blurred = test.slice();
      for (let i = 0; i < fm.test.count; i++) blurImage(blurred, i, [28, 28, 1], 1);
      const blurredTestAccuracy = await accuracy(blurred);
      extractor.dispose();
      await saveClassifier(
        out,
        {
          spec,
          testAccuracy,
          blurredTestAccuracy,
          ...(augmentation ? { augmentation } : {}),
          trainedWith: `cvae classifier train --epochs ${flags.epochs} --seed ${flags.seed}${flags.judge ? ' --judge' : ''}`,
          backend: `${backend.label} (tfjs ${tf.version_core})`,
          createdAt: new Date().toISOString(),
        },
        values,
      );
      console.log(JSON.stringify({ out, testAccuracy, blurredTestAccuracy }, null, 2));
    });
}
