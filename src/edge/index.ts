/**
 * The Cloudflare Workers entry: the public API (src/shared/api) wired to Workers bindings.
 * The app is built once per isolate, so model sessions and manifests stay cached between requests.
 */
import pkg from '../../package.json';
import { buildEdgeApp, type Env } from './config.js';

let app: ReturnType<typeof buildEdgeApp> | undefined;

export default {
  fetch(request, env, ctx) {
    app ??= buildEdgeApp(env, pkg.version);
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
