import { env } from 'cloudflare:workers';
import { decode } from 'fast-png';
import { describe, expect, inject, it } from 'vitest';
import { buildEdgeApp, type Env } from '../../src/edge/config.js';

// Long text at the edge: CLIP tokenizer + text encoder + 64 px decoder in onnxruntime-web, models
// read over the S3 API; or the embedding from the GPU server (TEXT_ENCODER=gpu).
const s3 = () => {
  const c = inject('s3');
  return {
    ...(env as unknown as Env),
    S3_ENDPOINT: c.endpoint,
    S3_BUCKET: c.bucket,
    S3_ACCESS_KEY_ID: c.accessKeyId,
    S3_SECRET_ACCESS_KEY: c.secretAccessKey,
  };
};
const post = (app: ReturnType<typeof buildEdgeApp>, path: string, body: unknown) =>
  app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

type Generation = {
  model: { id: string };
  data: { b64_json: string; seed: number }[];
  condition: { type: string; sentences: string[] };
};
const caption = 'A red circle at the top left. A blue square below it.';

describe('long-text generation at the edge', () => {
  it('embeds each sentence with CLIP in the isolate and decodes 64 px RGB images', async () => {
    const app = buildEdgeApp(s3(), 'test');
    const res = await post(app, '/v1/images/generations', { prompt: caption, model: 'coco-64-concat', n: 2, seed: 3 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Generation;
    expect(body.condition).toEqual({
      type: 'text',
      sentences: ['A red circle at the top left.', 'A blue square below it.'],
      route: { kind: 'long-text', reason: 'the request names coco-64-concat' },
    });
    const png = decode(Uint8Array.from(atob(body.data[0]?.b64_json as string), (c) => c.charCodeAt(0)));
    expect([png.width, png.height, png.channels]).toEqual([64, 64, 3]);
    // another caption, another condition: different pixels from the same seed
    const other = (await (
      await post(app, '/v1/images/generations', {
        prompt: 'Two green triangles.',
        model: 'coco-64-concat',
        n: 2,
        seed: 3,
      })
    ).json()) as Generation;
    expect(other.data[0]?.b64_json).not.toBe(body.data[0]?.b64_json);
  });

  it('routes a prompt with no model: a scene to the long-text default, one clothing item to Fashion', async () => {
    const app = buildEdgeApp({ ...s3(), DEFAULT_MODELS: '{"64":"coco-64-concat"}' }, 'test');
    const scene = await post(app, '/v1/images/generations', {
      prompt: 'A large red circle at the top left on a black background.',
      seed: 1,
    });
    expect(scene.status).toBe(200);
    const body = (await scene.json()) as Generation & { condition: { route: unknown } };
    expect(body.model.id).toBe('coco-64-concat');
    expect(body.condition).toMatchObject({
      type: 'text',
      route: { kind: 'long-text', reason: 'names no clothing item' },
    });
    const dress = (await (await post(app, '/v1/images/generations', { prompt: 'Make a dress', seed: 1 })).json()) as {
      model: { id: string };
      condition: { className: string; route: { kind: string } };
    };
    expect(dress.model.id).toBe('fashion-conv');
    expect(dress.condition).toMatchObject({ className: 'Dress', route: { kind: 'short-text' } });
  });

  it('serves /v1/embeddings: 512 floats, sentences averaged', async () => {
    const app = buildEdgeApp(s3(), 'test');
    const res = await post(app, '/v1/embeddings', { input: caption });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { embedding: number[] }[]; sentences: string[] };
    expect(body.data[0]?.embedding).toHaveLength(512);
    expect(body.sentences).toHaveLength(2);
    const bad = await post(app, '/v1/embeddings', { input: 'x', model: 'fashion-conv' });
    expect(bad.status).toBe(400);
  });

  it('answers /v1/embeddings as OpenAI clients send it: arrays, encoding_format, dimensions, user', async () => {
    const app = buildEdgeApp(s3(), 'test');
    const res = await post(app, '/v1/embeddings', {
      input: [caption, 'Two green triangles.'],
      model: 'clip-vit-b32-text',
      encoding_format: 'float',
      user: 'user-123',
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as {
      object: string;
      data: { object: string; index: number; embedding: number[] }[];
      usage: { prompt_tokens: number };
    };
    expect(body.object).toBe('list');
    expect(body.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, 512],
      ['embedding', 1, 512],
    ]);
    expect(body.usage.prompt_tokens).toBeGreaterThan(10);
    // base64: little-endian float32, the same numbers
    const b64 = (await (await post(app, '/v1/embeddings', { input: caption, encoding_format: 'base64' })).json()) as {
      data: { embedding: string }[];
    };
    const bytes = Uint8Array.from(atob(b64.data[0]?.embedding as string), (ch) => ch.charCodeAt(0));
    const floats = Array.from(new Float32Array(bytes.buffer));
    expect(floats).toHaveLength(512);
    floats.forEach((v, i) => {
      expect(v).toBeCloseTo(body.data[0]?.embedding[i] as number, 6);
    });
    const wrongWidth = await post(app, '/v1/embeddings', { input: caption, dimensions: 256 });
    expect(wrongWidth.status).toBe(400);
    expect(((await wrongWidth.json()) as { error: { message: string } }).error.message).toMatch(/512-d/);
  });

  it('embeds in the isolate with no GPU server at all (the compact encoder, its token rows read by range)', async () => {
    const app = buildEdgeApp({ ...s3(), GPU_SERVER_URL: '' }, 'test');
    const res = await post(app, '/v1/images/generations', { prompt: caption, model: 'coco-64-concat', seed: 3 });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as Generation).condition.sentences).toHaveLength(2);
  });

  it('matches the full graph on the GPU server: the compact embedding points the same way', async () => {
    const edge = buildEdgeApp({ ...s3(), GPU_SERVER_URL: '' }, 'test');
    const texts = [caption, 'Two green triangles.', 'a photo of a cat sitting on a wooden table next to a laptop'];
    for (const text of texts) {
      const a = (await (await post(edge, '/v1/embeddings', { input: text })).json()) as {
        data: { embedding: number[] }[];
      };
      // the GPU server's own /v1/embeddings runs the full graph (input_ids [B, 77])
      const b = (await (
        await fetch(new URL('/v1/embeddings', inject('gpuWorkerUrl')), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${inject('gpuWorkerSecret')}` },
          body: JSON.stringify({ input: text, model: 'clip-vit-b32-text' }),
        })
      ).json()) as { data: { embedding: number[] }[] };
      const x = a.data[0]?.embedding as number[];
      const y = b.data[0]?.embedding as number[];
      const dot = x.reduce((s, v, i) => s + v * (y[i] as number), 0);
      const cos = dot / Math.sqrt(x.reduce((s, v) => s + v * v, 0) * y.reduce((s, v) => s + v * v, 0));
      expect(cos).toBeGreaterThan(0.995);
      expect(cos).toBeLessThan(1); // int8: close, not identical — it is the compact form that ran
    }
  });

  it('sends the text to the GPU server when the compact form does not fit, and says so when there is none', async () => {
    // EDGE_TEXT_ENCODER_MAX_MB=0: no compact form fits
    const app = buildEdgeApp({ ...s3(), EDGE_TEXT_ENCODER_MAX_MB: '0' }, 'test');
    const res = await post(app, '/v1/images/generations', { prompt: caption, model: 'coco-64-concat', seed: 3 });
    expect(res.status, await res.clone().text()).toBe(200);
    const alone = buildEdgeApp({ ...s3(), EDGE_TEXT_ENCODER_MAX_MB: '0', GPU_SERVER_URL: '' }, 'test');
    const refused = await post(alone, '/v1/images/generations', { prompt: caption, model: 'coco-64-concat' });
    expect(refused.status).toBe(503);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('text_encoder_unavailable');
    expect(error.message).toMatch(/more than the edge's 0 MiB/);
  });

  it('can take the embedding from the GPU server instead (TEXT_ENCODER=gpu)', async () => {
    const app = buildEdgeApp({ ...s3(), TEXT_ENCODER: 'gpu' }, 'test');
    const res = await post(app, '/v1/images/generations', { prompt: caption, model: 'coco-64-concat', seed: 3 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Generation).condition.sentences).toHaveLength(2);
    const down = buildEdgeApp({ ...s3(), TEXT_ENCODER: 'gpu', GPU_SERVER_URL: 'http://127.0.0.1:9' }, 'test');
    const unavailable = await post(down, '/v1/images/generations', { prompt: caption, model: 'coco-64-concat' });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBeTruthy();
  });
});
