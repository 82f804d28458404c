import type { EmbedText } from '../generation/generate.js';
import type { ModelCache } from '../generation/model-cache.js';
import type { Caller, Identify, RateLimits } from './access.js';
import type { RequestCounts } from './request-counts.js';
import type { RequestLog } from './request-log.js';
import type { GenerationRequest } from './schemas.js';

/** The GPU server's routes the edge forwards to: the same paths, the same bodies. */
export type ForwardPath = '/v1/images/generations' | '/v1/images/variations' | '/v1/images/interpolations';
export type ForwardBody = { json: GenerationRequest } | { form: FormData };

/**
 * The public HTTP API as one Hono app, built from injected parts so that it runs unchanged in
 * Workers (src/edge: onnxruntime-web, R2/S3/bundled models, forwarding to the GPU server) and in
 * Node (`cvae serve`: onnxruntime-node, generates every size itself).
 */
export interface ApiDeps {
  models: ModelCache;
  /** default model id per image size; `defaultSize` picks when the request names neither */
  defaultModels: Record<number, string>;
  defaultSize: number;
  /** the size a prompt routed to long text is drawn at when it names no size (default 64) */
  longTextSize?: number;
  /**
   * Set at the edge: requests for sizes ≥ `gpuMinSize`, or for models whose manifest says
   * `serving: "gpu"`, go to the GPU server through this.
   */
  forward?: (path: ForwardPath, body: ForwardBody, accept: string | undefined, caller: Caller) => Promise<Response>;
  gpuMinSize?: number;
  /** e.g. "workerd + onnxruntime-web (wasm)" */
  runtime: string;
  codeVersion: string;
  /** how long text becomes an embedding; default: the text encoder from the registry, here */
  embed?: EmbedText;
  /** random seeds for requests without one; tests inject a fixed source */
  randomSeed?: () => number;
  /** who is calling (API keys); default: everyone is anonymous and sees public models only */
  identify?: Identify;
  /** generation and failed-authentication limits per client */
  limits?: RateLimits;
  /** origins allowed to call the API from browsers (CORS); default '*' */
  corsOrigins?: string[];
  /** one structured line per request (src/shared/api/request-log.ts); default: none */
  log?: RequestLog;
  /** what this process served (fed by `log`), shown to the operator by `/healthz?detail=1` */
  counts?: RequestCounts;
  /** signs `response_format: "url"` image URLs (src/shared/api/image-urls.ts); without it that format is a 501 */
  imageUrlSecret?: string;
}
