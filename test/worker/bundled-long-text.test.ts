import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../src/shared/api/app.js';
import { ModelCache } from '../../src/shared/generation/model-cache.js';
import { RegistryReader } from '../../src/shared/registry/reader.js';
import { CLIP_VOCAB_PATH, generateClipPackage } from '../../src/worker/clip/local-encoder.js';
import { LONG_TEXT_DEFAULTS } from '../../src/worker/dev/stack.js';
import { readScene } from '../../src/worker/lab/caption-following.js';
import { nodeRuntime } from '../../src/worker/onnx/runtime.js';
import { MODELS_DIR } from '../../src/worker/paths.js';
import { folderSource } from '../../src/worker/registry/folder-source.js';
import { verifyPackage } from '../../src/worker/registry/package.js';

// The long-text models the repository ships (models/<id>/, served by npm start) with the text
// encoder npm start generates: the same seeded bytes here, so the manifests' sha256 must match.
// What each shipped model is measured to follow (docs/results/<id>-v<n>/): background, place and
// colour at every size (coco-128-concat v3 reads colour back 98% of the time; coco-256-concat v6
// only 56% overall, but red 64 of 72: green, cyan and magenta are the colours it misses).
const FOLLOWS: Record<string, ('background' | 'position' | 'colour')[]> = {
  'coco-64-concat': ['background', 'position', 'colour'],
  'coco-128-concat': ['background', 'position', 'colour'],
  'coco-256-concat': ['background', 'position', 'colour'],
};
let registry: string;
beforeAll(async () => {
  registry = mkdtempSync(join(tmpdir(), 'shipped-long-'));
  await generateClipPackage({
    config: 'full',
    seed: 1,
    vocab: CLIP_VOCAB_PATH,
    out: join(registry, 'clip-vit-b32-text'),
    compact: false, // the full graph's bytes are what the manifests cite; the compact form is benchmarked
  });
  for (const id of Object.values(LONG_TEXT_DEFAULTS))
    cpSync(join(MODELS_DIR, id), join(registry, id), { recursive: true });
}, 120_000);
afterAll(() => rmSync(registry, { recursive: true, force: true }));

describe('shipped long-text models', () => {
  for (const [size, id] of Object.entries(LONG_TEXT_DEFAULTS)) {
    it(`${id}: a float16 package trained with the generated encoder, with its metrics and commands`, async () => {
      const manifest = await verifyPackage(join(MODELS_DIR, id));
      expect(manifest).toMatchObject({
        task: 'long-text',
        weightType: 'float16',
        image: { width: Number(size) },
        textEncoder: 'clip-vit-b32-text@random-full-s1',
      });
      expect(manifest.command).toMatch(/^cvae .* && cvae export /);
      expect(manifest.metrics?.fidExtractor).toBeDefined();
    });

    it(`${id}: follows the red-circle caption with the encoder npm start generates`, async () => {
      const api = createApi({
        models: new ModelCache(new RegistryReader(await folderSource(registry)), nodeRuntime),
        defaultModels: { [Number(size)]: id },
        defaultSize: Number(size),
        runtime: 'test',
        codeVersion: 'test',
      });
      const res = await api.request('/v1/images/generations', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'A large red circle at the top left on a black background.', n: 4, seed: 1 }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      const body = (await res.json()) as { data: { b64_json: string }[]; condition: { route: { kind: string } } };
      expect(body.condition.route.kind).toBe('long-text');
      // read the images back: black background, something red in the top-left cell
      const sharp = (await import('sharp')).default;
      let followed = 0;
      for (const d of body.data) {
        const raw = await sharp(Buffer.from(d.b64_json, 'base64')).removeAlpha().raw().toBuffer();
        const seen = readScene(
          Float32Array.from(raw, (v) => v / 255),
          Number(size),
        );
        const wanted = { background: 'black', position: 0, colour: 'red' };
        if (FOLLOWS[id]?.every((fact) => seen[fact] === wanted[fact])) followed++;
      }
      expect(followed).toBeGreaterThanOrEqual(3);
    }, 120_000);
  }
});
