import type { Context } from 'hono';
import { errorResponse } from './errors.js';

/**
 * `/v1/models/<owner>/<name>/…` → `/v1/models/<owner>%2F<name>/…`, so a namespaced id is one path
 * parameter (decoded back by Hono) whether or not the client escaped its slash. A second segment
 * that is a route word ("versions", "promote") belongs to a system model; no model is named so.
 */
const MODEL_PATH = /^\/v1\/models\/([^/]+)\/([^/]+)(\/.*)?$/;
const ROUTE_WORDS = new Set(['versions', 'promote']);

export function namespacedModelPath(path: string): string {
  const m = MODEL_PATH.exec(path);
  if (!m || ROUTE_WORDS.has(m[2] as string)) return path;
  return `/v1/models/${m[1]}%2F${m[2]}${m[3] ?? ''}`;
}

/** Route templates ('/v1/models/:id') as regular expressions over a request path. */
const templateRegex = (path: string) =>
  new RegExp(
    `^${path
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/:[A-Za-z0-9_]+/g, '[^/]+')
      .replace(/\*$/, '.*')}$`,
  );

/**
 * For a path the app knows under other methods: 405 with `Allow` (RFC 9110 §15.5.6); undefined
 * for paths it does not know at all (a 404).
 */
export function methodNotAllowed(
  app: { routes: { method: string; path: string }[] },
  c: Context,
): Response | undefined {
  const path = namespacedModelPath(c.req.path);
  const allowed = new Set<string>();
  for (const route of app.routes) {
    if (route.method === 'ALL' || route.path.endsWith('*')) continue;
    if (templateRegex(route.path).test(path)) allowed.add(route.method);
  }
  if (allowed.size === 0) return undefined;
  if (allowed.has('GET')) allowed.add('HEAD');
  allowed.add('OPTIONS');
  const allow = [...allowed].sort().join(', ');
  c.header('allow', allow);
  return errorResponse(c, 'method_not_allowed', `${c.req.method.slice(0, 16)} is not allowed here; use ${allow}`);
}
