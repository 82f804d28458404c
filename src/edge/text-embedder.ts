import { CvaeError } from '../shared/errors.js';
import type { EmbedText } from '../shared/generation/generate.js';
import type { ModelCache } from '../shared/generation/model-cache.js';

/**
 * Where the edge embeds long text (TEXT_ENCODER): "edge", the default, runs the encoder's compact
 * form in the isolate (src/shared/text/token-runners.ts) and sends the text to the GPU server only
 * when that form does not fit (none in the package, or more than EDGE_TEXT_ENCODER_MAX_MB of
 * weights) and a GPU server is configured; "gpu" always sends it there.
 */
export function edgeEmbedder(models: ModelCache, gpu: EmbedText | undefined): EmbedText {
  return async (ref, text, expectedSha256) => {
    try {
      return await (await models.textEncoder(ref, expectedSha256)).embed(text);
    } catch (error) {
      if (gpu && error instanceof CvaeError && error.code === 'text_encoder_unavailable') {
        return gpu(ref, text, expectedSha256);
      }
      throw error;
    }
  };
}
