/**
 * The model shipped inside the edge bundle: the Fashion-MNIST decoder of models/fashion-conv, so
 * the API generates with no bucket configured. Its encoder is not bundled (the edge never
 * encodes); downloads of it come from the registry bucket when one is configured.
 */

import decoder from '../../../models/fashion-conv/decoder.onnx';
import manifestJson from '../../../models/fashion-conv/manifest.json' with { type: 'json' };
import { fashionConv } from '../../shared/arch/fashion.js';
import { describeCvae } from '../../shared/arch/shapes.js';
import { parseManifest } from '../../shared/manifest.js';
import type { BlobSource } from '../../shared/registry/blob-source.js';
import { CARD_FILE, modelCard } from '../../shared/registry/model-card.js';
import { packageSource } from '../../shared/registry/package-source.js';

/** The bundled decoder's bytes (one view, so a session prewarmed from it is recognised). */
export const bundledDecoder = new Uint8Array(decoder);

const manifest = parseManifest(manifestJson, 'bundled fashion-conv manifest');

/** The bundled decoder's input signature, from its manifest (what a prewarm run feeds it). */
export const bundledDecoderInputs = manifest.files.find((f) => f.name === 'decoder.onnx')?.inputs ?? [];

/** The model card, remade from the manifest (src/shared/registry/model-card.ts), not bundled twice. */
function bundledCard(): Uint8Array {
  const files = manifest.files.filter((f) => f.name !== CARD_FILE);
  return new TextEncoder().encode(modelCard({ ...manifest, files }, describeCvae(fashionConv).parameterCount));
}

export function bundledSource(): BlobSource {
  // the card is made when it is downloaded, not while the isolate starts
  const load = async (name: string) =>
    name === 'decoder.onnx' ? bundledDecoder : name === CARD_FILE ? bundledCard() : undefined;
  return packageSource('bundled', [{ manifest, load }]);
}
