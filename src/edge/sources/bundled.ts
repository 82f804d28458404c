/**
 * The model shipped inside the edge bundle: the Fashion-MNIST decoder of models/fashion-conv, so
 * the API generates with no bucket configured. Its encoder is not bundled (the edge never
 * encodes); downloads of it come from the registry bucket when one is configured.
 */

import decoder from '../../../models/fashion-conv/decoder.onnx';
import manifestJson from '../../../models/fashion-conv/manifest.json';
import { parseManifest } from '../../shared/manifest.js';
import type { BlobSource } from '../../shared/registry/blob-source.js';
import { packageSource } from '../../shared/registry/package-source.js';

/** The bundled decoder's bytes (one view, so a session prewarmed from it is recognised). */
export const bundledDecoder = new Uint8Array(decoder);

const manifest = parseManifest(manifestJson, 'bundled fashion-conv manifest');

/** The bundled decoder's input signature, from its manifest (what a prewarm run feeds it). */
export const bundledDecoderInputs = manifest.files.find((f) => f.name === 'decoder.onnx')?.inputs ?? [];

export function bundledSource(): BlobSource {
  const files: Record<string, Uint8Array> = { 'decoder.onnx': bundledDecoder };
  return packageSource('bundled', [{ manifest, load: async (name) => files[name] }]);
}
