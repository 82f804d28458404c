import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEdgeApp, type Env } from '../../src/edge/config.js';

// Multi-tenancy and abuse limits at the edge, in workerd with D1, R2 and the rate-limit bindings:
// namespaces, private models, rollback, quotas, rate limits, webhook targets, HTTP hygiene.
const edgeEnv = env as unknown as Env & {
  DB: D1Database;
  MODELS: R2Bucket;
  TEST_MIGRATIONS: string;
  TIGHT_GENERATE_LIMITER: RateLimit;
  TIGHT_AUTH_LIMITER: RateLimit;
};
type App = ReturnType<typeof buildEdgeApp>;
const app = (extra: Partial<Env> = {}) => buildEdgeApp({ ...edgeEnv, ...extra }, 'test');
const call = (a: App, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  a.request(path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const auth = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
const admin = { authorization: 'Bearer admin-token' };
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
const small = { architecture: 'fashion-fc', epochs: 1, dataset: { name: 'fashion-mnist', subset: 256 } };

async function newKey(owner: string): Promise<string> {
  const res = await call(app(), 'POST', '/v1/admin/api-keys', { name: owner, owner }, admin);
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

/** Publishes a copy of the bundled model into R2 under `id@version` (files, manifest, alias). */
async function publish(id: string, version: string, patch: Record<string, unknown> = {}) {
  const a = app();
  const { manifest } = (await (await call(a, 'GET', '/v1/models/fashion-conv')).json()) as {
    manifest: { version: string; files: { name: string }[] };
  };
  for (const f of manifest.files) {
    const bytes = await (
      await call(a, 'GET', `/v1/models/fashion-conv/versions/${manifest.version}/files/${f.name}`)
    ).arrayBuffer();
    await edgeEnv.MODELS.put(`models/${id}/${version}/${f.name}`, bytes);
  }
  await edgeEnv.MODELS.put(
    `models/${id}/${version}/manifest.json`,
    JSON.stringify({ ...manifest, id, version, ...patch }),
  );
  const previous = await edgeEnv.MODELS.get(`models/${id}/latest.json`);
  const history = previous ? ((await previous.json()) as { history: unknown[] }).history : [];
  await edgeEnv.MODELS.put(
    `models/${id}/latest.json`,
    JSON.stringify({ version, history: [...history, { version, at: new Date().toISOString(), by: 'test' }] }),
  );
}

let alice: string;
let bob: string;
beforeAll(async () => {
  await applyD1Migrations(edgeEnv.DB, JSON.parse(edgeEnv.TEST_MIGRATIONS));
  alice = await newKey('alice');
  bob = await newKey('bob');
  await publish('alice/secret', 'v1', { visibility: 'private' });
  await publish('alice/shared', 'v1', { visibility: 'public' });
  await publish('alice/shared', 'v2', { visibility: 'public' });
});

describe('namespaces: a job publishes only into its own', () => {
  const create = (key: string, body: unknown, idem: string) =>
    call(app(), 'POST', '/v1/training-jobs', body, auth(key, { 'idempotency-key': idem }));

  it('puts a job without modelId, or with a bare name, under the key owner', async () => {
    const plain = (await (await create(bob, small, 'ns-1')).json()) as { id: string; config: { modelId: string } };
    expect(plain.config.modelId).toBe('bob/fashion-fc');
    // the system's fashion-conv cannot be replaced: the name lands in bob's namespace
    const system = (await (await create(bob, { ...small, modelId: 'fashion-conv' }, 'ns-2')).json()) as {
      id: string;
      config: { modelId: string; visibility: string };
    };
    expect(system.config).toMatchObject({ modelId: 'bob/fashion-conv', visibility: 'private' });
    for (const { id } of [plain, system])
      expect((await call(app(), 'POST', `/v1/training-jobs/${id}/cancel`, undefined, auth(bob))).status).toBe(200);
  });

  it("refuses another owner's namespace when the job is created (403)", async () => {
    const res = await create(bob, { ...small, modelId: 'alice/secret' }, 'ns-3');
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('forbidden_namespace');
    const list = (await (await call(app(), 'GET', '/v1/training-jobs', undefined, auth(bob))).json()) as {
      data: { config: { modelId: string } }[];
    };
    expect(list.data.some((j) => j.config.modelId === 'alice/secret')).toBe(false);
  });

  it("initFrom: pinned to a version when readable; another owner's private model is absent (404); the architecture must match", async () => {
    const conv = { ...small, architecture: 'fashion-conv' };
    const secret = await create(bob, { ...conv, initFrom: 'alice/secret' }, 'init-1');
    expect(secret.status).toBe(404);
    expect(await errorCode(secret)).toBe('model_not_found');
    expect(await errorCode(await create(bob, { ...conv, initFrom: 'alice/nothing@v1' }, 'init-2'))).toBe(
      'model_not_found',
    );
    const otherArchitecture = await create(bob, { ...small, initFrom: 'alice/shared' }, 'init-3');
    expect(otherArchitecture.status).toBe(400);
    expect(((await otherArchitecture.json()) as { error: { message: string } }).error.message).toContain(
      'alice/shared@v2 is a fashion-conv model; this job trains fashion-fc',
    );
    expect((await create(bob, { ...conv, initFrom: 'not a model!' }, 'init-4')).status).toBe(400);
    // a public model of the same architecture: its latest, pinned
    const res = await create(bob, { ...conv, initFrom: 'alice/shared' }, 'init-5');
    expect(res.status, await res.clone().text()).toBe(201);
    const job = (await res.json()) as { id: string; config: { initFrom: string } };
    expect(job.config.initFrom).toBe('alice/shared@v2');
    // the owner may start from her own private model
    const own = await create(alice, { ...conv, initFrom: 'alice/secret@v1' }, 'init-6');
    expect(own.status, await own.clone().text()).toBe(201);
    const ownJob = (await own.json()) as { id: string };
    for (const [key, id] of [
      [bob, job.id],
      [alice, ownJob.id],
    ] as const)
      expect((await call(app(), 'POST', `/v1/training-jobs/${id}/cancel`, undefined, auth(key))).status).toBe(200);
  });

  it("initFrom for long text: a model conditioned on another text encoder than the registry's is refused", async () => {
    // the registry's text encoder (its manifest is what the check reads): the bundled decoder's bytes as its graph
    const { manifest } = (await (await call(app(), 'GET', '/v1/models/fashion-conv')).json()) as {
      manifest: { files: { role: string; sha256: string }[] };
    };
    const graph = manifest.files.find((f) => f.role === 'decoder') as { sha256: string };
    await publish('clip-vit-b32-text', 'e1', {
      task: 'text-encoder',
      files: manifest.files.map((f) => (f.role === 'decoder' ? { ...f, role: 'text-encoder' } : f)),
    });
    const longText = (sha256: string) => ({
      task: 'long-text',
      textEncoder: 'clip-vit-b32-text@e1',
      textEncoderSha256: sha256,
      training: { architecture: 'coco-64-concat', config: {}, seed: 1, backend: 'test', epochs: 1 },
    });
    await publish('alice/long-other', 'v1', longText('f'.repeat(64)));
    await publish('alice/long-same', 'v1', longText(graph.sha256));
    const coco = { architecture: 'coco-64-concat', epochs: 1, dataset: { name: 'synth-coco', images: 30 } };
    const other = await create(alice, { ...coco, initFrom: 'alice/long-other' }, 'init-7');
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error: { message: string } }).error.message).toBe(
      `initFrom alice/long-other@v1 was trained on embeddings of clip-vit-b32-text@e1 (sha256 ffffffffffff…); training workers embed with clip-vit-b32-text@e1 (sha256 ${graph.sha256.slice(0, 12)}…): start from a model trained on it`,
    );
    const same = await create(alice, { ...coco, initFrom: 'alice/long-same' }, 'init-8');
    expect(same.status, await same.clone().text()).toBe(201);
    const { id } = (await same.json()) as { id: string };
    expect((await call(app(), 'POST', `/v1/training-jobs/${id}/cancel`, undefined, auth(alice))).status).toBe(200);
  });

  it('refuses a completion that names another model than the job resolved', async () => {
    const { id } = (await (await create(alice, small, 'ns-4')).json()) as { id: string };
    const worker = { authorization: 'Bearer worker-token' };
    const lease = (await (await call(app(), 'POST', '/v1/worker/lease', { workerId: 'wt' }, worker)).json()) as {
      job: { id: string };
    };
    expect(lease.job.id).toBe(id);
    const res = await call(
      app(),
      'POST',
      `/v1/worker/jobs/${id}/complete`,
      { workerId: 'wt', model: { id: 'fashion-conv', version: 'evil' } },
      worker,
    );
    expect(res.status).toBe(409);
    await call(app(), 'POST', `/v1/worker/jobs/${id}/release`, { workerId: 'wt' }, worker);
    await call(app(), 'POST', `/v1/training-jobs/${id}/cancel`, undefined, auth(alice));
  });
});

describe('visibility: private models are invisible to everyone but their owner', () => {
  const ids = async (headers: Record<string, string>) =>
    (
      (await (await call(app(), 'GET', '/v1/models', undefined, headers)).json()) as { data: { id: string }[] }
    ).data.map((m) => m.id);

  it('lists, shows, downloads and generates with a private model for its owner only', async () => {
    expect(await ids({})).toEqual(expect.arrayContaining(['fashion-conv', 'alice/shared']));
    expect(await ids({})).not.toContain('alice/secret');
    expect(await ids(auth(bob))).not.toContain('alice/secret');
    expect(await ids(auth(alice))).toContain('alice/secret');
    expect(await ids(admin)).toContain('alice/secret');

    const paths = ['/v1/models/alice/secret', '/v1/models/alice/secret/versions/v1/files/decoder.onnx'];
    for (const path of paths) {
      for (const headers of [{}, auth(bob)])
        expect((await call(app(), 'GET', path, undefined, headers)).status).toBe(404);
      expect((await call(app(), 'GET', path, undefined, auth(alice))).status).toBe(200);
    }
    // the escaped form names the same model
    expect((await call(app(), 'GET', '/v1/models/alice%2Fsecret', undefined, auth(alice))).status).toBe(200);
    const body = { prompt: 'Make a dress', model: 'alice/secret', seed: 1 };
    const stranger = await call(app(), 'POST', '/v1/images/generations', body, auth(bob));
    expect(stranger.status).toBe(404);
    expect(await errorCode(stranger)).toBe('model_not_found');
    expect((await call(app(), 'POST', '/v1/images/generations', body)).status).toBe(404);
    expect((await call(app(), 'POST', '/v1/images/generations', body, auth(alice))).status).toBe(200);
    // a 256 px request for it is refused before it could be forwarded
    expect((await call(app(), 'POST', '/v1/images/generations', { ...body, size: 256 }, auth(bob))).status).toBe(404);
  });

  it('a private file is not kept by shared caches; a public one is', async () => {
    const priv = await call(
      app(),
      'GET',
      '/v1/models/alice/secret/versions/v1/files/decoder.onnx',
      undefined,
      auth(alice),
    );
    expect(priv.headers.get('cache-control')).toMatch(/^private/);
    const pub = await call(app(), 'GET', '/v1/models/alice/shared/versions/v1/files/decoder.onnx');
    expect(pub.headers.get('cache-control')).toMatch(/^public/);
  });
});

describe('rollback: promote moves latest to an existing version', () => {
  it('lets the owner (and the operator) move latest back, records it, and refuses everyone else', async () => {
    const detail = async () =>
      (await (await call(app(), 'GET', '/v1/models/alice/shared')).json()) as {
        latest: string;
        history: { version: string; by: string }[];
      };
    expect((await detail()).latest).toBe('v2');
    const byBob = await call(app(), 'POST', '/v1/models/alice/shared/promote', { version: 'v1' }, auth(bob));
    expect(byBob.status).toBe(403);
    const anon = await call(app(), 'POST', '/v1/models/alice/shared/promote', { version: 'v1' });
    expect(anon.status).toBe(401);
    expect((await call(app(), 'POST', '/v1/models/fashion-conv/promote', { version: 'v1' }, auth(alice))).status).toBe(
      403,
    );
    const missing = await call(app(), 'POST', '/v1/models/alice/shared/promote', { version: 'v9' }, auth(alice));
    expect(missing.status).toBe(404);

    const res = await call(app(), 'POST', '/v1/models/alice/shared/promote', { version: 'v1' }, auth(alice));
    expect(res.status, await res.clone().text()).toBe(200);
    const after = await detail();
    expect(after.latest).toBe('v1');
    expect(after.history.map((h) => h.version)).toEqual(['v1', 'v2', 'v1']);
    expect(after.history.at(-1)?.by).toMatch(/^key /);
    // generation follows the alias at once in this isolate
    const gen = await call(app(), 'POST', '/v1/images/generations', { prompt: 'a dress', model: 'alice/shared' });
    expect(gen.headers.get('x-cvae-model')).toBe('alice/shared@v1');
    expect((await call(app(), 'POST', '/v1/models/alice/shared/promote', { version: 'v2' }, admin)).status).toBe(200);
    // a private model is as absent to strangers here as everywhere
    expect((await call(app(), 'POST', '/v1/models/alice/secret/promote', { version: 'v1' }, auth(bob))).status).toBe(
      404,
    );
  });
});

describe('quotas and budgets', () => {
  it('allows MAX_ACTIVE_JOBS queued + running jobs per key, then 429', async () => {
    const carol = await newKey('carol');
    const a = app({ MAX_ACTIVE_JOBS: '2' });
    const made: string[] = [];
    for (const idem of ['q1', 'q2']) {
      const res = await call(a, 'POST', '/v1/training-jobs', small, auth(carol, { 'idempotency-key': idem }));
      expect(res.status).toBe(201);
      made.push(((await res.json()) as { id: string }).id);
    }
    const third = await call(a, 'POST', '/v1/training-jobs', small, auth(carol, { 'idempotency-key': 'q3' }));
    expect(third.status).toBe(429);
    expect(await errorCode(third)).toBe('quota_exceeded');
    // a replay of an existing job is not a new job
    expect((await call(a, 'POST', '/v1/training-jobs', small, auth(carol, { 'idempotency-key': 'q1' }))).status).toBe(
      200,
    );
    await call(a, 'POST', `/v1/training-jobs/${made[0]}/cancel`, undefined, auth(carol));
    expect((await call(a, 'POST', '/v1/training-jobs', small, auth(carol, { 'idempotency-key': 'q3' }))).status).toBe(
      201,
    );
  });

  it('refuses a subset larger than the dataset and work over the per-job budget (400)', async () => {
    const huge = { ...small, dataset: { name: 'fashion-mnist', subset: 1_000_000_000 } };
    const res = await call(app(), 'POST', '/v1/training-jobs', huge, auth(alice, { 'idempotency-key': 'b1' }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/60000 training images/);
    const long = { ...small, epochs: 200, dataset: { name: 'fashion-mnist' } };
    const over = await call(app(), 'POST', '/v1/training-jobs', long, auth(alice, { 'idempotency-key': 'b2' }));
    expect(over.status).toBe(400);
    expect(await errorCode(over)).toBe('job_too_large');
  });
});

describe('rate limits (Workers Rate Limiting binding)', () => {
  it('answers 429 with Retry-After past the generation limit, per client', async () => {
    const a = app({ GENERATE_LIMITER: edgeEnv.TIGHT_GENERATE_LIMITER });
    const ip = { 'cf-connecting-ip': '203.0.113.7' };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push((await call(a, 'POST', '/v1/images/generations', { prompt: 'a dress', seed: i }, ip)).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const limited = await call(a, 'POST', '/v1/images/generations', { prompt: 'a dress' }, ip);
    expect(limited.headers.get('retry-after')).toBe('60');
    expect(await errorCode(limited)).toBe('rate_limited');
    // another client, and an API key, have their own budgets
    expect(
      (await call(a, 'POST', '/v1/images/generations', { prompt: 'a dress' }, { 'cf-connecting-ip': '203.0.113.8' }))
        .status,
    ).toBe(200);
    expect(
      (await call(a, 'POST', '/v1/images/generations', { prompt: 'a dress' }, { ...ip, ...auth(alice) })).status,
    ).toBe(200);
  });

  it('answers 429 past the failed-authentication limit, even for the right key afterwards from that address', async () => {
    const a = app({ AUTH_LIMITER: edgeEnv.TIGHT_AUTH_LIMITER });
    const ip = { 'cf-connecting-ip': '198.51.100.9' };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (await call(a, 'GET', '/v1/training-jobs', undefined, { ...ip, authorization: `Bearer wrong-${i}` })).status,
      );
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const worker = await call(
      a,
      'POST',
      '/v1/worker/lease',
      { workerId: 'x' },
      { ...ip, authorization: 'Bearer nope' },
    );
    expect(worker.status).toBe(429);
    expect(worker.headers.get('retry-after')).toBe('60');
  });
});

describe('webhook targets', () => {
  const hook = (url: string, a = app({ WEBHOOK_ALLOW_HTTP_LOOPBACK: 'false' }), idem = `w-${url}`) =>
    call(
      a,
      'POST',
      '/v1/training-jobs',
      { ...small, webhookUrl: url },
      auth(alice, { 'idempotency-key': idem.slice(0, 190) }),
    );

  it.each([
    'file:///etc/passwd',
    'javascript:alert(1)',
    'http://example.com/hook',
    'http://127.0.0.1:9/hook',
    'https://127.0.0.1/hook',
    'https://localhost/hook',
    'https://api.localhost/hook',
    'https://[::1]/hook',
    'https://10.1.2.3/hook',
    'https://172.20.0.1/hook',
    'https://192.168.1.1/hook',
    'https://169.254.169.254/latest/meta-data',
    'https://[fd00::1]/hook',
    'https://[::ffff:127.0.0.1]/hook',
    'https://user:pass@example.com/hook',
    'https://intranet/hook',
  ])('refuses %s with a 400 at creation', async (url) => {
    const res = await hook(url);
    expect(res.status).toBe(400);
  });

  it('takes https to a public host, and http to loopback only behind the development setting', async () => {
    const ok = await hook('https://hooks.example.com/cvae');
    expect(ok.status).toBe(201);
    await call(
      app(),
      'POST',
      `/v1/training-jobs/${((await ok.json()) as { id: string }).id}/cancel`,
      undefined,
      auth(alice),
    );
    const dev = await hook('http://127.0.0.1:9/hook', app({ WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true' }), 'w-dev');
    expect(dev.status).toBe(201);
    await call(
      app(),
      'POST',
      `/v1/training-jobs/${((await dev.json()) as { id: string }).id}/cancel`,
      undefined,
      auth(alice),
    );
  });
});

describe('HTTP hygiene', () => {
  it('sends nosniff everywhere and a strict CSP on the playground', async () => {
    for (const path of ['/v1/models', '/healthz', '/', '/playground.js']) {
      const res = await call(app(), 'GET', path);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
    const page = await call(app(), 'GET', '/');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe-inline/);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).not.toMatch(/<script>|<script type="module">|style="/);
  });

  it('answers CORS preflights for the API, with configurable origins', async () => {
    const preflight = (a: App) =>
      a.request('/v1/images/generations', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, authorization',
        },
      });
    const open = await preflight(app());
    expect(open.status).toBe(204);
    expect(open.headers.get('access-control-allow-origin')).toBe('*');
    expect(open.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const closed = await preflight(app({ CORS_ORIGINS: 'https://other.example.com' }));
    expect(closed.headers.get('access-control-allow-origin')).not.toBe('https://app.example.com');
  });

  it('answers conditional downloads per RFC 9110: *, weak validators and lists', async () => {
    const url = '/v1/models/fashion-conv/versions/latest/files/decoder.onnx';
    const etag = (await call(app(), 'GET', url)).headers.get('etag') as string;
    for (const inm of ['*', `W/${etag}`, `"nope", ${etag}`]) {
      expect((await call(app(), 'GET', url, undefined, { 'if-none-match': inm })).status, inm).toBe(304);
    }
    expect((await call(app(), 'GET', url, undefined, { 'if-none-match': '"nope"' })).status).toBe(200);
  });
});
