import type { Context } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import {
  anonymous,
  type Caller,
  clientAddress,
  type Identify,
  type RateLimits,
  tooManyRequests,
} from '../shared/api/access.js';
import { errorResponse } from '../shared/api/errors.js';
import { apiKeyFor } from './jobs/store.js';

/**
 * Who calls the edge: `Authorization: Bearer <API key>` (D1 `api_keys`, one owner each), the admin
 * token (the operator), or nobody. A credential that is sent and wrong is a 401 with
 * WWW-Authenticate, and counts against the client address' failed-authentication limit (429 past it).
 */
export interface EdgeAuthConfig {
  db: D1Database | undefined;
  adminToken: string | undefined;
  limits: RateLimits | undefined;
}

export const bearer = (c: Context) => {
  const h = c.req.header('authorization') ?? '';
  return /^Bearer /i.test(h) ? h.slice(7).trim() : '';
};

/** 401 for a wrong credential; 429 once the address has failed too often. */
export async function refuseCredential(c: Context, limits: RateLimits | undefined, message: string) {
  const limiter = limits?.auth;
  if (limiter && !(await limiter.limit({ key: `ip:${clientAddress(c)}` })).success)
    return tooManyRequests(c, 'failed authentications', limits.retryAfterSeconds);
  return errorResponse(c, 'invalid_token', message);
}

export function edgeIdentify(config: EdgeAuthConfig): Identify {
  return async (c): Promise<Caller | Response> => {
    const token = bearer(c);
    if (!token) return anonymous(c);
    if (config.adminToken && (await timingSafeEqual(token, config.adminToken))) return { admin: true, client: 'admin' };
    const key = config.db && token.length <= 200 ? await apiKeyFor(config.db, token) : undefined;
    if (!key) return refuseCredential(c, config.limits, 'This API key is unknown or revoked.');
    return { owner: key.owner, keyId: key.id, client: `key:${key.id}` };
  };
}
