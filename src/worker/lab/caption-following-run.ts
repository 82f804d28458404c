import { generateImages } from '../../shared/generation/generate.js';
import type { ModelCache } from '../../shared/generation/model-cache.js';
import type { Manifest } from '../../shared/manifest.js';
import { type CaptionFollowing, probePrompts, scoreCaptionFollowing } from './caption-following.js';

/**
 * Caption following of a long-text model as served: the probe prompts through the generation
 * core (its text encoder, its decoder), `samples` images each from seeds 1…samples, read back.
 * What `cvae experiment caption-following` and `npm run bench:edge:long-text` report.
 */
export async function captionFollowingOf(
  models: ModelCache,
  manifest: Manifest,
  samples = 4,
  onPrompt?: (done: number, total: number) => void,
): Promise<CaptionFollowing> {
  const prompts = probePrompts();
  const images: Float32Array[][] = [];
  for (const [i, p] of prompts.entries()) {
    const g = await generateImages(models, manifest, { prompt: p.caption, n: samples, seed: 1 });
    const { channels, height, width } = g.batch;
    const plane = height * width;
    // NCHW planes → the HWC pixels the reader takes
    images.push(
      Array.from({ length: samples }, (_, k) => {
        const hwc = new Float32Array(plane * channels);
        for (let c = 0; c < channels; c++)
          for (let q = 0; q < plane; q++)
            hwc[q * channels + c] = g.batch.data[k * channels * plane + c * plane + q] as number;
        return hwc;
      }),
    );
    onPrompt?.(i + 1, prompts.length);
  }
  return scoreCaptionFollowing(prompts, images, manifest.image?.width as number);
}

export const formatCaptionFollowing = (s: CaptionFollowing) =>
  `background ${pct(s.background)}, position ${pct(s.position)}, colour ${pct(s.colour)}, shape ${pct(s.shape)} (${s.images} images of ${s.prompts} probes)`;
// one decimal: a bar of 50% must not read as met at 49.8% (215 of 432 images)
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * One line per asked colour: how often it was read back, what was read instead, and the drawn
 * objects' mean RGB.
 */
export const formatColours = (s: CaptionFollowing) =>
  Object.entries(s.colours).map(([asked, read]) => {
    const total = Object.values(read).reduce((a, b) => a + b, 0);
    const instead = Object.entries(read)
      .filter(([c]) => c !== asked)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`);
    const rgb = s.objectRgb[asked];
    return (
      `  ${asked}: ${read[asked] ?? 0}/${total}${instead.length ? ` (read as ${instead.join(', ')})` : ''}` +
      (rgb ? `; object RGB ${rgb.map((v) => v.toFixed(2)).join(' ')}` : '')
    );
  });
