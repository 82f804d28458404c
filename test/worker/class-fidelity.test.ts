import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blurImage, blurSome, gaussianKernel } from '../../src/worker/eval/blur.js';
import { classFidelity, formatClassFidelity } from '../../src/worker/lab/class-fidelity.js';
import { cvae } from '../helpers/cvae-cli.js';

describe('blur augmentation', () => {
  it('a normalised, symmetric kernel of radius ceil(3 sigma)', () => {
    const k = gaussianKernel(1);
    expect(k.length).toBe(7);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(k[0]).toBeCloseTo(k[6] as number, 9);
    expect(k[3]).toBeGreaterThan(k[2] as number);
  });

  it('keeps a flat image flat, spreads an impulse, and keeps the total of an interior one', () => {
    const flat = new Float32Array(2 * 5 * 5).fill(0.25);
    blurImage(flat, 1, [5, 5, 1], 1.2);
    for (const v of flat) expect(v).toBeCloseTo(0.25, 6);

    const img = new Float32Array(9 * 9);
    img[4 * 9 + 4] = 1;
    blurImage(img, 0, [9, 9, 1], 1);
    expect(img[4 * 9 + 4]).toBeLessThan(0.2);
    expect(img[4 * 9 + 5]).toBeCloseTo(img[4 * 9 + 3] as number, 6);
    expect(img[3 * 9 + 4]).toBeCloseTo(img[4 * 9 + 5] as number, 6);
    expect(img.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
  });

  it('blurs about the asked share of a batch and leaves the rest untouched', () => {
    const n = 400;
    const batch = new Float32Array(n * 4 * 4);
    for (let i = 0; i < n; i++) batch[i * 16 + 5] = 1;
    let state = 1;
    const random = () => {
      state = (state * 16807) % 2147483647;
      return state / 2147483647;
    };
    blurSome(batch, n, [4, 4, 1], { probability: 0.5, minSigma: 0.5, maxSigma: 1.5 }, random);
    const blurred = Array.from({ length: n }, (_, i) => (batch[i * 16 + 5] as number) < 1).filter(Boolean).length;
    expect(blurred).toBeGreaterThan(150);
    expect(blurred).toBeLessThan(250);
  });
});

describe('class fidelity', () => {
  const labels = ['Coat', 'Pullover', 'Shirt'];
  // 4 coats asked: 3 read as coat, 1 as pullover; 4 pullovers all right; 4 shirts: 2 right, 2 pullover
  const asked = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
  const read = [0, 0, 0, 1, 1, 1, 1, 1, 2, 1, 2, 1];

  it('counts per class and overall', () => {
    const f = classFidelity(labels, asked, read);
    expect(f.counts).toEqual([
      [3, 1, 0],
      [0, 4, 0],
      [0, 2, 2],
    ]);
    expect(f.perClass).toEqual([0.75, 1, 0.5]);
    expect(f.overall).toBeCloseTo(9 / 12, 12);
    expect(f.samplesPerClass).toBe(4);
  });

  it('formats the per-class table and the confusion matrix as row shares', () => {
    const md = formatClassFidelity(classFidelity(labels, asked, read));
    expect(md).toContain('| Shirt | 50.0% |');
    expect(md).toContain('| **overall** | **75.0%** |');
    expect(md).toContain('| Coat | **75** | 25 | · |');
    expect(md).toContain('| Shirt | · | 50 | **50** |');
  });
});

describe('cvae experiment class-fidelity', () => {
  it("judges the shipped fashion-conv's generations with the shipped judge and writes the tables", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'class-fidelity-'));
    try {
      const out = join(dir, 'cf.md');
      const r = await cvae('experiment', 'class-fidelity', 'models/fashion-conv', '--samples', '20', '--out', out);
      expect(r.code, r.stderr).toBe(0);
      const md = readFileSync(out, 'utf8');
      expect(md).toMatch(
        /20 generations per class .*read by fashion-judge \(test accuracy \d+\.\d% real, \d+\.\d% blurred/,
      );
      // ten classes, each a share of 20 images; trousers are the easiest class for any model
      const rows = [...md.matchAll(/^\| ([A-Z][\w/ -]+) \| (\d+\.\d)% \|$/gm)];
      expect(rows.map((m) => m[1])).toContain('Trouser');
      expect(rows).toHaveLength(10);
      expect(Number(rows.find((m) => m[1] === 'Trouser')?.[2])).toBeGreaterThanOrEqual(90);
      expect(md).toMatch(/\| \*\*overall\*\* \| \*\*\d+\.\d%\*\* \|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a long-text package with a clear error', async () => {
    const r = await cvae('experiment', 'class-fidelity', 'models/coco-64-concat', '--samples', '2');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not a class-conditioned \(short-text\) model/);
  }, 60_000);
});
