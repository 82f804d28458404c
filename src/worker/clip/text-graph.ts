import onnxProto from 'onnx-proto';
import { createRng } from '../../shared/random.js';
import { GraphBuilder, type WeightType } from '../onnx/graph-builder.js';
import { CLIP_CONTEXT } from './publish.js';

const { onnx } = onnxProto;

/**
 * CLIP's text transformer (openai/CLIP `model.py`, ViT-B/32 text tower) written as ONNX, in two
 * forms from one description:
 *  - `full`: CLIP's own signature, input_ids int64 [B, 77] → text_embeds float32 [B, 512], float
 *    weights. Token + position embeddings, pre-LN residual blocks with causal multi-head attention
 *    and a quick-GELU MLP, final layer norm, pooling at the end-of-text token (the highest id in
 *    each row, as CLIP's argmax does), projection.
 *  - `compact`: the same network for the edge isolate (docs/research/edge-text-encoder.md). The
 *    token embedding table stays out of the graph (the caller looks up rows: inputs_embeds float32
 *    [B, S, 512]); S is the caption's own length (causal attention: positions after end-of-text never
 *    change the pooled output), pooling at eot_index int64 [B]; every matrix is int8 per output
 *    channel, multiplied by MatMulInteger against activations quantized per row at run time.
 * Weights come from a `WeightSource`: seeded random ones in CLIP's initialisation (the real weights
 * cannot be downloaded here) or the tensors of an existing graph (`readClipTextWeights`).
 * `full` is ViT-B/32's size (63M parameters); `tiny` keeps the vocabulary and signature at a
 * small width, for tests.
 */
export interface ClipTextConfig {
  vocab: number;
  context: number;
  width: number;
  layers: number;
  heads: number;
  embedDim: number;
}

export const CLIP_TEXT_CONFIGS: Record<'full' | 'tiny', ClipTextConfig> = {
  full: { vocab: 49408, context: CLIP_CONTEXT, width: 512, layers: 12, heads: 8, embedDim: 512 },
  tiny: { vocab: 49408, context: CLIP_CONTEXT, width: 32, layers: 2, heads: 2, embedDim: 512 },
};

export function clipParameterCount(c: ClipTextConfig): number {
  const block = 2 * 2 * c.width + 4 * (c.width * c.width + c.width) + c.width * 4 * c.width * 2 + 5 * c.width;
  return c.vocab * c.width + c.context * c.width + c.layers * block + 2 * c.width + c.width * c.embedDim;
}

/** How a parameter starts when it is drawn rather than read: N(0, std²), or a constant. */
export type Init = { std: number } | { fill: number };
/** A named parameter's values; called in the network's order. */
export type WeightSource = (name: string, dims: number[], init: Init) => Float32Array;

/** CLIP's initialisation (model.py initialize_parameters) from a seed, drawn in a fixed order. */
export function randomWeights(seed: number): WeightSource {
  const rng = createRng(seed);
  return (_name, dims, init) => {
    const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if ('fill' in init) return out.fill(init.fill);
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * init.std;
    return out;
  };
}

/**
 * The parameters of a graph written by `buildClipTextModel`, by name (`layer3.mlp.c_fc.weight`),
 * and its configuration read back from their shapes (heads from the attention reshape).
 */
export function readClipTextWeights(onnxBytes: Uint8Array): {
  weights: Map<string, Float32Array>;
  config: ClipTextConfig;
} {
  const model = onnx.ModelProto.decode(onnxBytes);
  const weights = new Map<string, Float32Array>();
  const dims = new Map<string, number[]>();
  let heads: number | undefined;
  for (const t of model.graph?.initializer ?? []) {
    if (!t.name || !t.rawData) continue;
    const name = t.name.replace(/_\d+$/, '');
    const copy = new Uint8Array(t.rawData.byteLength);
    copy.set(t.rawData);
    if (name === 'heads_shape' && t.dataType === onnx.TensorProto.DataType.INT64) {
      heads = Number(new BigInt64Array(copy.buffer)[2]);
    }
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
    weights.set(name, new Float32Array(copy.buffer));
    dims.set(name, (t.dims ?? []).map(Number));
  }
  const shape = (name: string) => {
    const d = dims.get(name);
    if (!d) throw new Error(`not a CLIP text graph written by cvae (no ${name}); compacting needs its named weights`);
    return d;
  };
  const [vocab, width] = shape('token_embedding') as [number, number];
  let layers = 0;
  while (weights.has(`layer${layers}.ln_1.weight`)) layers += 1;
  if (!heads) throw new Error('not a CLIP text graph written by cvae (no heads_shape)');
  const config: ClipTextConfig = {
    vocab,
    width,
    context: shape('positional_embedding')[0] as number,
    layers,
    heads,
    embedDim: shape('text_projection')[1] as number,
  };
  return { weights, config };
}

/** A WeightSource over named tensors; a missing or misshapen one is an error naming it. */
export function namedWeights(weights: Map<string, Float32Array>): WeightSource {
  return (name, dims) => {
    const values = weights.get(name);
    const size = dims.reduce((a, b) => a * b, 1);
    if (!values) throw new Error(`the CLIP text graph has no parameter ${name}`);
    if (values.length !== size) throw new Error(`${name} has ${values.length} values, expected [${dims.join(', ')}]`);
    return values;
  };
}

export type ClipGraphVariant = 'full' | 'compact';

type GraphOptions = {
  seed?: number;
  weights?: WeightType;
  source?: WeightSource;
  variant?: ClipGraphVariant;
  /** compact only: 'float32' keeps float matrices (for measuring what int8 costs and saves) */
  matrices?: 'int8' | 'float32';
  /** full only: the graph's doc string when the weights are not the seeded random ones */
  doc?: string;
};

/** The graph as one ONNX file (the `full` form, as `cvae clip generate` writes it). */
export function buildClipTextModel(config: ClipTextConfig, opts: GraphOptions = {}): Uint8Array {
  const { g, doc } = writeClipTextGraph(config, opts);
  return g.build(doc);
}

/** The compact form for the edge: the graph, and its weights as external data in `dataFile`. */
export function buildCompactClipText(
  config: ClipTextConfig,
  source: WeightSource,
  dataFile: string,
  matrices: GraphOptions['matrices'] = 'int8',
): { graph: Uint8Array; data: Uint8Array } {
  const { g, doc } = writeClipTextGraph(config, { source, variant: 'compact', matrices });
  return g.buildWithExternalData(doc, dataFile);
}

function writeClipTextGraph(config: ClipTextConfig, opts: GraphOptions): { g: GraphBuilder; doc: string } {
  const { vocab, context: T, width: W, layers, heads, embedDim } = config;
  const D = W / heads;
  const compact = opts.variant === 'compact';
  const param = opts.source ?? randomWeights(opts.seed ?? 0);
  const g = new GraphBuilder(compact ? 'clip-text-compact' : 'clip-text', opts.weights ?? 'float32');
  // CLIP's initialisation (model.py initialize_parameters)
  const attnStd = W ** -0.5;
  const projStd = W ** -0.5 * (2 * layers) ** -0.5;
  const fcStd = (2 * W) ** -0.5;
  const floats = (name: string, dims: number[], init: Init) => g.floats(name, dims, param(name, dims, init));

  const mask = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -1e9; // causal

  // input stage: token rows + positions, the causal mask and reshapes at this sequence length
  let x: string;
  let maskName: string;
  let headsShape: string;
  let mergedShape: string;
  let ids = '';
  let seqLen = ''; // compact: S as a 1-element tensor
  if (compact) {
    const embeds = g.input('inputs_embeds', 'float32', ['batch', 'sequence', W]);
    g.input('eot_index', 'int64', ['batch']);
    seqLen = g.node('Slice', [g.node('Shape', [embeds]), g.ints('one', [1]), g.ints('two', [2])]);
    const zero = g.ints('zero', [0]);
    const positions = g.node('Slice', [floats('positional_embedding', [T, W], { std: 0.01 }), zero, seqLen, zero]);
    x = g.node('Add', [embeds, positions]);
    maskName = g.node('Slice', [
      g.floats('causal_mask', [T, T], mask),
      g.ints('zeros', [0, 0]),
      g.node('Concat', [seqLen, seqLen], { axis: 0 }),
      g.ints('axes01', [0, 1]),
    ]);
    headsShape = g.ints('heads_shape', [0, -1, heads, D]);
    mergedShape = g.ints('merged_shape', [0, -1, W]);
  } else {
    ids = g.input('input_ids', 'int64', ['batch', T]);
    const tokens = g.node('Gather', [floats('token_embedding', [vocab, W], { std: 0.02 }), ids]);
    x = g.node('Add', [tokens, floats('positional_embedding', [T, W], { std: 0.01 })]);
    maskName = g.floats('causal_mask', [T, T], mask);
    headsShape = g.ints('heads_shape', [0, T, heads, D]);
    mergedShape = g.ints('merged_shape', [0, T, W]);
  }
  const scale = g.floats('attn_scale', [], new Float32Array([D ** -0.5]));
  const gelu = g.floats('quick_gelu', [], new Float32Array([1.702]));

  const layerNorm = (input: string, name: string) =>
    g.node(
      'LayerNormalization',
      [input, floats(`${name}.weight`, [W], { fill: 1 }), floats(`${name}.bias`, [W], { fill: 0 })],
      { axis: -1, epsilon: 1e-5 },
    );

  // compact matrices: int8 weights per output channel; activations quantized per row (per token)
  const int8 = compact && opts.matrices !== 'float32' ? int8Ops(g) : undefined;
  type Input = string | { q: string; scale: string };
  const linear = (input: Input, name: string, inDim: number, outDim: number, std: number) => {
    const w = param(`${name}.weight`, [inDim, outDim], { std });
    const product =
      int8 && typeof input !== 'string'
        ? int8.matmul(input, w, inDim, outDim, name)
        : g.node('MatMul', [input as string, g.floats(`${name}.weight`, [inDim, outDim], w)]);
    return g.node('Add', [product, floats(`${name}.bias`, [outDim], { fill: 0 })]);
  };
  const rows = (v: string): Input => (int8 ? int8.quantizeRows(v) : v);
  const splitHeads = (v: string) => g.node('Transpose', [g.node('Reshape', [v, headsShape])], { perm: [0, 2, 1, 3] });

  // pool at the end-of-text token: CLIP takes x[arange(B), input_ids.argmax(-1)]
  // (made on first use: the full graph's nodes keep their order, and so its bytes and sha256)
  let eotIndex = compact ? 'eot_index' : '';
  const eot = () => {
    eotIndex ||= g.node('ArgMax', [ids], { axis: 1, keepdims: 0 });
    return eotIndex;
  };
  const eotRows = () =>
    g.node('Unsqueeze', [
      g.node('OneHot', [eot(), compact ? seqLen : g.ints('context', [T]), g.floats('one_hot_values', [2], ONE_HOT)], {
        axis: -1,
      }),
      g.ints('axis1', [1]),
    ]); // [B, 1, S]: one-hot at each caption's end-of-text position
  const pick = (v: string, rowsOf: string) => g.node('MatMul', [rowsOf, v]); // [B,1,S]·[B,S,W] → [B,1,W]

  for (let l = 0; l < layers; l++) {
    const p = `layer${l}`;
    // compact, last block: only the end-of-text row reaches the output, so its query, attention,
    // out_proj and MLP run for that row alone; keys and values still come from every position
    // (docs/research/2026-11-edge-text-encoder.md, "The last block")
    const eotOnly = compact && l === layers - 1;
    const eotOneHot = eotOnly ? eotRows() : '';
    const ln1 = layerNorm(x, `${p}.ln_1`);
    const h = rows(ln1);
    const hq = eotOnly ? rows(pick(ln1, eotOneHot)) : h; // a layer norm is per row: pick after it
    if (eotOnly) x = pick(x, eotOneHot);
    const q = splitHeads(linear(hq, `${p}.attn.q`, W, W, attnStd));
    const k = splitHeads(linear(h, `${p}.attn.k`, W, W, attnStd));
    const v = splitHeads(linear(h, `${p}.attn.v`, W, W, attnStd));
    const kT = g.node('Transpose', [k], { perm: [0, 1, 3, 2] });
    // the end-of-text row's line of the causal mask, [B, 1, 1, S]
    const maskRows = eotOnly
      ? g.node('Reshape', [g.node('Gather', [maskName, eot()], { axis: 0 }), g.ints('mask_row_shape', [0, 1, 1, -1])])
      : maskName;
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, kT]), scale]), maskRows]);
    const attn = g.node('MatMul', [g.node('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.node('Reshape', [g.node('Transpose', [attn], { perm: [0, 2, 1, 3] }), mergedShape]);
    x = g.node('Add', [x, linear(rows(merged), `${p}.attn.out_proj`, W, W, projStd)]);
    const h2 = rows(layerNorm(x, `${p}.ln_2`));
    const fc = linear(h2, `${p}.mlp.c_fc`, W, 4 * W, fcStd);
    const act = g.node('Mul', [fc, g.node('Sigmoid', [g.node('Mul', [fc, gelu])])]); // quick-GELU
    x = g.node('Add', [x, linear(rows(act), `${p}.mlp.c_proj`, 4 * W, W, projStd)]);
  }
  x = layerNorm(x, 'ln_final');
  const pooled = compact ? x : pick(x, eotRows()); // [B,1,W] (the compact graph picked the row already)
  const flat = g.node('Reshape', [pooled, g.ints('pooled_shape', [0, W])]);
  // the projection is one row per caption: float32 even in the compact graph (1 MiB)
  g.node('MatMul', [flat, floats('text_projection', [W, embedDim], { std: attnStd })], {}, 'text_embeds');
  g.output('text_embeds', ['batch', embedDim]);
  const shape = `width ${W}, ${layers} layers, ${heads} heads`;
  return {
    g,
    doc: compact
      ? `CLIP ViT-B/32-style text transformer, compact for the edge (${shape}; token rows as input, int8 matrices)`
      : opts.doc
        ? `${opts.doc} (${shape})`
        : // this exact text is part of the generated graph's bytes, and so of the sha256 models cite
          `CLIP ViT-B/32-style text transformer with seeded random weights (${shape}): not the trained CLIP`,
  };
}

const ONE_HOT = new Float32Array([0, 1]);

/**
 * Int8 matrix products in plain ONNX operators that onnxruntime-web's wasm build runs with its
 * integer GEMM: weights uint8 (offset 128) with a float scale per output channel; activations
 * quantized per row, scale max|row| / 127, just before each product.
 */
function int8Ops(g: GraphBuilder) {
  const c127 = g.floats('c127', [], new Float32Array([127]), true);
  const tiny = g.floats('tiny', [], new Float32Array([1e-12]), true);
  const one = g.floats('unit_scale', [], new Float32Array([1]), true);
  const zp = g.uint8s('zero_point', [], new Uint8Array([128]));
  return {
    quantizeRows(x: string) {
      const max = g.node('ReduceMax', [g.node('Abs', [x])], { axes: [-1], keepdims: 1 });
      const scale = g.node('Max', [g.node('Div', [max, c127]), tiny]);
      const q = g.node('QuantizeLinear', [g.node('Div', [x, scale]), one, zp]);
      return { q, scale };
    },
    matmul(input: { q: string; scale: string }, w: Float32Array, inDim: number, outDim: number, name: string) {
      const { bytes, scales } = quantizeColumns(w, inDim, outDim);
      const product = g.node('MatMulInteger', [input.q, g.uint8s(`${name}.weight_u8`, [inDim, outDim], bytes), zp, zp]);
      const asFloat = g.node('Cast', [product], { to: onnx.TensorProto.DataType.FLOAT });
      return g.node('Mul', [
        g.node('Mul', [asFloat, input.scale]),
        g.floats(`${name}.weight_scale`, [outDim], scales, true),
      ]);
    },
  };
}

/** Symmetric int8 per output column of a [in, out] matrix, stored as uint8 with offset 128. */
export function quantizeColumns(w: Float32Array, inDim: number, outDim: number) {
  const scales = new Float32Array(outDim);
  for (let i = 0; i < inDim; i++)
    for (let o = 0; o < outDim; o++) scales[o] = Math.max(scales[o] as number, Math.abs(w[i * outDim + o] as number));
  for (let o = 0; o < outDim; o++) scales[o] = (scales[o] as number) / 127 || 1;
  const bytes = new Uint8Array(inDim * outDim);
  for (let i = 0; i < inDim; i++)
    for (let o = 0; o < outDim; o++)
      bytes[i * outDim + o] = Math.round((w[i * outDim + o] as number) / (scales[o] as number)) + 128;
  return { bytes, scales };
}
