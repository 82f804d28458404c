import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CvaeError } from '../../shared/errors.js';
import { parseIdx } from './idx.js';

/** The four official files, their MD5 as published by Zalando Research, and their content size. */
export const FASHION_MNIST_FILES = {
  trainImages: { file: 'train-images-idx3-ubyte.gz', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
  trainLabels: { file: 'train-labels-idx1-ubyte.gz', md5: '25c81989df183df01b3e8a0aad5dffbe' },
  testImages: { file: 't10k-images-idx3-ubyte.gz', md5: 'bef4ecab320f06d8554ea6380940ec79' },
  testLabels: { file: 't10k-labels-idx1-ubyte.gz', md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
} as const;

export const FASHION_MNIST_BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** Where the Debian package `dataset-fashion-mnist` installs the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export function cacheDir(): string {
  return process.env.CVAE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cvae-edge');
}

/** Folders searched, in order: $FASHION_MNIST_DIR, the Debian package, the cache. */
export function fashionMnistSearchPath(): string[] {
  const dirs = [DEBIAN_FASHION_MNIST_DIR, join(cacheDir(), 'datasets', 'fashion-mnist')];
  if (process.env.FASHION_MNIST_DIR) dirs.unshift(process.env.FASHION_MNIST_DIR);
  return dirs;
}

/** A file exists either gzipped (official name) or already gunzipped (name without .gz). */
function findIn(dir: string, gzName: string): string | undefined {
  for (const name of [gzName, gzName.replace(/\.gz$/, '')]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export function locateFashionMnist(dirs = fashionMnistSearchPath()): string {
  for (const dir of dirs) {
    if (Object.values(FASHION_MNIST_FILES).every((f) => findIn(dir, f.file))) return dir;
  }
  throw new CvaeError(
    'dataset_missing',
    `Fashion-MNIST not found in: ${dirs.join(', ')}. Install the Debian package (apt-get install dataset-fashion-mnist), set FASHION_MNIST_DIR, or run: cvae datasets fetch fashion-mnist`,
  );
}

export interface LabeledImages {
  /** N×H×W pixels, 0..255 */
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export interface FashionMnist {
  dir: string;
  train: LabeledImages;
  test: LabeledImages;
}

async function loadSplit(dir: string, images: string, labels: string, classes: number): Promise<LabeledImages> {
  const imagePath = findIn(dir, images) as string;
  const labelPath = findIn(dir, labels) as string;
  const img = parseIdx(new Uint8Array(await readFile(imagePath)), imagePath);
  const lab = parseIdx(new Uint8Array(await readFile(labelPath)), labelPath);
  if (img.shape.length !== 3)
    throw new CvaeError('dataset_corrupt', `${imagePath}: expected 3 dimensions, got [${img.shape}]`);
  if (lab.shape.length !== 1)
    throw new CvaeError('dataset_corrupt', `${labelPath}: expected 1 dimension, got [${lab.shape}]`);
  const [count, height, width] = img.shape as [number, number, number];
  if (lab.shape[0] !== count) {
    throw new CvaeError('dataset_corrupt', `${labelPath}: ${lab.shape[0]} labels for ${count} images in ${imagePath}`);
  }
  const bad = lab.data.findIndex((l) => l >= classes);
  if (bad >= 0)
    throw new CvaeError(
      'dataset_corrupt',
      `${labelPath}: label ${lab.data[bad]} at index ${bad} is not a class 0..${classes - 1}`,
    );
  return { pixels: img.data, labels: lab.data, count, height, width };
}

export async function loadFashionMnist(dir = locateFashionMnist()): Promise<FashionMnist> {
  const f = FASHION_MNIST_FILES;
  const [train, test] = await Promise.all([
    loadSplit(dir, f.trainImages.file, f.trainLabels.file, 10),
    loadSplit(dir, f.testImages.file, f.testLabels.file, 10),
  ]);
  return { dir, train, test };
}

/** The first `n` examples (a training subset for quick runs). */
export function takeFirst(split: LabeledImages, n: number): LabeledImages {
  const count = Math.min(n, split.count);
  const size = split.height * split.width;
  return { ...split, count, pixels: split.pixels.subarray(0, count * size), labels: split.labels.subarray(0, count) };
}
