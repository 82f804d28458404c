import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { COCO_JOINS, COCO_SIZES, type CocoJoin, type CocoSize, cocoSpec } from '../../shared/arch/coco.js';
import { trainingDefaults } from '../../shared/arch/training-defaults.js';
import { CvaeError } from '../../shared/errors.js';
import { ensureGeneratedClip, openClipPackage } from '../clip/local-encoder.js';
import type { CocoYear, Fit } from '../data/coco.js';
import { synthCocoKind, writeSynthCoco } from '../data/synth-coco.js';
import { evalSetFrom, prepareCocoSplit, SYNTH_DEFAULT } from '../data/training-data.js';
import type { ExtractorChoice } from '../eval/extractors.js';
import type { FeatureExtractor } from '../eval/feature-extractor.js';
import { onnxExtractor } from '../eval/onnx-extractor.js';
import { randomCnnExtractor } from '../eval/random-cnn.js';
import { evaluateForTable2, type Table2Row, writeTable2 } from '../lab/table2.js';
import { initBackend } from '../tf/backend.js';
import { stageBars } from './data-options.js';
import { addFidOptions, intOption, numberOption } from './options.js';
import { createBar } from './progress.js';
import { addTrainOptions, type TrainFlags, trainOptionsFrom, trainWithBar } from './train-options.js';

/** Table 2's per-size defaults are the architectures' own (src/worker/train/defaults.ts). */
const sizeDefaults = (size: CocoSize) => trainingDefaults(cocoSpec(size, 'concat'));

function parseSizeMap(value: string): Partial<Record<CocoSize, number>> {
  const out: Partial<Record<CocoSize, number>> = {};
  for (const part of value.split(',').filter(Boolean)) {
    const [size, n] = part.split('=').map(Number);
    if (!COCO_SIZES.includes(size as CocoSize) || !Number.isInteger(n) || (n as number) < 1) {
      throw new CvaeError('bad_option', `--size-epochs: expected size=epochs with size in 64,128,256, got '${part}'`);
    }
    out[size as CocoSize] = n as number;
  }
  return out;
}

function parseList<T>(allowed: readonly T[], what: string) {
  return (value: string): T[] => {
    const items = value
      .split(',')
      .filter(Boolean)
      .map((v) => (typeof allowed[0] === 'number' ? Number(v) : v) as T);
    for (const item of items) {
      if (!allowed.includes(item))
        throw new CvaeError('bad_option', `${what}: '${item}' is not one of ${allowed.join(', ')}`);
    }
    return items;
  };
}

/** Every Table 2 architecture, in the table's order. */
const TABLE2_MODELS = COCO_SIZES.flatMap((size) => COCO_JOINS.map((j) => cocoSpec(size, j).id));

async function previousRows(out: string): Promise<Table2Row[]> {
  try {
    return (JSON.parse(await readFile(join(out, 'table2.json'), 'utf8')) as { rows: Table2Row[] }).rows;
  } catch {
    return [];
  }
}

type Table2Flags = TrainFlags &
  ExtractorChoice & {
    data?: string;
    year: string;
    fraction: number;
    fit: Fit;
    sizes: CocoSize[];
    joins: CocoJoin[];
    models?: string[];
    sizeEpochs: Partial<Record<CocoSize, number>>;
    clip?: string;
    vocab?: string;
    out: string;
    evalLimit?: number;
    synthImages: number;
  };

export function registerTable2(experiment: Command): void {
  const cmd = experiment
    .command('table2')
    .description('train and evaluate the six COCO CVAEs (64/128/256 px x add/concat) and write table2.md + figures')
    .option('--data <dir>', `COCO folder (default: the synthetic set in ${SYNTH_DEFAULT.dir}, generated if missing)`)
    .addOption(new Option('--year <year>', 'COCO layout year').choices(['2014', '2017']).default('2017'))
    .option('--fraction <x>', 'share of the images to use (the paper: about 0.2 of COCO)', numberOption(0), 1)
    .addOption(new Option('--fit <how>', 'crop to square (centre) or pad').choices(['crop', 'pad']).default('crop'))
    .option('--sizes <list>', 'image sizes', parseList(COCO_SIZES, '--sizes'), [...COCO_SIZES])
    .option('--joins <list>', 'conditioning methods', parseList(COCO_JOINS, '--joins'), [...COCO_JOINS])
    .option(
      '--models <list>',
      'these architectures only, instead of --sizes x --joins (e.g. coco-64-add,coco-128-concat); with --resume, rows of other models already in the run folder are kept',
      parseList(TABLE2_MODELS, '--models'),
    )
    .option(
      '--size-epochs <list>',
      `epochs per size (default ${COCO_SIZES.map((s) => `${s}=${sizeDefaults(s).epochs}`).join(',')}; overrides --epochs)`,
      parseSizeMap,
      {},
    )
    .option('--clip <dir>', 'CLIP text-encoder package (default: the generated ViT-B/32-size graph, seed 1)')
    .option('--vocab <file>', "CLIP's bpe_simple_vocab_16e6.txt.gz for the generated encoder")
    .option('--out <dir>', 'run folder', 'runs/table2')
    .option('--eval-limit <n>', 'validation images to score (default: all)', intOption(2))
    .option(
      '--synth-images <n>',
      'images in the synthetic set when it is generated',
      intOption(10),
      SYNTH_DEFAULT.images,
    );
  addFidOptions(addTrainOptions(cmd));
  // small datasets: smaller batches give the optimiser more steps per epoch
  cmd.setOptionValueWithSource('batchSize', sizeDefaults(64).batchSize, 'default');
  cmd.action(async (flags: Table2Flags) => {
    const dataDir = flags.data ?? SYNTH_DEFAULT.dir;
    const year = Number(flags.year) as CocoYear;
    const kind = await synthCocoKind(dataDir, year);
    if (!flags.data && kind !== 'current') {
      if (kind === 'outdated') await rm(dataDir, { recursive: true, force: true });
      console.error(
        `no --data given: ${kind === 'outdated' ? 're' : ''}generating the synthetic COCO-format set in ${dataDir}…`,
      );
      const bar = createBar('synth-coco', flags.synthImages);
      await writeSynthCoco({ out: dataDir, images: flags.synthImages, onImage: (d) => bar.update(d) });
      bar.stop();
    }
    await initBackend();
    const clipDir = flags.clip ?? (await ensureGeneratedClip('full', 1, flags.vocab));
    const { encoder, manifest: clipManifest, key } = await openClipPackage(clipDir);
    const planned = flags.models ?? flags.sizes.flatMap((size) => flags.joins.map((j) => cocoSpec(size, j).id));
    // a resumed run keeps the rows it already has for the models it does not redo
    const kept = flags.resume ? (await previousRows(flags.out)).filter((r) => !planned.includes(r.model)) : [];
    const rows: Table2Row[] = [];
    const table = () =>
      [...kept, ...rows].sort((a, b) => TABLE2_MODELS.indexOf(a.model) - TABLE2_MODELS.indexOf(b.model));
    const note = () =>
      `Command: \`cvae experiment table2 ${process.argv.slice(4).join(' ')}\`. Data: ${dataDir} (${flags.data ? 'COCO layout' : 'synthetic COCO-format scenes, `cvae datasets synth-coco`'}), fraction ${flags.fraction}, ${flags.fit}. ` +
      `Text encoder: ${clipManifest.id}@${clipManifest.version} (${clipManifest.description}). ` +
      `FID extractor: ${[...new Set(table().map((r) => r.report.fidExtractor))].join(', ') || 'n/a'}. Validation images: ${table()[0]?.report.count ?? 0}.`;
    for (const size of COCO_SIZES) {
      const joins = COCO_JOINS.filter((j) => planned.includes(cocoSpec(size, j).id));
      if (joins.length === 0) continue;
      const onProgress = stageBars();
      const common = {
        dir: dataDir,
        year,
        fraction: flags.fraction,
        seed: flags.seed,
        size,
        fit: flags.fit,
        cacheRoot: join(dataDir, '.cvae-cache'),
        encoder,
        encoderKey: key,
        onProgress,
      };
      const train = await prepareCocoSplit({ ...common, split: 'train' });
      const val = await prepareCocoSplit({ ...common, split: 'val', fraction: 1 });
      onProgress.stop();
      const set = evalSetFrom(val, flags.evalLimit);
      const extractor: FeatureExtractor =
        (flags.fidOnnx ?? process.env.CVAE_FID_ONNX)
          ? await onnxExtractor((flags.fidOnnx ?? process.env.CVAE_FID_ONNX) as string, {
              normalize: flags.fidNormalize,
            })
          : randomCnnExtractor(size);
      for (const join_ of joins) {
        const spec = cocoSpec(size, join_);
        const epochs =
          flags.sizeEpochs[size] ?? (process.argv.includes('--epochs') ? flags.epochs : sizeDefaults(size).epochs);
        const dir = join(flags.out, spec.id);
        const klWeight = process.argv.includes('--kl-weight') ? flags.klWeight : sizeDefaults(size).klWeight;
        const options = trainOptionsFrom({ ...flags, epochs, klWeight }, dir);
        const result = await trainWithBar(
          spec,
          train.dataset,
          options,
          `(image, caption) pairs from ${train.images} images in ${dataDir}`,
        );
        console.error(`${spec.id}: evaluating on ${set.count} validation images…`);
        rows.push(
          await evaluateForTable2(size, join_, result, options, set, extractor, encoder, dir, kind !== 'other'),
        );
        // the table so far, so an hour-long run shows results as they come and a crash loses none
        await writeTable2(flags.out, table(), note());
      }
      extractor.dispose();
    }
    const path = await writeTable2(flags.out, table(), note());
    console.log(await readFile(path, 'utf8'));
    console.error(`written: ${path}`);
  });
}
