import { env, exports } from 'cloudflare:workers';
import { decode } from 'fast-png';
import { describe, expect, inject, it } from 'vitest';
import { buildEdgeApp, type Env } from '../../src/edge/config.js';
import { encodePng } from '../../src/shared/image/png.js';

// Model listing and downloads, the R2 and S3-over-HTTP sources, forwarding to the GPU server.
const edgeEnv = env as unknown as Env;
const get = (path: string, headers: Record<string, string> = {}) =>
  exports.default.fetch(`http://edge${path}`, { headers });
const generate = (app: { request: (path: string, init: RequestInit) => Response | Promise<Response> }, body: unknown) =>
  app.request('/v1/images/generations', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function sha256(bytes: ArrayBuffer): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
}

describe('models routes', () => {
  it('lists the bundled model with its task, size and metrics', async () => {
    const res = await get('/v1/models');
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as {
      data: { id: string; task: string; image: { width: number }; metrics: { mse: number } }[];
    };
    const fashion = data.find((m) => m.id === 'fashion-conv');
    expect(fashion).toMatchObject({ task: 'short-text', image: { width: 28 } });
    expect(fashion?.metrics.mse).toBeGreaterThan(0);
  });

  it('shows a model with its versions and manifest', async () => {
    const body = (await (await get('/v1/models/fashion-conv')).json()) as {
      versions: string[];
      latest: string;
      manifest: { id: string; files: { name: string }[] };
    };
    expect(body.versions).toContain(body.latest);
    expect(body.manifest.files.map((f) => f.name)).toContain('decoder.onnx');
    expect((await get('/v1/models/nope')).status).toBe(404);
  });

  it('streams a file with Content-Length, ETag and the sha256 from the manifest', async () => {
    const { manifest } = (await (await get('/v1/models/fashion-conv')).json()) as {
      manifest: { version: string; files: { name: string; bytes: number; sha256: string }[] };
    };
    const entry = manifest.files.find((f) => f.name === 'decoder.onnx');
    const res = await get(`/v1/models/fashion-conv/versions/${manifest.version}/files/decoder.onnx`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(entry?.bytes));
    expect(res.headers.get('x-content-sha256')).toBe(entry?.sha256);
    expect(res.headers.get('etag')).toBe(`"${entry?.sha256}"`);
    expect(await sha256(await res.arrayBuffer())).toBe(entry?.sha256);
    const again = await get(`/v1/models/fashion-conv/versions/latest/files/decoder.onnx`, {
      'if-none-match': `"${entry?.sha256}"`,
    });
    expect(again.status).toBe(304);
    const missing = await get(`/v1/models/fashion-conv/versions/${manifest.version}/files/secrets.txt`);
    expect(missing.status).toBe(404);
    // the model card is remade at the edge from the bundled manifest, byte for byte
    const card = manifest.files.find((f) => f.name === 'README.md');
    const readme = await get(`/v1/models/fashion-conv/versions/${manifest.version}/files/README.md`);
    expect(readme.status).toBe(200);
    expect(await sha256(await readme.arrayBuffer())).toBe(card?.sha256);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('file_not_found');
  });

  it('serves /openapi.json generated from the schemas and /healthz', async () => {
    const spec = (await (await get('/openapi.json')).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/v1/images/generations', '/v1/models', '/v1/models/{id}', '/healthz']),
    );
    const health = (await (await get('/healthz')).json()) as { ok: boolean; runtime: string };
    expect(health).toMatchObject({ ok: true });
    expect(health.runtime).toContain('onnxruntime-web');
  });
});

describe('model sources', () => {
  it('reads models from the R2 binding, sha256-checked', async () => {
    const decoder = await (await get('/v1/models/fashion-conv/versions/latest/files/decoder.onnx')).arrayBuffer();
    const manifest = JSON.parse(inject('gpuManifest')) as Record<string, unknown>;
    const r2Manifest = { ...manifest, id: 'fashion-r2', version: 'v7', serving: 'edge' };
    await env.MODELS.put('models/fashion-r2/v7/decoder.onnx', decoder);
    await env.MODELS.put('models/fashion-r2/v7/manifest.json', JSON.stringify(r2Manifest));
    await env.MODELS.put('models/fashion-r2/latest.json', JSON.stringify({ version: 'v7' }));
    const app = buildEdgeApp(edgeEnv, 'test');
    const res = await generate(app, { prompt: 'a dress', model: 'fashion-r2', seed: 3 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: unknown }).model).toEqual({ id: 'fashion-r2', version: 'v7' });

    // a corrupted file is refused, not run
    await env.MODELS.put('models/fashion-r2/v8/decoder.onnx', new Uint8Array(decoder).fill(1, 0, 16));
    await env.MODELS.put('models/fashion-r2/v8/manifest.json', JSON.stringify({ ...r2Manifest, version: 'v8' }));
    const bad = await generate(app, { prompt: 'a dress', model: 'fashion-r2@v8', seed: 3 });
    expect(bad.status).toBe(502);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('model_integrity');
  });

  it('reads models from an S3-compatible endpoint over HTTP with SigV4', async () => {
    const s3 = inject('s3');
    const app = buildEdgeApp(
      {
        ...edgeEnv,
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: s3.bucket,
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      },
      'test',
    );
    const list = (await (await app.request('/v1/models')).json()) as { data: { id: string }[] };
    expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(['fashion-s3', 'fashion-conv']));
    const res = await generate(app, { prompt: 'sandals', model: 'fashion-s3', seed: 5, response_format: 'png' });
    expect(res.status).toBe(200);
    expect(decode(new Uint8Array(await res.arrayBuffer())).width).toBe(28);
  });
});

describe('forwarding to the GPU server', () => {
  it('sends models marked for the GPU to the worker, which generates them', async () => {
    await env.MODELS.put('models/fashion-gpu/v1/manifest.json', inject('gpuManifest'));
    await env.MODELS.put('models/fashion-gpu/latest.json', JSON.stringify({ version: 'v1' }));
    const app = buildEdgeApp(edgeEnv, 'test');
    const res = await generate(app, { prompt: 'a coat', model: 'fashion-gpu', n: 2, seed: 11 });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cvae-served-by')).toBe('gpu-server');
    const body = (await res.json()) as {
      model: { id: string };
      data: { seed: number }[];
      condition: { className: string };
    };
    expect(body.model.id).toBe('fashion-gpu');
    expect(body.data.map((d) => d.seed)).toEqual([11, 12]);
    expect(body.condition.className).toBe('Coat');
  });

  it('makes URLs for what the worker drew, and redraws them through it', async () => {
    await env.MODELS.put('models/fashion-gpu/v1/manifest.json', inject('gpuManifest'));
    await env.MODELS.put('models/fashion-gpu/latest.json', JSON.stringify({ version: 'v1' }));
    const app = buildEdgeApp(edgeEnv, 'test');
    const b64 = (await (await generate(app, { prompt: 'a coat', model: 'fashion-gpu', seed: 3 })).json()) as {
      data: { b64_json: string }[];
    };
    const res = await generate(app, { prompt: 'a coat', model: 'fashion-gpu', seed: 3, response_format: 'url' });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('x-cvae-served-by')).toBe('gpu-server');
    const body = (await res.json()) as { data: { url: string; b64_json?: string }[] };
    expect(body.data[0]?.b64_json).toBeUndefined();
    const image = await app.request(body.data[0]?.url as string);
    expect(image.status).toBe(200);
    expect(btoa(String.fromCharCode(...new Uint8Array(await image.arrayBuffer())))).toBe(b64.data[0]?.b64_json);
  });

  it('forwards 256 px requests; the worker’s answer comes back as is', async () => {
    const res = await generate(buildEdgeApp(edgeEnv, 'test'), { prompt: 'a coat', size: 256, seed: 1 });
    expect(res.headers.get('x-cvae-served-by')).toBe('gpu-server');
    // this GPU server has no 256 px model: its own 4xx, in the same error format
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_size');
  });

  it('forwards variations and interpolations of GPU-served models as the same form', async () => {
    await env.MODELS.put('models/fashion-gpu/v1/manifest.json', inject('gpuManifest'));
    await env.MODELS.put('models/fashion-gpu/latest.json', JSON.stringify({ version: 'v1' }));
    const app = buildEdgeApp(edgeEnv, 'test');
    // a bright upright bar on black: something the 28 px models can reconstruct
    const data = new Uint8Array(28 * 28).map((_, i) => (Math.abs((i % 28) - 14) < 5 && i > 84 ? 220 : 0));
    const picture = () =>
      new File([encodePng({ data, width: 28, height: 28, channels: 1 })], 'bar.png', { type: 'image/png' });
    const form = (image: File) => {
      const f = new FormData();
      f.append('image', image);
      f.append('model', 'fashion-gpu');
      f.append('prompt', 'a dress');
      f.append('n', '2');
      f.append('seed', '7');
      f.append('strength', '0');
      return f;
    };
    const gpu = await app.request('/v1/images/variations', { method: 'POST', body: form(picture()) });
    expect(gpu.status, await gpu.clone().text()).toBe(200);
    expect(gpu.headers.get('x-cvae-served-by')).toBe('gpu-server');
    expect(gpu.headers.get('x-cvae-seed')).toBe('7');
    const body = (await gpu.json()) as { model: { id: string }; data: { b64_json: string; seed: number }[] };
    expect(body.model.id).toBe('fashion-gpu');
    expect(body.data.map((d) => d.seed)).toEqual([7, 8]);
    // the worker reconstructed this very upload: the same form sent to it directly gives the same
    // images, and another picture gives others
    const direct = async (image: File) =>
      (await (
        await fetch(`${inject('gpuWorkerUrl')}/v1/images/variations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${edgeEnv.GPU_SERVER_SECRET}` },
          body: form(image),
        })
      ).json()) as { data: { b64_json: string }[] };
    expect((await direct(picture())).data.map((d) => d.b64_json)).toEqual(body.data.map((d) => d.b64_json));
    const blank = new File([encodePng({ data: new Uint8Array(28 * 28), width: 28, height: 28, channels: 1 })], 'b.png');
    expect((await direct(blank)).data[0]?.b64_json).not.toBe(body.data[0]?.b64_json);

    const walk = new FormData();
    walk.append('from', picture());
    walk.append('from_prompt', 'a dress');
    walk.append('to', 'a coat');
    walk.append('model', 'fashion-gpu');
    walk.append('steps', '3');
    walk.append('response_format', 'gif');
    const gif = await app.request('/v1/images/interpolations', { method: 'POST', body: walk });
    expect(gif.status, await gif.clone().text()).toBe(200);
    expect(gif.headers.get('x-cvae-served-by')).toBe('gpu-server');
    expect(gif.headers.get('content-type')).toBe('image/gif');
    expect(new TextDecoder().decode(new Uint8Array(await gif.arrayBuffer()).slice(0, 6))).toBe('GIF89a');
  });

  it('still reads the deprecated GPU_WORKER_URL and GPU_WORKER_SECRET', async () => {
    const { GPU_SERVER_URL, GPU_SERVER_SECRET, ...rest } = edgeEnv;
    const app = buildEdgeApp({ ...rest, GPU_WORKER_URL: GPU_SERVER_URL, GPU_WORKER_SECRET: GPU_SERVER_SECRET }, 'test');
    const res = await generate(app, { prompt: 'a coat', size: 256, seed: 1 });
    expect(res.headers.get('x-cvae-served-by')).toBe('gpu-server');
    // the GPU server's own answer (it has no 256 px model), not the edge's 503
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_size');
  });

  it('answers 503 with Retry-After when the worker is down, 504 when it is too slow', async () => {
    const down = await generate(buildEdgeApp({ ...edgeEnv, GPU_SERVER_URL: 'http://127.0.0.1:9' }, 'test'), {
      prompt: 'a coat',
      size: 256,
    });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBeTruthy();
    expect(((await down.json()) as { error: { code: string } }).error.code).toBe('gpu_unavailable');

    const slow = await generate(
      buildEdgeApp({ ...edgeEnv, GPU_SERVER_URL: inject('slowWorkerUrl'), GPU_TIMEOUT_MS: '300' }, 'test'),
      { prompt: 'a coat', size: 256 },
    );
    expect(slow.status).toBe(504);
    expect(((await slow.json()) as { error: { code: string } }).error.code).toBe('gpu_timeout');
  });

  it('is refused by the worker without the shared secret', async () => {
    const res = await fetch(`${inject('gpuWorkerUrl')}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a coat' }),
    });
    expect(res.status).toBe(401);
    const wrong = await generate(buildEdgeApp({ ...edgeEnv, GPU_SERVER_SECRET: 'wrong' }, 'test'), {
      prompt: 'a coat',
      size: 256,
    });
    expect(wrong.status).toBe(503);
  });
});
