import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURES } from '../../src/shared/arch/catalogue.js';
import { cocoSpec } from '../../src/shared/arch/coco.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { createRng } from '../../src/shared/random.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { writeModelPackage } from '../../src/worker/registry/package.js';
import { initBackend } from '../../src/worker/tf/backend.js';
import type { SharedDataset } from '../../src/worker/train/dataset.js';
import { checkTextEncoder, warmStartFromPackage } from '../../src/worker/train/warm-start.js';

// What a warm start refuses, before any weight is read: another architecture, a package without
// its encoder, a model conditioned on another text encoder. (The weights themselves:
// import-cvae.test.ts; through the CLI and the job API: long-text-cli and jobs-e2e.)
const spec = cocoSpec(64, 'concat');
const encoder = { id: 'clip-vit-b32-text', version: 'a', sha256: 'a'.repeat(64) };
const root = mkdtempSync(join(tmpdir(), 'warm-start-'));
const pkg = join(root, 'pkg');

beforeAll(async () => {
  await initBackend('wasm', () => {});
  await writeModelPackage(pkg, {
    spec,
    values: initialValues(describeCvae(spec).params, 1),
    version: 'v1',
    textEncoder: encoder,
    training: { architecture: spec.id, config: {}, seed: 1, backend: 'test', epochs: 1 },
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** a copy of the package with its manifest changed */
function variant(name: string, change: (manifest: Record<string, unknown>) => void): string {
  const dir = join(root, name);
  const manifest = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
  change(manifest);
  rmSync(dir, { recursive: true, force: true });
  cpSync(pkg, dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe('warm start refusals', () => {
  it('names the model it starts from and the encoder it was conditioned on', async () => {
    const warm = await warmStartFromPackage(pkg, spec);
    expect(warm.from).toBe('coco-64-concat@v1');
    expect(warm.textEncoder).toEqual({ id: 'clip-vit-b32-text@a', sha256: encoder.sha256 });
    expect(() => checkTextEncoder(warm, encoder, 'remedy')).not.toThrow();
    expect(() => checkTextEncoder(warm, undefined, 'remedy')).not.toThrow();
  });

  it('refuses a model conditioned on another text encoder, ending with the caller’s remedy', async () => {
    const warm = await warmStartFromPackage(pkg, spec);
    expect(() => checkTextEncoder(warm, { ...encoder, version: 'b', sha256: 'b'.repeat(64) }, 'do this')).toThrow(
      /^cannot start from coco-64-concat@v1: it was trained on embeddings of clip-vit-b32-text@a, this run embeds with clip-vit-b32-text@b \(another sha256\); do this$/,
    );
  });

  it('refuses another architecture and a package without its encoder', async () => {
    await expect(warmStartFromPackage(pkg, cocoSpec(64, 'add'))).rejects.toThrow(
      /cannot start from .*: it holds a coco-64-concat model, not coco-64-add/,
    );
    const decoderOnly = variant('decoder-only', (m) => {
      m.files = (m.files as { role: string }[]).filter((f) => f.role !== 'encoder');
    });
    await expect(warmStartFromPackage(decoderOnly, spec)).rejects.toThrow(
      /the package has no encoder; training on needs both the encoder and the decoder/,
    );
  });
});

describe('warm start from a related architecture (--init-matching)', () => {
  it('takes the tensors both specs share by name and shape; the rest, and their batch norms, stay fresh', async () => {
    const target = cocoSpec(128, 'concat');
    const params = describeCvae(target).params;
    const fresh = initialValues(params, 2);
    const rng = createRng(4);
    const [h, w, c] = describeCvae(target).imageShape;
    const data: SharedDataset = {
      count: 4,
      imageShape: [h, w, c],
      pixels: Uint8Array.from({ length: 4 * h * w * c }, () => Math.floor(rng.next() * 256)),
      conditions: Float32Array.from({ length: 4 * 512 }, () => rng.normal()),
      conditionSize: 512,
      labels: new Uint8Array(),
    };
    const logs: string[] = [];
    const warm = await warmStartFromPackage(pkg, target, { matching: true, log: (l) => logs.push(l) });
    const values = warm.values(fresh, data);
    const source = initialValues(describeCvae(spec).params, 1);
    // the 64 px model's encoder convolutions, condition projections, dense seed and first two upsampling convolutions
    const shared = [
      'encoder.0.kernel',
      'encoder.2.kernel',
      'decoder.condition.kernel',
      'decoder.0.kernel',
      'decoder.3.kernel',
      'decoder.5.bias',
    ];
    // (read back from the package's graph: a batch norm folded in, so within its epsilon)
    const near = (a: Float32Array, b: Float32Array) =>
      a.every((x, i) => Math.abs(x - (b[i] as number)) <= 1e-3 * Math.abs(b[i] as number) + 1e-6);
    for (const name of shared)
      expect(near(values[name] as Float32Array, source[name] as Float32Array), name).toBe(true);
    // the 128 px model's own: a fourth encoder convolution, the deeper decoder (both flatten to 8x8x64,
    // so the encoder's heads are shared too)
    for (const name of ['encoder.3.kernel', 'decoder.7.kernel', 'decoder.9.kernel'])
      expect(values[name] === fresh[name], name).toBe(true);
    expect(near(values['encoder.mu.kernel'] as Float32Array, source['encoder.mu.kernel'] as Float32Array)).toBe(true);
    expect(values['decoder.7.bn.gamma'] === fresh['decoder.7.bn.gamma']).toBe(true);
    expect(near(values['decoder.0.bn.gamma'] as Float32Array, fresh['decoder.0.bn.gamma'] as Float32Array)).toBe(false); // calibrated
    expect(logs.join('\n')).toMatch(
      /^from coco-64-concat: \d+ tensors taken \(encoder\.0\.kernel, .*\); the rest start fresh$/,
    );
    await expect(
      warmStartFromPackage(pkg, ARCHITECTURES['fashion-conv'] as CvaeSpec, { matching: true }),
    ).rejects.toThrow(/coco-64-concat is a long-text model, fashion-conv short-text/);
  }, 60_000);
});
