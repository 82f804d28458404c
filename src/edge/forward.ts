import { errorJson } from '../shared/api/errors.js';
import type { GenerationRequest } from '../shared/api/schemas.js';

/**
 * Sends a generation request to the GPU worker's identical route (`cvae serve`) and streams its
 * answer back. The edge never waits longer than `timeoutMs` for the response to start: a worker
 * that cannot be reached is a 503 with Retry-After, a slow one a 504.
 */
export interface GpuConfig {
  url: string | undefined;
  secret: string | undefined;
  timeoutMs: number;
  retryAfterSeconds?: number;
}

const jsonError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(errorJson(code, message)), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

export function gpuForwarder(config: GpuConfig, fetcher: typeof fetch = (input, init) => fetch(input, init)) {
  const retryAfter = String(config.retryAfterSeconds ?? 10);
  return async (request: GenerationRequest, accept: string | undefined): Promise<Response> => {
    if (!config.url) {
      return jsonError(503, 'gpu_unavailable', 'This request needs the GPU worker, and none is configured here.', {
        'retry-after': retryAfter,
      });
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (accept) headers.accept = accept;
    if (config.secret) headers.authorization = `Bearer ${config.secret}`;
    let response: Response;
    try {
      response = await fetcher(new URL('/v1/images/generations', config.url).toString(), {
        method: 'POST',
        headers,
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(config.timeoutMs),
      });
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        return jsonError(504, 'gpu_timeout', `The GPU worker did not answer within ${config.timeoutMs} ms.`);
      }
      return jsonError(503, 'gpu_unavailable', 'The GPU worker cannot be reached; try again shortly.', {
        'retry-after': retryAfter,
      });
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      console.error(`GPU worker refused the edge's secret (HTTP ${response.status})`);
      return jsonError(503, 'gpu_unavailable', 'The GPU worker is misconfigured; try again later.', {
        'retry-after': retryAfter,
      });
    }
    const out = new Headers(response.headers);
    out.set('x-cvae-served-by', 'gpu-worker');
    return new Response(response.body, { status: response.status, headers: out });
  };
}
