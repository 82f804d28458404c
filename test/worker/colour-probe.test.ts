import { describe, expect, it } from 'vitest';
import { cocoSpec } from '../../src/shared/arch/coco.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import { createRng } from '../../src/shared/random.js';
import { COLOURS } from '../../src/worker/data/synth-coco.js';
import { colourProbe, colourProbeScenes, linearProbeAccuracy } from '../../src/worker/lab/colour-probe.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { exportDecoder } from '../../src/worker/onnx/export-cvae.js';

// A decoder with seeded random weights, fed embeddings that carry the colour (a fixed vector per
// colour) or carry nothing (noise): the condition's projection is a linear map of the embedding,
// so the probe must read the colour there in the first case and not in the second.
const spec = cocoSpec(64, 'concat');
const decoder = exportDecoder(spec, initialValues(describeCvae(spec).params, 1)).bytes;
const colours = Object.keys(COLOURS);

function embedder(withColour: boolean) {
  const rng = createRng(5);
  const gaussian = () => Array.from({ length: 512 }, () => rng.normal());
  const perColour = new Map(colours.map((c) => [c, gaussian()]));
  return async (captions: string[]) => {
    const out = new Float32Array(captions.length * 512);
    captions.forEach((caption, i) => {
      const colour = colours.find((c) => caption.includes(` ${c} `)) as string;
      const base = withColour ? (perColour.get(colour) as number[]) : gaussian();
      base.forEach((v, j) => {
        out[i * 512 + j] = v + 0.1 * rng.normal();
      });
    });
    return out;
  };
}

describe('colour probe', () => {
  it('a read-out of separable features is right, of noise near chance', () => {
    const rows = Array.from({ length: 90 }, (_, i) => [i % 2 === 0 ? 1 : -1, (i * 37) % 11]);
    const target = rows.map((r) => (r[0] === 1 ? 1 : 0));
    const folds = rows.map((_, i) => i % 3);
    expect(linearProbeAccuracy(rows, target, folds)).toBe(1);
    const rng = createRng(3);
    const noise = rows.map(() => [rng.normal(), rng.normal()]);
    expect(linearProbeAccuracy(noise, target, folds)).toBeLessThan(0.7);
  });

  it('one caption per colour × shape × place × background, each naming its colour', () => {
    const scenes = colourProbeScenes();
    expect(scenes).toHaveLength(6 * 3 * 9 * 3);
    for (const s of scenes) expect(s.caption).toContain(` ${s.colour} `);
  });

  it('finds the colour in the layers it was given to, and not where there is none', async () => {
    const given = await colourProbe(decoder, embedder(true));
    expect(given.captions).toBe(486);
    expect(given.layers.map((l) => l.size)).toEqual(['128', '8x8x64', '16x16x32', '32x32x16']);
    for (const a of (given.layers[0] as { accuracy: number[] }).accuracy) expect(a).toBeGreaterThan(0.95);
    const none = await colourProbe(decoder, embedder(false));
    for (const a of (none.layers[0] as { accuracy: number[] }).accuracy) expect(a).toBeLessThan(0.75);
    for (const a of none.drawn) {
      expect(a).toBeGreaterThanOrEqual(0);
      expect(a).toBeLessThanOrEqual(1);
    }
  }, 60_000);
});
