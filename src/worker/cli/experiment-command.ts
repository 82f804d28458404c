import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { fashionClassifier } from '../../shared/arch/fashion.js';
import { CvaeError } from '../../shared/errors.js';
import { loadFashionMnist } from '../data/fashion-mnist.js';
import { loadClassifier, MODELS_DIR } from '../eval/classifier-store.js';
import { classifierExtractor } from '../eval/feature-extractor.js';
import { evaluateForTable1, TABLE1_MODELS, type Table1Row, testSet, writeTable1 } from '../experiments/table1.js';
import { initBackend } from '../tf/backend.js';
import { intOption } from './options.js';
import { addTrainOptions, fashionSpec, type TrainFlags, trainOptionsFrom, trainWithProgress } from './train-command.js';

/** "fashion-conv=15,fashion-fc=25" → per-model epoch overrides. */
function parseModelEpochs(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',').filter(Boolean)) {
    const [id, n] = part.split('=');
    const epochs = Number(n);
    if (!id || !Number.isInteger(epochs) || epochs < 1)
      throw new CvaeError('bad_option', `--model-epochs: expected model=epochs, got '${part}'`);
    fashionSpec(id);
    out[id] = epochs;
  }
  return out;
}

export function registerExperiment(program: Command): void {
  const experiment = program.command('experiment').description("reproduce the paper's tables");
  addTrainOptions(
    experiment
      .command('table1')
      .description('train fashion-fc and fashion-conv, evaluate on the test set, write table1.md and figures')
      .option('--out <dir>', 'run folder', 'runs/table1')
      .option('--models <ids>', 'comma-separated models', TABLE1_MODELS.join(','))
      .option(
        '--model-epochs <list>',
        'per-model epochs, e.g. fashion-conv=15 (overrides --epochs)',
        parseModelEpochs,
        {},
      )
      .option('--test-limit <n>', 'evaluate on the first n test images (default: all 10,000)', intOption(2)),
  ).action(
    async (
      flags: TrainFlags & { out: string; models: string; modelEpochs: Record<string, number>; testLimit?: number },
    ) => {
      const specs = flags.models.split(',').filter(Boolean).map(fashionSpec);
      const classifierDir = join(MODELS_DIR, fashionClassifier.id);
      if (!existsSync(join(classifierDir, 'classifier.json'))) {
        throw new CvaeError('classifier_missing', `no classifier in ${classifierDir}; run: cvae classifier train`);
      }
      await initBackend();
      const classifier = await loadClassifier(classifierDir);
      const extractor = classifierExtractor(classifier.meta.spec, classifier.values);
      const fm = await loadFashionMnist();
      const set = testSet(fm, flags.testLimit);
      const rows: Table1Row[] = [];
      for (const spec of specs) {
        const epochs = flags.modelEpochs[spec.id] ?? flags.epochs;
        const dir = join(flags.out, spec.id);
        const result = await trainWithProgress(spec, trainOptionsFrom({ ...flags, epochs }, dir), flags.subset);
        console.error(`${spec.id}: evaluating on ${set.count} test images…`);
        const evaluated = await evaluateForTable1(spec, result, set, extractor, dir, flags.seed);
        const history = result.history.slice(0, epochs);
        const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
        const checkpoint = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as {
          config: { trainExamples: number };
        };
        rows.push({
          ...evaluated,
          epochs: history.length,
          trainSeconds,
          imagesPerSecond: (history.length * checkpoint.config.trainExamples) / trainSeconds,
          trainExamples: checkpoint.config.trainExamples,
        });
      }
      extractor.dispose();
      const note = `Command: \`cvae experiment table1 ${process.argv.slice(4).join(' ')}\`. Test images: ${set.count}. FID extractor: ${extractor.id} (${extractor.description}; its own test accuracy ${(classifier.meta.testAccuracy * 100).toFixed(1)}%).`;
      const path = await writeTable1(flags.out, rows, note);
      console.log(await readFile(path, 'utf8'));
      console.error(`written: ${path}`);
    },
  );
}
