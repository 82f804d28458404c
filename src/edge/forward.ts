import type { Caller } from '../shared/api/access.js';
import type { ForwardBody, ForwardPath } from '../shared/api/deps.js';
import { errorJson } from '../shared/api/errors.js';
import { CvaeError } from '../shared/errors.js';
import type { EmbedText } from '../shared/generation/generate.js';

/**
 * Sends a request to the GPU server's identical route (`cvae serve`: generations as JSON,
 * variations and interpolations as the same multipart form) and streams its answer back. The edge never waits longer than `timeoutMs` for the response to start: a worker
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
  return async (
    path: ForwardPath,
    body: ForwardBody,
    accept: string | undefined,
    caller?: Caller,
  ): Promise<Response> => {
    if (!config.url) {
      return jsonError(503, 'gpu_unavailable', 'This request needs the GPU server, and none is configured here.', {
        'retry-after': retryAfter,
      });
    }
    // a form's multipart boundary is set by fetch itself
    const headers: Record<string, string> = 'json' in body ? { 'content-type': 'application/json' } : {};
    if (accept) headers.accept = accept;
    if (config.secret) headers.authorization = `Bearer ${config.secret}`;
    // who asked: the GPU server applies the same access rules and rate limits (it trusts these
    // headers only with the shared secret)
    if (caller) {
      headers['x-cvae-client'] = caller.client;
      if (caller.owner) headers['x-cvae-owner'] = caller.owner;
      if (caller.admin) headers['x-cvae-admin'] = '1';
    }
    let response: Response;
    try {
      response = await fetcher(new URL(path, config.url).toString(), {
        method: 'POST',
        headers,
        body: 'json' in body ? JSON.stringify(body.json) : body.form,
        signal: AbortSignal.timeout(config.timeoutMs),
      });
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        return jsonError(504, 'gpu_timeout', `The GPU server did not answer within ${config.timeoutMs} ms.`);
      }
      return jsonError(503, 'gpu_unavailable', 'The GPU server cannot be reached; try again shortly.', {
        'retry-after': retryAfter,
      });
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      console.error(`GPU server refused the edge's secret (HTTP ${response.status})`);
      return jsonError(503, 'gpu_unavailable', 'The GPU server is misconfigured; try again later.', {
        'retry-after': retryAfter,
      });
    }
    const out = new Headers(response.headers);
    out.set('x-cvae-served-by', 'gpu-server');
    return new Response(response.body, { status: response.status, headers: out });
  };
}

/**
 * Long-text prompts embedded by the GPU server's /v1/embeddings (TEXT_ENCODER=gpu): for when the
 * full CLIP text encoder does not fit an isolate's memory next to the decoder.
 */
export function gpuEmbedder(config: GpuConfig, fetcher: typeof fetch = (input, init) => fetch(input, init)): EmbedText {
  return async (model, text, _expectedSha256) => {
    if (!config.url) throw new CvaeError('gpu_unavailable', 'Text embedding needs the GPU server; none is configured.');
    let response: Response;
    try {
      response = await fetcher(new URL('/v1/embeddings', config.url).toString(), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(config.secret ? { authorization: `Bearer ${config.secret}` } : {}),
        },
        body: JSON.stringify({ input: text, model }),
        signal: AbortSignal.timeout(config.timeoutMs),
      });
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new CvaeError('gpu_timeout', `The GPU server did not embed the text within ${config.timeoutMs} ms.`);
      }
      throw new CvaeError('gpu_unavailable', 'The GPU server cannot be reached to embed the text; try again shortly.');
    }
    const body = (await response.json()) as {
      model?: { id: string; version: string };
      data?: { embedding: number[] }[];
      sentences?: string[];
      error?: { code: string; message: string };
    };
    if (!response.ok || !body.data?.[0]) {
      // the worker's own 4xx (e.g. empty text) is the caller's problem, anything else ours
      if (response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403) {
        throw new CvaeError(body.error?.code ?? 'invalid_request', body.error?.message ?? 'The text was refused.');
      }
      throw new CvaeError('gpu_unavailable', `The GPU server could not embed the text (HTTP ${response.status}).`);
    }
    // a pinned encoder must come back as that version (versions are immutable, so that is the weights)
    const pinned = model.includes('@') ? model.slice(model.indexOf('@') + 1) : undefined;
    if (pinned && body.model && body.model.version !== pinned) {
      throw new CvaeError(
        'text_encoder_mismatch',
        `the GPU server embedded with ${body.model.id}@${body.model.version}, not ${model}`,
      );
    }
    return { embedding: Float32Array.from(body.data[0].embedding), sentences: body.sentences ?? [], truncated: 0 };
  };
}
