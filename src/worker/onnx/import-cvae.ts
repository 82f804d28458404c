import { Matrix, solve } from 'ml-matrix';
import onnxProto from 'onnx-proto';
import { BATCH_NORM_EPSILON, describeCvae, WHITENING } from '../../shared/arch/shapes.js';
import type { CvaeSpec, Layer } from '../../shared/arch/spec.js';
import { CvaeError } from '../../shared/errors.js';
import { decodeFloat16 } from '../../shared/float16.js';

const { onnx } = onnxProto;

/**
 * The inverse of export-cvae.ts, so training can go on from an exported model (`cvae train
 * --init-from`): the spec's parameters read back from its encoder and decoder graphs.
 *
 * - Layouts are turned back (ONNX Conv [out,in,kh,kw] → tfjs [kh,kw,in,out]; ConvTranspose
 *   [in,out,kh,kw] → tfjs [kh,kw,out,in]); float16 weights are widened.
 * - The whitening folded into the condition projections is undone against the whitening of the
 *   new run: the export wrote K' = M K and b' = b − mean·K', so K = M⁻¹ K' and b = b' + mean·K'.
 * - A batch norm folded into its layer cannot be split back out. It starts as the identity
 *   (γ 1, β 0, moving mean 0, moving variance 1 − ε), so the model computes exactly the exported
 *   function; `batchNormsFromStatistics` then sets it from the folded layer's output statistics.
 */
export type Values = Record<string, Float32Array>;

/** Float initializers of a graph written by GraphBuilder, by the prefix it was given (`decoder.2.kernel`). */
export function graphInitializers(bytes: Uint8Array): Map<string, Float32Array> {
  const model = onnx.ModelProto.decode(bytes);
  const out = new Map<string, Float32Array>();
  for (const t of model.graph?.initializer ?? []) {
    if (!t.name || !t.rawData) continue;
    // GraphBuilder names a weight `<prefix>_<n>`, stored as `<prefix>_<n>_f16` in float16 graphs
    const name = t.name.replace(/_f16$/, '').replace(/_\d+$/, '');
    const raw = new Uint8Array(t.rawData.byteLength);
    raw.set(t.rawData);
    if (t.dataType === onnx.TensorProto.DataType.FLOAT) out.set(name, new Float32Array(raw.buffer));
    else if (t.dataType === onnx.TensorProto.DataType.FLOAT16) {
      const values = new Float32Array(raw.byteLength / 2);
      decodeFloat16(raw, values);
      out.set(name, values);
    }
  }
  return out;
}

/** The layer a parameter belongs to (`encoder.3.kernel` → encoder layer 3), if any. */
function layerOf(spec: CvaeSpec, param: string): Layer | undefined {
  const m = /^(encoder|decoder)\.(\d+)\./.exec(param);
  if (!m) return undefined;
  return (m[1] === 'encoder' ? spec.encoder.layers : spec.decoder.layers)[Number(m[2])];
}

/** ONNX convolution weights back to tfjs' layout. */
function unpermuteKernel(layer: Layer & { kernel: number; filters: number }, inC: number, onnxValues: Float32Array) {
  const k = layer.kernel;
  const outC = layer.filters;
  const dst = new Float32Array(onnxValues.length);
  const transpose = layer.type === 'conv2dTranspose';
  for (let y = 0; y < k; y++)
    for (let x = 0; x < k; x++)
      for (let i = 0; i < inC; i++)
        for (let o = 0; o < outC; o++) {
          if (transpose)
            dst[((y * k + x) * outC + o) * inC + i] = onnxValues[((i * outC + o) * k + y) * k + x] as number;
          else dst[((y * k + x) * inC + i) * outC + o] = onnxValues[((o * inC + i) * k + y) * k + x] as number;
        }
  return dst;
}

/** K = M⁻¹ K' and b = b' + mean · K' (see above), in float64. */
function unfoldWhitening(
  mean: Float32Array,
  matrix: Float32Array,
  kernel: Float32Array,
  bias: Float32Array,
  width: number,
) {
  const d = mean.length;
  const m = new Matrix(d, d);
  const k = new Matrix(d, width);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) m.set(i, j, matrix[i * d + j] as number);
    for (let j = 0; j < width; j++) k.set(i, j, kernel[i * width + j] as number);
  }
  const b = Float64Array.from(bias);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < width; j++) b[j] = (b[j] as number) + (mean[i] as number) * (kernel[i * width + j] as number);
  return { kernel: Float32Array.from(solve(m, k).to1DArray()), bias: Float32Array.from(b) };
}

/**
 * Every parameter of `spec` from its exported encoder and decoder. `whitening`: the run's own,
 * for a spec that whitens its condition. Throws `bad_package` naming the first parameter missing
 * or of the wrong size (a package of another architecture).
 */
export function valuesFromGraphs(
  spec: CvaeSpec,
  graphs: { encoder: Uint8Array; decoder: Uint8Array },
  whitening?: { mean: Float32Array; matrix: Float32Array },
): Values {
  const info = describeCvae(spec);
  const found = new Map([...graphInitializers(graphs.encoder), ...graphInitializers(graphs.decoder)]);
  const values: Values = {};
  for (const [name, shape] of info.params.map((p) => [p.name, p.shape] as const)) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (name === WHITENING.mean || name === WHITENING.matrix) {
      const v = name === WHITENING.mean ? whitening?.mean : whitening?.matrix;
      if (!v) throw new Error(`${spec.id}: the run's condition whitening is needed to read an exported model`);
      values[name] = v;
      continue;
    }
    const bn = /\.bn\.(gamma|beta|mean|variance)$/.exec(name)?.[1];
    if (bn) {
      values[name] = new Float32Array(size).fill(bn === 'gamma' ? 1 : bn === 'variance' ? 1 - BATCH_NORM_EPSILON : 0);
      continue;
    }
    const v = found.get(name);
    if (!v || v.length !== size)
      throw new CvaeError(
        'bad_package',
        `the package is not a ${spec.id}: ${v ? `${name} has ${v.length} values, expected ${size}` : `it has no ${name}`}`,
      );
    const layer = layerOf(spec, name);
    if (layer && (layer.type === 'conv2d' || layer.type === 'conv2dTranspose') && name.endsWith('.kernel')) {
      // tfjs kernel shape [k, k, a, b]: conv a = in; transposed conv b = in
      values[name] = unpermuteKernel(layer, (layer.type === 'conv2d' ? shape[2] : shape[3]) as number, v);
    } else values[name] = v.slice();
  }
  if (spec.condition.type === 'text-embedding' && spec.condition.whiten) {
    const mean = values[WHITENING.mean] as Float32Array;
    const matrix = values[WHITENING.matrix] as Float32Array;
    for (const prefix of ['encoder.condition', 'decoder.condition']) {
      const bias = values[`${prefix}.bias`] as Float32Array;
      const unfolded = unfoldWhitening(mean, matrix, values[`${prefix}.kernel`] as Float32Array, bias, bias.length);
      values[`${prefix}.kernel`] = unfolded.kernel;
      values[`${prefix}.bias`] = unfolded.bias;
    }
  }
  return values;
}

/**
 * Batch norms that give back, on data like the calibration batch, the output of the folded layer
 * they follow: γ = √(var + ε), β = mean, and the same moving statistics, so inference computes
 * exactly the exported function and training starts next to it.
 */
export function batchNormsFromStatistics(
  values: Values,
  stats: { name: string; mean: Float32Array; variance: Float32Array }[],
): void {
  for (const { name, mean, variance } of stats) {
    values[`${name}.bn.gamma`] = Float32Array.from(variance, (v) => Math.sqrt(v + BATCH_NORM_EPSILON));
    values[`${name}.bn.beta`] = mean.slice();
    values[`${name}.bn.mean`] = mean.slice();
    values[`${name}.bn.variance`] = variance.slice();
  }
}
