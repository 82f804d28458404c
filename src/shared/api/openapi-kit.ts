import { z } from 'zod';
import { errorBodySchema } from './schemas.js';

/** An OpenAPI response with a JSON body (routes in src/edge use it too). */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});
/** The errors every public route may answer. */
export const errorResponses = {
  400: json(errorBodySchema, 'Bad input: the code says what (invalid_request, prompt_no_class, …)'),
  401: json(errorBodySchema, 'An API key was sent and is unknown or revoked (WWW-Authenticate: Bearer)'),
  404: json(errorBodySchema, 'Unknown model, version or file, or a private model of another owner'),
  429: json(errorBodySchema, 'Rate limited (Retry-After says when to retry)'),
};

/** A binary response body of one media type. */
export const binary = (type: string) => ({ [type]: { schema: z.string().meta({ format: 'binary' }) } });
/** The errors of a route that takes uploads, on top of the usual ones. */
export const uploadErrors = {
  ...errorResponses,
  413: json(errorBodySchema, 'An upload is larger than 4 MiB'),
  415: json(errorBodySchema, 'An upload is not a PNG or JPEG'),
};
