import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type CocoJoin, type CocoSize, cocoSpec } from '../../shared/arch/coco.js';
import { describeCvae } from '../../shared/arch/shapes.js';
import type { ClipTextEncoder } from '../../shared/text/text-encoder.js';
import { type EvalReport, type EvalSet, evaluate, runModel } from '../eval/evaluate.js';
import type { FeatureExtractor } from '../eval/feature-extractor.js';
import { writeGrid } from '../eval/figures.js';
import { createVariables, type Weights } from '../model/weights.js';
import type { TrainOptions, TrainResult } from '../train/trainer.js';
import { type CaptionFollowing, probePrompts, scoreCaptionFollowing } from './caption-following.js';
import { generateFromConditions } from './generate.js';
import { formatSeconds } from './table1.js';

/**
 * Paper Table 2: the six COCO CVAEs (64/128/256 px × add/concat conditioning) trained on COCO
 * captions with CLIP embeddings, scored on the validation split (MSE as the per-image sum of
 * squared errors, SSIM, FID with the extractor named), with reconstruction and generation figures.
 */
export const PAPER_TABLE2: Record<string, { mse: number; ssim: number; fid: number }> = {
  'coco-64-add': { mse: 195.2407, ssim: 0.4135, fid: 274.2384 },
  'coco-64-concat': { mse: 184.841, ssim: 0.4148, fid: 272.1877 },
  'coco-128-add': { mse: 628.7485, ssim: 0.4725, fid: 231.6987 },
  'coco-128-concat': { mse: 615.0895, ssim: 0.4615, fid: 299.9901 },
  'coco-256-add': { mse: 20313.7465, ssim: 0.1746, fid: 237.1675 },
  'coco-256-concat': { mse: 3656.8606, ssim: 0.4421, fid: 243.7546 },
};

/** Prompts drawn for the generation figure (in the synthetic captions' wording): colour, shape, size, position, count, background. */
export const TABLE2_PROMPTS = [
  'A large red circle at the top left on a white background.',
  'A large blue square at the bottom right on a black background.',
  'A small yellow triangle in the center on a black background.',
  'Two large green circles at the top on a gray background.',
  'On a white background, a large magenta square is at the left.',
  'A large cyan triangle at the bottom left on a gray background. A red circle is at the top right.',
];

export interface Table2Row {
  model: string;
  size: CocoSize;
  join: CocoJoin;
  report: EvalReport;
  epochs: number;
  /** β, the KL weight it was trained with */
  klWeight: number;
  trainSeconds: number;
  imagesPerSecond: number;
  trainExamples: number;
  backend: string;
  figures: { reconstructions: string; generations: string };
  /** synthetic data only: how often generations show the prompt's background, position, colour */
  captionFollowing?: CaptionFollowing;
}

/** Samples per probe prompt when scoring caption following. */
const PROBE_SAMPLES = 4;

async function embedRepeated(encoder: ClipTextEncoder, prompts: string[], per: number): Promise<Float32Array> {
  const dim = encoder.dim;
  const out = new Float32Array(prompts.length * per * dim);
  for (const [p, prompt] of prompts.entries()) {
    const { embedding } = await encoder.embed(prompt);
    for (let i = 0; i < per; i++) out.set(embedding, (p * per + i) * dim);
  }
  return out;
}

/** Caption following of a trained text-conditioned model on the synthetic probe prompts. */
export async function captionFollowing(
  spec: ReturnType<typeof cocoSpec>,
  vars: Weights,
  encoder: ClipTextEncoder,
  seed: number,
): Promise<CaptionFollowing> {
  const size = spec.image.width;
  const prompts = probePrompts();
  const conditions = await embedRepeated(
    encoder,
    prompts.map((p) => p.caption),
    PROBE_SAMPLES,
  );
  const out = await generateFromConditions(spec, vars, conditions, prompts.length * PROBE_SAMPLES, seed);
  const cell = size * size * 3;
  const images = prompts.map((_, p) =>
    Array.from({ length: PROBE_SAMPLES }, (_, k) =>
      out.subarray((p * PROBE_SAMPLES + k) * cell, (p * PROBE_SAMPLES + k + 1) * cell),
    ),
  );
  return scoreCaptionFollowing(prompts, images, size);
}

export async function evaluateForTable2(
  size: CocoSize,
  join_: CocoJoin,
  training: TrainResult,
  options: TrainOptions,
  set: EvalSet,
  extractor: FeatureExtractor,
  encoder: ClipTextEncoder,
  dir: string,
  synthetic = false,
): Promise<Table2Row> {
  const spec = cocoSpec(size, join_);
  await mkdir(dir, { recursive: true });
  const outputs = await runModel(spec, training.state.values, set, options.seed);
  const report = await evaluate(outputs, set, extractor, undefined);
  const cellSize = size * size * 3;
  const cell = (buf: Float32Array, i: number) => buf.subarray(i * cellSize, (i + 1) * cellSize);
  const cols = Math.min(8, set.count);
  const recCells: Float32Array[] = [];
  for (let c = 0; c < cols; c++) recCells.push(cell(set.images, c));
  for (let c = 0; c < cols; c++) recCells.push(cell(outputs.reconstructions, c));
  const scale = size === 64 ? 2 : 1;
  const reconstructions = join(dir, 'reconstructions.png');
  await writeGrid(reconstructions, recCells, { rows: 2, cols, height: size, width: size, channels: 3, scale });

  // Generations: one row per prompt, 4 samples each from z ~ N(0, I).
  const perPrompt = 4;
  const vars = createVariables(describeCvae(spec).params, training.state.values);
  const gens: Float32Array[] = [];
  for (const [p, prompt] of TABLE2_PROMPTS.entries()) {
    const cond = await embedRepeated(encoder, [prompt], perPrompt);
    const data = await generateFromConditions(spec, vars, cond, perPrompt, options.seed * 1000 + p);
    for (let i = 0; i < perPrompt; i++) gens.push(data.slice(i * cellSize, (i + 1) * cellSize));
  }
  const following = synthetic ? await captionFollowing(spec, vars, encoder, options.seed) : undefined;
  tf.dispose(Object.values(vars));
  const generations = join(dir, 'generations.png');
  await writeGrid(generations, gens, {
    rows: TABLE2_PROMPTS.length,
    cols: perPrompt,
    height: size,
    width: size,
    channels: 3,
    scale,
  });
  const trainSeconds = training.history.reduce((s, h) => s + h.seconds, 0);
  return {
    model: spec.id,
    size,
    join: join_,
    report,
    epochs: training.history.length,
    klWeight: options.klWeight,
    trainSeconds,
    imagesPerSecond: (training.history.length * training.trainExamples) / Math.max(trainSeconds, 1e-9),
    trainExamples: training.trainExamples,
    backend: training.backend.label,
    figures: { reconstructions, generations },
    ...(following ? { captionFollowing: following } : {}),
  };
}

const f = (x: number, d = 4) => x.toFixed(d);
/** FIDs to 3 significant digits: the random-CNN extractor's features are small, so its FIDs are
 * too (0.0123); fixed decimals would print them all as 0.01. */
const fid = (x: number) => x.toPrecision(3);

export function table2Markdown(rows: Table2Row[], note: string): string {
  const lines = [
    '# Table 2: COCO-format CVAEs, image size x conditioning (validation split)',
    '',
    note,
    '',
    '| Model | Size | Conditioning | MSE | MSE (sampled z) | SSIM (Gaussian 11x11) | FID generations | FID reconstructions | Follows caption: background / position / colour / shape | Epochs | β | Train time | Examples/s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const pc = (x: number) => `${Math.round(x * 100)}%`;
  for (const r of rows) {
    const p = r.report;
    lines.push(
      `| ${r.model} | ${r.size}x${r.size} | ${r.join === 'add' ? 'addition' : 'concatenation'} | ${f(p.posteriorMean.mse, 2)} | ${f(p.sampled.mse, 2)} | ${f(p.posteriorMean.ssimGaussian)} | ${fid(p.fidGenerated)} | ${fid(p.fidReconstructed)} | ${r.captionFollowing ? `${pc(r.captionFollowing.background)} / ${pc(r.captionFollowing.position)} / ${pc(r.captionFollowing.colour)} / ${pc(r.captionFollowing.shape)}` : 'n/a'} | ${r.epochs} | ${r.klWeight} | ${formatSeconds(r.trainSeconds)} | ${r.imagesPerSecond.toFixed(0)} |`,
    );
  }
  const bySize = new Map<number, Table2Row[]>();
  for (const r of rows) bySize.set(r.size, [...(bySize.get(r.size) ?? []), r]);
  lines.push('', '## Concatenation vs addition', '');
  for (const [size, pair] of bySize) {
    const add = pair.find((r) => r.join === 'add');
    const concat = pair.find((r) => r.join === 'concat');
    if (!add || !concat) continue;
    const d = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)}%`;
    lines.push(
      `- ${size}x${size}: concat MSE ${f(concat.report.posteriorMean.mse, 2)} vs add ${f(add.report.posteriorMean.mse, 2)} (${d(add.report.posteriorMean.mse, concat.report.posteriorMean.mse)}), SSIM ${f(concat.report.posteriorMean.ssimGaussian)} vs ${f(add.report.posteriorMean.ssimGaussian)}, FID ${fid(concat.report.fidGenerated)} vs ${fid(add.report.fidGenerated)}.`,
    );
  }
  lines.push('', '## The paper (Table 2, real COCO)', '', '| Model | MSE | SSIM | FID |', '|---|---|---|---|');
  for (const [id, p] of Object.entries(PAPER_TABLE2)) lines.push(`| ${id} | ${p.mse} | ${p.ssim} | ${p.fid} |`);
  lines.push(
    '',
    'MSE is the per-image sum of squared pixel errors over all RGB values in [0, 1], decoded from the posterior mean. FIDs from different extractors are not comparable with each other or with the paper (Inception on real COCO).',
    '',
    'Follows caption (synthetic data only): 54 probe prompts, one per colour × position ("A large red circle at the top left on a gray background."), 4 samples each from z ~ N(0, I); a fixed reading of each image (src/worker/lab/caption-following.ts: background = the median colour, position = the 3x3 cell farthest from it, colour = that cell\'s object pixels, shape = their outline) is compared with the prompt. Chance is 33% / 11% / 17% / 33%; the rendered scenes themselves score 100%.',
    '',
    '## Figures',
    '',
    `Generation prompts, one row each: ${TABLE2_PROMPTS.map((p) => `"${p}"`).join(', ')}.`,
    '',
  );
  for (const r of rows) {
    lines.push(
      `- ${r.model}: [reconstructions (top: originals)](${r.model}/reconstructions.png), [generations](${r.model}/generations.png)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function writeTable2(dir: string, rows: Table2Row[], note: string): Promise<string> {
  const path = join(dir, 'table2.md');
  await writeFile(path, table2Markdown(rows, note));
  await writeFile(join(dir, 'table2.json'), `${JSON.stringify({ note, rows }, null, 2)}\n`);
  return path;
}
