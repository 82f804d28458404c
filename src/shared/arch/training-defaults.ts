import type { CvaeSpec } from './spec.js';

/**
 * Training defaults per architecture, one home for `cvae train`, training jobs and Table 2.
 *
 * Short text (the paper's Fashion-MNIST models): 25 epochs, batch 128, the plain ELBO (β = 1).
 *
 * Long text: batch 64 (small datasets: more optimiser steps per epoch), and β (the KL weight) 20 at
 * 64 px scaled with the pixel count, so the KL term weighs the same per pixel at every size. With
 * β = 1 the decoders learn to draw from z, which sees the image, and prior samples ignore the
 * caption within a CPU budget (docs/research/2026-11-beta-and-caption-following.md). Epochs are sized for
 * this project's 2-core CPU fallback on the synthetic set's 900 training images × 5 captions.
 * The condition whitening's shrinkage ε is 1e-2 at 64 px and 3e-2 from 128 px: measured, smaller
 * values let the decoders magnify a text encoder's small errors into colour flips, 1e-2 was enough
 * at 64 px and not at 128 (docs/research/2026-11-edge-text-encoder.md, "The decoders' whitening").
 */
export interface ArchitectureDefaults {
  epochs: number;
  batchSize: number;
  klWeight: number;
  /** long text: the condition whitening's shrinkage ε (src/worker/train/whitening.ts) */
  whitenShrinkage?: number;
}

/** The paper's Fashion-MNIST settings; also what a training run uses when nothing says otherwise. */
export const SHORT_TEXT_DEFAULTS: ArchitectureDefaults = { epochs: 25, batchSize: 128, klWeight: 1 };

const LONG_TEXT_EPOCHS: Record<number, number> = { 64: 12, 128: 2, 256: 1 };
const LONG_TEXT_WHITEN_SHRINKAGE = (size: number) => (size <= 64 ? 1e-2 : 3e-2);

export function trainingDefaults(spec: CvaeSpec): ArchitectureDefaults {
  if (spec.task === 'short-text') return { ...SHORT_TEXT_DEFAULTS };
  const size = spec.image.height;
  return {
    epochs: LONG_TEXT_EPOCHS[size] ?? 1,
    batchSize: 64,
    klWeight: 20 * (size / 64) ** 2,
    whitenShrinkage: LONG_TEXT_WHITEN_SHRINKAGE(size),
  };
}
