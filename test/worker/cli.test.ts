import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { startLocalS3 } from '../../src/worker/registry/local-s3.js';
import { cvae, cvaeWith } from '../helpers/cvae-cli.js';

// The CLI as users run it: a child process, real data, exit codes and messages.
describe('cvae CLI', () => {
  it('explains an unknown model and exits 2', async () => {
    const r = await cvae('train', 'fashion-xl');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "unknown architecture 'fashion-xl'; choose one of: fashion-fc, fashion-conv, coco-64-add",
    );
  });

  it('prints its version, the package.json one', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await cvae(flag);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it('rejects a malformed option value', async () => {
    const r = await cvae('train', 'fashion-fc', '--batch-size', 'lots');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("expected a whole number ≥ 2, got 'lots'");
  });

  it('experiment table1 runs end to end on a small subset and writes the table and figures', async () => {
    const out = mkdtempSync(join(tmpdir(), 'table1-'));
    const r = await cvae(
      'experiment',
      'table1',
      '--subset',
      '512',
      '--epochs',
      '1',
      '--test-limit',
      '100',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    const table = readFileSync(join(out, 'table1.md'), 'utf8');
    expect(table).toMatch(/\| fashion-fc \| \d+\.\d{4} \|/);
    expect(table).toMatch(/\| fashion-conv \| \d+\.\d{4} \|/);
    expect(table).toContain('(fashion-classifier)');
    expect(table).toContain('Class accuracy judged by fashion-judge');
    expect(table).toContain('| Convolutional VAE (fashion-conv) | 11.1087 | 0.7627 | 50.3034 |');
    const json = JSON.parse(readFileSync(join(out, 'table1.json'), 'utf8'));
    expect(json.rows).toHaveLength(2);
    for (const row of json.rows) {
      expect(row.report.count).toBe(100);
      expect(row.report.classAccuracy).toBeGreaterThanOrEqual(0);
      const meta = await sharp(row.figures.generations).metadata();
      expect([meta.width, meta.height]).toEqual([(10 * 28 + 11 * 2) * 3, (10 * 28 + 11 * 2) * 3]);
    }
    expect(r.stderr).toMatch(/tfjs backend: /);

    // The checkpoints it left can be scored on their own.
    const ev = await cvae('evaluate', 'fashion-fc', '--from', join(out, 'fashion-fc'), '--test-limit', '50');
    expect(ev.code, ev.stderr).toBe(0);
    const report = JSON.parse(ev.stdout);
    expect(report.epochs).toBe(1);
    expect(report.posteriorMean.mse).toBeGreaterThan(0);

    // Export it and take it through the registry on a local S3 server, as a user would.
    const pkg = join(out, 'package');
    const ex = await cvae(
      'export',
      'fashion-fc',
      '--from',
      join(out, 'fashion-fc'),
      '--version',
      't1',
      '--out',
      pkg,
      '--test-limit',
      '50',
      '--sampling-temperature',
      '0.8',
    );
    expect(ex.code, ex.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
    expect(manifest.metrics.fidExtractor).toBe('fashion-classifier');
    // generations draw z ~ N(0, 0.8² I); the blur-augmented judge scored their classes
    expect(manifest.samplingTemperature).toBe(0.8);
    expect(manifest.metrics.classJudge).toBe('fashion-judge');
    expect(readFileSync(join(pkg, 'README.md'), 'utf8')).toContain('sampling temperature 0.8');
    expect(manifest.training.epochs).toBe(1);
    expect(manifest.command).toContain('cvae export fashion-fc');
    const s3 = await startLocalS3({ directory: join(out, 's3') });
    try {
      const env = {
        CVAE_S3_ENDPOINT: s3.endpoint,
        CVAE_S3_BUCKET: s3.bucket,
        CVAE_S3_FORCE_PATH_STYLE: '1',
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      };
      expect((await cvaeWith(env, 'models', 'push', pkg)).stdout).toContain('fashion-fc@t1 published');
      const list = JSON.parse((await cvaeWith(env, 'models', 'list', '--json')).stdout);
      expect(list).toEqual([{ id: 'fashion-fc', versions: ['t1'], latest: 't1' }]);
      const pulled = await cvaeWith(env, 'models', 'pull', 'fashion-fc', '--out', join(out, 'pulled'));
      expect(pulled.stdout).toContain(join(out, 'pulled', 'fashion-fc', 't1'));
      expect((await cvae('models', 'verify', join(out, 'pulled', 'fashion-fc', 't1'))).code).toBe(0);
      const missing = await cvaeWith(env, 'models', 'pull', 'fashion-conv', '--out', join(out, 'pulled'));
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain("No model 'fashion-conv'");
    } finally {
      await s3.close();
    }
  });

  it('generate draws a grid from the bundled model, reproducibly, and explains a prompt it cannot read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-'));
    const a = await cvae('generate', 'I want running trainers', '--n', '3', '--seed', '7', '--out', join(dir, 'a.png'));
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({
      condition: { className: 'Sneaker', matched: 'running trainers' },
      seeds: [7, 8, 9],
    });
    const meta = await sharp(join(dir, 'a.png')).metadata();
    expect([meta.width, meta.height]).toEqual([(3 * 28 + 4 * 2) * 4, (28 + 2 * 2) * 4]);
    await cvae('generate', 'I want running trainers', '--n', '3', '--seed', '7', '--out', join(dir, 'b.png'));
    expect(readFileSync(join(dir, 'b.png')).equals(readFileSync(join(dir, 'a.png')))).toBe(true);
    const bad = await cvae('generate', 'a dress and a coat');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('more than one item');
  });

  it('clip tokenize prints the reference ids', async () => {
    const vocab = join(__dirname, '../../models/clip-vocab/bpe_simple_vocab_16e6.txt.gz');
    const r = await cvae('clip', 'tokenize', 'Make a dress', '--vocab', vocab);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ids: [49406, 1078, 320, 2595, 49407], length: 5, truncated: false });
    // without --vocab: the vocabulary committed in models/clip-vocab, no registry needed
    const committed = await cvaeWith({ CVAE_S3_BUCKET: '' }, 'clip', 'tokenize', 'Make a dress');
    expect(committed.code, committed.stderr).toBe(0);
    expect(JSON.parse(committed.stdout).ids).toEqual([49406, 1078, 320, 2595, 49407]);
    const missing = await cvaeWith(
      { CVAE_CLIP_VOCAB: '/nonexistent/vocab.gz' },
      'clip',
      'tokenize',
      'x',
      '--vocab',
      '/nonexistent/v.gz',
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('pass --vocab');
  });

  it('worker explains a malformed setting from the environment, naming the value', async () => {
    const edge = ['worker', '--edge', 'http://127.0.0.1:9'];
    for (const [name, value, expected] of [
      ['CVAE_WORKER_REPLICAS', 'zero', 'a whole number ≥ 1'],
      ['CVAE_WORKER_METRICS_PORT', '70000', 'a whole number from 0 to 65535'],
      ['CVAE_KEEP_CHECKPOINTS_DAYS', 'a week', 'a whole number ≥ 0'],
    ] as const) {
      const r = await cvaeWith({ CVAE_WORKER_TOKEN: 't', [name]: value }, ...edge);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`value '${value}' from env '${name}' is invalid. expected ${expected}`);
    }
  });

  it('models commands explain a missing registry configuration', async () => {
    const r = await cvaeWith({ CVAE_S3_BUCKET: '' }, 'models', 'list');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('set CVAE_S3_BUCKET');
  });

  it('datasets fetch refuses files whose checksum is not the official one, leaving nothing', async () => {
    const server = createServer((_req, res) => res.end('not the real file'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'fetch-'));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const r = await cvae('datasets', 'fetch', 'fashion-mnist', '--base-url', url, '--dir', dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/MD5 [0-9a-f]{32} does not match the expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d/);
      expect(readdirSync(dir)).toEqual([]);
      expect(existsSync(join(dir, 'train-images-idx3-ubyte.gz'))).toBe(false);
    } finally {
      server.close();
    }
  });
});
