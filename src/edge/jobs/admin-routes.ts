import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { json } from '../../shared/api/openapi-kit.js';
import { CvaeError } from '../../shared/errors.js';
import { OWNER_PATTERN, quote } from '../../shared/model-id.js';
import { jobErrors as errors, idParam, type JobsConfig, requireDb, tokenGuard } from './route-kit.js';
import { createApiKey, revokeApiKey } from './store.js';

/** The operator's routes (the admin token): API keys. */
export function registerAdminRoutes(app: OpenAPIHono, config: JobsConfig): void {
  app.use(
    '/v1/admin/*',
    tokenGuard(() => config.adminToken, 'admin token', config.limits),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/admin/api-keys',
      summary: 'Create an API key (admin token); the key is shown once',
      request: {
        body: {
          content: {
            'application/json': {
              schema: z.strictObject({
                name: z.string().min(1).max(100),
                owner: z
                  .string()
                  .regex(OWNER_PATTERN, 'an owner is lowercase letters, digits and dashes')
                  .optional()
                  .meta({ description: 'namespace of the key (several keys may share one); default: a new one' }),
              }),
            },
          },
          required: true,
        },
      },
      responses: { 201: json(z.object({ id: z.string(), key: z.string(), owner: z.string() }), 'Created'), ...errors },
    }),
    async (c) => {
      const { name, owner } = c.req.valid('json');
      return c.json(await createApiKey(requireDb(config), name, owner), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/admin/api-keys/{id}/revoke',
      summary: 'Revoke an API key (admin token); it is refused from then on',
      request: { params: idParam },
      responses: { 200: json(z.object({ id: z.string(), revoked: z.boolean() }), 'Revoked'), ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (!(await revokeApiKey(requireDb(config), id)))
        throw new CvaeError('not_found', `No active API key ${quote(id)}`);
      return c.json({ id, revoked: true }, 200);
    },
  );
}
