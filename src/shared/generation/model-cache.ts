import { tokenizerFromVocabGz } from '../clip/tokenizer-loader.js';
import { CvaeError } from '../errors.js';
import { sha256Hex } from '../hash.js';
import type { Manifest } from '../manifest.js';
import { parseModelRef } from '../model-id.js';
import type { RegistryReader } from '../registry/reader.js';
import { ClipTextEncoder } from '../text/text-encoder.js';
import { TokenRowStore } from '../text/token-rows.js';
import { compactRunner, type EncodeTokens, fullGraphRunner } from '../text/token-runners.js';
import { type OnnxRuntime, SerialSession, type SessionOptions } from './runtime.js';

/**
 * Which form of a text-encoder package to run: the full graph (CLIP's signature; the GPU server,
 * the CLI), or the compact one (the edge isolate; src/worker/clip/text-graph.ts), refused with
 * text_encoder_unavailable when the package has none or its weights exceed `maxBytes`.
 */
export type TextEncoderForm = { form: 'full' } | { form: 'compact'; maxBytes: number };

export interface ModelCacheOptions {
  /** how long the `latest` alias is trusted before it is read again */
  latestTtlMs?: number;
  now?: () => number;
  textEncoder?: TextEncoderForm;
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

  private readonly latestTtlMs: number;
  private readonly now: () => number;
  readonly textEncoderForm: TextEncoderForm;

  constructor(
    readonly reader: RegistryReader,
    readonly runtime: OnnxRuntime,
    options: ModelCacheOptions = {},
  ) {
    this.latestTtlMs = options.latestTtlMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.textEncoderForm = options.textEncoder ?? { form: 'full' };
  }

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

  /**
   * The session for a file of a model version (e.g. decoder.onnx), made once; with the file its
   * manifest entry names as external data.
   */
  session(
    manifest: Manifest,
    file: string,
    options: Pick<SessionOptions, 'optimization'> = {},
  ): Promise<SerialSession> {
    return this.remember(this.sessions, `${manifest.id}@${manifest.version}/${file}`, async () => {
      const external = manifest.files.find((f) => f.name === file)?.externalData;
      const [bytes, data] = await Promise.all([
        this.checkedBytes(manifest, file),
        external ? this.checkedBytes(manifest, external) : undefined,
      ]);
      return new SerialSession(
        await this.runtime.createSession(bytes, {
          ...options,
          ...(external && data ? { externalData: [{ path: external, data }] } : {}),
        }),
      );
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
      const dim = model.outputs?.[0]?.shape[1];
      const width = typeof dim === 'number' ? dim : 512;
      const [encode, vocabBytes] = await Promise.all([
        this.textEncoderForm.form === 'compact'
          ? this.compactEncoder(manifest, width, this.textEncoderForm.maxBytes)
          : this.fullEncoder(manifest, model, width),
        this.checkedBytes(manifest, vocab.name),
      ]);
      return new ClipTextEncoder(await tokenizerFromVocabGz(vocabBytes), encode, width, 4096);
    });
  }

  private async fullEncoder(manifest: Manifest, model: Manifest['files'][number], dim: number): Promise<EncodeTokens> {
    const session = await this.session(manifest, model.name);
    return fullGraphRunner(session, this.runtime, dim, {
      input: model.inputs?.[0]?.name ?? 'input_ids',
      output: model.outputs?.[0]?.name ?? 'text_embeds',
    });
  }

  /** The compact graph with its token table, read a shard at a time (src/shared/text/token-rows.ts). */
  private async compactEncoder(manifest: Manifest, dim: number, maxBytes: number): Promise<EncodeTokens> {
    const where = `${manifest.id}@${manifest.version}`;
    const graph = manifest.files.find((f) => f.role === 'text-encoder-compact');
    const table = manifest.files.find((f) => f.role === 'token-embeddings');
    const index = manifest.files.find((f) => f.role === 'token-embeddings-index');
    if (!graph || !table?.table || !index) {
      throw new CvaeError(
        'text_encoder_unavailable',
        `${where} has no compact form for the edge (cvae clip compact adds one)`,
      );
    }
    const weights = manifest.files.find((f) => f.name === graph.externalData)?.bytes ?? 0;
    if (graph.bytes + weights > maxBytes) {
      throw new CvaeError(
        'text_encoder_unavailable',
        `${where}'s compact form has ${((graph.bytes + weights) / 2 ** 20).toFixed(1)} MiB of weights, more than the edge's ${(maxBytes / 2 ** 20).toFixed(0)} MiB`,
      );
    }
    const [session, indexBytes] = await Promise.all([
      this.session(manifest, graph.name, { optimization: 'basic' }),
      this.checkedBytes(manifest, index.name),
    ]);
    const rows = new TokenRowStore(
      table.table,
      (offset, length) => this.reader.fileRange(manifest, table.name, offset, length),
      indexBytes,
    );
    return compactRunner(session, this.runtime, rows, dim);
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
