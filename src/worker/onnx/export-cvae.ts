import { BATCH_NORM_EPSILON, describeCvae, layerOutputShape, WHITENING } from '../../shared/arch/shapes.js';
import type { ConditionJoin, CvaeSpec, Layer } from '../../shared/arch/spec.js';
import { type Dim, GraphBuilder, type WeightType } from './graph-builder.js';

/**
 * ONNX export of a CVAE, interpreting the same spec that builds the tfjs model.
 *
 * Layout: tfjs is NHWC, ONNX convolutions are NCHW. Image tensors are NCHW throughout the graph;
 * where a spec flattens or reshapes, a Transpose restores NHWC element order, so dense weights
 * are used exactly as trained. Convolution weights are transposed (tfjs conv [kh,kw,in,out] →
 * ONNX [out,in,kh,kw]; tfjs transposed conv [kh,kw,out,in] → ONNX [in,out,kh,kw], no spatial
 * flip). TensorFlow 'same' padding puts the odd pixel at the end, so pads are explicit
 * ([0,0,1,1] for a 3x3 stride-2 transposed convolution 7→14). Batch norm is folded into the
 * preceding layer, and the condition's whitening into the condition projections. The batch
 * dimension is symbolic ('batch').
 */
export interface ExportedGraph {
  bytes: Uint8Array;
  inputs: { name: string; type: 'float32' | 'int64'; shape: Dim[] }[];
  outputs: { name: string; shape: Dim[] }[];
}

const B = 'batch';

type Values = Record<string, Float32Array>;

export interface ExportOptions {
  /** weight storage; float16 halves the file, inference stays float32 */
  weights?: WeightType;
}
interface Value {
  name: string;
  /** NHWC shape without batch (from shapes.ts); the graph holds it as NCHW when rank 3 */
  shape: number[];
}

function get(values: Values, name: string): Float32Array {
  const v = values[name];
  if (!v) throw new Error(`export: missing weight ${name}`);
  return v;
}

/** Per-output-channel scale and shift of an inference-mode batch norm, or identity. */
function batchNormFold(layer: Layer, values: Values, prefix: string, channels: number) {
  if (!('batchNorm' in layer) || !layer.batchNorm) return undefined;
  const gamma = get(values, `${prefix}.bn.gamma`);
  const beta = get(values, `${prefix}.bn.beta`);
  const mean = get(values, `${prefix}.bn.mean`);
  const variance = get(values, `${prefix}.bn.variance`);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = (gamma[c] as number) / Math.sqrt((variance[c] as number) + BATCH_NORM_EPSILON);
    scale[c] = s;
    shift[c] = (beta[c] as number) - (mean[c] as number) * s;
  }
  return { scale, shift };
}

/** TensorFlow 'same' padding for one spatial dimension of a forward convolution. */
function samePads(input: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(input / stride);
  const total = Math.max((out - 1) * stride + kernel - input, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

function activation(g: GraphBuilder, x: string, act: string): string {
  if (act === 'relu') return g.node('Relu', [x]);
  if (act === 'sigmoid') return g.node('Sigmoid', [x]);
  return x;
}

function emitLayer(g: GraphBuilder, layer: Layer, x: Value, values: Values, prefix: string): Value {
  const shape = layerOutputShape(layer, x.shape, prefix);
  switch (layer.type) {
    case 'dense': {
      const [fanIn] = x.shape as [number];
      const kernel = get(values, `${prefix}.kernel`).slice();
      const bias = get(values, `${prefix}.bias`).slice();
      const bn = batchNormFold(layer, values, prefix, layer.units);
      if (bn) {
        for (let i = 0; i < fanIn; i++)
          for (let o = 0; o < layer.units; o++)
            kernel[i * layer.units + o] = (kernel[i * layer.units + o] as number) * (bn.scale[o] as number);
        for (let o = 0; o < layer.units; o++)
          bias[o] = (bias[o] as number) * (bn.scale[o] as number) + (bn.shift[o] as number);
      }
      const w = g.floats(`${prefix}.kernel`, [fanIn, layer.units], kernel);
      const b = g.floats(`${prefix}.bias`, [layer.units], bias);
      return { name: activation(g, g.node('Gemm', [x.name, w, b]), layer.activation), shape };
    }
    case 'conv2d':
    case 'conv2dTranspose': {
      const [h, w, inC] = x.shape as [number, number, number];
      const k = layer.kernel;
      const outC = layer.filters;
      const src = get(values, `${prefix}.kernel`);
      const bias = get(values, `${prefix}.bias`).slice();
      const bn = batchNormFold(layer, values, prefix, outC);
      const dst = new Float32Array(src.length);
      const transpose = layer.type === 'conv2dTranspose';
      for (let y = 0; y < k; y++) {
        for (let xx = 0; xx < k; xx++) {
          for (let i = 0; i < inC; i++) {
            for (let o = 0; o < outC; o++) {
              const scale = bn ? (bn.scale[o] as number) : 1;
              if (transpose) {
                // tfjs [kh,kw,out,in] → ONNX ConvTranspose [in,out,kh,kw]
                dst[((i * outC + o) * k + y) * k + xx] = (src[((y * k + xx) * outC + o) * inC + i] as number) * scale;
              } else {
                // tfjs [kh,kw,in,out] → ONNX Conv [out,in,kh,kw]
                dst[((o * inC + i) * k + y) * k + xx] = (src[((y * k + xx) * inC + i) * outC + o] as number) * scale;
              }
            }
          }
        }
      }
      if (bn)
        for (let o = 0; o < outC; o++)
          bias[o] = (bias[o] as number) * (bn.scale[o] as number) + (bn.shift[o] as number);
      const wName = g.floats(`${prefix}.kernel`, transpose ? [inC, outC, k, k] : [outC, inC, k, k], dst);
      const bName = g.floats(`${prefix}.bias`, [outC], bias);
      const s = layer.stride;
      let y: string;
      if (transpose) {
        // TF 'same' transposed conv = gradient of a 'same' conv from in·s to in: pads at the end.
        const total = Math.max(k - s, 0);
        const begin = Math.floor(total / 2);
        const outputPadding = Math.max(0, s - k);
        y = g.node('ConvTranspose', [x.name, wName, bName], {
          kernel_shape: [k, k],
          strides: [s, s],
          pads: [begin, begin, total - begin, total - begin],
          output_padding: [outputPadding, outputPadding],
        });
      } else {
        const [top, bottom] = samePads(h, k, s);
        const [left, right] = samePads(w, k, s);
        y = g.node('Conv', [x.name, wName, bName], {
          kernel_shape: [k, k],
          strides: [s, s],
          pads: [top, left, bottom, right],
        });
      }
      return { name: activation(g, y, layer.activation), shape };
    }
    case 'upsample': {
      // tfjs' resizeNearestNeighbor (no corner alignment, no half-pixel centres): source = floor(dst / f)
      const scales = g.floats(`${prefix}.scales`, [4], Float32Array.of(1, 1, layer.factor, layer.factor), true);
      const y = g.node('Resize', [x.name, '', scales], {
        mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor',
      });
      return { name: y, shape };
    }
    case 'flatten': {
      // NCHW → NHWC order first, so the flat vector matches tfjs' flatten.
      const nhwc = x.shape.length === 3 ? g.node('Transpose', [x.name], { perm: [0, 2, 3, 1] }) : x.name;
      return { name: g.node('Reshape', [nhwc, g.ints('shape', [-1, shape[0] as number])]), shape };
    }
    case 'reshape': {
      const nhwc = g.node('Reshape', [x.name, g.ints('shape', [-1, ...layer.shape])]);
      return { name: g.node('Transpose', [nhwc], { perm: [0, 3, 1, 2] }), shape };
    }
  }
}

function emitStack(g: GraphBuilder, layers: Layer[], x: Value, values: Values, prefix: string): Value {
  let v = x;
  layers.forEach((layer, i) => {
    v = emitLayer(g, layer, v, values, `${prefix}.${i}`);
  });
  return v;
}

/** The condition input and its projection for a join (embedding lookup or dense). */
function emitCondition(
  g: GraphBuilder,
  spec: CvaeSpec,
  conditionInput: string,
  join: ConditionJoin,
  features: number,
  values: Values,
  prefix: string,
): string {
  const width = join.join === 'concat' ? join.size : features;
  const kernel = get(values, `${prefix}.kernel`);
  if (spec.condition.type === 'class') {
    // one-hot × matrix in training = a row lookup here
    const table = g.floats(`${prefix}.kernel`, [spec.condition.classes, width], kernel);
    return g.node('Gather', [table, conditionInput], { axis: 0 });
  }
  const bias = get(values, `${prefix}.bias`);
  const folded = spec.condition.whiten
    ? foldWhitening(get(values, WHITENING.mean), get(values, WHITENING.matrix), kernel, bias, width)
    : { kernel, bias };
  const w = g.floats(`${prefix}.kernel`, [spec.condition.dim, width], folded.kernel);
  const b = g.floats(`${prefix}.bias`, [width], folded.bias);
  return g.node('Gemm', [conditionInput, w, b]);
}

/**
 * ((c − mean) · M) · K + b = c · (M K) + (b − mean · M K): the whitening and the projection
 * after it are one affine map, computed here in float64.
 */
function foldWhitening(
  mean: Float32Array,
  matrix: Float32Array,
  kernel: Float32Array,
  bias: Float32Array,
  width: number,
) {
  const d = mean.length;
  const mk = new Float64Array(d * width);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const m = matrix[i * d + k] as number;
      if (m === 0) continue;
      for (let j = 0; j < width; j++)
        mk[i * width + j] = (mk[i * width + j] as number) + m * (kernel[k * width + j] as number);
    }
  const b = Float64Array.from(bias);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < width; j++) b[j] = (b[j] as number) - (mean[i] as number) * (mk[i * width + j] as number);
  return { kernel: Float32Array.from(mk), bias: Float32Array.from(b) };
}

function joinValues(g: GraphBuilder, features: string, projected: string, join: ConditionJoin): string {
  return join.join === 'concat'
    ? g.node('Concat', [features, projected], { axis: 1 })
    : g.node('Add', [features, projected]);
}

function conditionSignature(spec: CvaeSpec) {
  return spec.condition.type === 'class'
    ? { name: 'label', type: 'int64' as const, shape: [B] as Dim[] }
    : { name: 'text_embedding', type: 'float32' as const, shape: [B, spec.condition.dim] as Dim[] };
}

/** Decoder: z [batch, latent] + condition → image [batch, C, H, W] in [0, 1]. */
export function exportDecoder(spec: CvaeSpec, values: Values, opts: ExportOptions = {}): ExportedGraph {
  const info = describeCvae(spec);
  const g = new GraphBuilder(`${spec.id}-decoder`, opts.weights);
  const cond = conditionSignature(spec);
  const z = g.input('z', 'float32', [B, spec.latentDim]);
  const c = g.input(cond.name, cond.type, cond.shape);
  const projected = emitCondition(g, spec, c, spec.decoder.condition, spec.latentDim, values, 'decoder.condition');
  const joined = joinValues(g, z, projected, spec.decoder.condition);
  const out = emitStack(g, spec.decoder.layers, { name: joined, shape: [info.decoderInput] }, values, 'decoder');
  const [h, w, ch] = info.imageShape;
  g.node('Identity', [out.name], {}, 'image');
  const imageShape: Dim[] = [B, ch, h, w];
  g.output('image', imageShape);
  return {
    bytes: g.build(`${spec.id} decoder: ${spec.description}`),
    inputs: [{ name: 'z', type: 'float32', shape: [B, spec.latentDim] }, cond],
    outputs: [{ name: 'image', shape: imageShape }],
  };
}

/** Encoder: image [batch, C, H, W] in [0, 1] + condition → mu, logvar [batch, latent]. */
export function exportEncoder(spec: CvaeSpec, values: Values, opts: ExportOptions = {}): ExportedGraph {
  const info = describeCvae(spec);
  const g = new GraphBuilder(`${spec.id}-encoder`, opts.weights);
  const cond = conditionSignature(spec);
  const [h, w, ch] = info.imageShape;
  const imageShape: Dim[] = [B, ch, h, w];
  const image = g.input('image', 'float32', imageShape);
  const c = g.input(cond.name, cond.type, cond.shape);
  const features = emitStack(g, spec.encoder.layers, { name: image, shape: [...info.imageShape] }, values, 'encoder');
  const projected = emitCondition(
    g,
    spec,
    c,
    spec.encoder.condition,
    info.encoderFeatures,
    values,
    'encoder.condition',
  );
  const joined = joinValues(g, features.name, projected, spec.encoder.condition);
  for (const head of ['mu', 'logvar']) {
    const wName = g.floats(
      `encoder.${head}.kernel`,
      [info.encoderJoined, spec.latentDim],
      get(values, `encoder.${head}.kernel`),
    );
    const bName = g.floats(`encoder.${head}.bias`, [spec.latentDim], get(values, `encoder.${head}.bias`));
    if (head === 'logvar' && spec.logvarLimit) {
      const limit = g.floats('logvar_limit', [], new Float32Array([spec.logvarLimit]));
      const raw = g.node('Gemm', [joined, wName, bName]);
      g.node('Mul', [g.node('Tanh', [g.node('Div', [raw, limit])]), limit], {}, head);
    } else g.node('Gemm', [joined, wName, bName], {}, head);
    g.output(head, [B, spec.latentDim]);
  }
  return {
    bytes: g.build(`${spec.id} encoder: ${spec.description}`),
    inputs: [{ name: 'image', type: 'float32', shape: imageShape }, cond],
    outputs: [
      { name: 'mu', shape: [B, spec.latentDim] },
      { name: 'logvar', shape: [B, spec.latentDim] },
    ],
  };
}
