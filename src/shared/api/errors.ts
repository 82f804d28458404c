import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { CvaeError } from '../errors.js';

/**
 * Every error leaves the API as `{"error":{"code","message"}}`. Input problems are 4xx with the
 * code that says which; only a fault of ours is a 500 (logged, message kept generic).
 */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  invalid_request: 400,
  invalid_json: 400,
  bad_model_id: 400,
  bad_version: 400,
  unsupported_size: 400,
  unsupported_model: 400,
  prompt_no_class: 400,
  prompt_ambiguous: 400,
  prompt_too_long: 400,
  unauthorized: 401,
  invalid_token: 401,
  forbidden: 403,
  model_not_found: 404,
  file_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  rate_limited: 429,
  quota_exceeded: 429,
  forbidden_namespace: 403,
  job_too_large: 400,
  bad_webhook: 400,
  registry_read_only: 501,
  payload_too_large: 413,
  unsupported_media_type: 415,
  job_not_found: 404,
  idempotency_conflict: 409,
  lease_lost: 409,
  model_mismatch: 409,
  model_integrity: 502,
  text_encoder_mismatch: 502,
  text_encoder_unavailable: 503,
  jobs_unavailable: 503,
  gpu_unavailable: 503,
  gpu_timeout: 504,
  urls_unavailable: 501,
  unsupported_image: 415,
  image_too_large: 413,
};

export function statusFor(code: string): ContentfulStatusCode {
  return STATUS_BY_CODE[code] ?? 500;
}

/**
 * OpenAI's error `type` for a status, so its clients' error classes and fields read ours:
 * `{error: {code, message, type, param}}`; `param` names the request field at fault, or null.
 */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 409) return 'conflict_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function errorJson(
  code: string,
  message: string,
  details?: Record<string, unknown>,
  param: string | null = null,
) {
  return {
    error: { code, message, type: errorType(statusFor(code)), param, ...(details ? { details } : {}) },
  };
}

const HEADERS_BY_CODE: Record<string, Record<string, string>> = {
  gpu_unavailable: { 'retry-after': '10' },
  // RFC 6750 §3: a missing credential names the scheme; a wrong one says so
  unauthorized: { 'www-authenticate': 'Bearer realm="cvae"' },
  invalid_token: { 'www-authenticate': 'Bearer realm="cvae", error="invalid_token"' },
};

export function errorResponse(
  c: Context,
  code: string,
  message: string,
  details?: Record<string, unknown>,
  param: string | null = null,
) {
  return c.json(errorJson(code, message, details, param), statusFor(code), HEADERS_BY_CODE[code] ?? {});
}

/** The field a validation error is about: the first issue's path ("n", "input.2"), or null. */
export function issueParam(error: z.ZodError): string | null {
  const issue = error.issues[0];
  if (!issue) return null;
  if (issue.code === 'unrecognized_keys') return issue.keys[0] ?? null;
  return issue.path.length > 0 ? issue.path.join('.') : null;
}

/** zod issues as one readable line: "n: Too big: expected number to be <=16; prompt: Required". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.join('.');
      const message =
        i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}` : i.message;
      return path ? `${path}: ${message}` : message;
    })
    .join('; ');
}

/** Hono's onError: known errors keep their code; anything else is a logged 500. */
export function handleError(error: Error, c: Context) {
  if (error instanceof CvaeError) {
    const { param, ...details } = error.details ?? {};
    return errorResponse(
      c,
      error.code,
      error.message,
      Object.keys(details).length > 0 ? details : undefined,
      typeof param === 'string' ? param : null,
    );
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    if (status === 400 && /JSON/i.test(error.message)) {
      return errorResponse(c, 'invalid_json', 'The request body is not valid JSON.');
    }
    if (status === 415) {
      return errorResponse(c, 'unsupported_media_type', 'Send the body as JSON with Content-Type: application/json.');
    }
    const code = status === 413 ? 'payload_too_large' : status === 401 ? 'unauthorized' : 'invalid_request';
    return c.json(
      { error: { ...errorJson(code, error.message || 'Bad request').error, type: errorType(status) } },
      status,
    );
  }
  console.error('internal error', error);
  return errorResponse(c, 'internal_error', 'Something went wrong on our side; the error was logged.');
}
