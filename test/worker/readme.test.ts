import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/worker/cli/program.js';
import { generateClipPackage } from '../../src/worker/clip/local-encoder.js';
import { buildEdgeBundle, putPackageInR2, startLocalEdge } from '../../src/worker/dev/local-edge.js';
import { applyMigrations } from '../../src/worker/dev/migrations.js';
import { MODELS_DIR } from '../../src/worker/paths.js';

// The README's commands cannot rot: every curl line runs against the real edge bundle in local
// workerd, and every `npm run cvae -- …` line names commands and options the CLI has.
const README = readFileSync(join(__dirname, '../../README.md'), 'utf8');
const shellLines = (text: string) =>
  [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => (m[1] as string).split('\n'));
const codeLines = shellLines(README);
// the topic pages' cvae commands are checked too (their curl lines use placeholders: <edge>, …)
const DOCS = join(__dirname, '../../docs');
const docLines = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .flatMap((f) => shellLines(readFileSync(join(DOCS, f), 'utf8')));
/** The topic pages' curl commands, continuation lines joined. */
const docCurls = docLines
  .join('\n')
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((l) => l.startsWith('curl '));

/** Splits a shell line into words (quotes respected), dropping a trailing comment. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.replace(/\s+#\s.*$/, '').matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g))
    words.push(m[1] ?? m[2] ?? m[3] ?? '');
  return words;
}

describe('README: cvae commands', () => {
  const lines = [...codeLines, ...docLines].filter((l) => l.startsWith('npm run cvae -- '));
  it('has some', () => expect(lines.length).toBeGreaterThan(15));
  for (const line of lines) {
    it(line.replace(/\s+#.*$/, ''), async () => {
      let cmd: Command = await buildProgram();
      const words = shellWords(line).slice(4);
      while (words.length > 0) {
        const sub = cmd.commands.find((c) => c.name() === words[0]);
        if (!sub) break;
        cmd = sub;
        words.shift();
      }
      expect(cmd.name(), `a subcommand of: ${line}`).not.toBe('cvae');
      for (const flag of words.filter((w) => w.startsWith('--'))) {
        const known = cmd.options.some(
          (o) => o.long === flag || o.long === `--no-${flag.slice(2)}` || `--no-${o.long?.slice(2)}` === flag,
        );
        expect(known, `${flag} is an option of 'cvae ${cmd.name()}'`).toBe(true);
      }
    });
  }
});

describe('README: curl examples against the edge', () => {
  let edge: Miniflare;
  let base: string;
  let key: string;
  let job: string;
  const curls = codeLines.filter((l) => l.startsWith('curl '));
  beforeAll(async () => {
    const bundle = mkdtempSync(join(tmpdir(), 'readme-bundle-'));
    edge = startLocalEdge(bundle, buildEdgeBundle(bundle), {
      d1: true,
      bindings: { ADMIN_TOKEN: 'readme-admin', WORKER_TOKEN: 'w', IMAGE_URL_SECRET: 'readme-urls' },
    });
    base = (await edge.ready).toString().replace(/\/$/, '');
    await applyMigrations(await edge.getD1Database('DB'));
    const admin = await fetch(`${base}/v1/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: 'Bearer readme-admin', 'content-type': 'application/json' },
      body: '{"name":"readme"}',
    });
    key = ((await admin.json()) as { key: string }).key;
    // the job the README's POST line creates (same Idempotency-Key and body → the same job)
    const create = curls.find((c) => c.includes('/v1/training-jobs') && c.includes('idempotency-key')) as string;
    const idem = /idempotency-key: ([^']+)'/.exec(create)?.[1] as string;
    const body = /-d '([^']+)'/.exec(create)?.[1] as string;
    const res = await fetch(`${base}/v1/training-jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idem },
      body,
    });
    job = ((await res.json()) as { id: string }).id;
    // the embeddings example needs a CLIP text encoder in the registry bucket
    const clip = mkdtempSync(join(tmpdir(), 'readme-clip-'));
    await generateClipPackage({
      config: 'tiny',
      seed: 1,
      vocab: join(__dirname, '../../models/clip-vocab/bpe_simple_vocab_16e6.txt.gz'),
      out: clip,
    });
    await putPackageInR2(edge, clip);
    // variations encode with the model's encoder, which the bundle leaves to the bucket
    await putPackageInR2(edge, join(MODELS_DIR, 'fashion-conv'));
  }, 180_000);
  afterAll(async () => {
    await edge?.dispose();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('has one for every public route', () => {
    for (const route of [
      '/v1/images/generations',
      '/v1/images/variations',
      '/v1/images/interpolations',
      '/v1/embeddings',
      '/v1/models',
      '/openapi.json',
      '/healthz',
      '/files/',
    ]) {
      expect(
        curls.some((c) => c.includes(route)),
        route,
      ).toBe(true);
    }
  });
  it("the topic pages' curl lines (placeholders, other owners' models) name routes the API has", async () => {
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, object> };
    const routes = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({
        method: method.toUpperCase(),
        // a model id may be namespaced (alice/my-fashion)
        pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+(?:/[^/]+)?')}$`),
      })),
    );
    // the schema itself is the one route it does not list
    routes.push({ method: 'GET', pattern: /^\/openapi\.json$/ });
    expect(docCurls.length).toBeGreaterThan(15);
    for (const line of docCurls) {
      const words = shellWords(line);
      const url = words.find((w) => /^(\$EDGE|https:\/\/<edge>)\//.test(w));
      expect(url, `a URL on the edge in: ${line}`).toBeDefined();
      const path = (url as string)
        .replace(/^(\$EDGE|https:\/\/<edge>)/, '')
        .split('?')[0]
        ?.replace(/\$\w+|<[^>]+>/g, 'x') as string;
      const explicit = words.indexOf('-X');
      const method =
        explicit >= 0 ? words[explicit + 1] : words.some((w) => ['-d', '-F', '--data'].includes(w)) ? 'POST' : 'GET';
      expect(
        routes.some((r) => r.method === method && r.pattern.test(path)),
        `${method} ${path} is a route of /openapi.json (${line})`,
      ).toBe(true);
    }
  });

  // one folder for all, in the README's order: a line may upload what an earlier one saved
  const cwd = mkdtempSync(join(tmpdir(), 'readme-curl-'));
  for (const line of curls) {
    it(line, () => {
      // --max-time: execFileSync blocks the test's event loop, so a request that never ends would
      // hang the run instead of failing the test
      const out = execFileSync('bash', ['-c', `${line} --max-time 60 -w '\\n%{http_code}'`], {
        cwd,
        env: { ...process.env, EDGE: base, KEY: key, JOB: job, ADMIN_TOKEN: 'readme-admin' },
      }).toString();
      expect(out.trim().split('\n').at(-1)).toMatch(/^20[01]$/);
    });
  }
});
