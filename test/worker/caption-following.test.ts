import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { COLOURS, sceneSvg } from '../../src/worker/data/synth-coco.js';
import {
  type CaptionFollowing,
  probePrompts,
  readScene,
  scoreCaptionFollowing,
} from '../../src/worker/lab/caption-following.js';
import { formatColours } from '../../src/worker/lab/caption-following-run.js';

/** images read as the colour asked, over every asked colour but red */
const sumOthersRight = (colours: CaptionFollowing['colours']) =>
  Object.entries(colours)
    .filter(([c]) => c !== 'red')
    .reduce((n, [c, read]) => n + (read[c] ?? 0), 0);

async function render(svg: string): Promise<Float32Array> {
  const raw = await sharp(new TextEncoder().encode(svg)).removeAlpha().raw().toBuffer();
  return Float32Array.from(raw, (v) => v / 255);
}

describe('caption following on the synthetic scenes', () => {
  const prompts = probePrompts();

  it('probes every colour at every position, worded like the training captions', () => {
    expect(prompts).toHaveLength(54);
    const pairs = new Set(prompts.map((p) => `${p.scene.objects[0]?.colour}@${p.scene.objects[0]?.position}`));
    expect(pairs.size).toBe(54);
    expect(prompts[0]?.caption).toMatch(
      /^A (small|large) red (circle|square|triangle) at the top left on a (white|black|gray) background\.$/,
    );
  });

  for (const size of [64, 128]) {
    it(`reads the rendered scenes back perfectly at ${size} px`, async () => {
      const images = await Promise.all(prompts.map(async (p) => [await render(sceneSvg(p.scene, size))]));
      const colours = ['red', 'green', 'blue', 'yellow', 'magenta', 'cyan'];
      const score = scoreCaptionFollowing(prompts, images, size);
      expect(score).toEqual({
        background: 1,
        position: 1,
        colour: 1,
        shape: 1,
        all: 1,
        images: 54,
        prompts: 54,
        // nine probes a colour, each read as itself
        colours: Object.fromEntries(colours.map((c) => [c, { [c]: 9 }])),
        objectRgb: expect.any(Object),
      });
      // the objects' mean RGB is the palette's colour (0.9 in its channels, 0 in the others),
      // pulled a little toward the background by the blended rim pixels
      for (const [name, hex] of Object.entries(COLOURS)) {
        const want = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255);
        const got = score.objectRgb[name] ?? [];
        expect(got, name).toHaveLength(3);
        for (const [c, v] of got.entries())
          expect(Math.abs(v - (want[c] as number)), `${name} channel ${c}`).toBeLessThan(0.12);
      }
    });
  }

  it('scores scenes drawn for other prompts low', async () => {
    const images = await Promise.all(prompts.map(async (p) => [await render(sceneSvg(p.scene, 64))]));
    // prompt p judged on the image of prompt p + 10: another position and, mostly, another colour
    const shifted = prompts.map((_, p) => images[(p + 10) % prompts.length] as Float32Array[]);
    const score = scoreCaptionFollowing(prompts, shifted, 64);
    expect(score.position).toBe(0);
    expect(score.colour).toBeLessThan(0.5);
    expect(score.all).toBe(0);
    // the confusion counts what was read for each asked colour, right or not
    const red = score.colours.red ?? {};
    expect(Object.values(red).reduce((a, b) => a + b, 0)).toBe(9);
    expect(red.red ?? 0).toBe(Math.round(score.colour * 54) - sumOthersRight(score.colours));
    expect(formatColours(score).find((l) => l.startsWith('  red: '))).toMatch(
      /^ {2}red: \d\/9 \(read as .*\); object RGB \d\.\d\d \d\.\d\d \d\.\d\d$/,
    );
  });

  it('reads every shape at both sizes, large and small, on every background', async () => {
    for (const shape of ['circle', 'square', 'triangle'] as const) {
      for (const size of ['small', 'large'] as const) {
        for (const background of ['white', 'black', 'gray']) {
          const scene = { background, objects: [{ colour: 'blue', shape, size, position: 4, count: 1 }] };
          expect(readScene(await render(sceneSvg(scene, 64)), 64).shape, `${size} ${shape} on ${background}`).toBe(
            shape,
          );
        }
      }
    }
  });

  it('sees no object in a blank image', () => {
    const grey = new Float32Array(64 * 64 * 3).fill(128 / 255);
    const reading = readScene(grey, 64);
    expect(reading.background).toBe('gray');
    expect(reading.colour).toBeUndefined();
    expect(reading.objectRgb).toBeUndefined();
  });
});
