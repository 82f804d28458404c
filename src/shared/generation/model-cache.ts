import { tokenizerFromVocabGz } from '../clip/tokenizer-loader.js';
import { CvaeError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import { parseModelRef } from '../model-id.js';
import type { RegistryReader } from '../registry/reader.js';
import { ClipTextEncoder } from '../text/text-encoder.js';
import { type OnnxRuntime, SerialSession } from './runtime.js';

/** Lowercase hex sha256 with Web Crypto (Workers, Node ≥ 20, browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Manifests and ONNX sessions, cached for the life of the isolate (edge) or process (serve).
 * Versions are immutable, so a pinned manifest or session never goes stale; the `latest` alias
 * is re-read after `latestTtlMs`. Every model file is checked against the manifest's sha256
 * before a session is made from it.
 */
export class ModelCache {
  private readonly manifests = new Map<string, Promise<Manifest>>();
  private readonly latest = new Map<string, { version: string; at: number }>();
  private readonly sessions = new Map<string, Promise<SerialSession>>();
  private readonly encoders = new Map<string, Promise<ClipTextEncoder>>();

  constructor(
    readonly reader: RegistryReader,
    readonly runtime: OnnxRuntime,
    private readonly latestTtlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async manifest(id: string, version = 'latest'): Promise<Manifest> {
    let resolved = version;
    if (version === 'latest') {
      const hit = this.latest.get(id);
      if (hit && this.now() - hit.at < this.latestTtlMs) resolved = hit.version;
      else {
        const manifest = await this.reader.manifest(id, 'latest');
        this.latest.set(id, { version: manifest.version, at: this.now() });
        this.manifests.set(`${id}@${manifest.version}`, Promise.resolve(manifest));
        return manifest;
      }
    }
    return this.remember(this.manifests, `${id}@${resolved}`, () => this.reader.manifest(id, resolved));
  }

  /** Re-read `latest` on the next request (after this process moved the alias). */
  forgetLatest(id: string): void {
    this.latest.delete(id);
  }

  /** The session for a file of a model version (e.g. decoder.onnx), made once. */
  session(manifest: Manifest, file: string): Promise<SerialSession> {
    return this.remember(this.sessions, `${manifest.id}@${manifest.version}/${file}`, async () => {
      return new SerialSession(await this.runtime.createSession(await this.checkedBytes(manifest, file)));
    });
  }

  private async checkedBytes(manifest: Manifest, file: string): Promise<Uint8Array> {
    const { object, sha256 } = await this.reader.file(manifest, file);
    const bytes = await object.bytes();
    const actual = await sha256Hex(bytes);
    if (actual !== sha256) {
      throw new CvaeError(
        'model_integrity',
        `${manifest.id}@${manifest.version}/${file} has sha256 ${actual}, the manifest says ${sha256}; not loading it`,
      );
    }
    return bytes;
  }

  /**
   * The text encoder a long-text model names (`manifest.textEncoder`, "<id>@<version>" or a bare
   * id for its latest): its ONNX file and CLIP vocabulary from the registry, sha256-checked, made
   * once. With `expectedSha256` (the model's `textEncoderSha256`) an encoder with other weights is
   * refused: its embeddings would not be the ones the model was trained on.
   */
  async textEncoder(ref: string, expectedSha256?: string): Promise<ClipTextEncoder> {
    const { id, version } = parseModelRef(ref);
    const manifest = await this.manifest(id, version);
    const model = manifest.files.find((f) => f.role === 'text-encoder');
    if (expectedSha256 && model && model.sha256 !== expectedSha256) {
      throw new CvaeError(
        'text_encoder_mismatch',
        `this model was trained with text encoder ${ref} whose weights have sha256 ${expectedSha256.slice(0, 12)}…; the registry's ${manifest.id}@${manifest.version} has ${model.sha256.slice(0, 12)}…`,
      );
    }
    return this.remember(this.encoders, `${manifest.id}@${manifest.version}`, async () => {
      const vocab = manifest.files.find((f) => f.role === 'tokenizer');
      if (!model || !vocab) {
        throw new CvaeError('model_integrity', `${id}@${manifest.version} lacks a text-encoder or tokenizer file`);
      }
      const [session, vocabBytes] = await Promise.all([
        this.session(manifest, model.name),
        this.checkedBytes(manifest, vocab.name),
      ]);
      const signature = {
        input: model.inputs?.[0]?.name ?? 'input_ids',
        output: model.outputs?.[0]?.name ?? 'text_embeds',
      };
      const dim = model.outputs?.[0]?.shape[1];
      return new ClipTextEncoder(
        await tokenizerFromVocabGz(vocabBytes),
        session,
        this.runtime,
        typeof dim === 'number' ? dim : 512,
        4096,
        signature,
      );
    });
  }

  /** Caches the promise; a failure is forgotten so the next request tries again. */
  private remember<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let hit = map.get(key);
    if (!hit) {
      hit = load();
      map.set(key, hit);
      hit.catch(() => map.delete(key));
    }
    return hit;
  }
}
