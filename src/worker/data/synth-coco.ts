import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng, type Rng } from '../../shared/random.js';

/**
 * A COCO-format captions dataset of generated scenes, so long-text models have something real to
 * learn here: coloured shapes of two sizes at nine positions on a coloured background, one to
 * three of a kind, and a second object in some images. Each image gets five captions from varied
 * templates, some of two sentences ("A red circle at the top left. A blue square below it."), so a
 * text-conditioned model must read colour, shape, position and count from the words.
 *
 * Layout written (as the official files): annotations/captions_{train,val}{year}.json and
 * {train,val}{year}/<12-digit id>.jpg.
 */
/**
 * Written into the captions files' `info.description`; it names the caption scheme, so a set
 * written by an older scheme is recognised (and the default set regenerated).
 */
export const SYNTH_DESCRIPTION =
  'cvae-edge synthetic COCO-format captions (generated scenes, complete captions, hue-circle palette v3)';

/** What the val captions file of `dir` says it is: this scheme, an older synthetic one, or other. */
export async function synthCocoKind(dir: string, year = 2017): Promise<'current' | 'outdated' | 'other' | 'missing'> {
  const path = join(dir, 'annotations', `captions_val${year}.json`);
  if (!existsSync(path)) return 'missing';
  try {
    const description = (JSON.parse(await readFile(path, 'utf8')) as { info?: { description?: string } }).info
      ?.description;
    if (description === SYNTH_DESCRIPTION) return 'current';
    return description?.startsWith('cvae-edge synthetic') ? 'outdated' : 'other';
  } catch {
    return 'other';
  }
}

export interface SynthOptions {
  out: string;
  images: number;
  /** fraction of images in val */
  valFraction?: number;
  /** pixel size of the written JPEGs (square) */
  size?: number;
  seed?: number;
  year?: 2014 | 2017;
  onImage?(done: number, total: number): void;
}

/**
 * Six hues 60° apart at one saturation and value: the colours are equally far apart in RGB and
 * their chroma spread is the same in every direction. (A first palette of distinct but unevenly
 * spread colours — crimson, orange, yellow, green, blue, purple — had half as much variance
 * along its second colour axis as along its first, and the decoders learnt warm against cool
 * long before red against yellow or green against blue.)
 */
export const COLOURS: Record<string, string> = {
  red: '#e60000',
  yellow: '#e6e600',
  green: '#00e600',
  cyan: '#00e6e6',
  blue: '#0000e6',
  magenta: '#e600e6',
};
export const BACKGROUNDS: Record<string, string> = { white: '#f4f4f4', black: '#111111', gray: '#808080' };
export const SHAPES = ['circle', 'square', 'triangle'] as const;
type Shape = (typeof SHAPES)[number];
export const POSITIONS = [
  ['top left', 0.22, 0.22],
  ['top', 0.5, 0.22],
  ['top right', 0.78, 0.22],
  ['left', 0.22, 0.5],
  ['center', 0.5, 0.5],
  ['right', 0.78, 0.5],
  ['bottom left', 0.22, 0.78],
  ['bottom', 0.5, 0.78],
  ['bottom right', 0.78, 0.78],
] as const;
const COUNT_WORDS = ['', 'one', 'two', 'three'];

export interface SceneObject {
  colour: string;
  shape: Shape;
  size: 'small' | 'large';
  position: number;
  count: number;
}
export interface Scene {
  background: string;
  objects: SceneObject[];
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng.next() * items.length)] as T;

export function randomScene(rng: Rng): Scene {
  const background = pick(rng, Object.keys(BACKGROUNDS));
  const first: SceneObject = {
    colour: pick(rng, Object.keys(COLOURS)),
    shape: pick(rng, SHAPES),
    size: rng.next() < 0.5 ? 'small' : 'large',
    position: Math.floor(rng.next() * POSITIONS.length),
    count: rng.next() < 0.75 ? 1 : rng.next() < 0.6 ? 2 : 3,
  };
  const objects = [first];
  if (rng.next() < 0.35) {
    let position = Math.floor(rng.next() * POSITIONS.length);
    if (position === first.position) position = (position + 4) % POSITIONS.length;
    objects.push({
      colour: pick(
        rng,
        Object.keys(COLOURS).filter((c) => c !== first.colour),
      ),
      shape: pick(rng, SHAPES),
      size: 'small',
      position,
      count: 1,
    });
  }
  return { background, objects };
}

const noun = (o: SceneObject) => (o.count > 1 ? `${o.shape}s` : o.shape);
const article = (o: SceneObject) => (o.count > 1 ? COUNT_WORDS[o.count] : 'a');
const where = (o: SceneObject) => {
  const p = POSITIONS[o.position]?.[0] ?? 'center';
  return p === 'center' ? 'in the center' : `at the ${p}`;
};
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const phrase = (o: SceneObject, withSize: boolean) => {
  const rest = `${withSize ? `${o.size} ` : ''}${o.colour} ${noun(o)}`;
  const a = article(o);
  return `${a === 'a' && /^[aeiou]/.test(rest) ? 'an' : a} ${rest}`;
};
const secondSentence = (b: SceneObject | undefined) =>
  b ? ` ${cap(phrase(b, false))} ${b.count > 1 ? 'are' : 'is'} ${where(b)}.` : '';

/**
 * The plainest caption template ("A large red circle at the top left on a gray background."):
 * one of the training captions, and the wording of the caption-following probes.
 */
export function describeScene(scene: Scene): string {
  const [a, b] = scene.objects as [SceneObject, SceneObject | undefined];
  return `${cap(phrase(a, true))} ${where(a)} on a ${scene.background} background.${secondSentence(b)}`;
}

/** Five captions, varied in wording; some have two sentences. */
export function captions(scene: Scene, rng: Rng): string[] {
  const [a, b] = scene.objects as [SceneObject, SceneObject | undefined];
  const bg = scene.background;
  const second = secondSentence(b);
  // Every template names everything drawn: background, and each object's colour, shape and
  // place (the first one's size too). Captions that leave things out make z, not the text, carry
  // them, and then samples from the prior ignore the caption.
  const are = a.count > 1 ? 'are' : 'is';
  const templates = [
    () => describeScene(scene),
    () => `${cap(phrase(a, true))} on a ${bg} background, ${where(a)}.${second}`,
    () => `A ${bg} background with ${phrase(a, true)} ${where(a)}${b ? ` and ${phrase(b, false)} ${where(b)}` : ''}.`,
    () =>
      `${cap(phrase(a, false))} on ${bg}. ${cap(a.count > 1 ? 'they are' : 'it is')} ${a.size} and ${where(a)}.${second}`,
    () => `There ${are} ${phrase(a, true)} ${where(a)} of the ${bg} picture.${second}`,
    () => `${cap(phrase(a, true))} ${where(a)}, on ${bg}.${second}`,
    () => `On a ${bg} background, ${phrase(a, true)} ${are} ${where(a)}.${second}`,
  ];
  const order = templates.map((t, i) => ({ t, k: rng.next() + (i === 0 ? -1 : 0) })).sort((x, y) => x.k - y.k);
  return order.slice(0, 5).map((o) => o.t());
}

export function sceneSvg(scene: Scene, size: number): string {
  const parts = [`<rect width="${size}" height="${size}" fill="${BACKGROUNDS[scene.background]}"/>`];
  for (const o of scene.objects) {
    const [, cx, cy] = POSITIONS[o.position] as readonly [string, number, number];
    const r = (o.size === 'large' ? 0.15 : 0.085) * size * (o.count > 1 ? 0.7 : 1);
    const fill = COLOURS[o.colour];
    for (let k = 0; k < o.count; k++) {
      const dx = (k - (o.count - 1) / 2) * r * 2.3;
      const x = Math.min(size - r, Math.max(r, cx * size + dx));
      const y = cy * size;
      if (o.shape === 'circle') parts.push(`<circle cx="${x}" cy="${y}" r="${r}" fill="${fill}"/>`);
      else if (o.shape === 'square')
        parts.push(`<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" fill="${fill}"/>`);
      else parts.push(`<polygon points="${x},${y - r} ${x + r},${y + r} ${x - r},${y + r}" fill="${fill}"/>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${parts.join('')}</svg>`;
}

export async function writeSynthCoco(opts: SynthOptions): Promise<{ train: number; val: number }> {
  const year = opts.year ?? 2017;
  const size = opts.size ?? 256;
  const rng = createRng(opts.seed ?? 1);
  const valCount = Math.round(opts.images * (opts.valFraction ?? 0.1));
  const splits = { train: opts.images - valCount, val: valCount };
  await mkdir(join(opts.out, 'annotations'), { recursive: true });
  let id = 1;
  let captionId = 1;
  let done = 0;
  for (const [split, count] of Object.entries(splits)) {
    const folder = `${split}${year}`;
    await mkdir(join(opts.out, folder), { recursive: true });
    const images: { id: number; file_name: string; width: number; height: number }[] = [];
    const annotations: { id: number; image_id: number; caption: string }[] = [];
    for (let i = 0; i < count; i++, id++) {
      const scene = randomScene(rng);
      const fileName = `${String(id).padStart(12, '0')}.jpg`;
      await sharp(new TextEncoder().encode(sceneSvg(scene, size)))
        .jpeg({ quality: 92 })
        .toFile(join(opts.out, folder, fileName));
      images.push({ id, file_name: fileName, width: size, height: size });
      for (const caption of captions(scene, rng)) annotations.push({ id: captionId++, image_id: id, caption });
      opts.onImage?.(++done, opts.images);
    }
    const json = {
      info: { description: SYNTH_DESCRIPTION, year },
      licenses: [],
      images,
      annotations,
    };
    await writeFile(join(opts.out, 'annotations', `captions_${folder}.json`), JSON.stringify(json));
  }
  return splits;
}
