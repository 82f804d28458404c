import { describeCvae, whitenedConditionDim } from '../../shared/arch/shapes.js';
import type { Activation, ConditionJoin, CvaeSpec } from '../../shared/arch/spec.js';

/**
 * A CVAE spec made only of dense layers, read as the list of matrix products its training step
 * is: what dense-step.ts runs without tfjs. Flatten and reshape are no ops on row-major rows.
 * Specs with anything else (convolutions, batch norm, a whitened condition) get no plan and
 * train through tfjs (step.ts).
 */
export interface DenseLayerPlan {
  /** parameter prefix, e.g. `encoder.1` (kernel `${prefix}.kernel` [inputs, units], bias `${prefix}.bias`) */
  prefix: string;
  inputs: number;
  units: number;
  activation: Activation;
}

export interface DensePlan {
  imageSize: number;
  conditionSize: number;
  latent: number;
  encoder: DenseLayerPlan[];
  /** the decoder's layers; the last one's output is the logits (its activation is the loss's sigmoid) */
  decoder: DenseLayerPlan[];
  /** `${side}.condition`: the condition's projection and how it joins (width = its kernel's columns) */
  encoderJoin: ConditionJoin & { width: number; bias: boolean };
  decoderJoin: ConditionJoin & { width: number; bias: boolean };
  /** width of the encoder's features ⊕ condition, the heads' input */
  joined: number;
  logvarLimit?: number;
}

/** The plan, or why there is none. */
export function densePlan(spec: CvaeSpec): DensePlan | { unsupported: string } {
  if (whitenedConditionDim(spec)) return { unsupported: 'a whitened condition' };
  const info = describeCvae(spec);
  const stack = (side: 'encoder' | 'decoder', inputs: number): DenseLayerPlan[] | string => {
    const layers = spec[side].layers;
    const out: DenseLayerPlan[] = [];
    let width = inputs;
    for (const [i, layer] of layers.entries()) {
      if (layer.type === 'flatten' || layer.type === 'reshape') continue;
      if (layer.type !== 'dense') return `a ${layer.type} layer`;
      if (layer.batchNorm) return 'batch norm';
      out.push({ prefix: `${side}.${i}`, inputs: width, units: layer.units, activation: layer.activation });
      width = layer.units;
    }
    return out.length > 0 ? out : `no dense layer in the ${side}`;
  };
  const encoder = stack(
    'encoder',
    info.imageShape.reduce((a, b) => a * b, 1),
  );
  if (typeof encoder === 'string') return { unsupported: encoder };
  const decoder = stack('decoder', info.decoderInput);
  if (typeof decoder === 'string') return { unsupported: decoder };
  const hasBias = (prefix: string) => info.params.some((p) => p.name === `${prefix}.bias`);
  const widthOf = (join: ConditionJoin, features: number) => (join.join === 'concat' ? join.size : features);
  return {
    imageSize: info.imageShape.reduce((a, b) => a * b, 1),
    conditionSize: info.conditionSize,
    latent: spec.latentDim,
    encoder,
    decoder,
    encoderJoin: {
      ...spec.encoder.condition,
      width: widthOf(spec.encoder.condition, info.encoderFeatures),
      bias: hasBias('encoder.condition'),
    },
    decoderJoin: {
      ...spec.decoder.condition,
      width: widthOf(spec.decoder.condition, spec.latentDim),
      bias: hasBias('decoder.condition'),
    },
    joined: info.encoderJoined,
    ...(spec.logvarLimit ? { logvarLimit: spec.logvarLimit } : {}),
  };
}
