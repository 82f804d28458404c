import type { Manifest } from '../manifest.js';
import { cosine } from '../metrics/cosine.js';
import {
  type Condition,
  type EmbedText,
  localEmbedder,
  priorNoise,
  type ReadCondition,
  readCondition,
} from './generate.js';
import { type ConditionRows, latentModel } from './latent.js';
import type { ModelCache } from './model-cache.js';

/**
 * A walk between two ends, each a prompt or a picture: frames decode a spherical interpolation
 * of the two latents and a linear one of the two conditions. A prompt's latent is drawn from the
 * seed (the `to` end from seed + 1); a picture's is its posterior mean under its condition (the
 * prompt sent with it, or the class a Fashion model reads in it). Class conditions are indices
 * into the decoder's embedding, so a Fashion walk changes class at the middle frame while z walks;
 * text embeddings blend all the way.
 */
export interface WalkEnd {
  prompt?: string;
  /** NCHW floats at the model's size */
  image?: Float32Array;
}

export interface Walk {
  frames: Float32Array;
  steps: number;
  ends: [Condition, Condition];
}

export async function interpolate(
  models: ModelCache,
  manifest: Manifest,
  request: { from: WalkEnd; to: WalkEnd; steps: number; seed: number },
  embed: EmbedText = localEmbedder(models),
): Promise<Walk> {
  const model = await latentModel(models, manifest);
  const { latentDim } = model;
  const end = async (e: WalkEnd, seed: number): Promise<{ z: Float32Array; read: ReadCondition }> => {
    const read = e.prompt
      ? await readCondition(manifest, e.prompt, embed)
      : await model.inferClass(e.image as Float32Array);
    const z = e.image ? (await model.encode(e.image, read)).mu : priorNoise(manifest, [seed], latentDim);
    return { z, read };
  };
  const a = await end(request.from, request.seed);
  const b = await end(request.to, (request.seed + 1) >>> 0);
  const { steps } = request;
  const z = new Float32Array(steps * latentDim);
  for (let k = 0; k < steps; k++) z.set(slerp(a.z, b.z, steps === 1 ? 0 : k / (steps - 1)), k * latentDim);
  let conditions: ConditionRows;
  if (a.read.label !== undefined && b.read.label !== undefined) {
    const [la, lb] = [a.read.label, b.read.label];
    conditions = { labels: Array.from({ length: steps }, (_, k) => (k < steps / 2 ? la : lb)) };
  } else {
    const ea = a.read.embedding as Float32Array;
    const eb = b.read.embedding as Float32Array;
    const rows = new Float32Array(steps * ea.length);
    for (let k = 0; k < steps; k++) {
      const t = steps === 1 ? 0 : k / (steps - 1);
      for (let d = 0; d < ea.length; d++) rows[k * ea.length + d] = (1 - t) * (ea[d] as number) + t * (eb[d] as number);
    }
    conditions = { embeddings: rows, dim: ea.length };
  }
  return { frames: await model.decode(z, conditions), steps, ends: [a.read.condition, b.read.condition] };
}

/** Spherical interpolation (Shoemake); linear when the two are (anti)parallel. */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  const cos = Math.max(-1, Math.min(1, cosine(a, b)));
  const omega = Math.acos(cos);
  const out = new Float32Array(a.length);
  if (Math.abs(Math.sin(omega)) < 1e-6) {
    for (let i = 0; i < a.length; i++) out[i] = (1 - t) * (a[i] as number) + t * (b[i] as number);
    return out;
  }
  const wa = Math.sin((1 - t) * omega) / Math.sin(omega);
  const wb = Math.sin(t * omega) / Math.sin(omega);
  for (let i = 0; i < a.length; i++) out[i] = wa * (a[i] as number) + wb * (b[i] as number);
  return out;
}
