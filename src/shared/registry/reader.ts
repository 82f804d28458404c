import { CvaeError } from '../errors.js';
import { type Manifest, parseManifest } from '../manifest.js';
import { isValidModelId, isValidVersion, MODEL_ID_HINT, quote } from '../model-id.js';
import { type BlobObject, type BlobSource, readRange } from './blob-source.js';
import { latestKey, MANIFEST_FILE, objectKey, PREFIX, versionsFromKeys } from './layout.js';

export interface ModelListing {
  id: string;
  versions: string[];
  latest: string | undefined;
}

export function checkModelRef(id: string, version?: string): void {
  if (!isValidModelId(id)) throw new CvaeError('bad_model_id', `${quote(id)} is not ${MODEL_ID_HINT}`);
  if (version !== undefined && version !== 'latest' && !isValidVersion(version)) {
    throw new CvaeError('bad_version', `${quote(version)} is not a version`);
  }
}

const decodeJson = async (object: BlobObject) => JSON.parse(new TextDecoder().decode(await object.bytes())) as unknown;

/** The registry's read side over any BlobSource (layout in ./layout.ts). */
export class RegistryReader {
  constructor(readonly source: BlobSource) {}

  async list(id?: string): Promise<ModelListing[]> {
    if (id) checkModelRef(id);
    const byId = versionsFromKeys(await this.source.list(id ? `${PREFIX}${id}/` : PREFIX));
    return Promise.all(
      [...byId.entries()]
        .filter(([modelId]) => !id || modelId === id)
        .map(async ([modelId, versions]) => ({
          id: modelId,
          versions,
          latest: await this.latest(modelId),
        })),
    );
  }

  async latest(id: string): Promise<string | undefined> {
    return (await this.alias(id))?.version;
  }

  /** The `latest` alias with its history (newest last), or undefined before the first push. */
  async alias(id: string): Promise<LatestAlias | undefined> {
    const object = await this.source.get(latestKey(id));
    if (!object) return undefined;
    return parseAlias(await decodeJson(object));
  }

  /** `version` may be 'latest'; model_not_found when the model or version does not exist. */
  async manifest(id: string, version = 'latest'): Promise<Manifest> {
    checkModelRef(id, version);
    const resolved = version === 'latest' ? await this.latest(id) : version;
    if (!resolved) throw new CvaeError('model_not_found', `No model '${id}'`);
    const object = await this.source.get(objectKey(id, resolved, MANIFEST_FILE));
    if (!object) {
      throw new CvaeError('model_not_found', `No version '${resolved}' of model '${id}'`);
    }
    return parseManifest(await decodeJson(object), `${id}@${resolved}`);
  }

  /** Bytes [offset, offset + length) of a file the manifest lists (the token table's shards). */
  async fileRange(manifest: Manifest, name: string, offset: number, length: number): Promise<Uint8Array> {
    if (!manifest.files.some((f) => f.name === name)) {
      throw new CvaeError('file_not_found', `${manifest.id}@${manifest.version} has no file ${quote(name)}`);
    }
    const bytes = await readRange(this.source, objectKey(manifest.id, manifest.version, name), offset, length);
    if (!bytes) {
      throw new CvaeError('file_not_found', `${manifest.id}@${manifest.version}/${name} is missing from the registry`);
    }
    return bytes;
  }

  /** A file the manifest lists; file_not_found for anything else. */
  async file(manifest: Manifest, name: string): Promise<{ object: BlobObject; sha256: string }> {
    const entry = manifest.files.find((f) => f.name === name);
    if (!entry && name !== MANIFEST_FILE) {
      throw new CvaeError(
        'file_not_found',
        `${manifest.id}@${manifest.version} has no file ${quote(name)} (files: ${manifest.files.map((f) => f.name).join(', ')})`,
      );
    }
    const object = await this.source.get(objectKey(manifest.id, manifest.version, name));
    if (!object) {
      throw new CvaeError('file_not_found', `${manifest.id}@${manifest.version}/${name} is missing from the registry`);
    }
    return { object, sha256: entry?.sha256 ?? '' };
  }
}

/** `models/<id>/latest.json`: where `latest` points, and every move of it (capped, newest last). */
export interface LatestAlias {
  version: string;
  updatedAt?: string;
  history: { version: string; at: string; by?: string }[];
}

export function parseAlias(json: unknown): LatestAlias {
  const a = (json ?? {}) as Partial<LatestAlias>;
  const version = String(a.version ?? '');
  const history = Array.isArray(a.history) ? a.history : [{ version, at: a.updatedAt ?? '' }];
  return { version, ...(a.updatedAt ? { updatedAt: a.updatedAt } : {}), history };
}

export const ALIAS_HISTORY_LIMIT = 50;

/** The alias after moving `latest` to `version` (by whom, for the record). */
export function movedAlias(previous: LatestAlias | undefined, version: string, by: string, now = new Date()) {
  const at = now.toISOString();
  const history = [...(previous?.history ?? []), { version, at, by }].slice(-ALIAS_HISTORY_LIMIT);
  return { version, updatedAt: at, history } satisfies LatestAlias;
}
