import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import yauzl from 'yauzl';
import { CvaeError } from '../../shared/errors.js';
import { type CocoSplit, type CocoYear, captionsPath, subsample } from './coco.js';
import { downloadVerified } from './download.js';

/**
 * `cvae datasets fetch coco`: the official captions (annotations zip, MD5-checked, resumable)
 * and then only the images of a seeded fraction, one by one from the official image server, so
 * 20% of COCO costs 20% of the download. Each image is verified against its annotation (JPEG
 * dimensions) before it is renamed into place; present images are skipped, so a rerun resumes.
 * The captions files written are the subset's (the official ones stay in annotations/full/),
 * so the folder is a complete COCO layout of the subset for the loader.
 */
export const COCO_BASE_URL = 'http://images.cocodataset.org/';
/** MD5s of the official annotation archives (as published with the dataset's download scripts) */
export const COCO_ANNOTATIONS: Record<CocoYear, { file: string; md5: string }> = {
  2014: { file: 'annotations_trainval2014.zip', md5: '0a379cfc70b0e71301e0f377548639bd' },
  2017: { file: 'annotations_trainval2017.zip', md5: 'f4bbac642086de4f52a3fdda2de5fa2c' },
};

export interface FetchCocoOptions {
  dir: string;
  year: CocoYear;
  fraction: number;
  seed: number;
  splits?: CocoSplit[];
  baseUrl?: string;
  concurrency?: number;
  /** overrides the known MD5 (mirrors, tests) */
  annotationsMd5?: string;
  onStage?(stage: string, total: number): void;
  onProgress?(done: number): void;
}

interface CaptionsJson {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { image_id: number }[];
  [key: string]: unknown;
}

/** Extracts the named entries of a zip into `dir` (streamed; the archive is not read whole). */
function unzipEntries(zip: string, wanted: (name: string) => string | undefined): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(zip, { lazyEntries: true }, (error, archive) => {
      if (error || !archive) return reject(new CvaeError('dataset_invalid', `${zip} is not a zip: ${error?.message}`));
      const written: string[] = [];
      archive.on('entry', (entry: yauzl.Entry) => {
        const target = wanted(entry.fileName);
        if (!target) return archive.readEntry();
        archive.openReadStream(entry, async (err, stream) => {
          if (err || !stream) return reject(err);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', async () => {
            await writeFile(target, Buffer.concat(chunks));
            written.push(target);
            archive.readEntry();
          });
          stream.on('error', reject);
        });
      });
      archive.on('end', () => resolve(written));
      archive.on('error', reject);
      archive.readEntry();
    });
  });
}

async function fetchImage(url: string, target: string, expect: { width: number; height: number }): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw new CvaeError('download_failed', `could not download ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new CvaeError('download_failed', `could not download ${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const length = Number(response.headers.get('content-length') ?? bytes.length);
  const meta = await sharp(bytes)
    .metadata()
    .catch(() => undefined);
  if (bytes.length !== length || !meta || meta.width !== expect.width || meta.height !== expect.height) {
    throw new CvaeError(
      'checksum_mismatch',
      `${url}: got ${bytes.length} bytes${meta ? ` of a ${meta.width}x${meta.height} image` : ' that are not an image'}, the annotations say ${expect.width}x${expect.height}; discarded`,
    );
  }
  await writeFile(`${target}.partial`, bytes);
  await rename(`${target}.partial`, target);
}

async function imageOk(path: string, expect: { width: number; height: number }): Promise<boolean> {
  if (!existsSync(path)) return false;
  const meta = await sharp(path)
    .metadata()
    .catch(() => undefined);
  return meta?.width === expect.width && meta?.height === expect.height;
}

export async function fetchCoco(opts: FetchCocoOptions): Promise<Record<CocoSplit, number>> {
  const base = opts.baseUrl ?? COCO_BASE_URL;
  const archive = COCO_ANNOTATIONS[opts.year];
  const full = join(opts.dir, 'annotations', 'full');
  await mkdir(full, { recursive: true });
  opts.onStage?.(archive.file, 0);
  await downloadVerified(
    `${base}annotations/`,
    [{ file: archive.file, md5: opts.annotationsMd5 ?? archive.md5 }],
    opts.dir,
  );
  const splits = opts.splits ?? ['train', 'val'];
  const names = new Map(
    splits.map((s) => [`annotations/captions_${s}${opts.year}.json`, join(full, `captions_${s}${opts.year}.json`)]),
  );
  await unzipEntries(join(opts.dir, archive.file), (name) => names.get(name));
  const counts = {} as Record<CocoSplit, number>;
  for (const split of splits) {
    const source = join(full, `captions_${split}${opts.year}.json`);
    if (!existsSync(source))
      throw new CvaeError('dataset_invalid', `${archive.file} has no captions_${split}${opts.year}.json`);
    const json = JSON.parse(await readFile(source, 'utf8')) as CaptionsJson;
    const chosen = subsample(json.images, opts.fraction, opts.seed);
    const folder = join(opts.dir, `${split}${opts.year}`);
    await mkdir(folder, { recursive: true });
    opts.onStage?.(`${split}${opts.year} images`, chosen.length);
    let next = 0;
    let done = 0;
    const work = async () => {
      for (let i = next++; i < chosen.length; i = next++) {
        const img = chosen[i] as CaptionsJson['images'][number];
        const target = join(folder, img.file_name);
        if (!(await imageOk(target, img))) {
          await rm(target, { force: true });
          await fetchImage(`${base}${split}${opts.year}/${img.file_name}`, target, img);
        }
        opts.onProgress?.(++done);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, work));
    const ids = new Set(chosen.map((i) => i.id));
    const subset = { ...json, images: chosen, annotations: json.annotations.filter((a) => ids.has(a.image_id)) };
    await writeFile(captionsPath(opts.dir, opts.year, split), JSON.stringify(subset));
    counts[split] = chosen.length;
  }
  return counts;
}
