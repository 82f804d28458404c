import type { Command } from 'commander';
import { ARCHITECTURE_IDS, architecture } from '../../shared/arch/catalogue.js';
import { CvaeError } from '../../shared/errors.js';
import { encoderIdentity, loadTrainingData } from '../data/training-data.js';
import { checkTextEncoder, warmStartFromPackage } from '../train/warm-start.js';
import { addDataOptions, type DataFlags, dataRecord, dataSourceFrom, stageBars } from './data-options.js';

import {
  addTrainOptions,
  type TrainFlags,
  trainOptionsFrom,
  trainWithBar,
  withArchitectureDefaults,
} from './train-options.js';

export function registerTrain(program: Command): void {
  const cmd = addDataOptions(
    addTrainOptions(
      program
        .command('train')
        .description(
          'train any architecture with a progress bar and a checkpoint every epoch (--resume continues); defaults per architecture',
        )
        .argument('<model>', `architecture id: ${ARCHITECTURE_IDS.join(' | ')}`)
        .option('--out <dir>', 'run folder for checkpoints (default: runs/<model>)')
        .option(
          '--init-from <package>',
          'start from an exported model package (its encoder and decoder) instead of random weights',
        )
        .option(
          '--init-matching',
          'with --init-from: the package may hold a related architecture of the same task (e.g. coco-128-concat for coco-256-concat); only the tensors both share by name and shape are taken, the rest start fresh',
        ),
    ),
  );
  cmd.action(
    async (
      model: string,
      raw: TrainFlags & DataFlags & { out?: string; initFrom?: string; initMatching?: boolean },
    ) => {
      const spec = architecture(model);
      const flags = withArchitectureDefaults(spec, raw, cmd);
      const outDir = flags.out ?? `runs/${spec.id}`;
      // the package first: a wrong path fails before minutes of data preparation
      if (flags.initMatching && !flags.initFrom)
        throw new CvaeError('bad_option', '--init-matching needs --init-from <package>');
      const warmStart = flags.initFrom
        ? await warmStartFromPackage(flags.initFrom, spec, {
            matching: flags.initMatching,
            log: (line) => console.error(line),
          })
        : undefined;
      const source = dataSourceFrom(spec, flags);
      const bars = stageBars();
      const data = await loadTrainingData(spec, source, {
        ...(flags.clip ? { clipDir: flags.clip } : {}),
        onProgress: bars,
      });
      bars.stop();
      if (warmStart)
        checkTextEncoder(
          warmStart,
          data.textEncoder && encoderIdentity(data.textEncoder),
          'pass that encoder with --clip',
        );
      const options = {
        ...trainOptionsFrom(flags, outDir),
        data: dataRecord(source, data.textEncoder),
        ...(warmStart ? { warmStart } : {}),
      };
      const result = await trainWithBar(spec, data.train, options, data.what);
      const last = result.history.at(-1);
      console.log(
        JSON.stringify(
          { model: spec.id, outDir, epochs: result.history.length, last, backend: result.backend.label },
          null,
          2,
        ),
      );
    },
  );
}
