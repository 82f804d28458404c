import { CvaeError } from '../errors.js';
import { isValidModelId, isValidVersion, type Manifest, parseManifest } from '../manifest.js';
import type { BlobObject, BlobSource } from './blob-source.js';
import { latestKey, MANIFEST_FILE, objectKey, PREFIX, versionsFromKeys } from './layout.js';

export interface ModelListing {
  id: string;
  versions: string[];
  latest: string | undefined;
}

export function checkModelRef(id: string, version?: string): void {
  if (!isValidModelId(id))
    throw new CvaeError('bad_model_id', `'${id}' is not a model id (lowercase letters, digits, dashes)`);
  if (version !== undefined && version !== 'latest' && !isValidVersion(version)) {
    throw new CvaeError('bad_version', `'${version}' is not a version`);
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
      [...byId.entries()].map(async ([modelId, versions]) => ({
        id: modelId,
        versions,
        latest: await this.latest(modelId),
      })),
    );
  }

  async latest(id: string): Promise<string | undefined> {
    const alias = await this.source.get(latestKey(id));
    if (!alias) return undefined;
    return ((await decodeJson(alias)) as { version?: string }).version;
  }

  /** `version` may be 'latest'; model_not_found when the model or version does not exist. */
  async manifest(id: string, version = 'latest'): Promise<Manifest> {
    checkModelRef(id, version);
    const resolved = version === 'latest' ? await this.latest(id) : version;
    if (!resolved) throw new CvaeError('model_not_found', `no model '${id}' in ${this.source.label}`);
    const object = await this.source.get(objectKey(id, resolved, MANIFEST_FILE));
    if (!object) {
      throw new CvaeError('model_not_found', `no version '${resolved}' of model '${id}' in ${this.source.label}`);
    }
    return parseManifest(await decodeJson(object), `${id}@${resolved}`);
  }

  /** A file the manifest lists; file_not_found for anything else. */
  async file(manifest: Manifest, name: string): Promise<{ object: BlobObject; sha256: string }> {
    const entry = manifest.files.find((f) => f.name === name);
    if (!entry && name !== MANIFEST_FILE) {
      throw new CvaeError(
        'file_not_found',
        `${manifest.id}@${manifest.version} has no file '${name}' (files: ${manifest.files.map((f) => f.name).join(', ')})`,
      );
    }
    const object = await this.source.get(objectKey(manifest.id, manifest.version, name));
    if (!object) {
      throw new CvaeError(
        'file_not_found',
        `${manifest.id}@${manifest.version}/${name} is not in ${this.source.label}`,
      );
    }
    return { object, sha256: entry?.sha256 ?? '' };
  }
}
