import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../src/shared/api/app.js';
import { cocoSpec } from '../../src/shared/arch/coco.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import { ModelCache } from '../../src/shared/generation/model-cache.js';
import { RegistryReader } from '../../src/shared/registry/reader.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { nodeRuntime } from '../../src/worker/onnx/runtime.js';
import { folderSource } from '../../src/worker/registry/folder-source.js';
import { writeModelPackage } from '../../src/worker/registry/package.js';
import { tinyRegistry } from '../helpers/tiny-registry.js';

// POST /v1/images/variations with the shipped models: a picture in, the model's encoder, the
// posterior sampled. Pictures are the API's own generations, so what they show is known.
let api: ReturnType<typeof createApi>;
type Body = {
  data: { b64_json: string; seed: number }[];
  condition: { type: string; className?: string; inferred?: boolean };
};
const post = (form: FormData) => api.request('/v1/images/variations', { method: 'POST', body: form });
const png = (b64: string) => new Blob([new Uint8Array(Buffer.from(b64, 'base64'))], { type: 'image/png' });
const pixels = async (b64: string) => (await sharp(Buffer.from(b64, 'base64')).raw().toBuffer()) as Buffer;
const mse = (a: Buffer, b: Buffer) => a.reduce((s, v, i) => s + ((v - (b[i] as number)) / 255) ** 2, 0) / a.length;

async function generated(prompt: string, seed: number, model = 'fashion-conv'): Promise<string> {
  const res = await api.request('/v1/images/generations', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, seed, model }),
  });
  return ((await res.json()) as Body).data[0]?.b64_json as string;
}

beforeAll(async () => {
  const root = await tinyRegistry('variations-');
  // a long-text model of the same shape with random weights and the tiny encoder: what is tested
  // is the route (the caption conditions both halves), not what a trained model draws
  const coco = cocoSpec(64, 'concat');
  await writeModelPackage(join(root, coco.id), {
    spec: coco,
    values: initialValues(describeCvae(coco).params, 1),
    version: 'v1',
  });
  api = createApi({
    models: new ModelCache(new RegistryReader(await folderSource(root)), nodeRuntime),
    defaultModels: { 28: 'fashion-conv', 64: 'coco-64-concat' },
    defaultSize: 28,
    runtime: 'test',
    codeVersion: 'test',
  });
}, 120_000);

describe('image variations', () => {
  it('reads the class from the picture when no prompt is given, and reconstructs it at strength 0', async () => {
    for (const [prompt, className] of [
      ['Make a dress', 'Dress'],
      ['Make a sneaker', 'Sneaker'],
      ['Make a bag', 'Bag'],
    ] as const) {
      const source = await generated(prompt, 5);
      const form = new FormData();
      form.set('image', png(source), 'picture.png');
      form.set('strength', '0');
      form.set('n', '2');
      const res = await post(form);
      expect(res.status, await res.clone().text()).toBe(200);
      const body = (await res.json()) as Body;
      expect(body.condition).toMatchObject({ type: 'class', className, inferred: true });
      // strength 0: the posterior mean, the same image every time, close to the picture
      expect(body.data[0]?.b64_json).toBe(body.data[1]?.b64_json);
      const original = await pixels(source);
      const other = await pixels(await generated('Make a bag', 99));
      const recon = await pixels(body.data[0]?.b64_json as string);
      expect(mse(recon, original)).toBeLessThan(mse(other, original));
    }
  });

  it('spreads with strength: 1 samples the posterior, different per seed', async () => {
    const form = new FormData();
    form.set('image', png(await generated('Make a shirt', 2)), 'shirt.png');
    form.set('prompt', 'a shirt');
    form.set('strength', '1');
    form.set('n', '3');
    form.set('seed', '7');
    const body = (await (await post(form)).json()) as Body;
    expect(new Set(body.data.map((d) => d.b64_json)).size).toBe(3);
    expect(body.data.map((d) => d.seed)).toEqual([7, 8, 9]);
  });

  it('takes JPEGs of any size (centre square, resized) and long-text models with a prompt', async () => {
    const big = await sharp(
      Buffer.from(
        await generated('A large red circle at the top left on a black background.', 1, 'coco-64-concat'),
        'base64',
      ),
    )
      .resize(300, 200, { fit: 'fill' })
      .jpeg()
      .toBuffer();
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(big)], { type: 'image/jpeg' }), 'scene.jpg');
    form.set('model', 'coco-64-concat');
    form.set('prompt', 'A large red circle at the top left on a black background.');
    const res = await post(form);
    expect(res.status, await res.clone().text()).toBe(200);
    const meta = await sharp(
      Buffer.from(((await res.json()) as Body).data[0]?.b64_json as string, 'base64'),
    ).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([64, 64, 3]);
    const noPrompt = new FormData();
    noPrompt.set('image', new Blob([new Uint8Array(big)], { type: 'image/jpeg' }), 'scene.jpg');
    noPrompt.set('model', 'coco-64-concat');
    const refused = await post(noPrompt);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { param: string } }).error.param).toBe('prompt');
  });

  it('refuses bad uploads with clear 4xx: not an image, too large, missing, a truncated PNG', async () => {
    const text = new FormData();
    text.set('image', new Blob(['hello'], { type: 'image/png' }), 'fake.png');
    const notImage = await post(text);
    expect(notImage.status).toBe(415);
    expect(((await notImage.json()) as { error: { code: string } }).error.code).toBe('unsupported_image');
    const huge = new FormData();
    huge.set('image', new Blob([new Uint8Array(5 * 1024 * 1024)]), 'huge.png');
    expect((await post(huge)).status).toBe(413);
    const none = new FormData();
    none.set('prompt', 'a dress');
    const missing = await post(none);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { param: string } }).error.param).toBe('image');
    // a decompression bomb: a small file whose header claims 30000 × 30000 is refused unread
    const bomb = Buffer.from(await generated('Make a dress', 1), 'base64');
    bomb.writeUInt32BE(30000, 16);
    bomb.writeUInt32BE(30000, 20);
    const claimsHuge = new FormData();
    claimsHuge.set('image', new Blob([new Uint8Array(bomb)]), 'bomb.png');
    const refusedBomb = await post(claimsHuge);
    expect(refusedBomb.status).toBe(413);
    expect(((await refusedBomb.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'image_too_large',
      message: expect.stringContaining('30000x30000'),
    });
    const cut = Buffer.from(await generated('Make a dress', 1), 'base64').subarray(0, 60);
    const truncated = new FormData();
    truncated.set('image', new Blob([new Uint8Array(cut)]), 'cut.png');
    expect((await post(truncated)).status).toBe(415);
  });

  it('walks between two prompts: the ends are the generations of each prompt, the frames a GIF too', async () => {
    const interpolate = (fields: Record<string, string | Blob>) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.set(k, v);
      return api.request('/v1/images/interpolations', { method: 'POST', body: form });
    };
    const res = await interpolate({ from: 'Make a dress', to: 'Make a bag', steps: '5', seed: '11' });
    expect(res.status, await res.clone().text()).toBe(200);
    const walk = (await res.json()) as {
      data: { b64_json: string; t: number }[];
      from: { className: string };
      to: { className: string };
    };
    expect(walk.data.map((d) => d.t)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect([walk.from.className, walk.to.className]).toEqual(['Dress', 'Bag']);
    // the from end is z(seed) under "dress", the to end z(seed + 1) under "bag": generations exactly
    expect(walk.data[0]?.b64_json).toBe(await generated('Make a dress', 11));
    expect(walk.data[4]?.b64_json).toBe(await generated('Make a bag', 12));
    const gif = await interpolate({ from: 'Make a dress', to: 'Make a bag', steps: '5', response_format: 'gif' });
    expect(gif.headers.get('content-type')).toBe('image/gif');
    expect(
      Buffer.from(await gif.arrayBuffer())
        .subarray(0, 6)
        .toString(),
    ).toBe('GIF89a');
    // long text: the caption embeddings blend; a picture as one end, read as its class
    const scene = await interpolate({
      from: 'A large red circle at the top left on a black background.',
      to: 'A small blue square at the bottom right on a white background.',
      model: 'coco-64-concat',
      steps: '3',
      seed: '2',
    });
    expect(scene.status, await scene.clone().text()).toBe(200);
    const picture = await interpolate({
      from: png(await generated('Make a sneaker', 4)),
      to: 'Make a bag',
      steps: '3',
    });
    expect(((await picture.json()) as { from: { className: string; inferred: boolean } }).from).toMatchObject({
      className: 'Sneaker',
      inferred: true,
    });
    const tooLong = await interpolate({ from: 'Make a dress', to: 'Make a bag', steps: '40' });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: { param: string } }).error.param).toBe('steps');
  });

  it('works through the official openai client (images.createVariation)', async () => {
    const openai = new OpenAI({
      apiKey: 'unused',
      baseURL: 'http://api.test/v1',
      fetch: async (url: RequestInfo | URL, init?: RequestInit) => api.request(String(url), init),
    });
    const res = await openai.images.createVariation({
      image: await toFile(Buffer.from(await generated('Make a coat', 3), 'base64'), 'coat.png', { type: 'image/png' }),
      n: 2,
      response_format: 'b64_json',
      size: '28x28' as never,
    });
    expect(res.data).toHaveLength(2);
  });
});
