import type { Command } from 'commander';
import { ARCHITECTURE_IDS, architecture } from '../../shared/arch/catalogue.js';
import type { DataSource } from '../data/training-data.js';
import type { ExtractorChoice } from '../eval/extractors.js';
import { scoreModel } from '../eval/score.js';
import { initBackend } from '../tf/backend.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { addDataOptions, checkpointData, type DataFlags } from './data-options.js';
import { addFidOptions, intOption } from './options.js';

export function registerEvaluate(program: Command): void {
  addDataOptions(
    addFidOptions(
      program
        .command('evaluate')
        .description(
          'score a checkpoint on held-out images (MSE, SSIM, FID, class accuracy for Fashion models) as JSON',
        )
        .argument('<model>', `architecture id: ${ARCHITECTURE_IDS.join(' | ')}`)
        .option('--from <dir>', 'run folder holding checkpoint.json (default: runs/<model>)')
        .option('--test-limit <n>', 'first n held-out images only', intOption(2))
        .option('--seed <n>', 'seed for sampled z and generations', intOption(0), 1),
    ),
  ).action(
    async (model: string, flags: ExtractorChoice & DataFlags & { from?: string; testLimit?: number; seed: number }) => {
      const spec = architecture(model);
      await initBackend();
      const { meta, state } = await loadCheckpoint(flags.from ?? `runs/${spec.id}`, spec);
      const data = await checkpointData(spec, meta.config.data as DataSource | undefined, flags, flags.testLimit);
      const { report } = await scoreModel(spec, state.values, data.eval, flags, flags.seed);
      console.log(JSON.stringify({ model: spec.id, epochs: meta.epoch, ...report }, null, 2));
    },
  );
}
