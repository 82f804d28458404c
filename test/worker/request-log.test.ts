import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyticsLog } from '../../src/edge/analytics.js';
import { createApi } from '../../src/shared/api/app.js';
import { fanOut, requestCounts } from '../../src/shared/api/request-counts.js';
import { ModelCache } from '../../src/shared/generation/model-cache.js';
import { RegistryReader } from '../../src/shared/registry/reader.js';
import { nodeRuntime } from '../../src/worker/onnx/runtime.js';
import { MODELS_DIR } from '../../src/worker/paths.js';
import { folderSource } from '../../src/worker/registry/folder-source.js';

// the bundled model's id@version, read from its manifest so a re-bundle needs no edit here
const BUNDLED = `fashion-conv@${JSON.parse(readFileSync(join(MODELS_DIR, 'fashion-conv', 'manifest.json'), 'utf8')).version}`;

// Request ids on every response and one structured log line per request, without prompts or keys.
/** The API over the repository's models, with `deps` on top. */
async function api(deps: Partial<Parameters<typeof createApi>[0]> = {}) {
  return createApi({
    models: new ModelCache(new RegistryReader(await folderSource(MODELS_DIR)), nodeRuntime),
    defaultModels: { 28: 'fashion-conv' },
    defaultSize: 28,
    runtime: 'test',
    codeVersion: 'test',
    ...deps,
  });
}
const app = (lines: Record<string, unknown>[]) => api({ log: (entry) => lines.push(entry) });
const generate = (a: Awaited<ReturnType<typeof app>>, body: unknown, headers: Record<string, string> = {}) =>
  a.request('/v1/images/generations', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('request ids and logs', () => {
  it('echoes a well-formed X-Request-Id, replaces a malformed one, and makes one otherwise', async () => {
    const a = await app([]);
    const mine = await generate(a, { prompt: 'a secret dress', seed: 1 }, { 'x-request-id': 'abc-123_X' });
    expect(mine.headers.get('x-request-id')).toBe('abc-123_X');
    const bad = await generate(a, { prompt: 'a dress' }, { 'x-request-id': 'no spaces <script>' });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    for (const res of [
      await a.request('/nope'),
      await a.request('/v1/models/no-such'),
      await generate(a, { prompt: '' }),
    ])
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('puts the id on forwarded answers too', async () => {
    const a = await api({
      forward: async () => new Response('{}', { headers: { 'content-type': 'application/json' } }),
    });
    const res = await generate(a, { prompt: 'a dress', size: 256 }, { 'x-request-id': 'fwd-1' });
    expect(res.headers.get('x-request-id')).toBe('fwd-1');
  });

  it('logs one line per request with id, route, status, duration, model, n and size, never the prompt or a key', async () => {
    const lines: Record<string, unknown>[] = [];
    const a = await app(lines);
    const res = await generate(
      a,
      { prompt: 'a very secret dress', n: 3, size: 28, seed: 1 },
      { 'x-request-id': 'req-1', authorization: 'Bearer cvae_supersecret' },
    );
    expect(res.status).toBe(200);
    await a.request('/v1/models/fashion-conv');
    await generate(a, { prompt: 'a toaster', seed: 1 });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      requestId: 'req-1',
      method: 'POST',
      route: '/v1/images/generations',
      status: 200,
      model: BUNDLED,
      n: 3,
      size: 28,
    });
    expect(typeof lines[0]?.ms).toBe('number');
    expect(lines[1]).toMatchObject({ route: '/v1/models/:id', status: 200 });
    expect(lines[2]).toMatchObject({ status: 400 });
    const text = JSON.stringify(lines);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('toaster');
  });

  it('counts what it served for /healthz?detail=1 (admin only) and writes one analytics point per request', async () => {
    const counts = requestCounts();
    const points: { blobs?: string[]; doubles?: number[]; indexes?: string[] }[] = [];
    const a = await api({
      identify: async (c) => ({ client: 'ip:test', admin: c.req.header('authorization') === 'Bearer admin' }),
      log: fanOut(counts.observe, analyticsLog({ writeDataPoint: (p) => points.push(p) })),
      counts,
    });
    expect((await generate(a, { prompt: 'a dress', n: 3, seed: 1 })).status).toBe(200);
    expect((await generate(a, { prompt: 'a toaster' })).status).toBe(400);
    expect((await a.request('/v1/models')).status).toBe(200);
    // liveness stays public and says nothing about traffic
    const plain = (await (await a.request('/healthz')).json()) as Record<string, unknown>;
    expect(plain).toEqual({ ok: true, runtime: 'test', version: 'test' });
    const refused = await a.request('/healthz?detail=1');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    const detail = (await (
      await a.request('/healthz?detail=1', { headers: { authorization: 'Bearer admin' } })
    ).json()) as {
      counts: {
        requests: number;
        byStatus: Record<string, number>;
        byRoute: Record<string, number>;
        images: Record<string, number>;
      };
    };
    // the three calls, the public /healthz and the refused one (this request is logged after it answers)
    expect(detail.counts.requests).toBe(5);
    expect(detail.counts.byStatus).toEqual({ '2xx': 3, '4xx': 2 });
    expect(detail.counts.byRoute['/v1/images/generations']).toBe(2);
    expect(detail.counts.images).toEqual({ [BUNDLED]: 3 });
    expect(points).toHaveLength(6);
    expect(points[0]).toEqual({
      blobs: ['/v1/images/generations', 'POST', BUNDLED, '200', ''],
      doubles: [expect.any(Number), 3, 200],
      indexes: ['/v1/images/generations'],
    });
    expect(points[1]?.doubles?.slice(1)).toEqual([0, 400]);
    expect((await a.request('/healthz?detail=yes')).status).toBe(400);
  });
});
