import { CvaeError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import type { BlobSource } from './blob-source.js';
import { latestKey } from './layout.js';
import { movedAlias, RegistryReader } from './reader.js';

/**
 * Moves a model's `latest` alias to an existing version and records the move in the alias'
 * history: publishing (the worker) and rollback (`cvae models promote`, the promote route) alike.
 */
export async function moveLatest(source: BlobSource, id: string, version: string, by: string): Promise<Manifest> {
  if (!source.put) throw new CvaeError('registry_read_only', 'This deployment cannot write to the registry.');
  const reader = new RegistryReader(source);
  const manifest = await reader.manifest(id, version);
  const alias = movedAlias(await reader.alias(id), manifest.version, by);
  await source.put(latestKey(id), new TextEncoder().encode(JSON.stringify(alias)), 'application/json');
  return manifest;
}
