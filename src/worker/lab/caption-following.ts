import { createRng } from '../../shared/random.js';
import { BACKGROUNDS, COLOURS, describeScene, POSITIONS, type Scene, SHAPES } from '../data/synth-coco.js';

/**
 * Does a text-conditioned model draw what the caption says? On the synthetic scenes the words
 * name the background, an object's colour and its place on a 3x3 grid, so fixed rules can read
 * those facts back from a generated image and score them against the prompt (colour by its
 * direction from the background, so blurred objects are read fairly), and the object's shape
 * (circle, square or triangle: from the object mask's outline, below). MSE and SSIM only judge
 * reconstructions; this judges generations, the thing a user of the API sees.
 *
 * Chance levels: background 1/3, position 1/9, colour 1/6, shape 1/3.
 */
export interface ProbePrompt {
  caption: string;
  scene: Scene;
}

/** What `readScene` saw: the background, the 3x3 cell that stands out most, and its colour. */
export interface SceneReading {
  background: string;
  position: number;
  /** undefined when nothing in that cell differs enough from the background */
  colour: string | undefined;
  shape: string | undefined;
  /** the object's mean RGB over the pixels read as the object (undefined with no object) */
  objectRgb: number[] | undefined;
}

export interface CaptionFollowing {
  /** fractions of generated images that match the prompt */
  background: number;
  position: number;
  colour: number;
  shape: number;
  /** background, position and colour all right (shape is reported on its own) */
  all: number;
  images: number;
  prompts: number;
  /** asked colour → colour read → images ('none': no object found): which colours a model lacks */
  colours: Record<string, Record<string, number>>;
  /**
   * asked colour → the drawn objects' mean RGB: which channel does not follow the caption (a
   * channel that sits at the palette's mean for every colour has not been learnt yet)
   */
  objectRgb: Record<string, number[]>;
}

export const rgb = (hex: string): [number, number, number] => [
  Number.parseInt(hex.slice(1, 3), 16) / 255,
  Number.parseInt(hex.slice(3, 5), 16) / 255,
  Number.parseInt(hex.slice(5, 7), 16) / 255,
];
const PALETTE = Object.entries(COLOURS).map(([name, hex]) => ({ name, rgb: rgb(hex) }));
const BACKDROPS = Object.entries(BACKGROUNDS).map(([name, hex]) => ({ name, rgb: rgb(hex) }));

const dist = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.hypot(
    (a[0] as number) - (b[0] as number),
    (a[1] as number) - (b[1] as number),
    (a[2] as number) - (b[2] as number),
  );
const nearest = (c: ArrayLike<number>, table: { name: string; rgb: number[] }[]) =>
  table.reduce((best, t) => (dist(c, t.rgb) < dist(c, best.rgb) ? t : best)).name;

/** Below this mean distance from the background (RGB in [0, 1]) a cell holds no object. */
const MIN_SALIENCY = 0.02;
/** Object pixels: at least this far from the background, and at least half the cell's maximum. */
const MIN_PIXEL_DISTANCE = 0.15;

/**
 * One prompt per colour × position (54), with a seeded shape, size and background, worded as one
 * of the synthetic caption templates ("A red circle at the top left on a gray background."): with
 * a text encoder that does not generalise across wordings (the generated random-weight CLIP), a
 * new wording would test the encoder rather than the CVAE.
 */
export function probePrompts(seed = 7): ProbePrompt[] {
  const rng = createRng(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(rng.next() * items.length)] as T;
  const prompts: ProbePrompt[] = [];
  for (const colour of Object.keys(COLOURS)) {
    for (let position = 0; position < POSITIONS.length; position++) {
      const shape = pick(SHAPES);
      const size = rng.next() < 0.5 ? 'small' : 'large';
      const background = pick(Object.keys(BACKGROUNDS));
      const scene: Scene = { background, objects: [{ colour, shape, size, position, count: 1 }] };
      prompts.push({ caption: describeScene(scene), scene });
    }
  }
  return prompts;
}

/** Reads background, most salient 3x3 cell and its colour from an HWC RGB image in [0, 1]. */
export function readScene(pixels: Float32Array, size: number): SceneReading {
  const n = size * size;
  // the background covers most of every synthetic scene: its colour is the per-channel median
  const bg = [0, 1, 2].map((c) => {
    const channel = new Float32Array(n);
    for (let i = 0; i < n; i++) channel[i] = pixels[i * 3 + c] as number;
    channel.sort();
    return channel[n >> 1] as number;
  });
  const cellOf = (v: number) => Math.min(2, Math.floor((v * 3) / size));
  const saliency = new Float64Array(9);
  const counts = new Uint32Array(9);
  const d = new Float32Array(n);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      d[i] = dist(pixels.subarray(i * 3, i * 3 + 3), bg);
      const cell = cellOf(y) * 3 + cellOf(x);
      saliency[cell] = (saliency[cell] as number) + (d[i] as number);
      counts[cell] = (counts[cell] as number) + 1;
    }
  }
  let position = 0;
  for (let c = 0; c < 9; c++) {
    saliency[c] = (saliency[c] as number) / (counts[c] as number);
    if ((saliency[c] as number) > (saliency[position] as number)) position = c;
  }
  const background = nearest(bg, BACKDROPS);
  if ((saliency[position] as number) < MIN_SALIENCY)
    return { background, position, colour: undefined, shape: undefined, objectRgb: undefined };
  let max = 0;
  const inCell = (i: number) => cellOf(Math.floor(i / size)) * 3 + cellOf(i % size) === position;
  for (let i = 0; i < n; i++) if (inCell(i)) max = Math.max(max, d[i] as number);
  const threshold = Math.max(MIN_PIXEL_DISTANCE, max / 2);
  const sum = [0, 0, 0];
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (!inCell(i) || (d[i] as number) < threshold) continue;
    for (let c = 0; c < 3; c++) sum[c] = (sum[c] as number) + (pixels[i * 3 + c] as number);
    count++;
  }
  // the outline: an object may reach past its cell's edge, so look half a cell further around it
  const mask = new Uint8Array(n);
  const [cy, cx] = [Math.floor(position / 3), position % 3];
  const lo = (k: number) => Math.max(0, Math.floor(((k - 0.5) * size) / 3));
  const hi = (k: number) => Math.min(size - 1, Math.ceil(((k + 1.5) * size) / 3));
  for (let y = lo(cy); y <= hi(cy); y++)
    for (let x = lo(cx); x <= hi(cx); x++) if ((d[y * size + x] as number) >= threshold) mask[y * size + x] = 1;
  if (count === 0) return { background, position, colour: undefined, shape: undefined, objectRgb: undefined };
  const objectRgb = sum.map((s) => s / count);
  return { background, position, colour: blendedColour(objectRgb, bg), shape: maskShape(mask, size), objectRgb };
}

/**
 * Circle, square or triangle from an object mask: a triangle (apex up) is much narrower in the top
 * quarter of its box than in the bottom quarter; a square fills its box (a circle fills π/4 of it).
 */
export function maskShape(mask: Uint8Array, size: number): string {
  let [x0, y0, x1, y1] = [size, size, -1, -1];
  let area = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % size;
    const y = Math.floor(i / size);
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    area++;
  }
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const bandWidth = (from: number, to: number) => {
    let widest = 0;
    for (let y = Math.round(from); y <= Math.round(to); y++) {
      let row = 0;
      for (let x = x0; x <= x1; x++) row += mask[y * size + x] as number;
      widest = Math.max(widest, row);
    }
    return widest;
  };
  const top = bandWidth(y0, y0 + (h - 1) / 4);
  const bottom = bandWidth(y1 - (h - 1) / 4, y1);
  if (top < 0.6 * bottom) return 'triangle';
  return area / (w * h) > 0.88 ? 'square' : 'circle';
}

/**
 * The palette colour whose direction from the background is closest (cosine) to the object's.
 * A blurred object is a blend α·colour + (1 − α)·background, which lies on the line from the
 * background to its colour, so the direction names the colour where the nearest colour would
 * not (a blurred red on white is pink, nearer to magenta than to red).
 */
function blendedColour(object: number[], bg: number[]): string {
  const d = object.map((v, c) => v - (bg[c] as number));
  let best = '';
  let bestCos = -2;
  for (const p of PALETTE) {
    const e = p.rgb.map((v, c) => v - (bg[c] as number));
    const dot = d.reduce((s, v, c) => s + v * (e[c] as number), 0);
    const cos = dot / (Math.hypot(...d) * Math.hypot(...e) || 1);
    if (cos > bestCos) {
      bestCos = cos;
      best = p.name;
    }
  }
  return best;
}

/**
 * Scores images against the prompts they were drawn for: `images[p]` holds the samples of
 * `prompts[p]` (HWC RGB in [0, 1], `size` square).
 */
export function scoreCaptionFollowing(
  prompts: ProbePrompt[],
  images: Float32Array[][],
  size: number,
): CaptionFollowing {
  let total = 0;
  const hits = { background: 0, position: 0, colour: 0, shape: 0, all: 0 };
  const colours: CaptionFollowing['colours'] = {};
  const rgbSums: Record<string, { sum: number[]; n: number }> = {};
  for (const [p, prompt] of prompts.entries()) {
    const want = prompt.scene.objects[0];
    if (!want) continue;
    for (const image of images[p] ?? []) {
      const seen = readScene(image, size);
      const asked = colours[want.colour] ?? {};
      const read = seen.colour ?? 'none';
      asked[read] = (asked[read] ?? 0) + 1;
      colours[want.colour] = asked;
      const objectRgb = seen.objectRgb;
      if (objectRgb) {
        const acc = rgbSums[want.colour] ?? { sum: [0, 0, 0], n: 0 };
        acc.sum = acc.sum.map((v, c) => v + (objectRgb[c] as number));
        acc.n++;
        rgbSums[want.colour] = acc;
      }
      const ok = {
        background: seen.background === prompt.scene.background,
        position: seen.position === want.position,
        colour: seen.colour === want.colour,
        shape: seen.shape === want.shape,
      };
      if (ok.shape) hits.shape++;
      total++;
      if (ok.background) hits.background++;
      if (ok.position) hits.position++;
      if (ok.colour) hits.colour++;
      if (ok.background && ok.position && ok.colour) hits.all++;
    }
  }
  const frac = (k: number) => (total === 0 ? 0 : k / total);
  return {
    background: frac(hits.background),
    position: frac(hits.position),
    colour: frac(hits.colour),
    shape: frac(hits.shape),
    all: frac(hits.all),
    images: total,
    prompts: prompts.length,
    colours,
    objectRgb: Object.fromEntries(Object.entries(rgbSums).map(([c, { sum, n }]) => [c, sum.map((v) => v / n)])),
  };
}
