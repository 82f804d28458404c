import { type Caller, canRead } from '../../shared/api/access.js';
import { CLIP_MODEL_ID } from '../../shared/arch/coco.js';
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
 * train on, and for long text conditioned on the registry's text encoder (what the training workers
 * embed with; the worker checks again against the one it pulls). Returns "<id>@<version>", so a
 * later push to the model does not change what the job starts from.
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
  if (manifest.textEncoderSha256) {
    const clip = await models.manifest(CLIP_MODEL_ID).catch((error: CvaeError) => {
      // no encoder in the registry: the workers generate the seeded graph; they check it themselves
      if (error.code === 'model_not_found') return undefined;
      throw error;
    });
    const sha256 = clip?.files.find((f) => f.role === 'text-encoder')?.sha256;
    if (clip && sha256 !== manifest.textEncoderSha256)
      throw new CvaeError(
        'invalid_request',
        `initFrom ${pinned} was trained on embeddings of ${manifest.textEncoder} (sha256 ${manifest.textEncoderSha256.slice(0, 12)}…); training workers embed with ${clip.id}@${clip.version} (sha256 ${sha256?.slice(0, 12)}…): start from a model trained on it`,
      );
  }
  return pinned;
}
