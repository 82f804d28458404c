import { join } from 'node:path';
import type { DatasetName } from '../../shared/arch/catalogue.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { CvaeError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { ClipTextEncoder } from '../../shared/text/text-encoder.js';
import { ensureGeneratedClip, openClipPackage } from '../clip/local-encoder.js';
import type { EvalSet } from '../eval/evaluate.js';
import type { SharedDataset } from '../train/dataset.js';
import { sharedFromLabeled } from '../train/dataset.js';
import { type CocoYear, cacheKey, captionsPath, type Fit, prepareShards, readCocoCaptions, subsample } from './coco.js';
import { type CocoData, loadCocoData } from './coco-dataset.js';
import { type FashionMnist, loadFashionMnist, takeFirst } from './fashion-mnist.js';
import { synthCocoKind, writeSynthCoco } from './synth-coco.js';

/**
 * A dataset from the catalogue (src/shared/arch/catalogue.ts) → what training and scoring read,
 * for any architecture: the CLI (`train`, `export`, `evaluate`), training jobs and experiments
 * all come through here.
 */
export type DataSource =
  | { name: 'fashion-mnist'; subset?: number }
  | { name: 'synth-coco'; dir: string; images: number; seed: number }
  | { name: 'coco'; dir: string; year: CocoYear; fraction: number; fit?: Fit; seed?: number };

export const SYNTH_DEFAULT = { dir: 'data/synth-coco', images: 1000, seed: 1 };

/** The text encoder a long-text model is trained with, and how its manifest names it. */
export interface TextEncoderChoice {
  /** the package folder it was opened from */
  dir: string;
  encoder: ClipTextEncoder;
  manifest: Manifest;
  /** sha256 of its ONNX file (the serving side refuses another) */
  sha256: string;
  /** short key for embedding caches */
  key: string;
}

/** How manifests and checkpoints name a text encoder: its package and the sha256 of its weights. */
export const encoderIdentity = (te: TextEncoderChoice) => ({
  id: te.manifest.id,
  version: te.manifest.version,
  sha256: te.sha256,
});

export interface TrainingData {
  train: SharedDataset;
  eval: EvalSet;
  /** for progress lines: "(image, caption) pairs from 900 images in data/synth-coco" */
  what: string;
  textEncoder?: TextEncoderChoice;
  /** one caption per evaluation image (long text) */
  evalCaptions?: string[];
}

export type Progress = (stage: string, done: number, total: number) => void;

/** The Fashion-MNIST test images as an EvalSet (first `limit`). */
export function testSet(fm: FashionMnist, limit?: number): EvalSet {
  const count = Math.min(limit ?? fm.test.count, fm.test.count);
  const images = new Float32Array(count * 784);
  for (let i = 0; i < images.length; i++) images[i] = (fm.test.pixels[i] as number) / 255;
  return { images, labels: fm.test.labels.subarray(0, count), count, shape: [28, 28, 1], classes: 10 };
}

/** A CLIP package folder, or the generated ViT-B/32-size graph (seed 1) made once under .cache/. */
export async function chooseTextEncoder(clipDir?: string): Promise<TextEncoderChoice> {
  const dir = clipDir ?? (await ensureGeneratedClip('full', 1));
  const { encoder, manifest, key } = await openClipPackage(dir);
  const file = manifest.files.find((f) => f.role === 'text-encoder');
  return { dir, encoder, manifest, key, sha256: file?.sha256 ?? '' };
}

/** The synthetic set in `dir`, generated (seeded) when missing or made by an older generator. */
export async function ensureSynthCoco(dir: string, images: number, seed: number, onProgress?: Progress): Promise<void> {
  const kind = await synthCocoKind(dir);
  if (kind === 'current' || kind === 'other') return;
  await writeSynthCoco({ out: dir, images, seed, onImage: (d, t) => onProgress?.('synth-coco scenes', d, t) });
}

export async function prepareCocoSplit(opts: {
  dir: string;
  year: CocoYear;
  split: 'train' | 'val';
  fraction: number;
  seed: number;
  size: number;
  fit: Fit;
  cacheRoot: string;
  encoder: ClipTextEncoder;
  encoderKey: string;
  onProgress?: Progress;
}): Promise<CocoData> {
  const all = await readCocoCaptions(opts.dir, opts.year, opts.split);
  const images = subsample(all, opts.fraction, opts.seed);
  const prepare = {
    size: opts.size,
    fit: opts.fit,
    cacheRoot: opts.cacheRoot,
    selection: { year: opts.year, split: opts.split, fraction: opts.fraction, seed: opts.seed, images: images.length },
    onProgress: (d: number, t: number) => opts.onProgress?.(`${opts.split} images ${opts.size}px`, d, t),
  };
  const key = await cacheKey(captionsPath(opts.dir, opts.year, opts.split), prepare);
  const index = await prepareShards(images, key, prepare);
  return loadCocoData(index, join(opts.cacheRoot, key), opts.encoder, opts.encoderKey, (d, t) =>
    opts.onProgress?.(`${opts.split} caption sentences → CLIP`, d, t),
  );
}

/** The validation images as an EvalSet, each conditioned on its first caption. */
export function evalSetFrom(val: CocoData, limit?: number): EvalSet {
  const d = val.dataset;
  const [h, w, c] = d.imageShape;
  const size = h * w * c;
  const count = Math.min(limit ?? val.images, val.images);
  const images = new Float32Array(count * size);
  for (let i = 0; i < images.length; i++) images[i] = (d.pixels[i] as number) / 255;
  // first example of each image = its first caption
  const conditions = new Float32Array(count * d.conditionSize);
  let image = -1;
  for (let e = 0; e < d.count && image < count - 1; e++) {
    const img = d.imageIndex ? (d.imageIndex[e] as number) : e;
    if (img !== image) {
      image = img;
      conditions.set(d.conditions.subarray(e * d.conditionSize, (e + 1) * d.conditionSize), img * d.conditionSize);
    }
  }
  return {
    images,
    labels: new Uint8Array(count),
    count,
    shape: [h, w, c],
    classes: 0,
    conditions,
    conditionSize: d.conditionSize,
  };
}

export async function loadTrainingData(
  spec: CvaeSpec,
  source: DataSource,
  opts: { evalLimit?: number; clipDir?: string; textEncoder?: TextEncoderChoice; onProgress?: Progress } = {},
): Promise<TrainingData> {
  const wants: DatasetName[] = spec.task === 'short-text' ? ['fashion-mnist'] : ['synth-coco', 'coco'];
  if (!wants.includes(source.name))
    throw new CvaeError(
      'bad_option',
      `${spec.id} is a ${spec.task} model: it trains on ${wants.join(' or ')}, not ${source.name}`,
    );
  if (source.name === 'fashion-mnist') {
    const fm = await loadFashionMnist();
    const split = source.subset ? takeFirst(fm.train, source.subset) : fm.train;
    return {
      train: sharedFromLabeled(split.pixels, split.labels, [split.height, split.width, 1], 10),
      eval: testSet(fm, opts.evalLimit),
      what: `training images from ${fm.dir}`,
    };
  }
  if (source.name === 'synth-coco') await ensureSynthCoco(source.dir, source.images, source.seed, opts.onProgress);
  const textEncoder = opts.textEncoder ?? (await chooseTextEncoder(opts.clipDir));
  const year = source.name === 'coco' ? source.year : 2017;
  const common = {
    dir: source.dir,
    year,
    seed: source.name === 'coco' ? (source.seed ?? 1) : source.seed,
    size: spec.image.height,
    fit: source.name === 'coco' ? (source.fit ?? 'crop') : ('crop' as const),
    cacheRoot: join(source.dir, '.cvae-cache'),
    encoder: textEncoder.encoder,
    encoderKey: textEncoder.key,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  };
  const fraction = source.name === 'coco' ? source.fraction : 1;
  const train = await prepareCocoSplit({ ...common, split: 'train', fraction });
  const val = await prepareCocoSplit({ ...common, split: 'val', fraction: 1 });
  const evalSet = evalSetFrom(val, opts.evalLimit);
  return {
    train: train.dataset,
    eval: evalSet,
    what: `(image, caption) pairs from ${train.images} images in ${source.dir}`,
    textEncoder,
    evalCaptions: val.firstCaption.slice(0, evalSet.count),
  };
}
