/**
 * npm run bench:train — training throughput (images/s) on the active tfjs backend, with the
 * trainer's default replica count; the first batches are warm-up and not counted. Beside it, when
 * python3 with torch is present (Debian: python3-torch), the PyTorch reference
 * (bench/reference/cvae_reference.py) trains the same spec, read from the catalogue, with the same
 * batch, loss and Adam, best of 1 and 2 threads; the two alternate model by model so the machine's
 * noise hits both. BENCH_REFERENCE=0 skips it.
 *  - fashion-fc, fashion-conv: batch 128 on real Fashion-MNIST images.
 *  - the COCO models (64/128/256 px, batch 64, the table2 default): generated pixels and 512-d
 *    conditions, since a step costs the same whatever the values; a few batches each.
 *
 *   CVAE_BACKEND=cpu npm run bench:train      # another backend
 *   BENCH_IMAGES=20000 npm run bench:train    # longer Fashion-MNIST measurement
 *   BENCH_MODELS=coco-256-add,coco-256-concat BENCH_COCO_BATCHES=12 npm run bench:train
 *   BENCH_REPLICAS=1 npm run bench:train      # replicas other than the trainer's default
 */

import './temp-root.js'; // first: temporary folders under one, removed at exit
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COCO_ARCHITECTURES } from '../src/shared/arch/coco.js';
import { FASHION_ARCHITECTURES } from '../src/shared/arch/fashion.js';
import { describeCvae } from '../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../src/shared/arch/spec.js';
import { loadFashionMnist, takeFirst } from '../src/worker/data/fashion-mnist.js';
import { initBackend } from '../src/worker/tf/backend.js';
import { type SharedDataset, sharedFromLabeled } from '../src/worker/train/dataset.js';
import { DENSE_STEP } from '../src/worker/train/dense-step.js';
import { DEFAULT_TRAIN_OPTIONS, train } from '../src/worker/train/trainer.js';
import { referenceAvailable, referenceThroughput } from './reference/run.js';

const DEFAULT_MODELS = ['fashion-fc', 'fashion-conv', 'coco-64-concat', 'coco-128-concat', 'coco-256-concat'];
const models = (process.env.BENCH_MODELS ?? DEFAULT_MODELS.join(',')).split(',').map((m) => m.trim());
const images = Number(process.env.BENCH_IMAGES ?? 10_240);
const cocoBatches = Number(process.env.BENCH_COCO_BATCHES ?? 8);
const COCO_BATCH = 64;
const COCO_WARMUP_BATCHES = 2;
const replicas = process.env.BENCH_REPLICAS ? { replicas: Number(process.env.BENCH_REPLICAS) } : {};

const specs: Record<string, CvaeSpec> = { ...FASHION_ARCHITECTURES, ...COCO_ARCHITECTURES };
const unknown = models.filter((m) => !specs[m]);
if (unknown.length) {
  console.error(`bench:train: unknown model(s) ${unknown.join(', ')}; known: ${Object.keys(specs).join(', ')}`);
  process.exit(2);
}

const backend = await initBackend();

async function fashionData(): Promise<SharedDataset> {
  const fm = await loadFashionMnist();
  const subset = takeFirst(fm.train, images);
  return sharedFromLabeled(subset.pixels, subset.labels, [28, 28, 1], 10);
}

/** Generated COCO-shaped examples: a step's cost does not depend on the values. */
function cocoData(spec: CvaeSpec): SharedDataset {
  const { height, width, channels } = spec.image;
  const conditionSize = describeCvae(spec).conditionSize;
  const count = COCO_BATCH * (cocoBatches + COCO_WARMUP_BATCHES);
  const pixels = new Uint8Array(new SharedArrayBuffer(count * height * width * channels));
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
  const conditions = new Float32Array(new SharedArrayBuffer(count * conditionSize * 4));
  for (let i = 0; i < conditions.length; i++) conditions[i] = Math.sin(i * 0.37);
  return {
    count,
    imageShape: [height, width, channels],
    pixels,
    conditions,
    conditionSize,
    labels: new Uint8Array(0),
  };
}

interface Row {
  model: string;
  ours: number;
  reference?: number;
  detail: string;
}

const rate = (x: number) => x.toFixed(x < 100 ? 1 : 0);
function formatRow(r: Row): string {
  const ref = r.reference === undefined ? '—' : rate(r.reference);
  const ratio = r.reference === undefined ? '—' : (r.ours / r.reference).toFixed(2);
  return `| ${r.model} | ${rate(r.ours)} | ${ref} | ${ratio} |`;
}

const referenceNote = process.env.BENCH_REFERENCE === '0' ? 'skipped (BENCH_REFERENCE=0)' : referenceAvailable();
const withReference = referenceNote === true;
let fashion: SharedDataset | undefined;
const rows: Row[] = [];
for (const id of models) {
  const spec = specs[id] as CvaeSpec;
  const isCoco = spec.task === 'long-text';
  if (!isCoco && !fashion) fashion = await fashionData();
  const data = isCoco ? cocoData(spec) : (fashion as SharedDataset);
  const batchSize = isCoco ? COCO_BATCH : DEFAULT_TRAIN_OPTIONS.batchSize;
  const warmup = isCoco ? COCO_WARMUP_BATCHES * COCO_BATCH : Math.min(1280, Math.floor(images / 4));
  let warmStart = 0;
  let warmSeen = 0;
  let lastBatch = 0;
  const result = await train(
    spec,
    data,
    { ...DEFAULT_TRAIN_OPTIONS, ...replicas, epochs: 1, batchSize, outDir: mkdtempSync(join(tmpdir(), 'bench-')) },
    {
      onBatch: (p) => {
        lastBatch = performance.now();
        if (warmStart === 0 && p.seen >= warmup) {
          warmStart = lastBatch;
          warmSeen = p.seen;
        }
      },
    },
  );
  // Timed from the end of the warm-up batches to the end of the last batch (no checkpoint write).
  const timedImages = data.count - warmSeen;
  const measured = timedImages / ((lastBatch - warmStart) / 1000);
  const row: Row = {
    model: spec.id,
    ours: measured,
    detail: `batch ${batchSize}, ${result.replicas} replica(s), ${result.backend.label.endsWith(DENSE_STEP) ? DENSE_STEP : 'tfjs step'}, ${timedImages} images after ${warmSeen} warm-up`,
  };
  if (withReference) {
    const ref = referenceThroughput(spec, {
      batch: batchSize,
      steps: Math.max(2, Math.round(timedImages / batchSize)),
      warmup: Math.max(1, Math.round(warmSeen / batchSize)),
    });
    row.reference = ref.imagesPerSecond;
    row.detail += `; PyTorch ${ref.torch}, ${ref.threads} thread(s), ${ref.parameters.toLocaleString('en')} parameters in both`;
  }
  rows.push(row);
  console.error(`bench:train: ${formatRow(row)}`);
}

console.log(`backend: ${backend.label}${withReference ? '' : `; PyTorch column: ${referenceNote}`}`);
console.log('| model | this project (images/s) | PyTorch (images/s) | ratio |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(formatRow(r));
for (const r of rows) console.log(`  ${r.model}: ${r.detail}`);
