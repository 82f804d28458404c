import { CvaeError } from '../../shared/errors.js';
import type { TensorEntry } from './safetensors.js';
import type { ClipTextConfig } from './text-graph.js';

/**
 * Where CLIP's text-tower parameters sit in a checkpoint, by the two naming schemes in use, and
 * how each becomes a parameter of the graph `text-graph.ts` writes (whose matrices are [in, out]):
 *  - Hugging Face transformers (`CLIPModel`, `CLIPTextModelWithProjection`):
 *    `text_model.encoder.layers.3.self_attn.q_proj.weight` …, `text_projection.weight`;
 *  - OpenAI's `model.py` (and OpenCLIP): `transformer.resblocks.3.attn.in_proj_weight` …,
 *    `text_projection`.
 * The correspondence is the one transformers' own conversion script applies
 * (`convert_clip_original_pytorch_to_hf.py`): q, k, v are the three row blocks of in_proj, torch
 * Linear weights are [out, in], OpenAI's text_projection is [in, out] and Hugging Face's its transpose.
 */
export type CheckpointLayout = 'huggingface' | 'openai';

/** One graph parameter: which source tensor, transposed or not, and which rows of it. */
interface Take {
  source: string;
  transpose?: boolean;
  /** rows [from, from + count) of the source (q, k, v out of in_proj) */
  rows?: { from: number; count: number };
}

export interface LayoutPlan {
  layout: CheckpointLayout;
  config: ClipTextConfig;
  /** graph parameter name → where it comes from */
  takes: Map<string, Take>;
}

/**
 * Recognises the layout from the names and reads the configuration off the shapes. Heads cannot be
 * read off shapes: CLIP's rule is one head per 64 channels (`model.py`: width // 64), `heads` overrides it.
 */
export function planClipImport(entries: Map<string, TensorEntry>, where: string, heads?: number): LayoutPlan {
  const names = [...entries.keys()];
  const hf = names.map((n) => n.match(/^(.*)embeddings\.token_embedding\.weight$/)).find(Boolean);
  const oa = names.map((n) => n.match(/^(.*)token_embedding\.weight$/)).find(Boolean);
  const layout: CheckpointLayout | undefined = hf ? 'huggingface' : oa ? 'openai' : undefined;
  const p = (hf ?? oa)?.[1] ?? '';
  if (!layout)
    throw new CvaeError(
      'clip_invalid',
      `${where} holds no CLIP text tower (no …token_embedding.weight among its ${names.length} tensors)`,
    );
  const shape = (name: string) => {
    const e = entries.get(name);
    if (!e) throw new CvaeError('clip_invalid', `${where} has no tensor ${name} (a ${layout} CLIP checkpoint has one)`);
    return e.shape;
  };
  const block = (l: number) =>
    layout === 'huggingface' ? `${p}encoder.layers.${l}.` : `${p}transformer.resblocks.${l}.`;
  const tokenName = layout === 'huggingface' ? `${p}embeddings.token_embedding.weight` : `${p}token_embedding.weight`;
  const positionName =
    layout === 'huggingface' ? `${p}embeddings.position_embedding.weight` : `${p}positional_embedding`;
  // Hugging Face's projection sits beside text_model, not inside it
  const projectionName =
    layout === 'huggingface' ? `${p.replace(/text_model\.$/, '')}text_projection.weight` : `${p}text_projection`;
  const [vocab, width] = shape(tokenName) as [number, number];
  const [context] = shape(positionName) as [number];
  const projection = shape(projectionName);
  const embedDim = (layout === 'huggingface' ? projection[0] : projection[1]) as number;
  let layers = 0;
  const firstNorm = layout === 'huggingface' ? 'layer_norm1.weight' : 'ln_1.weight';
  while (entries.has(`${block(layers)}${firstNorm}`)) layers += 1;
  const headCount = heads ?? Math.max(1, Math.floor(width / 64));
  if (layers === 0 || width % headCount !== 0)
    throw new CvaeError(
      'clip_invalid',
      `${where}: ${layers} transformer layers of width ${width} with ${headCount} heads is not a CLIP text tower`,
    );
  const config: ClipTextConfig = { vocab, context, width, layers, heads: headCount, embedDim };

  const takes = new Map<string, Take>();
  const norm = (ours: string, theirs: string) => {
    takes.set(`${ours}.weight`, { source: `${theirs}.weight` });
    takes.set(`${ours}.bias`, { source: `${theirs}.bias` });
  };
  const linear = (ours: string, theirs: string) => {
    takes.set(`${ours}.weight`, { source: `${theirs}.weight`, transpose: true });
    takes.set(`${ours}.bias`, { source: `${theirs}.bias` });
  };
  takes.set('token_embedding', { source: tokenName });
  takes.set('positional_embedding', { source: positionName });
  for (let l = 0; l < layers; l++) {
    const ours = `layer${l}`;
    const b = block(l);
    if (layout === 'huggingface') {
      norm(`${ours}.ln_1`, `${b}layer_norm1`);
      for (const x of ['q', 'k', 'v']) linear(`${ours}.attn.${x}`, `${b}self_attn.${x}_proj`);
      linear(`${ours}.attn.out_proj`, `${b}self_attn.out_proj`);
      norm(`${ours}.ln_2`, `${b}layer_norm2`);
      linear(`${ours}.mlp.c_fc`, `${b}mlp.fc1`);
      linear(`${ours}.mlp.c_proj`, `${b}mlp.fc2`);
    } else {
      norm(`${ours}.ln_1`, `${b}ln_1`);
      ['q', 'k', 'v'].forEach((x, i) => {
        const rows = { from: i * width, count: width };
        takes.set(`${ours}.attn.${x}.weight`, { source: `${b}attn.in_proj_weight`, transpose: true, rows });
        takes.set(`${ours}.attn.${x}.bias`, { source: `${b}attn.in_proj_bias`, rows });
      });
      linear(`${ours}.attn.out_proj`, `${b}attn.out_proj`);
      norm(`${ours}.ln_2`, `${b}ln_2`);
      linear(`${ours}.mlp.c_fc`, `${b}mlp.c_fc`);
      linear(`${ours}.mlp.c_proj`, `${b}mlp.c_proj`);
    }
  }
  norm('ln_final', layout === 'huggingface' ? `${p}final_layer_norm` : `${p}ln_final`);
  takes.set('text_projection', { source: projectionName, transpose: layout === 'huggingface' });
  for (const { source } of takes.values()) shape(source); // every one is there before anything is read
  return { layout, config, takes };
}

/** The graph's parameters from the source tensors the plan names (as `readClipTextWeights` gives them). */
export function applyClipImport(
  plan: LayoutPlan,
  tensors: Map<string, Float32Array>,
  entries: Map<string, TensorEntry>,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [ours, take] of plan.takes) {
    const values = tensors.get(take.source) as Float32Array;
    const dims = (entries.get(take.source) as TensorEntry).shape;
    // a vector's rows are its elements; a matrix's are [rows, cols]
    const cols = dims.length === 2 ? (dims[1] as number) : 1;
    const rows = take.rows ?? { from: 0, count: dims.length === 2 ? (dims[0] as number) : values.length };
    const block = values.subarray(rows.from * cols, (rows.from + rows.count) * cols);
    out.set(ours, take.transpose ? transpose(block, rows.count, cols) : block.slice());
  }
  return out;
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c] as number;
  return t;
}
