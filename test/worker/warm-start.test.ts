import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cocoSpec } from '../../src/shared/arch/coco.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { writeModelPackage } from '../../src/worker/registry/package.js';
import { checkTextEncoder, warmStartFromPackage } from '../../src/worker/train/warm-start.js';

// What a warm start refuses, before any weight is read: another architecture, a package without
// its encoder, a model conditioned on another text encoder. (The weights themselves:
// import-cvae.test.ts; through the CLI and the job API: long-text-cli and jobs-e2e.)
const spec = cocoSpec(64, 'concat');
const encoder = { id: 'clip-vit-b32-text', version: 'a', sha256: 'a'.repeat(64) };
const root = mkdtempSync(join(tmpdir(), 'warm-start-'));
const pkg = join(root, 'pkg');

beforeAll(async () => {
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
