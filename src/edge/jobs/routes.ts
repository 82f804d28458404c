import type { OpenAPIHono } from '@hono/zod-openapi';
import { registerAdminRoutes } from './admin-routes.js';
import type { JobsConfig } from './route-kit.js';
import { registerUserJobRoutes } from './user-routes.js';
import { registerWorkerJobRoutes } from './worker-routes.js';

export type { JobsConfig } from './route-kit.js';

/**
 * Training jobs through the edge, by audience: users (API key) create, list, watch and cancel
 * jobs (user-routes.ts); training workers (worker token) lease them, heartbeat progress, and
 * complete, fail or release them (worker-routes.ts); the operator (admin token) makes API keys
 * (admin-routes.ts). State and the rules in D1 (store.ts).
 */
export function registerJobRoutes(app: OpenAPIHono, config: JobsConfig): void {
  registerUserJobRoutes(app, config);
  registerWorkerJobRoutes(app, config);
  registerAdminRoutes(app, config);
}
