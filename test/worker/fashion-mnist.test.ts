import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_FILES,
  loadFashionMnist,
  locateFashionMnist,
} from '../../src/worker/data/fashion-mnist.js';
import { encodeIdx, parseIdx } from '../../src/worker/data/idx.js';

function fixtureDir(files: Partial<Record<keyof typeof FASHION_MNIST_FILES, Uint8Array>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fmnist-'));
  const defaults = {
    trainImages: gzipSync(encodeIdx([3, 28, 28], new Uint8Array(3 * 784).fill(7))),
    trainLabels: gzipSync(encodeIdx([3], Uint8Array.from([0, 5, 9]))),
    testImages: encodeIdx([2, 28, 28], new Uint8Array(2 * 784).fill(9)), // raw, not gzipped
    testLabels: encodeIdx([2], Uint8Array.from([1, 2])),
  };
  for (const key of Object.keys(FASHION_MNIST_FILES) as (keyof typeof FASHION_MNIST_FILES)[]) {
    const bytes = files[key] ?? defaults[key];
    const name = FASHION_MNIST_FILES[key].file;
    writeFileSync(join(dir, key.startsWith('test') && !files[key] ? name.replace(/\.gz$/, '') : name), bytes);
  }
  return dir;
}

describe('IDX parsing', () => {
  it('round-trips raw and gzipped files', () => {
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    for (const bytes of [encodeIdx([2, 3], data), gzipSync(encodeIdx([2, 3], data))]) {
      const parsed = parseIdx(bytes, 'x.idx');
      expect(parsed.shape).toEqual([2, 3]);
      expect(Array.from(parsed.data)).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it.each([
    ['wrong magic number', Uint8Array.from([0x12, 0x34, 8, 1, 0, 0, 0, 1, 5]), /wrong magic number/],
    ['truncated data', encodeIdx([4], Uint8Array.from([1, 2, 3, 4])).subarray(0, 10), /truncated/],
    ['trailing data', Uint8Array.from([...encodeIdx([1], Uint8Array.from([1])), 9, 9]), /file has 3/],
    [
      'truncated gzip',
      gzipSync(encodeIdx([100], new Uint8Array(100))).subarray(0, 20),
      /gzip data is corrupt or truncated/,
    ],
    ['too short', Uint8Array.from([0, 0]), /too short/],
  ])('%s: a clear error naming the file', (_name, bytes, message) => {
    expect(() => parseIdx(bytes, '/data/bad-file.gz')).toThrow(message);
    expect(() => parseIdx(bytes, '/data/bad-file.gz')).toThrow(/\/data\/bad-file\.gz/);
  });
});

describe('Fashion-MNIST loader', () => {
  it('loads fixture files, gzipped or raw', async () => {
    const dir = fixtureDir({});
    const fm = await loadFashionMnist(dir);
    expect(fm.train.count).toBe(3);
    expect(Array.from(fm.train.labels)).toEqual([0, 5, 9]);
    expect(fm.test.count).toBe(2);
    expect(fm.test.pixels[0]).toBe(9);
  });

  it('refuses a label/image count mismatch, naming the file', async () => {
    const dir = fixtureDir({ trainLabels: gzipSync(encodeIdx([2], Uint8Array.from([0, 1]))) });
    await expect(loadFashionMnist(dir)).rejects.toThrow(/train-labels-idx1-ubyte\.gz: 2 labels for 3 images/);
  });

  it('refuses labels outside the ten classes', async () => {
    const dir = fixtureDir({ trainLabels: gzipSync(encodeIdx([3], Uint8Array.from([0, 1, 12]))) });
    await expect(loadFashionMnist(dir)).rejects.toThrow(/label 12 at index 2/);
  });

  it('searches FASHION_MNIST_DIR first and explains where it looked when nothing is found', () => {
    const dir = fixtureDir({});
    expect(locateFashionMnist([dir, DEBIAN_FASHION_MNIST_DIR])).toBe(dir);
    expect(() => locateFashionMnist(['/nonexistent/a', '/nonexistent/b'])).toThrow(
      /not found in: \/nonexistent\/a, \/nonexistent\/b.*apt-get install dataset-fashion-mnist/,
    );
  });

  it('loads the real dataset (Debian package dataset-fashion-mnist)', async () => {
    const fm = await loadFashionMnist(locateFashionMnist([DEBIAN_FASHION_MNIST_DIR]));
    expect([fm.train.count, fm.test.count]).toEqual([60000, 10000]);
    expect([fm.train.height, fm.train.width]).toEqual([28, 28]);
    const perClass = new Array(10).fill(0);
    for (const l of fm.test.labels) perClass[l]++;
    expect(perClass).toEqual(new Array(10).fill(1000));
    // The first training image is an ankle boot (label 9), as in the official README.
    expect(fm.train.labels[0]).toBe(9);
  });
});
