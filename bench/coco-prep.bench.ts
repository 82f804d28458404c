/**
 * npm run bench:coco — preprocessing memory stays flat with dataset size: synthetic COCO-format
 * sets of two sizes are streamed into 128 px shards, and the process's peak RSS is sampled.
 *
 *   BENCH_COCO_SIZES=500,4000 npm run bench:coco
 */
import './temp-root.js'; // first: temporary folders under one, removed at exit
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheKey, captionsPath, prepareShards, readCocoCaptions } from '../src/worker/data/coco.js';
import { writeSynthCoco } from '../src/worker/data/synth-coco.js';

const sizes = (process.env.BENCH_COCO_SIZES ?? '500,4000').split(',').map(Number);
for (const images of sizes) {
  const dir = mkdtempSync(join(tmpdir(), `bench-coco-${images}-`));
  await writeSynthCoco({ out: dir, images, size: 256, valFraction: 0 });
  const list = await readCocoCaptions(dir, 2017, 'train');
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const opts = { size: 128, cacheRoot: join(dir, '.cache'), selection: { images } };
  const t = performance.now();
  await prepareShards(list, await cacheKey(captionsPath(dir, 2017, 'train'), opts), opts);
  clearInterval(timer);
  const mib = (b: number) => (b / 1024 / 1024).toFixed(0);
  console.log(
    `${images} images → 128 px shards: ${((performance.now() - t) / 1000).toFixed(1)} s, RSS before ${mib(before)} MiB, peak ${mib(peak)} MiB (+${mib(peak - before)} MiB; the pixels alone are ${mib(images * 128 * 128 * 3)} MiB)`,
  );
}
