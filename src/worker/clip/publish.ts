import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
/**
 * Packages a CLIP ViT-B/32 text encoder for the registry, so the edge and the worker fetch it
 * like any model. Checked before anything is written:
 *  - the ONNX model takes `input_ids` int64 [batch, 77] and returns float32 [batch, 512]
 *    (the output named text_embeds, or the only rank-2 output) — it is run once to be sure;
 *  - the tokenizer vocabulary `bpe_simple_vocab_16e6.txt.gz` is a gzip whose first line is the
 *    BPE header, with CLIP's 48,894 merges (49,152 − 256 bytes − 256 byte-ends − 2 specials).
 */
import { CLIP_MODEL_ID } from '../../shared/arch/coco.js';
import { CvaeError } from '../../shared/errors.js';
import { type Manifest, parseManifest, type TensorSignature } from '../../shared/manifest.js';
import { ort } from '../onnx/runtime.js';
import { codeVersion, defaultVersion, MANIFEST_FILE, sha256 } from '../registry/package.js';

export { CLIP_MODEL_ID };
export const CLIP_VOCAB_FILE = 'bpe_simple_vocab_16e6.txt.gz';
export const CLIP_CONTEXT = 77;
export const CLIP_EMBEDDING = 512;
const CLIP_MERGES = 49152 - 256 - 256 - 2;
const MODEL_NAMES = ['text_model.onnx', 'textual.onnx', 'model.onnx', 'text-encoder.onnx'];

export interface ClipSignature {
  input: string;
  output: string;
}

export async function checkClipOnnx(bytes: Uint8Array, where: string): Promise<ClipSignature> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (error) {
    throw new CvaeError('clip_invalid', `${where} is not a loadable ONNX model: ${(error as Error).message}`);
  }
  try {
    const inputs = session.inputMetadata.filter((m) => m.isTensor);
    const input = inputs.find((m) => m.name === 'input_ids') ?? (inputs.length === 1 ? inputs[0] : undefined);
    if (!input?.isTensor || input.type !== 'int64') {
      throw new CvaeError(
        'clip_invalid',
        `${where}: expected an int64 input named input_ids, found ${describe(session.inputMetadata)}`,
      );
    }
    if (inputs.length !== 1)
      throw new CvaeError(
        'clip_invalid',
        `${where}: expected input_ids only, found ${describe(session.inputMetadata)}`,
      );
    const seq = input.shape[1];
    if (input.shape.length !== 2 || (typeof seq === 'number' && seq !== CLIP_CONTEXT)) {
      throw new CvaeError(
        'clip_invalid',
        `${where}: input_ids must be [batch, ${CLIP_CONTEXT}], is [${input.shape.join(', ')}]`,
      );
    }
    const outputs = session.outputMetadata.filter((m) => m.isTensor);
    const output = outputs.find((m) => m.name === 'text_embeds') ?? (outputs.length === 1 ? outputs[0] : undefined);
    if (!output)
      throw new CvaeError(
        'clip_invalid',
        `${where}: expected an output text_embeds [batch, ${CLIP_EMBEDDING}], found ${describe(session.outputMetadata)}`,
      );
    // Run it: symbolic shapes prove nothing about the real output.
    const ids = new BigInt64Array(2 * CLIP_CONTEXT);
    ids[0] = 49406n; // <|startoftext|>
    ids[1] = 49407n; // <|endoftext|>
    ids[CLIP_CONTEXT] = 49406n;
    ids[CLIP_CONTEXT + 1] = 320n;
    ids[CLIP_CONTEXT + 2] = 49407n;
    const result = await session.run({ [input.name]: new ort.Tensor('int64', ids, [2, CLIP_CONTEXT]) });
    const out = result[output.name] as ort.Tensor;
    if (out.type !== 'float32' || out.dims.length !== 2 || out.dims[0] !== 2 || out.dims[1] !== CLIP_EMBEDDING) {
      throw new CvaeError(
        'clip_invalid',
        `${where}: ${output.name} came out ${out.type} [${out.dims.join(', ')}], expected float32 [2, ${CLIP_EMBEDDING}]`,
      );
    }
    return { input: input.name, output: output.name };
  } finally {
    await session.release();
  }
}

function describe(meta: readonly ort.InferenceSession.ValueMetadata[]): string {
  return (
    meta
      .map((m) => (m.isTensor ? `${m.name} ${m.type} [${m.shape.join(', ')}]` : `${m.name} (not a tensor)`))
      .join(', ') || 'nothing'
  );
}

export function checkClipVocab(bytes: Uint8Array, where: string): void {
  let text: string;
  try {
    text = gunzipSync(bytes).toString('utf8');
  } catch {
    throw new CvaeError('clip_invalid', `${where} is not a gzip file`);
  }
  const lines = text.split('\n');
  if (!lines[0]?.startsWith('"bpe_simple_vocab_16e6.txt#version')) {
    throw new CvaeError('clip_invalid', `${where} does not start with CLIP's BPE header`);
  }
  const merges = lines.slice(1).filter((l) => l.includes(' ')).length;
  if (merges < CLIP_MERGES)
    throw new CvaeError('clip_invalid', `${where} has ${merges} merges, CLIP needs ${CLIP_MERGES}`);
}

/** Copies a local folder or downloads `<url>/<file>` for the model and the vocabulary. */
async function gather(
  from: string,
  modelFile: string | undefined,
  into: string,
): Promise<{ model: string; vocab: string }> {
  const model = join(into, 'text-encoder.onnx');
  const vocab = join(into, CLIP_VOCAB_FILE);
  if (/^https?:\/\//.test(from)) {
    const base = from.endsWith('/') ? from : `${from}/`;
    for (const [name, target] of [
      [modelFile ?? 'model.onnx', model],
      [CLIP_VOCAB_FILE, vocab],
    ] as const) {
      const url = new URL(name, base).toString();
      const response = await fetch(url).catch((e: Error) => {
        throw new CvaeError('download_failed', `could not download ${url}: ${e.message}`);
      });
      if (!response.ok) throw new CvaeError('download_failed', `could not download ${url}: HTTP ${response.status}`);
      await writeFile(target, new Uint8Array(await response.arrayBuffer()));
    }
    return { model, vocab };
  }
  if (!existsSync(from)) throw new CvaeError('clip_invalid', `${from} does not exist`);
  const name =
    modelFile ??
    MODEL_NAMES.find((n) => existsSync(join(from, n))) ??
    readdirSync(from).find((n) => n.endsWith('.onnx'));
  if (!name) throw new CvaeError('clip_invalid', `no .onnx model in ${from} (looked for ${MODEL_NAMES.join(', ')})`);
  if (!existsSync(join(from, CLIP_VOCAB_FILE)))
    throw new CvaeError('clip_invalid', `${from} has no ${CLIP_VOCAB_FILE}`);
  await copyFile(join(from, name), model);
  await copyFile(join(from, CLIP_VOCAB_FILE), vocab);
  return { model, vocab };
}

/** Validates the files and writes a package folder (text-encoder.onnx, the vocabulary, manifest.json). */
export async function packageClip(
  from: string,
  opts: { modelFile?: string; version?: string; out?: string; description?: string; command?: string } = {},
): Promise<{ dir: string; manifest: Manifest }> {
  const dir = opts.out ?? (await mkdtemp(join(tmpdir(), 'clip-package-')));
  await mkdir(dir, { recursive: true });
  try {
    const { model, vocab } = await gather(from, opts.modelFile, dir);
    const modelBytes = new Uint8Array(await readFile(model));
    const vocabBytes = new Uint8Array(await readFile(vocab));
    const signature = await checkClipOnnx(modelBytes, `${from} (model)`);
    checkClipVocab(vocabBytes, `${from}/${CLIP_VOCAB_FILE}`);
    const inputs: TensorSignature[] = [{ name: signature.input, type: 'int64', shape: ['batch', CLIP_CONTEXT] }];
    const outputs: TensorSignature[] = [{ name: signature.output, type: 'float32', shape: ['batch', CLIP_EMBEDDING] }];
    const manifest = parseManifest({
      schemaVersion: 1,
      id: CLIP_MODEL_ID,
      version: opts.version ?? defaultVersion(),
      task: 'text-encoder',
      description: opts.description ?? 'CLIP ViT-B/32 text encoder (512-d text embeddings) with its BPE vocabulary',
      files: [
        {
          name: 'text-encoder.onnx',
          role: 'text-encoder',
          bytes: modelBytes.length,
          sha256: sha256(modelBytes),
          inputs,
          outputs,
        },
        { name: CLIP_VOCAB_FILE, role: 'tokenizer', bytes: vocabBytes.length, sha256: sha256(vocabBytes) },
      ],
      codeVersion: codeVersion(),
      createdAt: new Date().toISOString(),
      command: opts.command ?? `cvae clip publish --from ${from}`,
    });
    await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return { dir, manifest };
  } catch (error) {
    if (!opts.out) await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
