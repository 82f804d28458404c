/**
 * npm run bench:train:profile — where one training step's milliseconds go, kernel by kernel, on
 * the active tfjs backend in this thread (a replica's work: forward, backward, no Adam). Default:
 * the largest model, coco-256-concat at batch 64. Each step starts from new weight tensors, as
 * in training. Then the optimiser's step over the model's parameters (what the trainer runs after
 * the replicas' gradients: src/worker/train/adam-wasm.ts, and the JavaScript adam.ts beside it).
 *
 *   BENCH_MODEL=fashion-conv BENCH_BATCH=128 npm run bench:train:profile
 *   BENCH_STEPS=3 npm run bench:train:profile     # steps profiled after one warm-up step
 *
 * "outside kernels" is the step's wall time minus its kernels' time: tfjs' op dispatch, tape and
 * gradient bookkeeping, and the JavaScript between kernels. tf.profile also records composite
 * entries that contain kernels of their own (op wrappers named `*__op`, customGrad's `forward`,
 * the batch norm of src/worker/model/batch-norm.ts); they are listed apart, not added in.
 */

import './temp-root.js'; // first: temporary folders under one, removed at exit
import * as tf from '@tensorflow/tfjs-core';
import { ARCHITECTURES } from '../src/shared/arch/catalogue.js';
import { describeCvae } from '../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../src/shared/arch/spec.js';
import { createRng, normalArray } from '../src/shared/random.js';
import { createVariables, initialValues } from '../src/worker/model/weights.js';
import { initBackend } from '../src/worker/tf/backend.js';
import { adamUpdate, DEFAULT_ADAM } from '../src/worker/train/adam.js';
import { type AdamKernel, wasmAdam } from '../src/worker/train/adam-wasm.js';
import { paramLayout } from '../src/worker/train/layout.js';
import { computeGradients } from '../src/worker/train/step.js';
import { SharedArena } from '../src/worker/wasm/arena.js';

const id = process.env.BENCH_MODEL ?? 'coco-256-concat';
const spec = ARCHITECTURES[id] as CvaeSpec | undefined;
if (!spec) {
  console.error(`bench:train:profile: unknown model ${id}; known: ${Object.keys(ARCHITECTURES).join(', ')}`);
  process.exit(2);
}
const batch = Number(process.env.BENCH_BATCH ?? (spec.task === 'long-text' ? 64 : 128));
const steps = Number(process.env.BENCH_STEPS ?? 2);

const backend = await initBackend();
const info = describeCvae(spec);
const values = initialValues(info.params, 1);
const vars = createVariables(info.params, values);
const [h, w, c] = info.imageShape;
const images = tf.randomUniform([batch, h, w, c], 0, 1, 'float32', 1);
const condition =
  spec.condition.type === 'class'
    ? tf.oneHot(tf.randomUniform([batch], 0, spec.condition.classes, 'int32', 2), spec.condition.classes).toFloat()
    : tf.randomNormal([batch, info.conditionSize], 0, 1, 'float32', 2);
const eps = tf.randomNormal([batch, spec.latentDim], 0, 1, 'float32', 3);

async function step(): Promise<void> {
  // new weight tensors every step, as a replica loads the optimiser's weights before each batch
  // (tfjs-backend-wasm's XNNPACK operators are cached by tensor: fixed weights would hide packing)
  for (const [name, v] of Object.entries(vars))
    tf.tidy(() => (v as tf.Variable).assign(tf.tensor(values[name] as Float32Array, (v as tf.Variable).shape)));
  const g = computeGradients(spec as CvaeSpec, vars, images, condition, eps);
  // read every gradient back, as a replica does before Adam: the kernels have all run
  await Promise.all(Object.values(g.grads).map((t) => t.data()));
  tf.dispose([
    g.loss,
    g.reconstruction,
    g.kl,
    ...Object.values(g.grads),
    ...g.batchStats.flatMap((s) => [s.mean, s.variance]),
  ]);
}

await step(); // warm-up: kernel compilation, XNNPACK packing, first allocations
const byKernel = new Map<string, { ms: number; calls: number }>();
let wall = 0;
for (let i = 0; i < steps; i++) {
  const start = performance.now();
  const profile = await tf.profile(step);
  wall += performance.now() - start;
  for (const k of profile.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    byKernel.set(k.name, e);
  }
}
const composite = (name: string) => name.endsWith('__op') || name === 'forward';
const rows = [...byKernel.entries()].filter(([n]) => !composite(n)).sort((a, b) => b[1].ms - a[1].ms);
const wrappers = [...byKernel.entries()].filter(([n]) => composite(n)).sort((a, b) => b[1].ms - a[1].ms);
const kernelMs = rows.reduce((s, [, e]) => s + e.ms, 0);
const perStep = (ms: number) => (ms / steps).toFixed(1);
console.log(`${spec.id}, batch ${batch}, ${backend.label}, one thread; ${steps} step(s) after a warm-up`);
console.log(`step: ${perStep(wall)} ms (${((batch * steps * 1000) / wall).toFixed(1)} images/s in this thread)`);
console.log('| kernel | ms per step | share | calls per step |');
console.log('|---|---|---|---|');
for (const [name, e] of rows.filter(([, e]) => e.ms / wall >= 0.002)) {
  console.log(`| ${name} | ${perStep(e.ms)} | ${((100 * e.ms) / wall).toFixed(1)}% | ${e.calls / steps} |`);
}
const small = rows.filter(([, e]) => e.ms / wall < 0.002);
const smallMs = small.reduce((s, [, e]) => s + e.ms, 0);
console.log(
  `| ${small.length} other kernels | ${perStep(smallMs)} | ${((100 * smallMs) / wall).toFixed(1)}% | ${small.reduce((s, [, e]) => s + e.calls, 0) / steps} |`,
);
console.log(
  `| outside kernels (dispatch, tape, JS) | ${perStep(wall - kernelMs)} | ${((100 * (wall - kernelMs)) / wall).toFixed(1)}% | |`,
);
console.log(
  `composite entries (their kernels are counted above): ${wrappers.map(([n, e]) => `${n} ${perStep(e.ms)} ms`).join(', ') || 'none'}`,
);

// The optimiser: Adam over every trainable parameter, averaging two replicas' gradients as the
// trainer's default does: in wasm over the trainer's arena (what its replicas run, each on its
// slice), and the JavaScript update they fall back to (more than two replicas).
const size = paramLayout(info.params).trainableSize;
const rng = createRng(4);
const arena = new SharedArena(5 * size, 5);
const [params, g0, g1, m, v] = [0.1, 1e-3, 1e-3, 0, 0].map((scale) => {
  const a = arena.floats(size);
  if (scale) a.set(normalArray(rng, size).map((x) => x * scale));
  return a;
}) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
const adamSteps = 20;
const timeAdam = (update: AdamKernel) => {
  for (let t = 1; t <= 3; t++) update(params, [g0, g1], [0.5, 0.5], m, v, t, DEFAULT_ADAM, 0, size);
  const start = performance.now();
  for (let t = 4; t < 4 + adamSteps; t++) update(params, [g0, g1], [0.5, 0.5], m, v, t, DEFAULT_ADAM, 0, size);
  return ((performance.now() - start) / adamSteps).toFixed(1);
};
const wasmMs = timeAdam(await wasmAdam(arena));
const jsMs = timeAdam(adamUpdate);
console.log(
  `optimiser (Adam over ${size.toLocaleString('en-US')} parameters, two replicas' gradients, this thread): ${wasmMs} ms per step in wasm (what training runs), ${jsMs} ms in JavaScript`,
);
