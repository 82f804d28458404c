/**
 * npm run bench:train — training throughput (images/s) of fashion-fc and fashion-conv on the
 * active tfjs backend, batch 128, with the trainer's default replica count. Real Fashion-MNIST
 * images; the first batches are warm-up and not counted.
 *
 *   CVAE_BACKEND=cpu npm run bench:train      # another backend
 *   BENCH_IMAGES=20000 npm run bench:train    # longer measurement
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_ARCHITECTURES } from '../src/shared/arch/fashion.js';
import { loadFashionMnist, takeFirst } from '../src/worker/data/fashion-mnist.js';
import { initBackend } from '../src/worker/tf/backend.js';
import { sharedFromLabeled } from '../src/worker/train/dataset.js';
import { DEFAULT_TRAIN_OPTIONS, train } from '../src/worker/train/trainer.js';

const images = Number(process.env.BENCH_IMAGES ?? 10_240);
const backend = await initBackend();
const fm = await loadFashionMnist();
const subset = takeFirst(fm.train, images);
const data = sharedFromLabeled(subset.pixels, subset.labels, [28, 28, 1], 10);
const rows: string[] = [];
for (const spec of Object.values(FASHION_ARCHITECTURES)) {
  const warmup = Math.min(1280, Math.floor(images / 4));
  let warmStart = 0;
  let warmSeen = 0;
  let lastBatch = 0;
  const result = await train(
    spec,
    data,
    { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, outDir: mkdtempSync(join(tmpdir(), 'bench-')) },
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
  const measured = (data.count - warmSeen) / ((lastBatch - warmStart) / 1000);
  rows.push(
    `${spec.id.padEnd(14)} ${measured.toFixed(0).padStart(6)} images/s  (batch 128, ${result.replicas} replica(s), ${data.count - warmSeen} images after ${warmSeen} warm-up)`,
  );
}
console.log(`backend: ${backend.label}`);
for (const r of rows) console.log(r);
