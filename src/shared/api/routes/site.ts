import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import { CvaeError } from '../../errors.js';
import { callerOf, identifyCaller } from '../access.js';
import type { ApiDeps } from '../deps.js';
import { errorResponses, json } from '../openapi-kit.js';
import { PLAYGROUND_CSP, PLAYGROUND_CSS, PLAYGROUND_HTML, PLAYGROUND_JS } from '../playground.js';
import { healthSchema } from '../schemas.js';

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness; with ?detail=1 and the admin token, what this process has served since it started',
  request: { query: z.object({ detail: z.enum(['0', '1']).optional() }) },
  responses: { 200: json(healthSchema, 'Alive'), ...errorResponses },
});

/** The playground page and its assets, and /healthz (with ?detail=1, the operator's counters). */
export function registerSiteRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.get('/', (c) =>
    c.html(PLAYGROUND_HTML, 200, {
      'cache-control': 'public, max-age=300',
      'content-security-policy': PLAYGROUND_CSP,
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    }),
  );
  const asset = (body: string, type: string) => (c: Context) =>
    c.body(body, 200, { 'content-type': type, 'cache-control': 'public, max-age=300' });
  app.get('/playground.js', asset(PLAYGROUND_JS, 'text/javascript; charset=utf-8'));
  app.get('/playground.css', asset(PLAYGROUND_CSS, 'text/css; charset=utf-8'));

  app.use('/healthz', async (c, next) =>
    c.req.query('detail') === '1' ? identifyCaller(deps.identify)(c, next) : next(),
  );
  app.openapi(healthRoute, (c) => {
    const alive = { ok: true, runtime: deps.runtime, version: deps.codeVersion };
    if (c.req.valid('query').detail !== '1') return c.json(alive, 200);
    // traffic is the operator's business: counts for the admin token only
    if (!callerOf(c).admin) throw new CvaeError('forbidden', 'detail=1 needs the admin token');
    return c.json({ ...alive, ...(deps.counts ? { counts: deps.counts.snapshot() } : {}) }, 200);
  });
}
