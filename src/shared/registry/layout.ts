/**
 * The model registry's bucket layout, shared by the writer (worker) and the readers (edge, serve):
 *
 *   models/<id>/<version>/<file>           immutable files (decoder.onnx, encoder.onnx, …)
 *   models/<id>/<version>/manifest.json    written last: the version exists once this does
 *   models/<id>/latest.json                {"version": "…"}: the alias, moved after a push
 *
 * `<id>` is a bare name for system models or `<owner>/<name>` (src/shared/model-id.ts), so a
 * user's model sits one folder deeper. Listing is by prefix: a version is any key ending in
 * /manifest.json.
 */
export const PREFIX = 'models/';
export const MANIFEST_FILE = 'manifest.json';

export const objectKey = (id: string, version: string, file: string) => `${PREFIX}${id}/${version}/${file}`;
export const latestKey = (id: string) => `${PREFIX}${id}/latest.json`;

/** id → versions (sorted) from a key listing; keys that are not manifests are ignored. */
export function versionsFromKeys(keys: Iterable<string>): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const key of keys) {
    const m = /^models\/((?:[^/]+\/)?[^/]+)\/([^/]+)\/manifest\.json$/.exec(key);
    if (!m) continue;
    const [, id, version] = m as unknown as [string, string, string];
    byId.set(id, [...(byId.get(id) ?? []), version]);
  }
  for (const versions of byId.values()) versions.sort();
  return new Map([...byId.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const CONTENT_TYPES: Record<string, string> = {
  '.onnx': 'application/octet-stream',
  '.json': 'application/json',
  '.gz': 'application/gzip',
};
export const contentType = (name: string) =>
  CONTENT_TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
