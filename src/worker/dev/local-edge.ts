import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Miniflare } from 'miniflare';
import { DEFAULT_LIMITS } from '../../shared/api/access.js';
import { latestKey, MANIFEST_FILE, objectKey } from '../../shared/registry/layout.js';
import { movedAlias } from '../../shared/registry/reader.js';

/**
 * The edge worker exactly as `wrangler deploy` uploads it, run in local workerd (Miniflare): for
 * the benchmark, the browser test and the local stack. Wrangler stays offline (no metrics, no
 * request.cf fetch, no account).
 */
export const OFFLINE_WRANGLER_ENV = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

/** Builds the bundle into `outDir` and returns its module files, the entry module first. */
export function buildEdgeBundle(outDir: string, entry?: string): string[] {
  // `entry` replaces wrangler.toml's main (the benchmark wraps the edge in a loop worker)
  const main = entry ? `${basename(entry).replace(/\.[cm]?[jt]s$/, '')}.js` : 'index.js';
  execFileSync('npx', ['wrangler', 'deploy', ...(entry ? [entry] : []), '--dry-run', '--outdir', outDir], {
    env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
    stdio: 'ignore',
  });
  return readdirSync(outDir)
    .filter((f) => !f.endsWith('.map') && f !== 'README.md')
    .sort((a, b) => Number(b === main) - Number(a === main));
}

export function startLocalEdge(
  bundleDir: string,
  files: string[],
  opts: {
    bindings?: Record<string, string>;
    port?: number;
    /** bind the MODELS bucket (default true) */
    r2?: boolean;
    r2Persist?: string;
    d1?: boolean;
    d1Persist?: string;
    /** per-minute limits of the GENERATE_LIMITER and AUTH_LIMITER bindings (default: wrangler.toml's) */
    limits?: { generate?: number; auth?: number };
  } = {},
): Miniflare {
  const minute = (limit: number) => ({ simple: { limit, period: 60 as const } });
  return new Miniflare({
    // the bundle's modules, listed: ORT's loader has a dynamic import Miniflare cannot follow
    modulesRoot: bundleDir,
    modules: files.map((f) => ({
      type: f.endsWith('.wasm')
        ? ('CompiledWasm' as const)
        : f.endsWith('.onnx')
          ? ('Data' as const)
          : ('ESModule' as const),
      path: join(bundleDir, f),
    })),
    compatibilityDate: '2026-04-20',
    compatibilityFlags: ['nodejs_compat'],
    ...(opts.r2 === false ? {} : { r2Buckets: ['MODELS'] }),
    ...(opts.d1 ? { d1Databases: ['DB'] } : {}),
    ...(opts.d1Persist ? { d1Persist: opts.d1Persist } : {}),
    ...(opts.r2Persist ? { r2Persist: opts.r2Persist } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ratelimits: {
      GENERATE_LIMITER: minute(opts.limits?.generate ?? DEFAULT_LIMITS.generatePerPeriod),
      AUTH_LIMITER: minute(opts.limits?.auth ?? DEFAULT_LIMITS.authFailuresPerPeriod),
    },
    // request logs only where asked for (the stack): tests and benches stay quiet
    bindings: { REQUEST_LOG: 'false', ...(opts.bindings ?? {}) },
  });
}

/**
 * Publishes a package folder into the local edge's R2 bucket, in the registry layout; `skip`
 * leaves out files the edge never reads (the full text-encoder graph when it runs the compact one).
 */
export async function putPackageInR2(
  edge: Miniflare,
  dir: string,
  skip: (name: string) => boolean = () => false,
): Promise<void> {
  const bucket = await edge.getR2Bucket('MODELS');
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as {
    id: string;
    version: string;
    files: { name: string }[];
  };
  for (const f of manifest.files) {
    if (skip(f.name)) continue;
    // a copy with its own ArrayBuffer: Miniflare's proxy cannot send Buffer pool slices
    await bucket.put(objectKey(manifest.id, manifest.version, f.name), new Uint8Array(readFileSync(join(dir, f.name))));
  }
  await bucket.put(objectKey(manifest.id, manifest.version, MANIFEST_FILE), JSON.stringify(manifest));
  await bucket.put(latestKey(manifest.id), JSON.stringify(movedAlias(undefined, manifest.version, 'local edge')));
}
