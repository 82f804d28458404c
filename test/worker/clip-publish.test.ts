import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIP_MODEL_ID, CLIP_VOCAB_FILE, packageClip } from '../../src/worker/clip/publish.js';
import { type LocalS3, startLocalS3 } from '../../src/worker/registry/local-s3.js';
import { sha256 } from '../../src/worker/registry/package.js';
import { getManifest, pull, push } from '../../src/worker/registry/registry.js';
import { s3Store } from '../../src/worker/registry/s3-store.js';
import { tinyClipTextModel } from '../helpers/onnx-fixtures.js';

// The real CLIP vocabulary, committed in models/clip-vocab.
const SHARED_VOCAB = join(__dirname, '../../models/clip-vocab', CLIP_VOCAB_FILE);
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

function clipDir(model: Uint8Array, vocab = true): string {
  const dir = tmp('clip-src-');
  writeFileSync(join(dir, 'model.onnx'), model);
  if (vocab) copyFileSync(SHARED_VOCAB, join(dir, CLIP_VOCAB_FILE));
  return dir;
}

let s3: LocalS3;
let server: Server;
let base: string;
beforeAll(async () => {
  s3 = await startLocalS3({ directory: tmp('s3-') });
  const src = clipDir(tinyClipTextModel());
  server = createServer((req, res) => {
    try {
      res.end(readFileSync(join(src, (req.url ?? '/').slice(1))));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  server.close();
  await s3.close();
});

describe('cvae clip publish', () => {
  it('validates a CLIP-signature model and the real vocabulary, and publishes them as a model', async () => {
    const { dir, manifest } = await packageClip(clipDir(tinyClipTextModel()), { version: 't1' });
    expect(manifest.id).toBe(CLIP_MODEL_ID);
    expect(manifest.files.map((f) => f.role)).toEqual(['text-encoder', 'tokenizer']);
    expect(manifest.files[0]?.inputs).toEqual([{ name: 'input_ids', type: 'int64', shape: ['batch', 77] }]);
    const store = s3Store({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: s3.credentials,
    });
    await push(store, dir);
    expect((await getManifest(store, CLIP_MODEL_ID)).version).toBe('t1');
    const pulled = await pull(store, CLIP_MODEL_ID, 't1', tmp('pull-'));
    expect(sha256(readFileSync(join(pulled.dir, CLIP_VOCAB_FILE)))).toBe(sha256(readFileSync(SHARED_VOCAB)));
  });

  it('fetches from a URL', async () => {
    const { manifest } = await packageClip(base, { version: 't2' });
    expect(manifest.files[1]?.bytes).toBe(readFileSync(SHARED_VOCAB).length);
  });

  it.each([
    ['a wrong context length', tinyClipTextModel({ context: 64 }), /input_ids must be \[batch, 77\]/],
    ['a wrong embedding width', tinyClipTextModel({ width: 256 }), /expected float32 \[2, 512\]/],
    ['float token ids', tinyClipTextModel({ inputType: 'float32' }), /expected an int64 input named input_ids/],
    ['a file that is not ONNX', new TextEncoder().encode('nope'), /is not a loadable ONNX model/],
  ])('refuses %s', async (_name, model, message) => {
    await expect(packageClip(clipDir(model))).rejects.toThrow(message);
  });

  it('refuses a missing or wrong vocabulary', async () => {
    await expect(packageClip(clipDir(tinyClipTextModel(), false))).rejects.toThrow(
      /has no bpe_simple_vocab_16e6\.txt\.gz/,
    );
    const dir = clipDir(tinyClipTextModel(), false);
    writeFileSync(join(dir, CLIP_VOCAB_FILE), 'plain text');
    await expect(packageClip(dir)).rejects.toThrow(/is not a gzip file/);
  });
});
