import { type Command, Option } from 'commander';
import { datasetsFor } from '../../shared/arch/catalogue.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { CvaeError } from '../../shared/errors.js';
import type { CocoYear } from '../data/coco.js';
import {
  type DataSource,
  encoderIdentity,
  loadTrainingData,
  type Progress,
  SYNTH_DEFAULT,
  type TextEncoderChoice,
  type TrainingData,
} from '../data/training-data.js';
import { intOption, numberOption } from './options.js';
import { createBar } from './progress.js';

/**
 * The dataset options `train`, `export` and `evaluate` share. Fashion models train on
 * Fashion-MNIST; long-text models on a COCO-layout folder (--data) or, by default, the synthetic
 * set in data/synth-coco (generated, seeded, when missing).
 */
export interface DataFlags {
  subset?: number;
  data?: string;
  year: string;
  fraction: number;
  synthImages: number;
  clip?: string;
}

export function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', `long text: a COCO-layout folder (default: the synthetic set in ${SYNTH_DEFAULT.dir})`)
    .addOption(new Option('--year <year>', 'COCO layout year').choices(['2014', '2017']).default('2017'))
    .option('--fraction <x>', 'long text: share of the COCO images to use', numberOption(0), 1)
    .option(
      '--synth-images <n>',
      'images in the synthetic set when it is generated',
      intOption(10),
      SYNTH_DEFAULT.images,
    )
    .option(
      '--clip <dir>',
      'long text: CLIP text-encoder package (default: the generated ViT-B/32-size graph, seed 1)',
    );
}

export function dataSourceFrom(spec: CvaeSpec, flags: DataFlags): DataSource {
  if (spec.task === 'short-text') {
    if (flags.data)
      throw new CvaeError('bad_option', `${spec.id} trains on Fashion-MNIST; --data is for long-text models`);
    return { name: 'fashion-mnist', ...(flags.subset ? { subset: flags.subset } : {}) };
  }
  if (flags.subset) throw new CvaeError('bad_option', `--subset is for Fashion-MNIST; use --fraction with ${spec.id}`);
  if (flags.data)
    return { name: 'coco', dir: flags.data, year: Number(flags.year) as CocoYear, fraction: flags.fraction };
  if (!datasetsFor(spec).includes('synth-coco')) throw new CvaeError('bad_option', `${spec.id} needs --data`);
  return { name: 'synth-coco', dir: SYNTH_DEFAULT.dir, images: flags.synthImages, seed: SYNTH_DEFAULT.seed };
}

/** What a checkpoint records about its data (the source, and the text encoder by identity). */
export function dataRecord(source: DataSource, textEncoder?: TextEncoderChoice): Record<string, unknown> {
  return {
    ...source,
    ...(textEncoder ? { textEncoder: { ...encoderIdentity(textEncoder), dir: textEncoder.dir } } : {}),
  };
}

/** Progress bars for data preparation, one per stage. */
export function stageBars(): Progress & { stop(): void } {
  let bar: ReturnType<typeof createBar> | undefined;
  let stage = '';
  const progress = (s: string, done: number, total: number) => {
    if (s !== stage) {
      bar?.stop();
      stage = s;
      bar = createBar(s, total);
    }
    bar?.update(done);
  };
  return Object.assign(progress, { stop: () => bar?.stop() });
}

/** What a checkpoint says about its data (train's `dataRecord`); older checkpoints say nothing. */
export type DataRecord = DataSource & { textEncoder?: { id: string; version: string; sha256: string; dir: string } };

/**
 * The checkpoint's own data and text encoder when it recorded them, else the command's flags: a
 * model is scored on the data it was trained for, and names the encoder its conditions came from.
 */
export async function checkpointData(
  spec: CvaeSpec,
  recorded: DataRecord | undefined,
  flags: DataFlags,
  evalLimit?: number,
): Promise<TrainingData> {
  const source = recorded ?? dataSourceFrom(spec, flags);
  const clipDir = recorded?.textEncoder?.dir ?? flags.clip;
  const bars = stageBars();
  const data = await loadTrainingData(spec, source, {
    ...(evalLimit ? { evalLimit } : {}),
    ...(clipDir ? { clipDir } : {}),
    onProgress: bars,
  });
  bars.stop();
  return data;
}
