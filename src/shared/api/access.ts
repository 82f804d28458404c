import type { Context, MiddlewareHandler } from 'hono';
import { isPublic, type Manifest } from '../manifest.js';
import { ownerOf } from '../model-id.js';
import { errorResponse } from './errors.js';

/**
 * Who is calling, and what they may read and spend. The runtime decides who a caller is
 * (`Identify`: D1 API keys at the edge, the edge's forwarded identity in `cvae serve`); the rules
 * over that are here, the same on both.
 */
export interface Caller {
  /** the namespace the caller's API key belongs to; undefined for anonymous callers */
  owner?: string;
  keyId?: string;
  /** the operator (admin token): reads everything, moves any alias */
  admin?: boolean;
  /** the rate-limit key: `key:<id>` with an API key, else `ip:<address>` */
  client: string;
}

/** Returns the caller, or a 401/429 Response for credentials that were sent and are wrong. */
export type Identify = (c: Context) => Promise<Caller | Response>;

/** The shape of the Workers Rate Limiting binding; `cvae serve` implements it in process. */
export interface RateLimiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

export interface RateLimits {
  /** image generations and embeddings, per client */
  generate?: RateLimiter;
  /** failed authentications, per client address */
  auth?: RateLimiter;
  /** what Retry-After says on a 429 (the limiter's period) */
  retryAfterSeconds: number;
}

/**
 * The limits both runtimes apply unless configured otherwise (wrangler.toml's [[ratelimits]]
 * repeat them: the Workers binding takes its numbers from there).
 */
export const DEFAULT_LIMITS = { generatePerPeriod: 120, authFailuresPerPeriod: 20, periodSeconds: 60 } as const;

type CallerVars = { Variables: { caller: Caller } };

export const anonymous = (c: Context): Caller => ({ client: `ip:${clientAddress(c)}` });

/** The client's address as the platform reports it (Cloudflare's header; `cvae serve` sets it too). */
export function clientAddress(c: Context): string {
  return c.req.header('cf-connecting-ip') ?? c.req.header('x-cvae-client') ?? 'unknown';
}

export function callerOf(c: Context): Caller {
  return (c as Context<CallerVars>).get('caller') ?? anonymous(c);
}

export function setCaller(c: Context, caller: Caller): void {
  (c as Context<CallerVars>).set('caller', caller);
}

/** Reads the caller once per request; wrong credentials end the request here. */
export function identifyCaller(identify: Identify | undefined): MiddlewareHandler {
  return async (c, next) => {
    const caller = identify ? await identify(c) : anonymous(c);
    if (caller instanceof Response) return caller;
    setCaller(c, caller);
    await next();
  };
}

/** A 429 in the API's error shape, with Retry-After. */
export function tooManyRequests(c: Context, what: string, retryAfterSeconds: number) {
  c.header('retry-after', String(retryAfterSeconds));
  return errorResponse(c, 'rate_limited', `Too many ${what}; retry after ${retryAfterSeconds} s.`);
}

/** Counts a request against `limiter` under the caller's client key; 429 past the limit. */
export function rateLimit(limits: RateLimits | undefined, kind: 'generate', what: string): MiddlewareHandler {
  return async (c, next) => {
    const limiter = limits?.[kind];
    if (limiter && !(await limiter.limit({ key: callerOf(c).client })).success)
      return tooManyRequests(c, what, limits.retryAfterSeconds);
    await next();
  };
}

/** Public (or system) models for everyone; private ones for their owner and the operator only. */
export function canRead(caller: Caller, manifest: Pick<Manifest, 'id' | 'visibility'>): boolean {
  if (isPublic(manifest) || caller.admin) return true;
  return caller.owner !== undefined && caller.owner === ownerOf(manifest.id);
}

/** Whether the caller may move the model's `latest` alias: its owner, or the operator. */
export function canWrite(caller: Caller, id: string): boolean {
  if (caller.admin) return true;
  const owner = ownerOf(id);
  return owner !== undefined && owner === caller.owner;
}
