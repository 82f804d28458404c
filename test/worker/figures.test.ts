import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { gridPixels, writeGrid } from '../../src/worker/eval/figures.js';

describe('image grids', () => {
  it('lays cells out row by row with gaps, clamping to [0, 1]', () => {
    const cells = [new Float32Array(4).fill(0), new Float32Array(4).fill(1), new Float32Array(4).fill(2)];
    const { data, width, height } = gridPixels(cells, { rows: 2, cols: 2, height: 2, width: 2, channels: 1, gap: 1 });
    expect([width, height]).toEqual([7, 7]);
    expect(data[1 * 7 + 1]).toBe(0); // first cell
    expect(data[1 * 7 + 4]).toBe(255); // second cell, right of a 1-px gap
    expect(data[4 * 7 + 1]).toBe(255); // third cell (value 2 clamped to 255)
    expect(data[0]).toBe(255); // gap is white
  });

  it('writes a PNG that decodes to the expected size', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'grid-')), 'g.png');
    const cells = Array.from({ length: 6 }, (_, i) => new Float32Array(28 * 28).fill(i / 5));
    await writeGrid(path, cells, { rows: 2, cols: 3, height: 28, width: 28, channels: 1, scale: 2 });
    const meta = await sharp(path).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([(3 * 28 + 4 * 2) * 2, (2 * 28 + 3 * 2) * 2]);
  });
});
