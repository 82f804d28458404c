import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { FASHION_ARCHITECTURES } from '../../shared/arch/fashion.js';
import { describeCvae } from '../../shared/arch/shapes.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { FASHION_CLASSES } from '../../shared/fashion/classes.js';
import { type EvalReport, type EvalSet, evaluate, runModel } from '../eval/evaluate.js';
import type { FeatureExtractor } from '../eval/feature-extractor.js';
import { writeGrid } from '../eval/figures.js';
import { createVariables } from '../model/weights.js';
import type { TrainResult } from '../train/trainer.js';
import { generate } from './generate.js';

/** The paper's Table 1 (Fashion-MNIST, whole test set). */
export const PAPER_TABLE1: Record<string, { mse: number; ssim: number; fid: number; name: string }> = {
  'fashion-fc': { name: 'Fully Connected VAE', mse: 12.1598, ssim: 0.6398, fid: 16.991 },
  'fashion-conv': { name: 'Convolutional VAE', mse: 11.1087, ssim: 0.7627, fid: 50.3034 },
};

export interface Table1Row {
  model: string;
  report: EvalReport;
  epochs: number;
  trainSeconds: number;
  imagesPerSecond: number;
  backend: string;
  replicas: number;
  seed: number;
  trainExamples: number;
  figures: { reconstructions: string; generations: string; dress: string };
}

const CELL = { height: 28, width: 28, channels: 1 } as const;

/** Evaluates one trained model and writes its three figures into `dir`. */
export async function evaluateForTable1(
  spec: CvaeSpec,
  training: TrainResult,
  set: EvalSet,
  extractors: { features: FeatureExtractor; judge: FeatureExtractor },
  dir: string,
  seed: number,
): Promise<Omit<Table1Row, 'trainSeconds' | 'imagesPerSecond' | 'epochs' | 'trainExamples'>> {
  await mkdir(dir, { recursive: true });
  const outputs = await runModel(spec, training.state.values, set, seed);
  const report = await evaluate(outputs, set, extractors.features, extractors.judge);
  const size = 784;
  const cell = (buf: Float32Array, i: number) => buf.subarray(i * size, (i + 1) * size);
  // Reconstructions: 2 rows of 12 originals, each followed by its posterior-mean reconstruction row.
  const cols = 12;
  const recCells: Float32Array[] = [];
  for (let block = 0; block < 2; block++) {
    for (let c = 0; c < cols; c++) recCells.push(cell(set.images, block * cols + c));
    for (let c = 0; c < cols; c++) recCells.push(cell(outputs.reconstructions, block * cols + c));
  }
  const reconstructions = join(dir, 'reconstructions.png');
  await writeGrid(reconstructions, recCells, { rows: 4, cols, ...CELL });
  // Generations: a row per class, 10 samples each, decoded from z ~ N(0, I).
  const perClass = 10;
  // One set of variables for all figures (generate() only decodes).
  const vars = createVariables(describeCvae(spec).params, training.state.values);
  const rows = await Promise.all(FASHION_CLASSES.map((c) => generate(spec, vars, c.index, perClass, seed + c.index)));
  const generations = join(dir, 'generations.png');
  await writeGrid(
    generations,
    rows.flatMap((r) => Array.from({ length: perClass }, (_, i) => cell(r, i))),
    { rows: 10, cols: perClass, ...CELL },
  );
  // The paper's Figure 3: four generations for 'Make a dress'.
  const dressImages = await generate(spec, vars, 3, 4, seed);
  tf.dispose(Object.values(vars));
  const dress = join(dir, 'make-a-dress.png');
  await writeGrid(
    dress,
    [0, 1, 2, 3].map((i) => cell(dressImages, i)),
    { rows: 1, cols: 4, ...CELL, scale: 4 },
  );
  return {
    model: spec.id,
    report,
    backend: training.backend.label,
    replicas: training.replicas,
    seed,
    figures: { reconstructions, generations, dress },
  };
}

const f = (x: number, d = 4) => x.toFixed(d);

export function table1Markdown(rows: Table1Row[], note: string): string {
  const lines = [
    '# Table 1: CVAE model performance on Fashion-MNIST (test set)',
    '',
    note,
    '',
    '| Model | MSE | MSE (sampled z) | SSIM (Gaussian 11x11) | SSIM (uniform 7x7) | FID generations | FID reconstructions | Class accuracy | Epochs | Train time | Images/s | Backend | Seed |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const p = r.report;
    lines.push(
      `| ${r.model} | ${f(p.posteriorMean.mse)} | ${f(p.sampled.mse)} | ${f(p.posteriorMean.ssimGaussian)} | ${f(p.posteriorMean.ssimUniform7)} | ${f(p.fidGenerated)} (${p.fidExtractor}) | ${f(p.fidReconstructed)} (${p.fidExtractor}) | ${p.classAccuracy === undefined ? 'n/a' : `${(p.classAccuracy * 100).toFixed(1)}%`} | ${r.epochs} | ${formatSeconds(r.trainSeconds)} | ${r.imagesPerSecond.toFixed(0)} | ${r.backend} ×${r.replicas} | ${r.seed} |`,
    );
  }
  lines.push('', '## The paper (Table 1)', '', '| Model | MSE | SSIM | FID |', '|---|---|---|---|');
  for (const [id, p] of Object.entries(PAPER_TABLE1))
    lines.push(`| ${p.name} (${id}) | ${p.mse} | ${p.ssim} | ${p.fid} |`);
  lines.push(
    '',
    'MSE is the per-image sum of squared pixel errors (pixels in [0, 1]) averaged over the test set, decoded from the posterior mean (z = mu); the sampled column decodes one z = mu + sigma·eps.',
    'FIDs from different extractors are not comparable with each other or with the paper (which used Inception features on its own pipeline).',
    '',
    '## Figures',
    '',
  );
  for (const r of rows) {
    lines.push(
      `- ${r.model}: [reconstructions](${rel(r.figures.reconstructions)}), [generations, a row per class](${rel(r.figures.generations)}), ['Make a dress'](${rel(r.figures.dress)})`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function rel(path: string): string {
  const parts = path.split('/');
  return parts.slice(-2).join('/');
}

export function formatSeconds(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`;
}

export async function writeTable1(dir: string, rows: Table1Row[], note: string): Promise<string> {
  const path = join(dir, 'table1.md');
  await writeFile(path, table1Markdown(rows, note));
  await writeFile(join(dir, 'table1.json'), `${JSON.stringify({ rows, tfjs: tf.version_core }, null, 2)}\n`);
  return path;
}

export const TABLE1_MODELS = Object.keys(FASHION_ARCHITECTURES);
