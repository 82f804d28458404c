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
import {
  COLOURS,
  captions,
  POSITIONS,
  randomScene,
  SYNTH_DESCRIPTION,
  synthCocoKind,
  writeSynthCoco,
} from '../../src/worker/data/synth-coco.js';
import { readScene } from '../../src/worker/lab/caption-following.js';

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
    expect(json.info.description).toBe(SYNTH_DESCRIPTION);
  });

  it('tells a current synthetic set from an outdated one, another dataset, or none', async () => {
    expect(await synthCocoKind(dir)).toBe('current');
    expect(await synthCocoKind(join(dir, 'nowhere'))).toBe('missing');
    const other = mkdtempSync(join(tmpdir(), 'coco-kind-'));
    mkdirSync(join(other, 'annotations'));
    const write = (description: string) =>
      writeFileSync(
        captionsPath(other, 2017, 'val'),
        JSON.stringify({ info: { description }, images: [], annotations: [] }),
      );
    write('COCO 2017 Dataset');
    expect(await synthCocoKind(other)).toBe('other');
    write('cvae-edge synthetic COCO-format captions (generated scenes)');
    expect(await synthCocoKind(other)).toBe('outdated');
  });

  it('every caption names the background and the colour, shape and place of each object', () => {
    const rng = createRng(9);
    for (let i = 0; i < 50; i++) {
      const scene = randomScene(rng);
      for (const caption of captions(scene, rng)) {
        expect(caption).toContain(scene.background);
        for (const o of scene.objects) {
          expect(caption).toContain(o.colour);
          expect(caption).toContain(o.shape);
          const place = POSITIONS[o.position]?.[0] as string;
          expect(caption).toContain(place === 'center' ? 'in the center' : `at the ${place}`);
        }
        expect(caption).toContain(scene.objects[0]?.size);
      }
    }
  });

  it('draws what the captions say: background, place and colour read back from the written JPEGs', async () => {
    const json = JSON.parse(readFileSync(captionsPath(dir, 2017, 'train'), 'utf8'));
    const colours = Object.keys(COLOURS).join('|');
    const places = POSITIONS.map(([p]) => p).join('|');
    const plain = new RegExp(
      `^An? (?:small|large) (${colours}) \\w+ (?:at the (${places})|in the (center)) on a (\\w+) background\\.$`,
    );
    let checked = 0;
    for (const a of json.annotations as { image_id: number; caption: string }[]) {
      const m = plain.exec(a.caption); // single-object scenes in the plainest wording
      if (!m) continue;
      const file = json.images.find((i: { id: number }) => i.id === a.image_id).file_name;
      const px = await loadImage(join(dir, 'train2017', file), 64, 'crop');
      const seen = readScene(
        Float32Array.from(px, (v) => v / 255),
        64,
      );
      expect(seen.background).toBe(m[4]);
      expect(POSITIONS[seen.position]?.[0]).toBe(m[2] ?? m[3]);
      expect(seen.colour).toBe(m[1]);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
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
        // each decoder convolution doubles the size: nearest upsampling, then a 3x3 stride-1 conv
        const layers = spec.decoder.layers;
        const convs = layers.filter((l) => l.type === 'conv2d');
        expect(convs).toHaveLength(dec);
        for (const conv of convs) {
          expect(layers[layers.indexOf(conv) - 1]).toEqual({ type: 'upsample', factor: 2 });
          expect(conv).toMatchObject({ kernel: 3, stride: 1 });
        }
        expect(convs.slice(0, -1).every((l) => 'batchNorm' in l && l.batchNorm)).toBe(true);
        expect(convs.at(-1)).toMatchObject({ activation: 'sigmoid' });
        expect(spec.decoder.condition.join).toBe(join_);
        expect(describeCvae(spec).imageShape).toEqual([size, size, 3]);
      }
    }
  });
});
