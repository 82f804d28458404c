import type { Command } from 'commander';
import { loadFashionMnist } from '../data/fashion-mnist.js';
import { evaluate, runModel } from '../eval/evaluate.js';
import { chooseExtractors, type ExtractorChoice } from '../eval/extractors.js';
import { testSet } from '../experiments/table1.js';
import { initBackend } from '../tf/backend.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { addFidOptions, intOption } from './options.js';
import { fashionSpec } from './train-command.js';

export function registerEvaluate(program: Command): void {
  addFidOptions(
    program
      .command('evaluate')
      .description('score a checkpoint on the Fashion-MNIST test set (MSE, SSIM, FID, class accuracy) as JSON')
      .argument('<model>', 'architecture id')
      .option('--from <dir>', 'run folder holding checkpoint.json (default: runs/<model>)')
      .option('--test-limit <n>', 'first n test images only', intOption(2))
      .option('--seed <n>', 'seed for sampled z and generations', intOption(0), 1),
  ).action(async (model: string, flags: ExtractorChoice & { from?: string; testLimit?: number; seed: number }) => {
    const spec = fashionSpec(model);
    await initBackend();
    const { meta, state } = await loadCheckpoint(flags.from ?? `runs/${spec.id}`, spec);
    const extractors = await chooseExtractors(flags);
    const set = testSet(await loadFashionMnist(), flags.testLimit);
    const outputs = await runModel(spec, state.values, set, flags.seed);
    const report = await evaluate(outputs, set, extractors.features, extractors.judge);
    extractors.dispose();
    console.log(JSON.stringify({ model: spec.id, epochs: meta.epoch, ...report }, null, 2));
  });
}
