import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadVerified } from '../../src/worker/data/download.js';
import { FASHION_MNIST_FILES, loadFashionMnist } from '../../src/worker/data/fashion-mnist.js';
import { encodeIdx } from '../../src/worker/data/idx.js';

// A local HTTP server stands in for the official mirror (this machine has no internet).
const served: Record<string, Uint8Array> = {
  [FASHION_MNIST_FILES.trainImages.file]: gzipSync(encodeIdx([2, 28, 28], new Uint8Array(2 * 784).fill(3))),
  [FASHION_MNIST_FILES.trainLabels.file]: gzipSync(encodeIdx([2], Uint8Array.from([4, 7]))),
  [FASHION_MNIST_FILES.testImages.file]: gzipSync(encodeIdx([1, 28, 28], new Uint8Array(784))),
  [FASHION_MNIST_FILES.testLabels.file]: gzipSync(encodeIdx([1], Uint8Array.from([2]))),
};
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const files = Object.keys(served).map((file) => ({ file, md5: md5(served[file] as Uint8Array) }));

let server: Server;
let baseUrl: string;
const requests: string[] = [];
const ranges: string[] = [];
const flakyBody = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251);

beforeAll(async () => {
  server = createServer((req, res) => {
    const name = (req.url ?? '').replace(/^\/mirror\//, '');
    requests.push(name);
    if (name === 'broken.gz') {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.destroy(), 50);
      return;
    }
    if (name === 'flaky.gz') {
      // first request breaks off half way; a Range request gets the rest (206)
      const body = flakyBody;
      ranges.push(req.headers.range ?? '');
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (from > 0) {
        res.writeHead(206, { 'content-length': String(body.length - from) }).end(body.subarray(from));
        return;
      }
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, 100));
      setTimeout(() => res.destroy(), 50);
      return;
    }
    const body = served[name];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('downloadVerified', () => {
  it('downloads, verifies and places every file; the loader then reads them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const done: string[] = [];
    await downloadVerified(baseUrl, files, dir, { onDone: (f, skipped) => done.push(`${f}:${skipped}`) });
    expect(done).toHaveLength(4);
    for (const f of files) expect(md5(readFileSync(join(dir, f.file)))).toBe(f.md5);
    const fm = await loadFashionMnist(dir);
    expect(Array.from(fm.train.labels)).toEqual([4, 7]);
  });

  it('skips files already present with the right checksum', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    await downloadVerified(baseUrl, files, dir);
    requests.length = 0;
    const skipped: boolean[] = [];
    await downloadVerified(baseUrl, files, dir, { onDone: (_f, s) => skipped.push(s) });
    expect(skipped).toEqual([true, true, true, true]);
    expect(requests).toEqual([]);
  });

  it('discards a file whose checksum does not match, leaving nothing in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const wrong = [{ file: files[0]?.file as string, md5: '0'.repeat(32) }];
    await expect(downloadVerified(baseUrl, wrong, dir)).rejects.toThrow(/does not match the expected 0{32}/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reports HTTP errors and broken connections clearly, never placing a partial file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    await expect(downloadVerified(baseUrl, [{ file: 'missing.gz', md5: 'x' }], dir)).rejects.toThrow(/HTTP 404/);
    await expect(downloadVerified(baseUrl, [{ file: 'broken.gz', md5: 'x' }], dir)).rejects.toThrow(/broke off/);
    expect(existsSync(join(dir, 'broken.gz'))).toBe(false);
    expect(readdirSync(dir)).toEqual(['broken.gz.partial']);
  });

  it('resumes a broken download with a Range request and verifies the whole file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const body = flakyBody;
    const flaky = [{ file: 'flaky.gz', md5: md5(body) }];
    await expect(downloadVerified(baseUrl, flaky, dir)).rejects.toThrow(/broke off after 100 bytes/);
    await downloadVerified(baseUrl, flaky, dir);
    expect(ranges).toEqual(['', 'bytes=100-']);
    expect(md5(readFileSync(join(dir, 'flaky.gz')))).toBe(md5(body));
    expect(readdirSync(dir)).toEqual(['flaky.gz']);
  });
});
