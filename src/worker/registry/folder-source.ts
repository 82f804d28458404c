import { existsSync } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../../shared/manifest.js';
import type { BlobSource } from '../../shared/registry/blob-source.js';
import { MANIFEST_FILE } from '../../shared/registry/layout.js';
import { type ModelPackage, packageSource } from '../../shared/registry/package-source.js';
import { readManifest } from './package.js';

/**
 * Package folders on disk as a registry: `<root>/<id>/manifest.json` (as in the repository's
 * models/) or `<root>/<id>/<version>/manifest.json` (as `cvae models pull` writes; an owner's
 * `<owner>/<name>` id is one folder deeper). Manifests are
 * read once; files are read when asked for.
 */
export async function folderSource(root: string): Promise<BlobSource> {
  const dirs: string[] = [];
  // <id>/, <id>/<version>/, and for an owner's id <owner>/<name>/<version>/: three levels at most
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const sub = join(dir, entry.name);
      if (existsSync(join(sub, MANIFEST_FILE))) dirs.push(sub);
      else if (depth < 3) await walk(sub, depth + 1);
    }
  };
  await walk(root, 1);
  const packages: ModelPackage[] = [];
  for (const dir of dirs) {
    // sizes and sha256 are checked when a file is loaded (ModelCache), not for every folder here
    const manifest = await readManifest(dir).catch((error: Error) => {
      console.warn(`skipping ${dir}: ${error.message}`);
      return undefined;
    });
    if (!manifest) continue;
    packages.push(folderPackage(dir, manifest));
  }
  return packageSource(`folder ${root}`, packages);
}

/** One package folder: its files read when asked for, whole or a range of one. */
export function folderPackage(dir: string, manifest: Manifest): ModelPackage {
  return {
    manifest,
    load: async (name) => (existsSync(join(dir, name)) ? new Uint8Array(await readFile(join(dir, name))) : undefined),
    loadRange: async (name, offset, length) => {
      if (!existsSync(join(dir, name))) return undefined;
      const file = await open(join(dir, name));
      try {
        const out = new Uint8Array(length);
        const { bytesRead } = await file.read(out, 0, length, offset);
        return out.subarray(0, bytesRead);
      } finally {
        await file.close();
      }
    },
  };
}
