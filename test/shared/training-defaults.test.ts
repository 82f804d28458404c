import { describe, expect, it } from 'vitest';
import { ARCHITECTURES } from '../../src/shared/arch/catalogue.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';
import { trainingDefaults } from '../../src/shared/arch/training-defaults.js';

const spec = (id: string) => ARCHITECTURES[id] as CvaeSpec;

describe('trainingDefaults', () => {
  it('gives the paper’s Fashion-MNIST settings and no whitening to short text', () => {
    expect(trainingDefaults(spec('fashion-conv'))).toEqual({ epochs: 25, batchSize: 128, klWeight: 1 });
  });

  it('scales β with the pixel count and shrinks the whitening more from 128 px', () => {
    expect(trainingDefaults(spec('coco-64-concat'))).toEqual({
      epochs: 12,
      batchSize: 64,
      klWeight: 20,
      whitenShrinkage: 1e-2,
    });
    expect(trainingDefaults(spec('coco-128-add'))).toMatchObject({ klWeight: 80, whitenShrinkage: 3e-2 });
    expect(trainingDefaults(spec('coco-256-concat'))).toMatchObject({ klWeight: 320, whitenShrinkage: 3e-2 });
  });
});
