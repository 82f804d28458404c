import type { ClassifierSpec, ConditionJoin, CvaeSpec, Layer } from './spec.js';

/** A trainable tensor named by its place in the spec, e.g. `decoder.2.kernel`. */
export interface ParamInfo {
  name: string;
  shape: number[];
  /** how to initialise it: fan-in/fan-out for Glorot, constants for biases and batch norm */
  init: 'glorot' | 'zeros' | 'ones' | 'identity';
  /**
   * false for state the optimiser leaves alone: batch-norm moving statistics (updated from batch
   * statistics) and the condition's whitening (fitted from the data before training)
   */
  trainable: boolean;
  fanIn: number;
  fanOut: number;
}

/** Batch norm's variance epsilon (Keras' default), shared by training and the ONNX fold. */
export const BATCH_NORM_EPSILON = 1e-3;

/** Output size of a TensorFlow-style 'same' convolution / transposed convolution. */
export function sameConvOut(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

export function sameConvTransposeOut(size: number, stride: number): number {
  return size * stride;
}

/** Shape of one example (no batch dimension) after a layer. Throws on an impossible spec. */
export function layerOutputShape(layer: Layer, input: number[], where: string): number[] {
  switch (layer.type) {
    case 'dense':
      if (input.length !== 1) throw new Error(`${where}: dense needs a flat input, got [${input}]`);
      return [layer.units];
    case 'conv2d':
    case 'conv2dTranspose': {
      if (input.length !== 3) throw new Error(`${where}: ${layer.type} needs [h,w,c], got [${input}]`);
      const [h, w] = input as [number, number, number];
      const out = layer.type === 'conv2d' ? sameConvOut : sameConvTransposeOut;
      return [out(h, layer.stride), out(w, layer.stride), layer.filters];
    }
    case 'upsample': {
      if (input.length !== 3) throw new Error(`${where}: upsample needs [h,w,c], got [${input}]`);
      const [h, w, c] = input as [number, number, number];
      return [h * layer.factor, w * layer.factor, c];
    }
    case 'flatten':
      return [input.reduce((a, b) => a * b, 1)];
    case 'reshape': {
      const n = input.reduce((a, b) => a * b, 1);
      const m = layer.shape.reduce((a, b) => a * b, 1);
      if (n !== m) throw new Error(`${where}: cannot reshape [${input}] to [${layer.shape}]`);
      return [...layer.shape];
    }
  }
}

function layerParams(layer: Layer, input: number[], prefix: string): ParamInfo[] {
  const params: ParamInfo[] = [];
  let channels = 0;
  if (layer.type === 'dense') {
    const fanIn = input[0] as number;
    params.push(
      {
        name: `${prefix}.kernel`,
        shape: [fanIn, layer.units],
        init: 'glorot',
        trainable: true,
        fanIn,
        fanOut: layer.units,
      },
      { name: `${prefix}.bias`, shape: [layer.units], init: 'zeros', trainable: true, fanIn, fanOut: layer.units },
    );
    channels = layer.units;
  } else if (layer.type === 'conv2d' || layer.type === 'conv2dTranspose') {
    const inC = input[2] as number;
    const k = layer.kernel;
    // tfjs layouts: conv2d [kh,kw,in,out]; conv2dTranspose [kh,kw,out,in].
    const shape = layer.type === 'conv2d' ? [k, k, inC, layer.filters] : [k, k, layer.filters, inC];
    const fanIn = k * k * inC;
    const fanOut = k * k * layer.filters;
    params.push(
      { name: `${prefix}.kernel`, shape, init: 'glorot', trainable: true, fanIn, fanOut },
      { name: `${prefix}.bias`, shape: [layer.filters], init: 'zeros', trainable: true, fanIn, fanOut },
    );
    channels = layer.filters;
  }
  if ('batchNorm' in layer && layer.batchNorm) {
    const shape = [channels];
    const bn = (name: string, init: 'zeros' | 'ones', trainable: boolean): ParamInfo => ({
      name: `${prefix}.bn.${name}`,
      shape,
      init,
      trainable,
      fanIn: channels,
      fanOut: channels,
    });
    params.push(
      bn('gamma', 'ones', true),
      bn('beta', 'zeros', true),
      bn('mean', 'zeros', false),
      bn('variance', 'ones', false),
    );
  }
  return params;
}

/** Walks a layer stack, returning its output shape and its parameters. */
export function stackInfo(layers: Layer[], input: number[], prefix: string) {
  const params: ParamInfo[] = [];
  const shapes: number[][] = [];
  let shape = input;
  layers.forEach((layer, i) => {
    params.push(...layerParams(layer, shape, `${prefix}.${i}`));
    shape = layerOutputShape(layer, shape, `${prefix}.${i}`);
    shapes.push(shape);
  });
  return { output: shape, shapes, params };
}

function conditionInputSize(spec: CvaeSpec): number {
  return spec.condition.type === 'class' ? spec.condition.classes : spec.condition.dim;
}

/** Width the condition is projected to for a join onto `features` features. */
function joinWidth(join: ConditionJoin, features: number): number {
  return join.join === 'concat' ? join.size : features;
}

function conditionParams(spec: CvaeSpec, join: ConditionJoin, features: number, prefix: string): ParamInfo[] {
  const fanIn = conditionInputSize(spec);
  const fanOut = joinWidth(join, features);
  const params: ParamInfo[] = [
    { name: `${prefix}.kernel`, shape: [fanIn, fanOut], init: 'glorot', trainable: true, fanIn, fanOut },
  ];
  // A one-hot times a matrix is an embedding: a bias would only duplicate it.
  if (spec.condition.type === 'text-embedding') {
    params.push({ name: `${prefix}.bias`, shape: [fanOut], init: 'zeros', trainable: true, fanIn, fanOut });
  }
  return params;
}

/** Names of the condition's whitening (spec.condition.whiten), shared by encoder and decoder. */
export const WHITENING = { mean: 'condition.whiten.mean', matrix: 'condition.whiten.matrix' } as const;

/** The embedding width when the spec whitens its condition (spec.condition.whiten), else undefined. */
export function whitenedConditionDim(spec: CvaeSpec): number | undefined {
  return spec.condition.type === 'text-embedding' && spec.condition.whiten ? spec.condition.dim : undefined;
}

/** Identity and zero mean until fitted: an unfitted whitening is the identity map. */
function whiteningParams(spec: CvaeSpec): ParamInfo[] {
  const d = whitenedConditionDim(spec);
  if (!d) return [];
  const fixed = { trainable: false, fanIn: d, fanOut: d };
  return [
    { name: WHITENING.mean, shape: [d], init: 'zeros', ...fixed },
    { name: WHITENING.matrix, shape: [d, d], init: 'identity', ...fixed },
  ];
}

export interface CvaeInfo {
  imageShape: [number, number, number];
  conditionSize: number;
  encoderFeatures: number;
  encoderJoined: number;
  decoderInput: number;
  decoderOutput: number[];
  params: ParamInfo[];
  parameterCount: number;
}

/** Everything derived from a spec: shapes and the full parameter list, validated. */
export function describeCvae(spec: CvaeSpec): CvaeInfo {
  const { height, width, channels } = spec.image;
  const imageShape: [number, number, number] = [height, width, channels];
  const enc = stackInfo(spec.encoder.layers, imageShape, 'encoder');
  if (enc.output.length !== 1) throw new Error(`${spec.id}: encoder must end flat, ends [${enc.output}]`);
  const encoderFeatures = enc.output[0] as number;
  const encJoin = spec.encoder.condition;
  const encoderJoined = encJoin.join === 'concat' ? encoderFeatures + encJoin.size : encoderFeatures;
  const decJoin = spec.decoder.condition;
  const decoderInput = decJoin.join === 'concat' ? spec.latentDim + decJoin.size : spec.latentDim;
  const dec = stackInfo(spec.decoder.layers, [decoderInput], 'decoder');
  if (dec.output.join() !== imageShape.join()) {
    throw new Error(`${spec.id}: decoder ends [${dec.output}], image is [${imageShape}]`);
  }
  const head = (name: string): ParamInfo[] => [
    {
      name: `encoder.${name}.kernel`,
      shape: [encoderJoined, spec.latentDim],
      init: 'glorot',
      trainable: true,
      fanIn: encoderJoined,
      fanOut: spec.latentDim,
    },
    {
      name: `encoder.${name}.bias`,
      shape: [spec.latentDim],
      init: 'zeros',
      trainable: true,
      fanIn: encoderJoined,
      fanOut: spec.latentDim,
    },
  ];
  const params = [
    ...whiteningParams(spec),
    ...enc.params,
    ...conditionParams(spec, encJoin, encoderFeatures, 'encoder.condition'),
    ...head('mu'),
    ...head('logvar'),
    ...conditionParams(spec, decJoin, spec.latentDim, 'decoder.condition'),
    ...dec.params,
  ];
  return {
    imageShape,
    conditionSize: conditionInputSize(spec),
    encoderFeatures,
    encoderJoined,
    decoderInput,
    decoderOutput: dec.output,
    params,
    parameterCount: params.filter((p) => p.trainable).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0),
  };
}

export function describeClassifier(spec: ClassifierSpec) {
  const { height, width, channels } = spec.image;
  const info = stackInfo(spec.layers, [height, width, channels], 'layers');
  if (info.output.join() !== String(spec.classes)) {
    throw new Error(`${spec.id}: classifier ends [${info.output}], expected [${spec.classes}]`);
  }
  const featureShape = info.shapes[spec.featureLayer];
  if (featureShape?.length !== 1) throw new Error(`${spec.id}: feature layer must be flat`);
  return { ...info, featureSize: featureShape[0] as number };
}
