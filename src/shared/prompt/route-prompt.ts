import type { CvaeError } from '../errors.js';
import { FASHION_CLASSES, type FashionClass } from '../fashion/classes.js';
import { parsePrompt } from './parse-prompt.js';

/**
 * Short text or long text, for a prompt that names no model and no size:
 *
 *   A prompt that names exactly one clothing item and describes nothing around it is short text
 *   (Fashion-MNIST: "Make a dress", "a pair of red sneakers"). Anything else is long text (a
 *   scene for the CLIP-conditioned models): no clothing item, several, or one inside a scene —
 *   shapes, backgrounds, places in the picture, people, animals, things around it.
 *
 * "top" and "bottom" that say where something is ("at the top left", "on top of") are places, not
 * a T-shirt/top.
 */
export interface PromptRoute {
  kind: 'short-text' | 'long-text';
  reason: string;
}

const PLACE_PHRASES =
  /\b(?:(?:at|on|in|near|to|from|along|across) the (?:very )?top\b|top[- ](?:left|right|center|centre|middle|corner|half|edge|row|side)\b|on top of\b)/gi;

// words that describe a scene rather than an item (singular; plurals are matched too)
const SCENE_WORDS = new Set(
  `background foreground circle square triangle rectangle shape dot stripe line star heart
   left right center centre middle corner above below beside behind between under underneath over
   next front edge side row column upper lower
   man woman person people boy girl child kid baby player crowd dog cat horse bird cow sheep
   street road field beach park room kitchen table bed sofa sky water wave sea lake river tree
   grass snow mountain building city house car bus bicycle bike plane boat plate food pizza`.split(/\s+/),
);

function sceneWords(prompt: string): string[] {
  const found = new Set<string>();
  for (const m of prompt.toLowerCase().matchAll(/\p{L}+/gu)) {
    const w = m[0];
    const singular = w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w;
    if (SCENE_WORDS.has(w) || SCENE_WORDS.has(singular)) found.add(w);
  }
  return [...found];
}

export function routePrompt(prompt: string, classes: readonly FashionClass[] = FASHION_CLASSES): PromptRoute {
  const places = prompt.match(PLACE_PHRASES) ?? [];
  // a place phrase is read as a place: its "top" cannot also be a garment
  const items = prompt.replace(PLACE_PHRASES, (phrase) => phrase.replace(/top/i, 'upper'));
  const scene = [...places.map((p) => p.toLowerCase()), ...sceneWords(items)];
  let className: string;
  try {
    className = parsePrompt(items, classes).className;
  } catch (error) {
    const code = (error as CvaeError).code;
    if (code === 'prompt_no_class') return { kind: 'long-text', reason: 'names no clothing item' };
    if (code === 'prompt_ambiguous') return { kind: 'long-text', reason: 'names several items: a scene' };
    throw error;
  }
  if (scene.length > 0) {
    const quoted = scene.slice(0, 3).map((w) => `"${w}"`);
    return { kind: 'long-text', reason: `names ${className} inside a scene (${quoted.join(', ')})` };
  }
  return { kind: 'short-text', reason: `names one clothing item (${className})` };
}
