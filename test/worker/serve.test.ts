import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../src/shared/api/app.js';
import { ModelCache } from '../../src/shared/generation/model-cache.js';
import { RegistryReader } from '../../src/shared/registry/reader.js';
import { MODELS_DIR } from '../../src/worker/paths.js';
import { folderSource } from '../../src/worker/registry/folder-source.js';
import { type RunningServer, startServer } from '../../src/worker/serve/server.js';
import { nodeWebRuntime } from '../helpers/ort-web-runtime.js';

// `cvae serve` (the GPU server's API) over real HTTP, on onnxruntime-node.
let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ port: 0, host: '127.0.0.1', modelsDir: MODELS_DIR, secret: 's3cret' });
});
afterAll(() => server.close());

const generate = (body: unknown, secret: string | null = 's3cret') =>
  fetch(`${server.url}/v1/images/generations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
    body: JSON.stringify(body),
  });

type Body = { data: { b64_json: string; seed: number }[]; condition: { className: string } };
const pngs = (body: Body) => body.data.map((d) => Buffer.from(d.b64_json, 'base64'));

describe('cvae serve', () => {
  it('generates with the bundled model behind the shared secret', async () => {
    const res = await generate({ prompt: 'ankle boots', n: 3, seed: 4 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Body;
    expect(body.condition.className).toBe('Ankle boot');
    expect(body.data.map((d) => d.seed)).toEqual([4, 5, 6]);
    for (const png of pngs(body)) expect(decode(png).width).toBe(28);
    expect((await generate({ prompt: 'ankle boots' }, null)).status).toBe(401);
    expect((await generate({ prompt: 'ankle boots' }, 'nope')).status).toBe(401);
    // every route that draws needs it too: uploads, walks, image URLs
    const form = new FormData();
    form.append('from', 'a coat');
    form.append('to', 'a dress');
    for (const path of ['/v1/images/variations', '/v1/images/interpolations'])
      expect((await fetch(`${server.url}${path}`, { method: 'POST', body: form })).status, path).toBe(401);
    expect((await fetch(`${server.url}/v1/images/anything.png`)).status).toBe(401);
    // everything but drawing is open, as at the edge
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(200);
  });

  it('exposes Prometheus metrics that count the traffic it served', async () => {
    const before = await (await fetch(`${server.url}/metrics`)).text();
    const count = (text: string, line: RegExp) => Number(line.exec(text)?.[1] ?? 0);
    const bundled = `fashion-conv@${JSON.parse(readFileSync(join(MODELS_DIR, 'fashion-conv', 'manifest.json'), 'utf8')).version}`;
    const generated = new RegExp(`cvae_generated_images_total\\{model="${bundled}",size=""\\} (\\d+)`);
    const ok = new RegExp(
      `cvae_http_requests_total\\{route="/v1/images/generations",model="${bundled}",status="200"\\} (\\d+)`,
    );
    for (const n of [2, 3]) expect((await generate({ prompt: 'a coat', n, seed: 1 })).status).toBe(200);
    expect((await generate({ prompt: 'a toaster' })).status).toBe(400);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const after = await res.text();
    expect(count(after, generated) - count(before, generated)).toBe(5);
    expect(count(after, ok) - count(before, ok)).toBe(2);
    expect(after).toMatch(
      /cvae_http_requests_total\{route="\/v1\/images\/generations",model="[^"]*",status="400"\} \d+/,
    );
    expect(after).toMatch(/cvae_http_request_duration_seconds_bucket\{le="0.5",route="\/v1\/images\/generations"/);
  });

  it('matches the edge engine (onnxruntime-web) pixel for pixel on most images', async () => {
    const web = createApi({
      models: new ModelCache(new RegistryReader(await folderSource(MODELS_DIR)), nodeWebRuntime),
      defaultModels: { 28: 'fashion-conv' },
      defaultSize: 28,
      runtime: 'web',
      codeVersion: 'test',
    });
    const request = { prompt: 'a shirt', n: 16, seed: 100 };
    const fromNode = pngs((await (await generate(request)).json()) as Body);
    const fromWeb = pngs(
      (await (
        await web.request('/v1/images/generations', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(request),
        })
      ).json()) as Body,
    );
    // Different CPU kernels (MLAS native vs wasm SIMD) may round a pixel differently at x.5/255;
    // no pixel may differ by more than one level.
    let differing = 0;
    fromNode.forEach((png, i) => {
      const a = decode(png).data;
      const b = decode(fromWeb[i] as Buffer).data;
      for (let p = 0; p < a.length; p++) {
        const d = Math.abs((a[p] as number) - (b[p] as number));
        expect(d).toBeLessThanOrEqual(1);
        if (d) differing++;
      }
    });
    expect(differing).toBeLessThan(16 * 784 * 0.01);
  });
});

describe('cvae serve: the edge policy in process', () => {
  let dir: string;
  let tight: RunningServer;
  beforeAll(async () => {
    // a private model of alice's beside the bundled one
    dir = mkdtempSync(join(tmpdir(), 'serve-tenancy-'));
    cpSync(join(MODELS_DIR, 'fashion-conv'), join(dir, 'alice', 'secret'), { recursive: true });
    const path = join(dir, 'alice', 'secret', 'manifest.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...manifest, id: 'alice/secret', visibility: 'private' }));
    cpSync(join(MODELS_DIR, 'fashion-conv'), join(dir, 'fashion-conv'), { recursive: true });
    tight = await startServer({
      port: 0,
      host: '127.0.0.1',
      modelsDir: dir,
      secret: 's3cret',
      limits: { generatePerMinute: 3, authFailuresPerMinute: 2 },
    });
  });
  afterAll(() => tight.close());
  const post = (headers: Record<string, string>, body: unknown) =>
    fetch(`${tight.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer s3cret', ...headers },
      body: JSON.stringify(body),
    });

  it('serves a private model only to the owner the edge names (trusted with the secret only)', async () => {
    const body = { prompt: 'a dress', model: 'alice/secret', seed: 1 };
    expect((await post({ 'x-cvae-client': 'key:a', 'x-cvae-owner': 'alice' }, body)).status).toBe(200);
    expect((await post({ 'x-cvae-client': 'key:b', 'x-cvae-owner': 'bob' }, body)).status).toBe(404);
    expect((await post({ 'x-cvae-client': 'ip:c' }, body)).status).toBe(404);
    // without the secret the owner header is not believed (and generation needs the secret anyway)
    const listing = await fetch(`${tight.url}/v1/models`, { headers: { 'x-cvae-owner': 'alice' } });
    const ids = ((await listing.json()) as { data: { id: string }[] }).data.map((m) => m.id);
    expect(ids).toContain('fashion-conv');
    expect(ids).not.toContain('alice/secret');
  });

  it('answers 429 with Retry-After past the generation limit per client, and past the failed-secret limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await post({ 'x-cvae-client': 'ip:203.0.113.1' }, { prompt: 'a coat' })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await post({ 'x-cvae-client': 'ip:203.0.113.1' }, { prompt: 'a coat' });
    expect(limited.headers.get('retry-after')).toBe('60');
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect((await post({ 'x-cvae-client': 'ip:203.0.113.2' }, { prompt: 'a coat' })).status).toBe(200);
    const wrong: number[] = [];
    for (let i = 0; i < 4; i++)
      wrong.push((await post({ authorization: 'Bearer wrong' }, { prompt: 'a coat' })).status);
    expect(wrong).toEqual([401, 401, 429, 429]);
  });
});
