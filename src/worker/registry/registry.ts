import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CvaeError } from '../../shared/errors.js';
import { isValidModelId, isValidVersion, type Manifest, parseManifest } from '../../shared/manifest.js';
import type { ObjectStore } from './object-store.js';
import { MANIFEST_FILE, sha256, verifyPackage } from './package.js';

/**
 * The model registry on object storage. Bucket layout (the edge reads the same):
 *
 *   models/<id>/<version>/<file>           immutable files (decoder.onnx, encoder.onnx, …)
 *   models/<id>/<version>/manifest.json    written last: the version exists once this does
 *   models/<id>/latest.json                {"version": "…"}: the alias, moved after a push
 *
 * Listing is by prefix: a version is any key ending in /manifest.json.
 */
export const PREFIX = 'models/';

export const objectKey = (id: string, version: string, file: string) => `${PREFIX}${id}/${version}/${file}`;
const latestKey = (id: string) => `${PREFIX}${id}/latest.json`;

function checkId(id: string, version?: string) {
  if (!isValidModelId(id))
    throw new CvaeError('bad_model_id', `'${id}' is not a model id (lowercase letters, digits, dashes)`);
  if (version !== undefined && version !== 'latest' && !isValidVersion(version)) {
    throw new CvaeError('bad_version', `'${version}' is not a version`);
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.onnx': 'application/octet-stream',
  '.json': 'application/json',
  '.gz': 'application/gzip',
};
const contentType = (name: string) => CONTENT_TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';

export interface PushHooks {
  onFile?(name: string, bytes: number): void;
}

/** Publishes a package folder: files first, manifest last, then the latest alias. */
export async function push(
  store: ObjectStore,
  dir: string,
  opts: { setLatest?: boolean } & PushHooks = {},
): Promise<Manifest> {
  const manifest = await verifyPackage(dir);
  checkId(manifest.id, manifest.version);
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
  if (opts.setLatest !== false) {
    const alias = JSON.stringify({ version: manifest.version, updatedAt: new Date().toISOString() });
    await store.put(latestKey(manifest.id), new TextEncoder().encode(alias), 'application/json');
  }
  return manifest;
}

export interface ModelListing {
  id: string;
  versions: string[];
  latest: string | undefined;
}

export async function listModels(store: ObjectStore, id?: string): Promise<ModelListing[]> {
  if (id) checkId(id);
  const keys = await store.list(id ? `${PREFIX}${id}/` : PREFIX);
  const byId = new Map<string, string[]>();
  for (const key of keys) {
    const m = /^models\/([^/]+)\/([^/]+)\/manifest\.json$/.exec(key);
    if (!m) continue;
    const [, modelId, version] = m as unknown as [string, string, string];
    byId.set(modelId, [...(byId.get(modelId) ?? []), version]);
  }
  const out: ModelListing[] = [];
  for (const [modelId, versions] of [...byId.entries()].sort()) {
    out.push({ id: modelId, versions: versions.sort(), latest: await resolveLatest(store, modelId) });
  }
  return out;
}

async function resolveLatest(store: ObjectStore, id: string): Promise<string | undefined> {
  const alias = await store.get(latestKey(id));
  if (!alias) return undefined;
  const parsed = JSON.parse(new TextDecoder().decode(alias)) as { version?: string };
  return parsed.version;
}

export async function getManifest(store: ObjectStore, id: string, version = 'latest'): Promise<Manifest> {
  checkId(id, version);
  const resolved = version === 'latest' ? await resolveLatest(store, id) : version;
  if (!resolved) throw new CvaeError('model_not_found', `no model '${id}' in ${store.label}`);
  const bytes = await store.get(objectKey(id, resolved, MANIFEST_FILE));
  if (!bytes) throw new CvaeError('model_not_found', `no version '${resolved}' of model '${id}' in ${store.label}`);
  return parseManifest(JSON.parse(new TextDecoder().decode(bytes)), `${id}@${resolved}`);
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
