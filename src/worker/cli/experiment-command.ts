import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { architecture } from '../../shared/arch/catalogue.js';
import { CvaeError } from '../../shared/errors.js';
import { loadFashionMnist } from '../data/fashion-mnist.js';
import { testSet } from '../data/training-data.js';
import { chooseExtractors, type ExtractorChoice } from '../eval/extractors.js';
import { evaluateForTable1, TABLE1_MODELS, type Table1Row, writeTable1 } from '../lab/table1.js';
import { initBackend } from '../tf/backend.js';
import { registerCaptionFollowing } from './caption-following-command.js';
import { registerClassFidelity } from './class-fidelity-command.js';
import { registerColourProbe } from './colour-probe-command.js';
import { addFidOptions, intOption } from './options.js';
import { registerTable2 } from './table2-command.js';
import { addTrainOptions, type TrainFlags, trainOptionsFrom, trainWithProgress } from './train-options.js';

/** "fashion-conv=15,fashion-fc=25" → per-model epoch overrides. */
function parseModelEpochs(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',').filter(Boolean)) {
    const [id, n] = part.split('=');
    const epochs = Number(n);
    if (!id || !Number.isInteger(epochs) || epochs < 1) {
      throw new CvaeError('bad_option', `--model-epochs: expected model=epochs, got '${part}'`);
    }
    architecture(id);
    out[id] = epochs;
  }
  return out;
}

type Table1Flags = TrainFlags &
  ExtractorChoice & { out: string; models: string; modelEpochs: Record<string, number>; testLimit?: number };

export function registerExperiment(program: Command): void {
  const experiment = program.command('experiment').description("reproduce the paper's tables");
  registerTable2(experiment);
  registerCaptionFollowing(experiment);
  registerClassFidelity(experiment);
  registerColourProbe(experiment);
  const table1 = experiment
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
    .option('--test-limit <n>', 'evaluate on the first n test images (default: all 10,000)', intOption(2));
  addFidOptions(addTrainOptions(table1)).action(async (flags: Table1Flags) => {
    const specs = flags.models.split(',').filter(Boolean).map(architecture);
    await initBackend();
    const extractors = await chooseExtractors(flags);
    const fm = await loadFashionMnist();
    const set = testSet(fm, flags.testLimit);
    const rows: Table1Row[] = [];
    for (const spec of specs) {
      const epochs = flags.modelEpochs[spec.id] ?? flags.epochs;
      const dir = join(flags.out, spec.id);
      const result = await trainWithProgress(spec, trainOptionsFrom({ ...flags, epochs }, dir), flags.subset, fm);
      console.error(`${spec.id}: evaluating on ${set.count} test images…`);
      const evaluated = await evaluateForTable1(spec, result, set, extractors, dir, flags.seed);
      const history = result.history.slice(0, epochs);
      const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
      rows.push({
        ...evaluated,
        epochs: history.length,
        trainSeconds,
        imagesPerSecond: (history.length * result.trainExamples) / trainSeconds,
        trainExamples: result.trainExamples,
      });
    }
    const { features, judgeMeta } = extractors;
    extractors.dispose();
    const note =
      `Command: \`cvae experiment table1 ${process.argv.slice(4).join(' ')}\`. Test images: ${set.count}. ` +
      `FID extractor: ${features.id} (${features.description}). Class accuracy judged by ${judgeMeta.spec.id} ` +
      `(its own test accuracy ${(judgeMeta.testAccuracy * 100).toFixed(1)}%).`;
    const path = await writeTable1(flags.out, rows, note);
    console.log(await readFile(path, 'utf8'));
    console.error(`written: ${path}`);
  });
}
