import * as gifenc from 'gifenc';
import type { Pixels } from './png.js';

// gifenc's ESM build (bundlers, workerd) has named exports; Node loads its CommonJS build, whose
// exports arrive as the namespace's default
type Gifenc = Pick<typeof gifenc, 'GIFEncoder' | 'quantize' | 'applyPalette'>;
const lib: Gifenc = 'GIFEncoder' in gifenc ? gifenc : (gifenc as unknown as { default: Gifenc }).default;
const { applyPalette, GIFEncoder, quantize } = lib;

/**
 * Frames → one looping animated GIF (gifenc: pure JS, runs in Workers). One palette for the whole
 * walk, so colours do not flicker between frames; small frames are enlarged by an integer factor
 * (nearest neighbour) to at least `minSide` pixels, since a 28 px animation is hard to see.
 */
export function encodeGif(frames: Pixels[], delayMs = 120, minSide = 112): Uint8Array {
  const first = frames[0];
  if (!first) throw new Error('no frames');
  const k = Math.max(1, Math.ceil(minSide / first.width));
  const width = first.width * k;
  const height = first.height * k;
  const rgba = frames.map((f) => {
    const out = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const src = (Math.floor(y / k) * f.width + Math.floor(x / k)) * f.channels;
        const dst = (y * width + x) * 4;
        for (let c = 0; c < 3; c++) out[dst + c] = f.data[src + (f.channels === 1 ? 0 : c)] as number;
        out[dst + 3] = 255;
      }
    return out;
  });
  const all = new Uint8Array(rgba.reduce((n, f) => n + f.length, 0));
  rgba.reduce((at, f) => {
    all.set(f, at);
    return at + f.length;
  }, 0);
  const palette = quantize(all, 256);
  const gif = GIFEncoder();
  for (const f of rgba) gif.writeFrame(applyPalette(f, palette), width, height, { palette, delay: delayMs, repeat: 0 });
  gif.finish();
  return gif.bytes();
}
