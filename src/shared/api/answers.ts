import type { Context } from 'hono';
import { batchGrid, batchImage, encodePng, type ImageBatch } from '../image/png.js';
import type { Manifest } from '../manifest.js';
import { quote } from '../model-id.js';
import { type Caller, type RateLimits, tooManyRequests } from './access.js';
import type { ApiDeps } from './deps.js';
import { signImageRef } from './image-urls.js';
import { logFields } from './request-log.js';
import type { GenerationRequest } from './schemas.js';

// What the image routes answer with, and how: seeds, PNG answers, signed URLs, per-user limits and
// whether the GPU server draws.

/** The request's seed, or a random one (echoed back). */
export function drawSeed(deps: Pick<ApiDeps, 'randomSeed'>, seed: number | undefined): number {
  return seed ?? (deps.randomSeed ?? randomSeed)();
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] as number;
}

export const wantsPng = (c: Context, request: GenerationRequest) =>
  request.response_format === 'png' ||
  (c.req.header('accept') ?? '').split(',').some((t) => t.trim().toLowerCase().startsWith('image/png'));

/** The absolute URL of one image, signed (src/shared/api/image-urls.ts). */
export async function imageUrl(
  c: Context,
  deps: ApiDeps,
  model: string,
  prompt: string,
  seed: number,
): Promise<string> {
  const file = await signImageRef({ model, prompt, seed }, deps.imageUrlSecret as string);
  return new URL(`/v1/images/${file}`, c.req.url).toString();
}

/**
 * A request's `user` is limited on its own too, under the key (`key:<id>:user:<u>`) or, without
 * one, as `user:<u>`: both this and the key's or address's limit must pass, so naming a new user
 * per request never buys more than the address already has.
 */
export async function limitUser(c: Context, limits: RateLimits | undefined, caller: Caller, user: string | undefined) {
  if (!user) return undefined;
  logFields(c, { user });
  const limiter = limits?.generate;
  if (!limiter) return undefined;
  const key = caller.keyId ? `${caller.client}:user:${user}` : `user:${user}`;
  if ((await limiter.limit({ key })).success) return undefined;
  return tooManyRequests(c, `requests for user ${quote(user.slice(0, 64))}`, limits.retryAfterSeconds);
}

export const answerHeaders = (manifest: Manifest, seed: number) => ({
  'x-cvae-model': `${manifest.id}@${manifest.version}`,
  'x-cvae-seed': String(seed),
});

/** The images themselves: one PNG, a grid for n > 1. */
export function pngAnswer(c: Context, batch: ImageBatch, headers: Record<string, string>) {
  const pixels = batch.n === 1 ? batchImage(batch, 0) : batchGrid(batch);
  return c.body(encodePng(pixels) as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-type': 'image/png' });
}

/** At the edge: models marked for the GPU, and sizes from `gpuMinSize` up, are drawn by the GPU server. */
export function servedByGpu(deps: ApiDeps, manifest: Manifest): boolean {
  const size = manifest.image?.width ?? 0;
  return deps.forward !== undefined && (manifest.serving === 'gpu' || size >= (deps.gpuMinSize ?? 256));
}
