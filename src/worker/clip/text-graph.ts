import { createRng, type Rng } from '../../shared/random.js';
import { GraphBuilder, type WeightType } from '../onnx/graph-builder.js';
import { CLIP_CONTEXT } from './publish.js';

/**
 * Writes CLIP's text transformer (openai/CLIP `model.py`, ViT-B/32 text tower) as ONNX with
 * seeded random weights in CLIP's initialisation, because the real weights cannot be downloaded
 * here. Same signature and structure as the real export: input_ids int64 [B, 77] → text_embeds
 * float32 [B, 512]; token + position embeddings, pre-LN residual blocks with causal multi-head
 * attention and a quick-GELU MLP, final layer norm, pooling at the end-of-text token (the highest
 * id in each row, as CLIP's argmax does), projection. `full` is ViT-B/32's size (63M parameters),
 * for benchmarks; `tiny` keeps the vocabulary and signature at a small width, for tests.
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

const gaussian = (rng: Rng, n: number, std: number) => {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
};

export function buildClipTextModel(
  config: ClipTextConfig,
  opts: { seed?: number; weights?: WeightType } = {},
): Uint8Array {
  const { vocab, context: T, width: W, layers, heads, embedDim } = config;
  const D = W / heads;
  const rng = createRng(opts.seed ?? 0);
  const g = new GraphBuilder('clip-text', opts.weights ?? 'float32');
  // CLIP's initialisation (model.py initialize_parameters)
  const attnStd = W ** -0.5;
  const projStd = W ** -0.5 * (2 * layers) ** -0.5;
  const fcStd = (2 * W) ** -0.5;

  const ids = g.input('input_ids', 'int64', ['batch', T]);
  const tokens = g.node('Gather', [g.floats('token_embedding', [vocab, W], gaussian(rng, vocab * W, 0.02)), ids]);
  let x = g.node('Add', [tokens, g.floats('positional_embedding', [T, W], gaussian(rng, T * W, 0.01))]);

  const mask = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -1e9; // causal
  const maskName = g.floats('causal_mask', [T, T], mask);
  const headsShape = g.ints('heads_shape', [0, T, heads, D]);
  const mergedShape = g.ints('merged_shape', [0, T, W]);
  const scale = g.floats('attn_scale', [], new Float32Array([D ** -0.5]));
  const gelu = g.floats('quick_gelu', [], new Float32Array([1.702]));

  const layerNorm = (input: string, name: string) =>
    g.node(
      'LayerNormalization',
      [
        input,
        g.floats(`${name}.weight`, [W], new Float32Array(W).fill(1)),
        g.floats(`${name}.bias`, [W], new Float32Array(W)),
      ],
      { axis: -1, epsilon: 1e-5 },
    );
  const linear = (input: string, name: string, inDim: number, outDim: number, std: number) =>
    g.node('Add', [
      g.node('MatMul', [input, g.floats(`${name}.weight`, [inDim, outDim], gaussian(rng, inDim * outDim, std))]),
      g.floats(`${name}.bias`, [outDim], new Float32Array(outDim)),
    ]);
  const splitHeads = (v: string) => g.node('Transpose', [g.node('Reshape', [v, headsShape])], { perm: [0, 2, 1, 3] });

  for (let l = 0; l < layers; l++) {
    const p = `layer${l}`;
    const h = layerNorm(x, `${p}.ln_1`);
    const q = splitHeads(linear(h, `${p}.attn.q`, W, W, attnStd));
    const k = splitHeads(linear(h, `${p}.attn.k`, W, W, attnStd));
    const v = splitHeads(linear(h, `${p}.attn.v`, W, W, attnStd));
    const kT = g.node('Transpose', [k], { perm: [0, 1, 3, 2] });
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, kT]), scale]), maskName]);
    const attn = g.node('MatMul', [g.node('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.node('Reshape', [g.node('Transpose', [attn], { perm: [0, 2, 1, 3] }), mergedShape]);
    x = g.node('Add', [x, linear(merged, `${p}.attn.out_proj`, W, W, projStd)]);
    const h2 = layerNorm(x, `${p}.ln_2`);
    const fc = linear(h2, `${p}.mlp.c_fc`, W, 4 * W, fcStd);
    const act = g.node('Mul', [fc, g.node('Sigmoid', [g.node('Mul', [fc, gelu])])]); // quick-GELU
    x = g.node('Add', [x, linear(act, `${p}.mlp.c_proj`, 4 * W, W, projStd)]);
  }
  x = layerNorm(x, 'ln_final');

  // pool at the end-of-text token: CLIP takes x[arange(B), input_ids.argmax(-1)]
  const eot = g.node('ArgMax', [ids], { axis: 1, keepdims: 0 });
  const oneHot = g.node(
    'OneHot',
    [eot, g.ints('context', [T]), g.floats('one_hot_values', [2], new Float32Array([0, 1]))],
    {
      axis: -1,
    },
  );
  const pooled = g.node('MatMul', [g.node('Unsqueeze', [oneHot, g.ints('axis1', [1])]), x]); // [B,1,W]
  const flat = g.node('Reshape', [pooled, g.ints('pooled_shape', [0, W])]);
  g.node(
    'MatMul',
    [flat, g.floats('text_projection', [W, embedDim], gaussian(rng, W * embedDim, attnStd))],
    {},
    'text_embeds',
  );
  g.output('text_embeds', ['batch', embedDim]);
  return g.build(
    `CLIP ViT-B/32-style text transformer with seeded random weights (width ${W}, ${layers} layers, ${heads} heads): not the trained CLIP`,
  );
}
