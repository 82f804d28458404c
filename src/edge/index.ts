/**
 * The Cloudflare Workers entry: the public API (src/shared/api) wired to Workers bindings.
 *
 * Everything a request would otherwise set up on first use is done while the isolate starts:
 * the app (routes, schemas) is built from the module-scope `env`, and ORT is initialised with a
 * session for the bundled model, run once. Cloudflare starts isolates during the TLS handshake and
 * allows WebAssembly and compute (not I/O) at startup, so the first request does not pay for it.
 * Model sessions and manifests stay cached for the isolate's life.
 */
import { env } from 'cloudflare:workers';
import pkg from '../../package.json' with { type: 'json' };
import { buildEdgeApp, type Env } from './config.js';
import { prewarm } from './runtime/ort-web.js';
import { bundledDecoder, bundledDecoderInputs } from './sources/bundled.js';

const config = env as Env;
const app = buildEdgeApp(config, pkg.version);

// No I/O here: only the bundled bytes. A failure is left to the first request that needs ORT to report.
if (config.EDGE_PREWARM !== 'false') {
  await prewarm(bundledDecoder, bundledDecoderInputs).catch((error: unknown) =>
    console.error('edge: ORT prewarm failed', error),
  );
}

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
