import type { Manifest } from '../manifest.js';
import { type BlobSource, bytesObject } from './blob-source.js';
import { latestKey, MANIFEST_FILE, objectKey } from './layout.js';

/**
 * Model packages (a manifest and a way to read its files) seen as a registry bucket: each package
 * is its version, and the highest version of an id is its `latest`. Used for the model bundled
 * into the edge and for package folders on disk (`cvae serve --models models`).
 */
export interface ModelPackage {
  manifest: Manifest;
  /** the file's bytes, or undefined if this package does not carry it (e.g. encoder at the edge) */
  load(name: string): Promise<Uint8Array | undefined>;
  /** part of a file, where the package can read one without the rest (a folder) */
  loadRange?(name: string, offset: number, length: number): Promise<Uint8Array | undefined>;
}

export function packageSource(label: string, packages: ModelPackage[]): BlobSource {
  const objects = new Map<string, () => Promise<Uint8Array | undefined>>();
  const ranges = new Map<string, (offset: number, length: number) => Promise<Uint8Array | undefined>>();
  const latest = new Map<string, string>();
  for (const p of packages) {
    const { id, version } = p.manifest;
    const manifestBytes = new TextEncoder().encode(JSON.stringify(p.manifest));
    objects.set(objectKey(id, version, MANIFEST_FILE), async () => manifestBytes);
    for (const f of p.manifest.files) {
      const key = objectKey(id, version, f.name);
      objects.set(key, () => p.load(f.name));
      ranges.set(key, (offset, length) =>
        p.loadRange
          ? p.loadRange(f.name, offset, length)
          : p.load(f.name).then((b) => b?.slice(offset, offset + length)),
      );
    }
    const current = latest.get(id);
    if (current === undefined || current.localeCompare(version, 'en', { numeric: true }) < 0) latest.set(id, version);
  }
  for (const [id, version] of latest) {
    const alias = new TextEncoder().encode(JSON.stringify({ version }));
    objects.set(latestKey(id), async () => alias);
  }
  return {
    label,
    async get(key) {
      const bytes = await objects.get(key)?.();
      return bytes ? bytesObject(bytes) : undefined;
    },
    async range(key, offset, length) {
      return ranges.get(key)?.(offset, length);
    },
    async list(prefix) {
      return [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
  };
}
