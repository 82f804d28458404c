import { type Caller, canRead } from '../../shared/api/access.js';
import { CvaeError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import { parseModelRef, quote } from '../../shared/model-id.js';

/** Where job routes read manifests: the same registry and cache the model routes use. */
export interface ManifestSource {
  manifest(id: string, version?: string): Promise<Manifest>;
}

/**
 * A job's `initFrom` checked when the job is created, and pinned: a model the key may read (others'
 * private models are as absent as unknown ones), of the job's architecture, with an encoder to
 * train on. Returns "<id>@<version>", so a later push to the model does not change what the job
 * starts from.
 */
export async function resolveInitFrom(
  models: ManifestSource | undefined,
  caller: Caller,
  ref: string,
  architecture: string,
): Promise<string> {
  if (!models)
    throw new CvaeError('invalid_request', 'initFrom needs the model registry, which this deployment lacks.');
  const { id, version } = parseModelRef(ref);
  const manifest = await models.manifest(id, version);
  if (!canRead(caller, manifest)) throw new CvaeError('model_not_found', `No model ${quote(id)}`);
  const pinned = `${manifest.id}@${manifest.version}`;
  const trainedAs = manifest.training?.architecture;
  if (trainedAs !== architecture)
    throw new CvaeError(
      'invalid_request',
      trainedAs
        ? `initFrom ${pinned} is a ${trainedAs} model; this job trains ${architecture}`
        : `initFrom ${pinned} has no training record, so its architecture is unknown`,
    );
  if (!manifest.files.some((f) => f.role === 'encoder'))
    throw new CvaeError('invalid_request', `initFrom ${pinned} has no encoder; training on needs it`);
  return pinned;
}
