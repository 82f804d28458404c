import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import OpenAI from 'openai';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { buildEdgeApp, type Env } from '../../src/edge/config.js';

// The official `openai` npm client (a dev dependency) pointed at the edge's /v1, in workerd:
// everything it sends must work, and our errors must come out as its error classes.
const edgeEnv = env as unknown as Env & { DB: D1Database; TEST_MIGRATIONS: string; TIGHT_GENERATE_LIMITER: RateLimit };
const c3 = inject('s3');
const withS3: Env = {
  ...edgeEnv,
  S3_ENDPOINT: c3.endpoint,
  S3_BUCKET: c3.bucket,
  S3_ACCESS_KEY_ID: c3.accessKeyId,
  S3_SECRET_ACCESS_KEY: c3.secretAccessKey,
};
type App = ReturnType<typeof buildEdgeApp>;
const clientFor = (app: App, apiKey: string) =>
  new OpenAI({
    apiKey,
    baseURL: 'http://edge.test/v1',
    maxRetries: 0,
    fetch: async (url: RequestInfo | URL, init?: RequestInit) =>
      app.request(url instanceof Request ? url : String(url), init),
  });

let key: string;
beforeAll(async () => {
  await applyD1Migrations(edgeEnv.DB, JSON.parse(edgeEnv.TEST_MIGRATIONS));
  const res = await buildEdgeApp(edgeEnv, 'test').request('/v1/admin/api-keys', {
    method: 'POST',
    headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'openai client', owner: 'oai' }),
  });
  key = ((await res.json()) as { key: string }).key;
});

describe('the official openai client against the edge', () => {
  it('images.generate: b64_json, "28x28" sizes, user', async () => {
    const openai = clientFor(buildEdgeApp(edgeEnv, 'test'), key);
    const res = await openai.images.generate({
      prompt: 'Make a dress',
      n: 2,
      size: '28x28' as never,
      response_format: 'b64_json',
      user: 'end-user-1',
    });
    expect(res.data).toHaveLength(2);
    const png = Uint8Array.from(atob(res.data?.[0]?.b64_json as string), (ch) => ch.charCodeAt(0));
    expect(Array.from(png.subarray(1, 4), (b) => String.fromCharCode(b)).join('')).toBe('PNG');
  });

  it('images.generate with response_format "url": signed URLs that redraw the same image, cacheable forever', async () => {
    const app = buildEdgeApp(edgeEnv, 'test');
    const openai = clientFor(app, key);
    const b64 = await openai.images.generate({
      prompt: 'Make a dress',
      n: 2,
      response_format: 'b64_json',
      seed: 9,
    } as never);
    const urls = await openai.images.generate({
      prompt: 'Make a dress',
      n: 2,
      response_format: 'url',
      seed: 9,
    } as never);
    const url = urls.data?.[1]?.url as string;
    expect(url).toMatch(/^http:\/\/edge\.test\/v1\/images\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}\.png$/);
    // anyone holding the URL gets the image, no key needed; the same pixels as the b64 answer
    const image = await app.request(url);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const bytes = new Uint8Array(await image.arrayBuffer());
    expect(btoa(String.fromCharCode(...bytes))).toBe(b64.data?.[1]?.b64_json);
    const again = await app.request(url, { headers: { 'if-none-match': image.headers.get('etag') as string } });
    expect(again.status).toBe(304);
    // a forged or altered URL is nobody's image
    const forged = url.replace(
      /\.([A-Za-z0-9_-]{43})\.png$/,
      (_, sig: string) => `.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}.png`,
    );
    expect((await app.request(forged)).status).toBe(404);
    const [payload] = url.split('/').at(-1)?.split('.') ?? [];
    const other = btoa(JSON.stringify(['fashion-conv@v1', 'Make a shirt', 1])).replaceAll('=', '');
    expect((await app.request(url.replace(payload as string, other))).status).toBe(404);
  });

  it('response_format "url" without a signing secret is a clear 501 naming the field', async () => {
    const openai = clientFor(buildEdgeApp({ ...edgeEnv, IMAGE_URL_SECRET: undefined }, 'test'), key);
    const error = await openai.images
      .generate({ prompt: 'Make a dress', response_format: 'url' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({
      status: 501,
      code: 'urls_unavailable',
      param: 'response_format',
      type: 'server_error',
    });
  });

  it('embeddings.create as the client sends it (encoding_format base64 by default), strings and arrays', async () => {
    const openai = clientFor(buildEdgeApp(withS3, 'test'), key);
    const one = await openai.embeddings.create({ input: 'A red circle at the top left.', model: 'clip-vit-b32-text' });
    expect(one.data[0]?.embedding).toHaveLength(512);
    const many = await openai.embeddings.create({
      input: ['A red circle.', 'Two green triangles.'],
      model: 'clip-vit-b32-text',
      encoding_format: 'float',
      user: 'end-user-2',
    });
    expect(many.data.map((d) => d.index)).toEqual([0, 1]);
    expect(many.usage.prompt_tokens).toBeGreaterThan(4);
    const wrong = await openai.embeddings
      .create({ input: 'x', model: 'clip-vit-b32-text', dimensions: 256 })
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("turns our errors into the client's classes with code, type and param", async () => {
    const openai = clientFor(buildEdgeApp(edgeEnv, 'test'), key);
    const tooMany = await openai.images.generate({ prompt: 'Make a dress', n: 99 }).catch((e: unknown) => e);
    expect(tooMany).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tooMany).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error', param: 'n' });
    const unknown = await openai.images
      .generate({ prompt: 'Make a dress', quality: 'hd' } as never)
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 400, param: 'quality' });
    const missing = await openai.images.generate({ prompt: 'Make a dress', model: 'nope' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing).toMatchObject({ code: 'model_not_found', type: 'not_found_error' });
    const badKey = await clientFor(buildEdgeApp(edgeEnv, 'test'), 'sk-wrong')
      .images.generate({ prompt: 'Make a dress' })
      .catch((e: unknown) => e);
    expect(badKey).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('images.createVariation: an uploaded PNG through the encoder in the isolate (fashion-s3 from the bucket)', async () => {
    const app = buildEdgeApp(withS3, 'test');
    const openai = clientFor(app, key);
    const source = await openai.images.generate({ prompt: 'Make a dress', model: 'fashion-s3', seed: 2 } as never);
    const bytes = Uint8Array.from(atob(source.data?.[0]?.b64_json as string), (ch) => ch.charCodeAt(0));
    const res = await openai.images.createVariation({
      image: new File([bytes], 'dress.png', { type: 'image/png' }),
      model: 'fashion-s3',
      n: 2,
    });
    expect(res.data).toHaveLength(2);
    // the bundled model has no encoder in the bundle (the edge reads it from the bucket): a clear 404
    const bundledOnly = await clientFor(buildEdgeApp(edgeEnv, 'test'), key)
      .images.createVariation({ image: new File([bytes], 'dress.png', { type: 'image/png' }), model: 'fashion-conv' })
      .catch((e: unknown) => e);
    expect(bundledOnly).toMatchObject({ status: 404, code: 'file_not_found' });
  });

  it('limits each `user` on its own, without letting new user names buy more than the key has', async () => {
    const app = buildEdgeApp({ ...edgeEnv, GENERATE_LIMITER: edgeEnv.TIGHT_GENERATE_LIMITER }, 'test');
    const openai = clientFor(app, key);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await openai.images
        .generate({ prompt: 'Make a dress', user: `rotating-${i}` })
        .then(() => 200)
        .catch((e: { status: number }) => e.status);
      statuses.push(r);
    }
    // the tight limiter allows 5 per period for the key, whatever the user names
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5);
    expect(statuses).toContain(429);
  });
});
