import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CvaeError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { BlobSource } from '../../shared/registry/blob-source.js';
import { bytesObject } from '../../shared/registry/blob-source.js';
import { contentType, objectKey } from '../../shared/registry/layout.js';
import { moveLatest } from '../../shared/registry/promote.js';
import { checkModelRef, type ModelListing, RegistryReader } from '../../shared/registry/reader.js';
import type { ObjectStore } from './object-store.js';
import { MANIFEST_FILE, sha256, verifyPackage } from './package.js';

export type { ModelListing };
/**
 * The model registry on object storage, write side and Node conveniences. The bucket layout is
 * src/shared/registry/layout.ts; reading goes through the shared RegistryReader, as at the edge.
 */
export { objectKey };

/** An ObjectStore seen as the read-only BlobSource the shared reader takes. */
export function objectStoreSource(store: ObjectStore): BlobSource {
  return {
    label: store.label,
    async get(key) {
      const bytes = await store.get(key);
      return bytes ? bytesObject(bytes) : undefined;
    },
    list: (prefix) => store.list(prefix),
    ...(store.getRange ? { range: (store.getRange as NonNullable<ObjectStore['getRange']>).bind(store) } : {}),
    put: (key, bytes, type) => store.put(key, bytes, type),
  };
}

export interface PushHooks {
  onFile?(name: string, bytes: number): void;
}

/** Publishes a package folder: files first, manifest last, then the latest alias. */
export async function push(
  store: ObjectStore,
  dir: string,
  opts: { setLatest?: boolean; by?: string } & PushHooks = {},
): Promise<Manifest> {
  const manifest = await verifyPackage(dir);
  checkModelRef(manifest.id, manifest.version);
  if (await store.get(objectKey(manifest.id, manifest.version, MANIFEST_FILE))) {
    throw new CvaeError(
      'version_exists',
      `${manifest.id}@${manifest.version} is already published; versions are immutable, export a new one`,
    );
  }
  for (const f of manifest.files) {
    const bytes = new Uint8Array(await readFile(join(dir, f.name)));
    await store.put(objectKey(manifest.id, manifest.version, f.name), bytes, contentType(f.name));
    opts.onFile?.(f.name, bytes.length);
  }
  const manifestBytes = new Uint8Array(await readFile(join(dir, MANIFEST_FILE)));
  await store.put(objectKey(manifest.id, manifest.version, MANIFEST_FILE), manifestBytes, 'application/json');
  if (opts.setLatest !== false)
    await moveLatest(objectStoreSource(store), manifest.id, manifest.version, opts.by ?? 'push');
  return manifest;
}

/** Rollback (or roll forward): `latest` to a version that exists. */
export async function promote(store: ObjectStore, id: string, version: string, by = 'operator'): Promise<Manifest> {
  return moveLatest(objectStoreSource(store), id, version, by);
}

export async function listModels(store: ObjectStore, id?: string): Promise<ModelListing[]> {
  return new RegistryReader(objectStoreSource(store)).list(id);
}

export async function getAlias(store: ObjectStore, id: string) {
  return new RegistryReader(objectStoreSource(store)).alias(id);
}

export async function getManifest(store: ObjectStore, id: string, version = 'latest'): Promise<Manifest> {
  return new RegistryReader(objectStoreSource(store)).manifest(id, version);
}

/**
 * Downloads a version into `<outRoot>/<id>/<version>/`, verifying each file's size and sha256.
 * Everything lands in a temporary folder first and is renamed into place only when complete and
 * verified, so a corrupted or interrupted pull leaves nothing behind.
 */
export async function pull(
  store: ObjectStore,
  id: string,
  version: string,
  outRoot: string,
): Promise<{ manifest: Manifest; dir: string }> {
  const manifest = await getManifest(store, id, version);
  const dir = join(outRoot, manifest.id, manifest.version);
  if (existsSync(join(dir, MANIFEST_FILE))) return { manifest: await verifyPackage(dir), dir };
  const temp = join(outRoot, `.${manifest.id}-${manifest.version}.partial-${process.pid}`);
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true });
  try {
    for (const f of manifest.files) {
      const bytes = await store.get(objectKey(manifest.id, manifest.version, f.name));
      if (!bytes)
        throw new CvaeError(
          'model_incomplete',
          `${manifest.id}@${manifest.version}: ${f.name} is missing from ${store.label}`,
        );
      const digest = sha256(bytes);
      if (bytes.length !== f.bytes || digest !== f.sha256) {
        throw new CvaeError(
          'checksum_mismatch',
          `${manifest.id}@${manifest.version}/${f.name}: got ${bytes.length} bytes with sha256 ${digest}, the manifest says ${f.bytes} bytes with sha256 ${f.sha256}; refusing the download`,
        );
      }
      await writeFile(join(temp, f.name), bytes);
    }
    await writeFile(join(temp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await mkdir(join(outRoot, manifest.id), { recursive: true });
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  return { manifest, dir };
}
