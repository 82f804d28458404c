import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TrainingJobConfig } from '../../shared/api/jobs-schemas.js';
import { CLIP_MODEL_ID } from '../../shared/arch/coco.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { CvaeError } from '../../shared/errors.js';
import { sha256Hex } from '../../shared/hash.js';
import {
  chooseTextEncoder,
  type DataSource,
  encoderIdentity,
  loadTrainingData,
  type TrainingData,
} from '../data/training-data.js';
import type { ObjectStore } from '../registry/object-store.js';
import { pull } from '../registry/registry.js';

/**
 * A job's data on a training worker, cached under `<workDir>/.cache/` across jobs: the synthetic
 * set generated (seeded) by the worker itself, a COCO layout copied from a bucket prefix, and the
 * text encoder from the registry (`clip-vit-b32-text`; the generated ViT-B/32-size graph when the
 * registry has none).
 */
export async function jobTrainingData(
  spec: CvaeSpec,
  config: TrainingJobConfig,
  opts: { store: ObjectStore; workDir: string; evalLimit: number; log: (line: string) => void },
): Promise<{ data: TrainingData; record: Record<string, unknown> }> {
  const cache = join(opts.workDir, '.cache');
  const dataset = config.dataset;
  let source: DataSource;
  if (dataset.name === 'fashion-mnist') source = dataset;
  else if (dataset.name === 'synth-coco') {
    source = { ...dataset, dir: join(cache, 'datasets', `synth-coco-${dataset.images}-s${dataset.seed}`) };
  } else {
    const key = (await sha256Hex(new TextEncoder().encode(dataset.prefix))).slice(0, 16);
    const dir = join(cache, 'datasets', `coco-${key}`);
    await copyPrefix(opts.store, dataset.prefix, dir, opts.log);
    source = { name: 'coco', dir, year: dataset.year, fraction: dataset.fraction };
  }
  const textEncoder =
    spec.task === 'long-text' ? await chooseTextEncoder(await registryClip(opts.store, cache)) : undefined;
  const data = await loadTrainingData(spec, source, {
    evalLimit: opts.evalLimit,
    ...(textEncoder ? { textEncoder } : {}),
  });
  // what the checkpoint records: no local paths, so another worker can resume it
  const record = { ...dataset, ...(textEncoder ? { textEncoder: encoderIdentity(textEncoder) } : {}) };
  return { data, record };
}

/** The registry's text encoder, pulled once; undefined when the registry has none. */
async function registryClip(store: ObjectStore, cache: string): Promise<string | undefined> {
  try {
    return (await pull(store, CLIP_MODEL_ID, 'latest', join(cache, 'models'))).dir;
  } catch (error) {
    if ((error as CvaeError).code === 'model_not_found') return undefined;
    throw error;
  }
}

/** Copies every object under `prefix` into `dir` once (a marker file says it is complete). */
async function copyPrefix(store: ObjectStore, prefix: string, dir: string, log: (line: string) => void) {
  const done = join(dir, '.complete');
  if (existsSync(done)) return;
  const keys = await store.list(prefix);
  if (!keys.some((k) => /annotations\/captions_(train|val)\d{4}\.json$/.test(k)))
    throw new CvaeError('bad_job', `the bucket has no COCO annotations under ${prefix}`);
  log(`copying ${keys.length} objects of ${prefix} from the bucket`);
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  for (const key of keys) {
    const bytes = await store.get(key);
    if (!bytes) continue;
    const path = join(partial, key.slice(prefix.length));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  await writeFile(done, new Date().toISOString());
}
