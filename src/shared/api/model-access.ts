import { CvaeError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import { parseModelRef } from '../model-id.js';
import { type PromptRoute, routePrompt } from '../prompt/route-prompt.js';
import { type Caller, canRead } from './access.js';
import type { ApiDeps } from './deps.js';
import type { GenerationRequest } from './schemas.js';

// Which model a request gets: named, by size or by the prompt's route, and only if the caller may read it.

/** A manifest the caller may read; others' private models are as absent as unknown ones. */
export async function readableManifest(
  deps: ApiDeps,
  caller: Caller,
  id: string,
  version = 'latest',
): Promise<Manifest> {
  const manifest = await deps.models.manifest(id, version);
  if (!canRead(caller, manifest)) throw new CvaeError('model_not_found', `No model '${id}'`);
  return manifest;
}

/** The model a request asks for, checked against the requested size and the caller's rights. */
export async function resolveModel(
  deps: ApiDeps,
  request: GenerationRequest,
  caller: Caller,
  routedSize?: number,
): Promise<Manifest> {
  const size = request.size ?? (request.model ? undefined : (routedSize ?? deps.defaultSize));
  const ref = request.model ?? (size !== undefined ? deps.defaultModels[size] : undefined);
  if (!ref) {
    const sizes = Object.keys(deps.defaultModels).join(', ');
    throw new CvaeError(
      'unsupported_size',
      `No default model makes ${size}px images here (sizes: ${sizes}); name a model`,
    );
  }
  const { id, version } = parseModelRef(ref);
  const manifest = await readableManifest(deps, caller, id, version);
  if (request.size !== undefined && manifest.image && manifest.image.width !== request.size) {
    throw new CvaeError(
      'unsupported_size',
      `${manifest.id}@${manifest.version} makes ${manifest.image.width}x${manifest.image.height} images, not ${request.size}px`,
    );
  }
  return manifest;
}

/**
 * With neither a model nor a size, the prompt decides (src/shared/prompt/route-prompt.ts): short
 * text goes to the default size's model, long text to `longTextSize`'s when one is configured.
 */
export function routeFor(deps: ApiDeps, request: GenerationRequest): { size?: number; route?: PromptRoute } {
  if (request.model || request.size !== undefined) return {};
  const route = routePrompt(request.prompt);
  const longSize = deps.longTextSize ?? 64;
  if (route.kind === 'long-text' && deps.defaultModels[longSize]) return { size: longSize, route };
  return { size: deps.defaultSize, route };
}
