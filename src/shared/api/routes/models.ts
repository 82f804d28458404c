import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { CvaeError } from '../../errors.js';
import type { Manifest } from '../../manifest.js';
import { contentType, MANIFEST_FILE } from '../../registry/layout.js';
import { moveLatest } from '../../registry/promote.js';
import { callerOf, canRead, canWrite } from '../access.js';
import { etagMatches } from '../conditional.js';
import type { ApiDeps } from '../deps.js';
import { readableManifest } from '../model-access.js';
import { errorResponses, json } from '../openapi-kit.js';
import { errorBodySchema, modelDetailSchema, modelListSchema } from '../schemas.js';

const modelParam = z
  .string()
  .max(200)
  .meta({
    param: { name: 'id', in: 'path' },
    example: 'fashion-conv',
    description: 'a system model ("fashion-conv") or an owner\'s ("alice/my-fashion"; the slash may stay unescaped)',
  });
const versionParam = z
  .string()
  .max(100)
  .meta({ param: { name: 'version', in: 'path' }, example: 'latest' });

const listRoute = createRoute({
  method: 'get',
  path: '/v1/models',
  summary: 'Models in the registry, with their latest manifest summarised',
  responses: { 200: json(modelListSchema, 'Models') },
});

const detailRoute = createRoute({
  method: 'get',
  path: '/v1/models/{id}',
  summary: 'A model: its versions and the manifest of one (default: latest)',
  request: {
    params: z.object({ id: modelParam }),
    query: z.object({ version: z.string().max(100).optional().meta({ example: 'v1' }) }),
  },
  responses: { 200: json(modelDetailSchema, 'Model'), ...errorResponses },
});

const promoteRoute = createRoute({
  method: 'post',
  path: '/v1/models/{id}/promote',
  summary: "Move a model's latest alias to an existing version (rollback): its owner's key or the admin token",
  request: {
    params: z.object({ id: modelParam }),
    body: {
      content: { 'application/json': { schema: z.strictObject({ version: z.string().min(1).max(100) }) } },
      required: true,
    },
  },
  responses: {
    200: json(modelDetailSchema, 'The model with its new latest'),
    ...errorResponses,
    403: json(errorBodySchema, 'Not your model'),
  },
});

const fileRoute = createRoute({
  method: 'get',
  path: '/v1/models/{id}/versions/{version}/files/{name}',
  summary: 'Download a model file (streamed; ETag and X-Content-SHA256 are the sha256 from the manifest)',
  request: {
    params: z.object({
      id: modelParam,
      version: versionParam,
      name: z
        .string()
        .max(200)
        .meta({ param: { name: 'name', in: 'path' }, example: 'decoder.onnx' }),
    }),
  },
  responses: {
    200: {
      content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } },
      description: 'The file',
    },
    304: { description: 'Not modified (If-None-Match)' },
    ...errorResponses,
  },
});

/** The registry routes: list, detail, promote (rollback) and file downloads, each filtered by who may read. */
export function registerModelRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.openapi(listRoute, async (c) => {
    const caller = callerOf(c);
    const listings = await deps.models.reader.list();
    const data = await Promise.all(
      listings.map(async (l) => {
        const manifest = l.latest ? await deps.models.manifest(l.id, l.latest).catch(() => undefined) : undefined;
        // a model is listed to those who may read its latest version (no latest: the operator only)
        if (manifest ? !canRead(caller, manifest) : !caller.admin) return undefined;
        return {
          id: l.id,
          ...(l.latest ? { latest: l.latest } : {}),
          versions: l.versions,
          ...(manifest ? summary(manifest) : {}),
        };
      }),
    );
    return c.json({ data: data.filter((d) => d !== undefined) }, 200);
  });

  app.openapi(detailRoute, async (c) => {
    const { id } = c.req.valid('param');
    const version = c.req.valid('query').version ?? 'latest';
    const manifest = await readableManifest(deps, callerOf(c), id, version);
    return c.json(await modelDetail(deps, id, manifest), 200);
  });

  app.openapi(promoteRoute, async (c) => {
    const { id } = c.req.valid('param');
    const caller = callerOf(c);
    // the same 404 as for a model that does not exist, unless the caller may see it
    await readableManifest(deps, caller, id, 'latest').catch(async (error) => {
      if (!caller.admin) throw error;
    });
    if (!canWrite(caller, id)) {
      throw new CvaeError(
        caller.owner ? 'forbidden' : 'unauthorized',
        caller.owner
          ? `Only the owner of '${id}' (or the operator) moves its latest alias.`
          : "Promoting needs the owner's API key: Authorization: Bearer <key>.",
      );
    }
    const by = caller.admin ? 'admin' : `key ${caller.keyId}`;
    const manifest = await moveLatest(deps.models.reader.source, id, c.req.valid('json').version, by);
    deps.models.forgetLatest(id);
    return c.json(await modelDetail(deps, id, manifest), 200);
  });

  app.openapi(fileRoute, async (c) => {
    const { id, version, name } = c.req.valid('param');
    const manifest = await readableManifest(deps, callerOf(c), id, version);
    if (name === MANIFEST_FILE) {
      return c.json(manifest as unknown as Record<string, unknown>, 200) as never;
    }
    const { object, sha256 } = await deps.models.reader.file(manifest, name);
    const etag = `"${sha256}"`;
    const headers: Record<string, string> = {
      etag,
      'x-content-sha256': sha256,
      // a private model's files are never kept by shared caches
      'cache-control': `${canRead({ client: '' }, manifest) ? 'public' : 'private'}, ${version === 'latest' ? 'max-age=60' : 'max-age=31536000, immutable'}`,
      'content-disposition': `attachment; filename="${manifest.id}-${manifest.version}-${name}"`,
    };
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers) as never;
    return c.body(object.body(), 200, {
      ...headers,
      'content-type': contentType(name),
      'content-length': String(object.size),
    }) as never;
  });
}

async function modelDetail(deps: ApiDeps, id: string, manifest: Manifest) {
  const [listing] = await deps.models.reader.list(id);
  const alias = await deps.models.reader.alias(id);
  return {
    id,
    ...(alias ? { latest: alias.version } : {}),
    versions: listing?.versions ?? [manifest.version],
    ...(alias ? { history: alias.history } : {}),
    manifest: manifest as unknown as Record<string, unknown>,
  };
}

function summary(m: Manifest) {
  return {
    task: m.task,
    description: m.description,
    ...(m.image ? { image: m.image } : {}),
    serving: m.serving,
    ...(m.metrics ? { metrics: m.metrics as Record<string, unknown> } : {}),
  };
}
