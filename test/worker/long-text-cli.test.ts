import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../src/shared/api/app.js';
import { ModelCache } from '../../src/shared/generation/model-cache.js';
import { RegistryReader } from '../../src/shared/registry/reader.js';
import { nodeRuntime } from '../../src/worker/onnx/runtime.js';
import { folderSource } from '../../src/worker/registry/folder-source.js';
import { cvae } from '../helpers/cvae-cli.js';

// Long-text models through the CLI's doors, on a tiny synthetic set and the tiny CLIP graph:
// train (progress, checkpoints, --resume), evaluate, export; the manifest names its text encoder
// by id@version and sha256, and serving refuses an encoder with other weights.
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
let data: string;
let clip: string;
let run: string;
let pkg: string;

beforeAll(async () => {
  data = join(tmp('lt-data-'), 'synth');
  clip = join(tmp('lt-clip-'), 'clip');
  run = join(tmp('lt-run-'), 'coco-64-add');
  pkg = join(tmp('lt-pkg-'), 'coco-64-add');
  expect((await cvae('datasets', 'synth-coco', '--out', data, '--images', '30')).code).toBe(0);
  expect((await cvae('clip', 'generate', '--config', 'tiny', '--out', clip)).code).toBe(0);
}, 120_000);

describe('cvae train / evaluate / export for a COCO architecture', () => {
  it('trains with a progress bar and checkpoints, resumes, and refuses other data on resume', async () => {
    const first = await cvae('train', 'coco-64-add', '--data', data, '--clip', clip, '--epochs', '1', '--out', run);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/\(image, caption\) pairs from 27 images/);
    expect(first.stderr).toMatch(/coco-64-add epoch 1: loss/);
    // the long-text defaults apply: batch 64, β 20 (not Fashion's 128 and 1)
    const meta = JSON.parse(readFileSync(join(run, 'checkpoint.json'), 'utf8')) as {
      epoch: number;
      config: { batchSize: number; klWeight: number; data: { name: string; textEncoder: { version: string } } };
    };
    expect(meta.config).toMatchObject({ batchSize: 64, klWeight: 20, data: { name: 'coco' } });
    expect(meta.config.data.textEncoder.version).toBe('random-tiny-s1');
    const again = await cvae(
      'train',
      'coco-64-add',
      '--data',
      data,
      '--clip',
      clip,
      '--epochs',
      '2',
      '--out',
      run,
      '--resume',
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming after epoch 1/);
    const other = await cvae(
      'train',
      'coco-64-add',
      '--data',
      data,
      '--fraction',
      '0.5',
      '--clip',
      clip,
      '--epochs',
      '3',
      '--out',
      run,
      '--resume',
    );
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/cannot resume/);
  }, 240_000);

  it('refuses a dataset of the other task', async () => {
    const r = await cvae('train', 'fashion-fc', '--data', data, '--epochs', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/trains on Fashion-MNIST/);
    const unknown = await cvae('train', 'coco-512-concat');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/choose one of: .*coco-256-concat/);
  });

  it('evaluates and exports on the data and encoder the checkpoint recorded; serving checks the encoder', async () => {
    const scored = await cvae('evaluate', 'coco-64-add', '--from', run);
    expect(scored.code, scored.stderr).toBe(0);
    expect(JSON.parse(scored.stdout)).toMatchObject({ model: 'coco-64-add', epochs: 2, count: 3 });

    const exported = await cvae(
      'export',
      'coco-64-add',
      '--from',
      run,
      '--out',
      pkg,
      '--version',
      't1',
      '--weights',
      'float16',
    );
    expect(exported.code, exported.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
    const clipManifest = JSON.parse(readFileSync(join(clip, 'manifest.json'), 'utf8'));
    const encoderFile = clipManifest.files.find((f: { role: string }) => f.role === 'text-encoder');
    expect(manifest).toMatchObject({
      task: 'long-text',
      image: { width: 64, channels: 3 },
      textEncoder: 'clip-vit-b32-text@random-tiny-s1',
      textEncoderSha256: encoderFile.sha256,
      metrics: { fidExtractor: 'random-cnn-64' },
    });

    // training goes on from the exported package (its weights unfolded, a fresh optimiser)
    const warm = join(tmp('lt-warm-'), 'coco-64-add');
    const onward = await cvae(
      'train',
      'coco-64-add',
      '--data',
      data,
      '--clip',
      clip,
      '--epochs',
      '1',
      '--out',
      warm,
      '--init-from',
      pkg,
    );
    expect(onward.code, onward.stderr).toBe(0);
    expect(onward.stderr).toContain("starting from coco-64-add@t1's weights");
    type Meta = { config: { initFrom?: string }; history: { loss: number }[] };
    const warmMeta = JSON.parse(readFileSync(join(warm, 'checkpoint.json'), 'utf8')) as Meta;
    const coldMeta = JSON.parse(readFileSync(join(run, 'checkpoint.json'), 'utf8')) as Meta;
    expect(warmMeta.config.initFrom).toBe('coco-64-add@t1');
    // its first epoch starts where the exported model was, not from random weights
    expect(warmMeta.history[0]?.loss).toBeLessThan((coldMeta.history[0]?.loss as number) * 0.8);
    const wrong = await cvae(
      'train',
      'coco-64-concat',
      '--data',
      data,
      '--clip',
      clip,
      '--epochs',
      '1',
      '--out',
      tmp('lt-x-'),
      '--init-from',
      pkg,
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('it holds a coco-64-add model, not coco-64-concat');

    // caption following of the exported package, with the encoder it names
    const following = await cvae('experiment', 'caption-following', pkg, '--clip', clip, '--samples', '1');
    expect(following.code, following.stderr).toBe(0);
    expect(following.stdout).toMatch(
      /^coco-64-add@t1: background \d+\.\d%, position \d+\.\d%, colour \d+\.\d%, shape \d+\.\d% \(54 images of 54 probes\)$/m,
    );
    // and colour by colour: nine probe images a colour at one sample each
    expect(following.stderr).toMatch(
      /^ {2}magenta: \d\/9( \(read as .+\))?(; object RGB \d\.\d\d \d\.\d\d \d\.\d\d)?$/m,
    );

    // cvae generate draws a caption with the package and the encoder it names, 64 px cells shown at 2x
    const grid = join(tmp('lt-gen-'), 'grid.png');
    const drawn = await cvae(
      'generate',
      'A large red circle at the top left.',
      '--model',
      pkg,
      '--clip',
      clip,
      '--n',
      '2',
      '--out',
      grid,
    );
    expect(drawn.code, drawn.stderr).toBe(0);
    expect(JSON.parse(drawn.stdout)).toMatchObject({
      model: 'coco-64-add@t1',
      condition: { type: 'text' },
      seeds: [1, 2],
    });
    const meta = await sharp(grid).metadata();
    expect([meta.width, meta.height]).toEqual([(2 * 64 + 3 * 2) * 2, (64 + 2 * 2) * 2]);

    // a registry holding the model and its encoder generates; one whose encoder has other weights refuses
    const registry = tmp('lt-reg-');
    cpSync(pkg, join(registry, 'coco-64-add'), { recursive: true });
    cpSync(clip, join(registry, 'clip-vit-b32-text'), { recursive: true });
    const api = async () =>
      createApi({
        models: new ModelCache(new RegistryReader(await folderSource(registry)), nodeRuntime),
        defaultModels: { 64: 'coco-64-add' },
        defaultSize: 64,
        runtime: 'test',
        codeVersion: 'test',
      });
    const generate = async () =>
      (await api()).request('/v1/images/generations', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'A red circle on a black background.', size: 64, seed: 1 }),
      });
    expect((await generate()).status).toBe(200);
    const path = join(registry, 'coco-64-add', 'manifest.json');
    writeFileSync(path, JSON.stringify({ ...manifest, textEncoderSha256: 'f'.repeat(64) }));
    const refused = await generate();
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('text_encoder_mismatch');
  }, 240_000);
});
