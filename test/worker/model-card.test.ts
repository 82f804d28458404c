import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cocoSpec } from '../../src/shared/arch/coco.js';
import { fashionConv } from '../../src/shared/arch/fashion.js';
import { describeCvae } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { initialValues } from '../../src/worker/model/weights.js';
import { verifyPackage, writeModelPackage } from '../../src/worker/registry/package.js';

// Every exported package carries a README.md made from its manifest, and its JavaScript example
// runs as written against the package's own decoder.
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function packageOf(spec: CvaeSpec) {
  const dir = mkdtempSync(join(tmpdir(), 'card-'));
  dirs.push(dir);
  const manifest = await writeModelPackage(dir, {
    spec,
    values: initialValues(describeCvae(spec).params, 1),
    version: 'v1',
    metrics: { testImages: 100, mse: 12.5, ssim: 0.8, fid: 3.2, fidExtractor: 'fashion-classifier' },
    command: 'cvae train … && cvae export …',
  });
  return { dir, manifest, card: readFileSync(join(dir, 'README.md'), 'utf8') };
}

function runJsExample(dir: string, card: string): string {
  const js = /```js\n([\s\S]*?)```/.exec(card)?.[1] as string;
  writeFileSync(join(dir, 'example.mjs'), js);
  // the example imports onnxruntime-node as a user's project would have it installed
  symlinkSync(join(__dirname, '../../node_modules'), join(dir, 'node_modules'), 'dir');
  return execFileSync(process.execPath, ['example.mjs'], { cwd: dir }).toString();
}

describe('model cards', () => {
  it('a Fashion package: listed in the manifest, with shapes, labels, metrics, command, license, examples', async () => {
    const { dir, manifest, card } = await packageOf(fashionConv);
    expect(manifest.files.find((f) => f.name === 'README.md')).toMatchObject({ role: 'other' });
    await verifyPackage(dir); // the card's sha256 is in the manifest
    expect(card).toContain(`# ${manifest.id}@v1`);
    expect(card).toMatch(/`z` float32 \[batch, 128\], `label` int64 \[batch\] → `image` float32 \[batch, 1, 28, 28\]/);
    expect(card).toContain('3 Dress');
    expect(card).toContain('FID 3.2000 (features: fashion-classifier)');
    expect(card).toContain('cvae train … && cvae export …');
    expect(card).toMatch(/Fashion-MNIST \(MIT/);
    expect(card).toContain('```python');
    expect(runJsExample(dir, card)).toContain('image 4x1x28x28');
  });

  it('a long-text package: the text encoder to use, and a runnable example', async () => {
    const { dir, card } = await packageOf(cocoSpec(64, 'concat'));
    expect(card).toContain('`text_embedding` float32 [batch, 512]');
    expect(card).toContain('POST /v1/embeddings');
    expect(runJsExample(dir, card)).toContain('image 4x3x64x64');
  });
});
