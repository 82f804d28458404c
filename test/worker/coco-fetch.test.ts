import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { readCocoCaptions } from '../../src/worker/data/coco.js';
import { fetchCoco } from '../../src/worker/data/coco-fetch.js';
import { writeSynthCoco } from '../../src/worker/data/synth-coco.js';

// `cvae datasets fetch coco` against a local server laid out like images.cocodataset.org.
let server: Server;
let baseUrl: string;
let source: string;
let zip: Buffer;
const requests: string[] = [];
const broken = new Set<string>();

function zipOf(files: Record<string, Buffer>): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [name, data] of Object.entries(files)) z.addBuffer(data, name);
  z.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    z.outputStream.on('data', (c: Buffer) => chunks.push(c));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

beforeAll(async () => {
  source = mkdtempSync(join(tmpdir(), 'coco-source-'));
  await writeSynthCoco({ out: source, images: 30, size: 64, seed: 5 });
  zip = await zipOf({
    'annotations/captions_train2017.json': readFileSync(join(source, 'annotations/captions_train2017.json')),
    'annotations/captions_val2017.json': readFileSync(join(source, 'annotations/captions_val2017.json')),
    'annotations/instances_val2017.json': Buffer.from('{}'),
  });
  server = createServer((req, res) => {
    const path = req.url ?? '';
    requests.push(path);
    if (path === '/annotations/annotations_trainval2017.zip') return void res.writeHead(200).end(zip);
    const m = /^\/(train2017|val2017)\/(\d+\.jpg)$/.exec(path);
    if (m && !broken.has(m[2] as string))
      return void res.writeHead(200).end(readFileSync(join(source, m[1] as string, m[2] as string)));
    if (m) return void res.writeHead(200).end(Buffer.from('not a jpeg'));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

describe('fetch coco', () => {
  it('downloads the annotations and only the chosen fraction of images, then loads as COCO', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coco-fetched-'));
    const counts = await fetchCoco({ dir, year: 2017, fraction: 0.5, seed: 1, baseUrl, annotationsMd5: md5(zip) });
    expect(counts).toEqual({ train: 14, val: 2 });
    expect(readdirSync(join(dir, 'train2017'))).toHaveLength(14);
    const images = await readCocoCaptions(dir, 2017, 'train');
    expect(images).toHaveLength(14);
    expect(images.every((i) => i.captions.length === 5 && existsSync(i.file))).toBe(true);
    expect(existsSync(join(dir, 'annotations/full/captions_train2017.json'))).toBe(true);

    // a second run downloads nothing again
    requests.length = 0;
    await fetchCoco({ dir, year: 2017, fraction: 0.5, seed: 1, baseUrl, annotationsMd5: md5(zip) });
    expect(requests).toEqual([]);
  });

  it('refuses an archive with the wrong checksum and an image that is not what the annotations say', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coco-bad-'));
    await expect(fetchCoco({ dir, year: 2017, fraction: 0.5, seed: 1, baseUrl })).rejects.toThrow(/does not match/);
    const json = JSON.parse(readFileSync(join(source, 'annotations/captions_val2017.json'), 'utf8'));
    for (const img of json.images) broken.add(img.file_name);
    await expect(
      fetchCoco({ dir, year: 2017, fraction: 1, seed: 1, baseUrl, annotationsMd5: md5(zip), splits: ['val'] }),
    ).rejects.toThrow(/not an image.*discarded/);
    expect(readdirSync(join(dir, 'val2017'))).toEqual([]);
    broken.clear();
  });
});
