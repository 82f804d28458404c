import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { CvaeError } from '../../shared/errors.js';
import { createRng, permutation } from '../../shared/random.js';

/**
 * COCO captions (2014 and 2017 layouts): `annotations/captions_{train,val}{year}.json` beside the
 * image folders `{train,val}{year}/`. All captions of an image are kept; a seeded fraction of the
 * images is taken (the paper used about 20%).
 *
 * Preprocessing streams into an on-disk cache of shards (`shard-NNNNN.bin`: uint8 RGB, HWC, one
 * image after another; `shard-NNNNN.json`: ids and captions), one shard in memory at a time, so
 * memory stays flat however large the subset (the paper crashed above 40% of COCO). A cache is
 * keyed by everything that changes its content and resumes shard by shard; `index.json` is
 * written last.
 *
 * Resizing: `crop` (default) scales the short side to the target and cuts the centre square, as
 * torchvision's Resize+CenterCrop; `pad` fits the whole image and pads with black.
 */
export type CocoYear = 2014 | 2017;
export type CocoSplit = 'train' | 'val';
export type Fit = 'crop' | 'pad';

export interface CocoImage {
  id: number;
  file: string;
  captions: string[];
}

export function captionsPath(dir: string, year: CocoYear, split: CocoSplit): string {
  return join(dir, 'annotations', `captions_${split}${year}.json`);
}

export async function readCocoCaptions(dir: string, year: CocoYear, split: CocoSplit): Promise<CocoImage[]> {
  const path = captionsPath(dir, year, split);
  if (!existsSync(path)) {
    throw new CvaeError(
      'dataset_missing',
      `${path} not found: expected the COCO ${year} layout (annotations/captions_${split}${year}.json and ${split}${year}/); get it with \`cvae datasets fetch coco --year ${year}\` or make one with \`cvae datasets synth-coco\``,
    );
  }
  let json: {
    images?: { id: number; file_name: string }[];
    annotations?: { image_id: number; caption: string }[];
  };
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new CvaeError('dataset_invalid', `${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(json.images) || !Array.isArray(json.annotations)) {
    throw new CvaeError('dataset_invalid', `${path} has no images/annotations arrays: not a COCO captions file`);
  }
  const byId = new Map<number, CocoImage>();
  for (const img of json.images) {
    byId.set(img.id, { id: img.id, file: join(dir, `${split}${year}`, img.file_name), captions: [] });
  }
  for (const a of json.annotations) byId.get(a.image_id)?.captions.push(a.caption.trim());
  return [...byId.values()].filter((i) => i.captions.length > 0).sort((a, b) => a.id - b.id);
}

/** A seeded random `fraction` of the images, kept in id order. */
export function subsample<T extends { id: number }>(images: T[], fraction: number, seed: number): T[] {
  if (!(fraction > 0 && fraction <= 1))
    throw new CvaeError('bad_option', `fraction must be in (0, 1], got ${fraction}`);
  const take = Math.max(1, Math.round(images.length * fraction));
  const order = permutation(createRng(seed), images.length).subarray(0, take);
  return [...order].sort((a, b) => a - b).map((i) => images[i] as T);
}

/** Decodes, resizes to size x size RGB and returns the raw bytes (HWC). */
export async function loadImage(file: string, size: number, fit: Fit): Promise<Uint8Array> {
  const { data } = await sharp(file)
    .rotate() // EXIF orientation, as viewers show it
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, fit === 'crop' ? { fit: 'cover', position: 'centre' } : { fit: 'contain', background: '#000' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export interface ShardIndex {
  key: string;
  size: number;
  fit: Fit;
  count: number;
  shards: { name: string; count: number }[];
}

export interface PrepareOptions {
  size: number;
  fit?: Fit;
  cacheRoot: string;
  /** what identifies the selection (source file, year, split, fraction, seed) */
  selection: Record<string, unknown>;
  shardSize?: number;
  concurrency?: number;
  onProgress?(done: number, total: number): void;
}

export async function cacheKey(captionsFile: string, opts: PrepareOptions): Promise<string> {
  const info = await stat(captionsFile);
  return createHash('sha256')
    .update(
      JSON.stringify({
        captionsFile,
        bytes: info.size,
        mtime: info.mtimeMs,
        ...opts.selection,
        size: opts.size,
        fit: opts.fit ?? 'crop',
      }),
    )
    .digest('hex')
    .slice(0, 16);
}

/** Streams images into shards under `<cacheRoot>/<key>/`; completed shards are reused. */
export async function prepareShards(images: CocoImage[], key: string, opts: PrepareOptions): Promise<ShardIndex> {
  const dir = join(opts.cacheRoot, key);
  const indexFile = join(dir, 'index.json');
  if (existsSync(indexFile)) return JSON.parse(await readFile(indexFile, 'utf8')) as ShardIndex;
  await mkdir(dir, { recursive: true });
  const fit = opts.fit ?? 'crop';
  const shardSize = opts.shardSize ?? 512;
  const perImage = opts.size * opts.size * 3;
  const concurrency = opts.concurrency ?? 4;
  const shards: ShardIndex['shards'] = [];
  let done = 0;
  for (let start = 0, n = 0; start < images.length; start += shardSize, n++) {
    const name = `shard-${String(n).padStart(5, '0')}`;
    const batch = images.slice(start, start + shardSize);
    shards.push({ name, count: batch.length });
    if (existsSync(join(dir, `${name}.json`))) {
      done += batch.length;
      opts.onProgress?.(done, images.length);
      continue;
    }
    const pixels = new Uint8Array(batch.length * perImage);
    let next = 0;
    const work = async () => {
      for (let i = next++; i < batch.length; i = next++) {
        const img = batch[i] as CocoImage;
        try {
          pixels.set(await loadImage(img.file, opts.size, fit), i * perImage);
        } catch (error) {
          throw new CvaeError('dataset_invalid', `cannot read image ${img.file}: ${(error as Error).message}`);
        }
        opts.onProgress?.(++done, images.length);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, work));
    // bin first, then json: a shard counts as done only when its json exists
    await writeFile(join(dir, `${name}.bin.partial`), pixels);
    await rename(join(dir, `${name}.bin.partial`), join(dir, `${name}.bin`));
    const meta = { ids: batch.map((b) => b.id), captions: batch.map((b) => b.captions) };
    await writeFile(join(dir, `${name}.json`), JSON.stringify(meta));
  }
  const index: ShardIndex = { key, size: opts.size, fit, count: images.length, shards };
  await writeFile(indexFile, JSON.stringify(index, null, 2));
  return index;
}

export async function readShard(
  dir: string,
  name: string,
): Promise<{ pixels: Uint8Array; ids: number[]; captions: string[][] }> {
  const meta = JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as { ids: number[]; captions: string[][] };
  const pixels = new Uint8Array(await readFile(join(dir, `${name}.bin`)));
  return { pixels, ...meta };
}
