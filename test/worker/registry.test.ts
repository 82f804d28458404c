import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASHION_ARCHITECTURES } from '../../src/shared/arch/fashion.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { parseManifest } from '../../src/shared/manifest.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { type LocalS3, startLocalS3 } from '../../src/worker/registry/local-s3.js';
import type { ObjectStore } from '../../src/worker/registry/object-store.js';
import { sha256, verifyPackage, writeModelPackage } from '../../src/worker/registry/package.js';
import {
  getAlias,
  getManifest,
  listModels,
  objectKey,
  promote,
  pull,
  push,
} from '../../src/worker/registry/registry.js';
import { s3Store } from '../../src/worker/registry/s3-store.js';

// The registry against a real S3 HTTP API (s3rver on loopback), through the same client as production.
let s3: LocalS3;
let store: ObjectStore;
const spec = FASHION_ARCHITECTURES['fashion-fc'] as CvaeSpec;
const values = initialValues(describeCvae(spec).params, 1);
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

beforeAll(async () => {
  s3 = await startLocalS3({ directory: tmp('s3-') });
  store = s3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
    partSize: 5 * 1024 * 1024,
  });
});
afterAll(() => s3.close());

async function makePackage(version: string) {
  const dir = tmp('pkg-');
  await writeModelPackage(dir, { spec, values, version });
  return dir;
}

describe('model registry on S3', () => {
  it("promote moves latest back to an earlier version and keeps the alias' history; owners' ids nest one deeper", async () => {
    const owned = { ...spec, id: 'alice/rollback' };
    for (const version of ['r1', 'r2']) {
      const dir = tmp('pkg-');
      await writeModelPackage(dir, { spec: owned, values, version, visibility: 'private' });
      await push(store, dir, { by: 'test' });
    }
    expect(await store.get('models/alice/rollback/r2/manifest.json')).toBeDefined();
    expect((await getManifest(store, 'alice/rollback')).version).toBe('r2');
    await promote(store, 'alice/rollback', 'r1', 'cvae models promote');
    expect((await getManifest(store, 'alice/rollback')).version).toBe('r1');
    const alias = await getAlias(store, 'alice/rollback');
    expect(alias?.history.map((h) => [h.version, h.by])).toEqual([
      ['r1', 'test'],
      ['r2', 'test'],
      ['r1', 'cvae models promote'],
    ]);
    await expect(promote(store, 'alice/rollback', 'r9')).rejects.toThrow(/No version 'r9'/);
    expect((await listModels(store, 'alice/rollback'))[0]).toMatchObject({ latest: 'r1', versions: ['r1', 'r2'] });
    const pulled = await pull(store, 'alice/rollback', 'r2', tmp('pull-'));
    expect(pulled.manifest).toMatchObject({ id: 'alice/rollback', version: 'r2', visibility: 'private' });
  });

  it('push → list → pull → verify round-trips, and latest follows the newest push', async () => {
    const dir = await makePackage('v1');
    const manifest = await push(store, dir);
    expect(manifest.files.map((f) => f.name)).toEqual(['decoder.onnx', 'encoder.onnx', 'README.md']);
    await push(store, await makePackage('v2'));
    const listing = await listModels(store);
    expect(listing.filter((m) => m.id === 'fashion-fc')).toEqual([
      { id: 'fashion-fc', versions: ['v1', 'v2'], latest: 'v2' },
    ]);
    const out = tmp('pull-');
    const pulled = await pull(store, 'fashion-fc', 'v1', out);
    expect(pulled.dir).toBe(join(out, 'fashion-fc', 'v1'));
    await verifyPackage(pulled.dir);
    // compare digests: a deep equal of megabytes is slow
    expect(sha256(readFileSync(join(pulled.dir, 'decoder.onnx')))).toBe(
      sha256(readFileSync(join(dir, 'decoder.onnx'))),
    );
    expect((await getManifest(store, 'fashion-fc')).version).toBe('v2');
  });

  it('versions are immutable', async () => {
    await expect(push(store, await makePackage('v1'))).rejects.toThrow(/already published; versions are immutable/);
  });

  it('refuses a corrupted object on pull and leaves nothing behind', async () => {
    await push(store, await makePackage('v3'));
    const original = await store.get(objectKey('fashion-fc', 'v3', 'encoder.onnx'));
    const corrupted = Uint8Array.from(original as Uint8Array);
    corrupted[100] = (corrupted[100] as number) ^ 0xff;
    await store.put(objectKey('fashion-fc', 'v3', 'encoder.onnx'), corrupted, 'application/octet-stream');
    const out = tmp('pull-');
    await expect(pull(store, 'fashion-fc', 'v3', out)).rejects.toThrow(
      /encoder\.onnx: got \d+ bytes with sha256 [0-9a-f]{64}, the manifest says/,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('an upload killed halfway leaves no visible version', async () => {
    let puts = 0;
    const dying: ObjectStore = {
      ...store,
      label: store.label,
      put: async (key, body, type) => {
        puts += 1;
        if (puts === 2) throw new Error('connection reset (simulated)');
        await store.put(key, body, type);
      },
    };
    await expect(push(dying, await makePackage('v4'))).rejects.toThrow(/simulated/);
    expect((await listModels(store, 'fashion-fc'))[0]?.versions).not.toContain('v4');
    await expect(getManifest(store, 'fashion-fc', 'v4')).rejects.toThrow(/No version 'v4'/);
    expect((await getManifest(store, 'fashion-fc')).version).not.toBe('v4');
  });

  it('large objects go up in equal multipart parts and come back intact', async () => {
    const big = new Uint8Array(11 * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
    await store.put('scratch/big.bin', big, 'application/octet-stream');
    const back = (await store.get('scratch/big.bin')) as Uint8Array;
    expect(back.length).toBe(big.length);
    expect(sha256(back)).toBe(sha256(big)); // (a deep equal of 11 MB is slow)
  });

  it('reports unknown models clearly', async () => {
    await expect(getManifest(store, 'no-such-model')).rejects.toThrow(/No model 'no-such-model'/);
    await expect(getManifest(store, 'Bad_Id')).rejects.toThrow(/not a model id/);
  });
});

describe('packages and manifests', () => {
  it('verify refuses a package whose file was changed', async () => {
    const dir = await makePackage('v9');
    writeFileSync(join(dir, 'decoder.onnx'), 'oops');
    await expect(verifyPackage(dir)).rejects.toThrow(/decoder\.onnx: 4 bytes with sha256/);
  });

  it('the manifest records shapes, labels, sizes and hashes, and validates', async () => {
    const dir = await makePackage('v10');
    const manifest = parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
    expect(manifest.labels?.[3]?.name).toBe('Dress');
    expect(manifest.image).toEqual({ height: 28, width: 28, channels: 1 });
    const decoder = manifest.files.find((f) => f.role === 'decoder');
    expect(decoder?.inputs).toEqual([
      { name: 'z', type: 'float32', shape: ['batch', 128] },
      { name: 'label', type: 'int64', shape: ['batch'] },
    ]);
    expect(decoder?.outputs).toEqual([{ name: 'image', type: 'float32', shape: ['batch', 1, 28, 28] }]);
    expect(existsSync(join(dir, 'encoder.onnx'))).toBe(true);
  });

  it('the schema names every problem', () => {
    expect(() => parseManifest({ schemaVersion: 1, id: 'X', files: [] }, 'm.json')).toThrow(
      /m\.json is not a valid manifest: .*id: .*files/,
    );
    const ok = JSON.parse(
      JSON.stringify({
        schemaVersion: 1,
        id: 'a',
        version: '1',
        task: 'text-encoder',
        description: '',
        files: [{ name: 'a.onnx', bytes: 1, sha256: 'a'.repeat(64), role: 'text-encoder' }],
        codeVersion: 'x',
        createdAt: new Date().toISOString(),
        metrics: { testImages: 1, mse: 1, ssim: 1, fid: 3 },
      }),
    );
    expect(() => parseManifest(ok)).toThrow(/a FID needs fidExtractor/);
  });
});
