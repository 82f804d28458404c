import { CvaeError } from '../errors.js';
import { COCO_ARCHITECTURES } from './coco.js';
import { FASHION_ARCHITECTURES } from './fashion.js';
import type { CvaeSpec } from './spec.js';

/**
 * Every architecture, registered once: the CLI (`train`, `evaluate`, `export`), the job API's
 * schema, the training worker, the benches and the docs read this. A new architecture is a spec
 * plus one entry here (the COCO six are generated from size × join in coco.ts).
 */
export const ARCHITECTURES: Readonly<Record<string, CvaeSpec>> = {
  ...FASHION_ARCHITECTURES,
  ...COCO_ARCHITECTURES,
};
export const ARCHITECTURE_IDS = Object.keys(ARCHITECTURES) as [string, ...string[]];

export function architecture(id: string): CvaeSpec {
  const spec = ARCHITECTURES[id];
  if (!spec)
    throw new CvaeError(
      'unknown_model',
      `unknown architecture '${id.slice(0, 64)}'; choose one of: ${ARCHITECTURE_IDS.join(', ')}`,
    );
  return spec;
}

/**
 * The datasets, with the task they train: Fashion-MNIST's classes (short text), and COCO-format
 * captions (long text): the synthetic scenes the worker generates itself (seeded), or a COCO-layout
 * folder (CLI) or bucket prefix (jobs).
 */
export const DATASETS = {
  'fashion-mnist': { task: 'short-text', description: 'Fashion-MNIST, 60,000 training images of 10 classes' },
  'synth-coco': {
    task: 'long-text',
    description: 'generated scenes of coloured shapes, 5 captions each (COCO format)',
  },
  coco: {
    task: 'long-text',
    description: 'a COCO-layout folder or bucket prefix: annotations/captions_*.json + images',
  },
} as const;
export type DatasetName = keyof typeof DATASETS;
export const DATASET_NAMES = Object.keys(DATASETS) as [DatasetName, ...DatasetName[]];

export function datasetsFor(spec: CvaeSpec): DatasetName[] {
  return DATASET_NAMES.filter((d) => DATASETS[d].task === spec.task);
}
