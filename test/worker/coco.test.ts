import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COCO_ARCHITECTURES } from '../../src/shared/arch/coco.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import { createRng } from '../../src/shared/random.js';
import {
  cacheKey,
  captionsPath,
  loadImage,
  prepareShards,
  readCocoCaptions,
  readShard,
  subsample,
} from '../../src/worker/data/coco.js';
import { captions, randomScene, writeSynthCoco } from '../../src/worker/data/synth-coco.js';

// The COCO loader on a generated COCO-format dataset (same files and layout as the real one).
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synth-coco-'));
  await writeSynthCoco({ out: dir, images: 40, size: 96, seed: 3 });
});

describe('synth-coco', () => {
  it('writes the COCO 2017 layout with five captions per image, some of two sentences', () => {
    const json = JSON.parse(readFileSync(captionsPath(dir, 2017, 'train'), 'utf8'));
    expect(json.images).toHaveLength(36);
    expect(json.annotations).toHaveLength(36 * 5);
    expect(existsSync(join(dir, 'train2017', json.images[0].file_name))).toBe(true);
    expect(existsSync(captionsPath(dir, 2017, 'val'))).toBe(true);
    const texts: string[] = json.annotations.map((a: { caption: string }) => a.caption);
    expect(texts.some((t) => t.split('. ').length > 1)).toBe(true);
  });

  it('captions say the colour, shape and position that are drawn', () => {
    const rng = createRng(9);
    for (let i = 0; i < 50; i++) {
      const scene = randomScene(rng);
      const first = scene.objects[0];
      for (const caption of captions(scene, rng)) {
        expect(caption).toContain(first?.colour);
        expect(caption).toContain(first?.shape);
      }
    }
  });

  it('draws the caption: a red object on the left half is red pixels on the left', async () => {
    const json = JSON.parse(readFileSync(captionsPath(dir, 2017, 'train'), 'utf8'));
    const redLeft = json.annotations.find((a: { caption: string }) =>
      /^An? (large |small )?red \w+ at the (top |bottom )?left\.$/.test(a.caption),
    );
    if (!redLeft) return; // the seed decides; other checks cover drawing
    const file = json.images.find((i: { id: number }) => i.id === redLeft.image_id).file_name;
    const px = await loadImage(join(dir, 'train2017', file), 32, 'crop');
    let leftRed = 0;
    let rightRed = 0;
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) {
        const p = (y * 32 + x) * 3;
        const red = (px[p] as number) > 180 && (px[p + 1] as number) < 80 && (px[p + 2] as number) < 120;
        if (red) x < 16 ? leftRed++ : rightRed++;
      }
    expect(leftRed).toBeGreaterThan(rightRed);
  });
});

describe('COCO loader', () => {
  it('groups all captions of an image and subsamples by a seeded fraction', async () => {
    const images = await readCocoCaptions(dir, 2017, 'train');
    expect(images).toHaveLength(36);
    expect(images.every((i) => i.captions.length === 5)).toBe(true);
    const a = subsample(images, 0.25, 7);
    expect(a).toHaveLength(9);
    expect(subsample(images, 0.25, 7)).toEqual(a);
    expect(subsample(images, 0.25, 8)).not.toEqual(a);
    expect(a.map((i) => i.id)).toEqual([...a.map((i) => i.id)].sort((x, y) => x - y));
  });

  it('explains a missing or malformed captions file', async () => {
    await expect(readCocoCaptions(dir, 2014, 'train')).rejects.toThrow(/captions_train2014\.json not found/);
    const bad = mkdtempSync(join(tmpdir(), 'bad-coco-'));
    const path = join(bad, 'annotations');
    rmSync(path, { force: true, recursive: true });
    mkdirSync(path);
    writeFileSync(join(path, 'captions_val2017.json'), '{"images": 3}');
    await expect(readCocoCaptions(bad, 2017, 'val')).rejects.toThrow(/not a COCO captions file/);
  });

  it('crops or pads to a square of the requested size', async () => {
    const json = JSON.parse(readFileSync(captionsPath(dir, 2017, 'train'), 'utf8'));
    const file = join(dir, 'train2017', json.images[0].file_name);
    for (const fit of ['crop', 'pad'] as const) expect((await loadImage(file, 48, fit)).length).toBe(48 * 48 * 3);
  });

  it('streams into shards that are reused, and resumes after an interruption', async () => {
    const images = await readCocoCaptions(dir, 2017, 'train');
    const cacheRoot = mkdtempSync(join(tmpdir(), 'coco-cache-'));
    const opts = { size: 32, cacheRoot, selection: { split: 'train' }, shardSize: 16 };
    const key = await cacheKey(captionsPath(dir, 2017, 'train'), opts);
    const index = await prepareShards(images, key, opts);
    expect(index.shards.map((s) => s.count)).toEqual([16, 16, 4]);
    const shard = await readShard(join(cacheRoot, key), 'shard-00001');
    expect(shard.pixels.length).toBe(16 * 32 * 32 * 3);
    expect(shard.ids).toEqual(images.slice(16, 32).map((i) => i.id));
    // interrupted: no index, last shard unfinished → only that shard is redone
    rmSync(join(cacheRoot, key, 'index.json'));
    rmSync(join(cacheRoot, key, 'shard-00002.json'));
    const before = readFileSync(join(cacheRoot, key, 'shard-00000.bin'));
    const reports: number[] = [];
    await prepareShards(images, key, { ...opts, onProgress: (done) => reports.push(done) });
    expect(readFileSync(join(cacheRoot, key, 'shard-00000.bin')).equals(before)).toBe(true);
    expect(existsSync(join(cacheRoot, key, 'shard-00002.json'))).toBe(true);
    expect(reports).toEqual([16, 32, 33, 34, 35, 36]); // 2 reused shards at once, then 4 images redone
    expect(await cacheKey(captionsPath(dir, 2017, 'train'), { ...opts, size: 64 })).not.toBe(key);
  });
});

describe('COCO architectures (paper 3.5)', () => {
  it('have 3/4/4 encoder convolutions and 3/4/5 decoder layers with batch norm, RGB at 64/128/256', () => {
    for (const [size, enc, dec] of [
      [64, 3, 3],
      [128, 4, 4],
      [256, 4, 5],
    ] as const) {
      for (const join_ of ['add', 'concat']) {
        const spec = COCO_ARCHITECTURES[`coco-${size}-${join_}`];
        if (!spec) throw new Error('missing spec');
        expect(spec.encoder.layers.filter((l) => l.type === 'conv2d')).toHaveLength(enc);
        const deconvs = spec.decoder.layers.filter((l) => l.type === 'conv2dTranspose');
        expect(deconvs).toHaveLength(dec);
        expect(deconvs.slice(0, -1).every((l) => 'batchNorm' in l && l.batchNorm)).toBe(true);
        expect(deconvs.at(-1)).toMatchObject({ activation: 'sigmoid' });
        expect(spec.decoder.condition.join).toBe(join_);
        expect(describeCvae(spec).imageShape).toEqual([size, size, 3]);
      }
    }
  });
});
