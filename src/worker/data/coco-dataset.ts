import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClipTextEncoder } from '../../shared/text/text-encoder.js';
import type { SharedDataset } from '../train/dataset.js';
import { readShard, type ShardIndex } from './coco.js';

/**
 * Shards + a text encoder → what training and evaluation read. Every caption is embedded once
 * (sentences split and averaged, paper 3.4) and cached beside its shard as
 * `shard-NNNNN.<encoder>.emb.bin` (float32, one 512-d row per caption), so later runs skip CLIP.
 *
 * Examples are (image, caption) pairs: an image with five captions is seen five times an epoch,
 * each time with one of its captions; pixels are stored once and reached through `imageIndex`.
 */
export interface CocoData {
  dataset: SharedDataset;
  /** one row per image: its first caption (figures and generation prompts) */
  firstCaption: string[];
  images: number;
  captions: number;
}

export async function embedShard(
  dir: string,
  name: string,
  captions: string[][],
  encoder: ClipTextEncoder,
  encoderKey: string,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array> {
  const file = join(dir, `${name}.${encoderKey}.emb.bin`);
  const flat = captions.flat();
  if (existsSync(file)) {
    const bytes = await readFile(file);
    if (bytes.byteLength === flat.length * encoder.dim * 4) {
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    }
  }
  const out = await encoder.embedMany(flat, onProgress);
  await writeFile(`${file}.partial`, new Uint8Array(out.buffer));
  await rename(`${file}.partial`, file);
  return out;
}

export async function loadCocoData(
  index: ShardIndex,
  dir: string,
  encoder: ClipTextEncoder,
  encoderKey: string,
  onProgress?: (done: number, total: number) => void,
): Promise<CocoData> {
  const perImage = index.size * index.size * 3;
  const pixels = new Uint8Array(new SharedArrayBuffer(index.count * perImage));
  const rows: Float32Array[] = [];
  const imageOf: number[] = [];
  const firstCaption: string[] = [];
  let image = 0;
  for (const shard of index.shards) {
    const data = await readShard(dir, shard.name);
    pixels.set(data.pixels, image * perImage);
    const embeddings = await embedShard(dir, shard.name, data.captions, encoder, encoderKey, (d, t) =>
      onProgress?.(d, t),
    );
    let row = 0;
    data.captions.forEach((caps, i) => {
      firstCaption.push(caps[0] ?? '');
      for (let c = 0; c < caps.length; c++, row++) {
        rows.push(embeddings.subarray(row * encoder.dim, (row + 1) * encoder.dim));
        imageOf.push(image + i);
      }
    });
    image += data.captions.length;
  }
  const conditions = new Float32Array(new SharedArrayBuffer(rows.length * encoder.dim * 4));
  rows.forEach((r, i) => {
    conditions.set(r, i * encoder.dim);
  });
  const imageIndex = new Uint32Array(new SharedArrayBuffer(imageOf.length * 4));
  imageIndex.set(imageOf);
  return {
    dataset: {
      count: rows.length,
      imageShape: [index.size, index.size, 3],
      pixels,
      conditions,
      conditionSize: encoder.dim,
      labels: new Uint8Array(0),
      imageIndex,
    },
    firstCaption,
    images: image,
    captions: rows.length,
  };
}
