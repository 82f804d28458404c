import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { batchGrid, batchImage, encodePng, toBase64 } from '../../src/shared/image/png.js';
import { createRng } from '../../src/shared/random.js';

describe('image encoding shared by the edge and Node', () => {
  it('base64 matches Node for every tail length and random bytes', () => {
    const rng = createRng(3);
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n * 7 + (n % 3) }, () => rng.nextUint32() & 255);
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    }
  });

  it('quantises NCHW floats to 8-bit HWC (clamped, rounded) and lays out grids', () => {
    const batch = { data: Float32Array.from([0, 0.5, 1, 2, -1, 0.2]), n: 2, channels: 1, height: 1, width: 3 };
    expect(Array.from(batchImage(batch, 0).data)).toEqual([0, 128, 255]);
    expect(Array.from(batchImage(batch, 1).data)).toEqual([255, 0, 51]);
    const grid = batchGrid(batch, { cols: 2, gap: 1 });
    expect([grid.width, grid.height]).toEqual([7, 1]);
    const png = decode(encodePng(grid));
    expect(Array.from(png.data as Uint8Array)).toEqual([0, 128, 255, 0, 255, 0, 51]);
  });
});
