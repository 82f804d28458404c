import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { batchGrid, batchImage, crc32, encodePng, STORE_BELOW_BYTES, toBase64 } from '../../src/shared/image/png.js';
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

  it('CRC-32 is PNG\'s (the check value of "123456789")', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  for (const [width, height, channels] of [
    [28, 28, 1],
    [64, 64, 3],
    [17, 5, 4],
    [128, 128, 3],
    [256, 256, 3],
  ] as const) {
    it(`writes ${width}x${height}x${channels} that another decoder reads back exactly`, () => {
      const rng = createRng(width + channels);
      // smooth content with noise, as decoders produce
      const data = Uint8Array.from({ length: width * height * channels }, (_, i) =>
        Math.min(255, Math.floor(128 + 100 * Math.sin(i / 50)) + (rng.nextUint32() & 7)),
      );
      const bytes = encodePng({ data, width, height, channels });
      const png = decode(bytes, { checkCrc: true });
      expect([png.width, png.height, png.channels, png.depth]).toEqual([width, height, channels, 8]);
      expect(Array.from(png.data as Uint8Array)).toEqual(Array.from(data));
      const raw = (width * channels + 1) * height;
      // small images are stored (a little larger than raw), larger ones deflated
      if (raw <= STORE_BELOW_BYTES) expect(bytes.length).toBeGreaterThan(raw);
      else expect(bytes.length).toBeLessThan(raw);
    });
  }

  it('refuses a channel count PNG cannot hold', () => {
    expect(() => encodePng({ data: new Uint8Array(8), width: 2, height: 2, channels: 2 })).toThrow(
      /1, 3 or 4 channels/,
    );
  });
});
