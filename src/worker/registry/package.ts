import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIP_MODEL_ID } from '../../shared/arch/coco.js';
import { describeCvae } from '../../shared/arch/shapes.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { CvaeError } from '../../shared/errors.js';
import { FASHION_CLASSES } from '../../shared/fashion/classes.js';
import { type Manifest, type ModelFile, parseManifest } from '../../shared/manifest.js';
import { MANIFEST_FILE } from '../../shared/registry/layout.js';
import { CARD_FILE, modelCard } from '../../shared/registry/model-card.js';
import { exportDecoder, exportEncoder } from '../onnx/export-cvae.js';
import type { WeightType } from '../onnx/graph-builder.js';

/**
 * A model package on disk: decoder.onnx, encoder.onnx and manifest.json in one folder — the
 * unit that is pushed to, and pulled from, the registry.
 */
export { MANIFEST_FILE };

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** package.json version plus the git commit, when there is one. */
export function codeVersion(): string {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // not a git checkout (e.g. a container image without .git)
  }
  return `cvae-edge@${process.env.npm_package_version ?? '0.1.0'}+${commit}`;
}

export function defaultVersion(date = new Date()): string {
  return `v${date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

export interface PackageInput {
  spec: CvaeSpec;
  values: Record<string, Float32Array>;
  version: string;
  metrics?: Manifest['metrics'];
  training?: Manifest['training'];
  command?: string;
  /** weight storage in the ONNX files (default float32) */
  weights?: WeightType;
  /** generations draw z ~ N(0, t² I) (Manifest.samplingTemperature) */
  samplingTemperature?: number;
  /** who may read it (default: public for system ids, private in an owner's namespace) */
  visibility?: Manifest['visibility'];
  /** long text: the encoder package the conditions came from */
  textEncoder?: { id: string; version: string; sha256: string };
}

export async function writeModelPackage(dir: string, input: PackageInput): Promise<Manifest> {
  const { spec } = input;
  const info = describeCvae(spec);
  await mkdir(dir, { recursive: true });
  const files: ModelFile[] = [];
  for (const [name, role, graph] of [
    ['decoder.onnx', 'decoder', exportDecoder(spec, input.values, { weights: input.weights ?? 'float32' })],
    ['encoder.onnx', 'encoder', exportEncoder(spec, input.values, { weights: input.weights ?? 'float32' })],
  ] as const) {
    await writeFile(join(dir, name), graph.bytes);
    files.push({
      name,
      role,
      bytes: graph.bytes.length,
      sha256: sha256(graph.bytes),
      inputs: graph.inputs,
      outputs: graph.outputs.map((o) => ({ ...o, type: 'float32' as const })),
    });
  }
  const [height, width, channels] = info.imageShape;
  const manifest = parseManifest({
    schemaVersion: 1,
    id: spec.id,
    version: input.version,
    task: spec.task,
    description: spec.description,
    ...(spec.condition.type === 'class' ? { labels: FASHION_CLASSES.map((c) => ({ ...c })) } : {}),
    image: { height, width, channels },
    latentDim: spec.latentDim,
    ...(input.samplingTemperature === undefined ? {} : { samplingTemperature: input.samplingTemperature }),
    conditioning: spec.decoder.condition.join,
    ...(spec.task === 'long-text'
      ? input.textEncoder
        ? {
            textEncoder: `${input.textEncoder.id}@${input.textEncoder.version}`,
            textEncoderSha256: input.textEncoder.sha256,
          }
        : { textEncoder: CLIP_MODEL_ID }
      : {}),
    ...(input.visibility ? { visibility: input.visibility } : {}),
    serving: height >= 256 ? 'gpu' : 'edge',
    weightType: input.weights ?? 'float32',
    files,
    ...(input.metrics ? { metrics: input.metrics } : {}),
    ...(input.training ? { training: input.training } : {}),
    codeVersion: codeVersion(),
    createdAt: new Date().toISOString(),
    ...(input.command ? { command: input.command } : {}),
  });
  const withCard = await addModelCard(dir, manifest, info.parameterCount);
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(withCard, null, 2)}\n`);
  return withCard;
}

/** Writes the package's README.md (src/shared/registry/model-card.ts) and lists it in the manifest (not yet written). */
export async function addModelCard(dir: string, manifest: Manifest, parameters?: number): Promise<Manifest> {
  // made from the manifest without the card itself: the same bytes every time (the edge remakes
  // the bundled model's card this way)
  const files = manifest.files.filter((f) => f.name !== CARD_FILE);
  const card = new TextEncoder().encode(modelCard({ ...manifest, files }, parameters));
  await writeFile(join(dir, CARD_FILE), card);
  return parseManifest(
    { ...manifest, files: [...files, { name: CARD_FILE, role: 'other', bytes: card.length, sha256: sha256(card) }] },
    join(dir, MANIFEST_FILE),
  );
}

export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new CvaeError('package_invalid', `${dir} has no ${MANIFEST_FILE}`);
  }
  try {
    return parseManifest(JSON.parse(text), join(dir, MANIFEST_FILE));
  } catch (error) {
    throw new CvaeError('package_invalid', (error as Error).message);
  }
}

/** Checks every listed file's size and sha256; throws naming the first file that differs. */
export async function verifyPackage(dir: string): Promise<Manifest> {
  const manifest = await readManifest(dir);
  for (const f of manifest.files) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(join(dir, f.name)));
    } catch {
      throw new CvaeError('package_invalid', `${join(dir, f.name)} is missing`);
    }
    const digest = sha256(bytes);
    if (bytes.length !== f.bytes || digest !== f.sha256) {
      throw new CvaeError(
        'checksum_mismatch',
        `${join(dir, f.name)}: ${bytes.length} bytes with sha256 ${digest}, the manifest says ${f.bytes} bytes with sha256 ${f.sha256}`,
      );
    }
  }
  return manifest;
}
