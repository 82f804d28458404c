import { Matrix, solve } from 'ml-matrix';
import onnxProto from 'onnx-proto';
import { BACKGROUNDS, COLOURS, describeScene, POSITIONS, type Scene, SHAPES } from '../data/synth-coco.js';
import { ort } from '../onnx/runtime.js';
import { rgb } from './caption-following.js';

const { onnx } = onnxProto;

/**
 * Where in a long-text decoder is the caption's colour? A model that draws a channel wrong (the
 * 256 px model's red: docs/results/coco-256-concat-v4/) either never gets the colour from the
 * caption, or gets it and loses it on the way up. This asks each layer: over one caption per
 * colour × shape × place × background (large objects, 486), the layer's features at the object's
 * place, and a least-squares linear read-out of "the asked colour has red" (green, blue): the
 * share it gets right on held-out places (3 folds). The drawn image's own channel, read at the same
 * place, is the last row. A layer that reads near chance (50%) has not got the colour.
 */
export interface LayerProbe {
  /** the graph tensor (the condition projection, the seed map, each ReLU) */
  layer: string;
  /** "128" for a vector, "16x16x64" for a feature map */
  size: string;
  /** read-out accuracy for R, G, B (0…1) */
  accuracy: [number, number, number];
}

export interface ColourProbe {
  layers: LayerProbe[];
  /** the drawn image's channel above the palette's midpoint at the object's place, for R, G, B */
  drawn: [number, number, number];
  captions: number;
}

interface ProbeScene {
  caption: string;
  colour: string;
  position: number;
}

export function colourProbeScenes(): ProbeScene[] {
  const out: ProbeScene[] = [];
  for (const colour of Object.keys(COLOURS))
    for (const shape of SHAPES)
      for (let position = 0; position < POSITIONS.length; position++)
        for (const background of Object.keys(BACKGROUNDS)) {
          const scene: Scene = { background, objects: [{ colour, shape, size: 'large', position, count: 1 }] };
          out.push({ caption: describeScene(scene), colour, position });
        }
  return out;
}

/**
 * The decoder with its probed tensors as extra outputs: the condition's projection (a Gemm on the
 * text embedding), the first feature map (the Transpose after the seed reshape) and every ReLU's
 * output; a ReLU of the dense seed (before its reshape) is left out, its map is probed instead.
 */
function withLayerOutputs(decoder: Uint8Array): { graph: Uint8Array; layers: string[] } {
  const model = onnx.ModelProto.decode(decoder);
  const nodes = model.graph?.node ?? [];
  const outOf = (n: onnxProto.onnx.INodeProto) => n.output?.[0] as string;
  const condition = nodes.find((n) => n.opType === 'Gemm' && n.input?.includes('text_embedding'));
  const seedMap = nodes.find((n) => n.opType === 'Transpose');
  const layers = [condition, seedMap, ...nodes.filter((n) => n.opType === 'Relu')]
    .filter((n): n is onnxProto.onnx.INodeProto => Boolean(n))
    .map(outOf);
  for (const name of layers) model.graph?.output?.push(onnx.ValueInfoProto.create({ name }));
  return { graph: onnx.ModelProto.encode(model).finish(), layers };
}

/** `embed`: the model's text encoder over captions, `dim` floats a caption. */
export async function colourProbe(
  decoder: Uint8Array,
  embed: (captions: string[]) => Promise<Float32Array>,
  opts: { latentDim: number; embeddingDim: number; batch?: number } = { latentDim: 128, embeddingDim: 512 },
): Promise<ColourProbe> {
  const scenes = colourProbeScenes();
  const { graph, layers } = withLayerOutputs(decoder);
  const session = await ort.InferenceSession.create(graph);
  const embeddings = await embed(scenes.map((s) => s.caption));
  const features = new Map<string, { size: string; rows: number[][] }>();
  const drawn: number[][] = [];
  const batch = opts.batch ?? 54;
  const E = opts.embeddingDim;
  try {
    for (let b = 0; b < scenes.length; b += batch) {
      const n = Math.min(batch, scenes.length - b);
      const out = await session.run({
        z: new ort.Tensor('float32', new Float32Array(n * opts.latentDim), [n, opts.latentDim]),
        text_embedding: new ort.Tensor('float32', embeddings.slice(b * E, (b + n) * E), [n, E]),
      });
      for (let k = 0; k < n; k++) {
        const [, fx, fy] = POSITIONS[(scenes[b + k] as ProbeScene).position] as [string, number, number];
        for (const name of layers) {
          const t = out[name] as ort.Tensor;
          const dims = t.dims as number[];
          if (dims.length === 2 && (dims[1] as number) > 512) continue; // the dense seed before its reshape
          let entry = features.get(name);
          if (!entry) {
            entry = { size: dims.length === 2 ? `${dims[1]}` : `${dims[2]}x${dims[3]}x${dims[1]}`, rows: [] };
            features.set(name, entry);
          }
          entry.rows.push(
            dims.length === 2
              ? Array.from((t.data as Float32Array).subarray(k * (dims[1] as number), (k + 1) * (dims[1] as number)))
              : placeMeans(t.data as Float32Array, k, dims, fx, fy),
          );
        }
        const image = out.image as ort.Tensor;
        drawn.push(placeMeans(image.data as Float32Array, k, image.dims as number[], fx, fy));
      }
    }
  } finally {
    await session.release();
  }
  // the asked colour's channels, 1 where the palette has it (red, yellow and magenta have red)
  const targets = [0, 1, 2].map((c) =>
    scenes.map((s) => ((rgb(COLOURS[s.colour] as string)[c] as number) > 0.5 ? 1 : 0)),
  );
  const folds = scenes.map((s) => s.position % 3);
  const per = (f: (c: number) => number) => [0, 1, 2].map(f) as [number, number, number];
  return {
    layers: [...features].map(([layer, { size, rows }]) => ({
      layer,
      size,
      accuracy: per((c) => linearProbeAccuracy(rows, targets[c] as number[], folds)),
    })),
    drawn: per(
      (c) =>
        drawn.filter((rgb, i) => ((rgb[c] as number) > 0.45 ? 1 : 0) === (targets[c] as number[])[i]).length /
        scenes.length,
    ),
    captions: scenes.length,
  };
}

/** Each channel's mean over a window around (fx, fy) (fractions of the map), for item k of NCHW data. */
function placeMeans(data: Float32Array, k: number, dims: number[], fx: number, fy: number): number[] {
  const [, C, H, W] = dims as [number, number, number, number];
  const r = Math.max(1, Math.round(H / 32));
  const cx = Math.round(fx * W);
  const cy = Math.round(fy * H);
  const out: number[] = [];
  for (let c = 0; c < C; c++) {
    let sum = 0;
    let count = 0;
    for (let y = Math.max(0, cy - r); y <= Math.min(H - 1, cy + r); y++)
      for (let x = Math.max(0, cx - r); x <= Math.min(W - 1, cx + r); x++) {
        sum += data[((k * C + c) * H + y) * W + x] as number;
        count++;
      }
    out.push(sum / count);
  }
  return out;
}

/**
 * Held-out accuracy of a least-squares linear read-out (with a bias, a little ridge) of 0/1
 * targets from feature rows: fit on all folds but one, score that one, for each fold.
 */
export function linearProbeAccuracy(rows: number[][], target: number[], folds: number[]): number {
  let right = 0;
  for (const held of new Set(folds)) {
    const train = rows.map((_, i) => i).filter((i) => folds[i] !== held);
    const w = leastSquares(
      train.map((i) => [...(rows[i] as number[]), 1]),
      train.map((i) => target[i] as number),
    );
    rows.forEach((row, i) => {
      if (folds[i] !== held) return;
      const p = [...row, 1].reduce((s, v, j) => s + v * (w[j] as number), 0);
      if ((p > 0.5 ? 1 : 0) === target[i]) right++;
    });
  }
  return right / rows.length;
}

/** Least squares with a small ridge, by its normal equations (ml-matrix, as import-cvae.ts uses). */
function leastSquares(X: number[][], y: number[]): number[] {
  const x = new Matrix(X);
  const xt = x.transpose();
  const gram = xt.mmul(x).add(Matrix.eye(x.columns).mul(1e-4));
  return solve(gram, xt.mmul(Matrix.columnVector(y))).getColumn(0);
}

export function formatColourProbe(p: ColourProbe): string {
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const lines = [
    `| layer | size | R | G | B |`,
    `|---|---|---|---|---|`,
    ...p.layers.map((l) => `| ${l.layer} | ${l.size} | ${l.accuracy.map(pct).join(' | ')} |`),
    `| the drawn image | | ${p.drawn.map(pct).join(' | ')} |`,
  ];
  return lines.join('\n');
}
