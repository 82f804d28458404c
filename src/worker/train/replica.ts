import * as tf from '@tensorflow/tfjs-core';
import { describeCvae } from '../../shared/arch/shapes.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { createVariables, type Variables } from '../model/weights.js';
import { copyTensorInto } from '../tf/copy-into.js';
import { SharedArena } from '../wasm/arena.js';
import { type AdamConfig, adamUpdate } from './adam.js';
import { type AdamKernel, wasmAdam } from './adam-wasm.js';
import { gatherBatch, type SharedDataset } from './dataset.js';
import type { DensePlan } from './dense-plan.js';
import { DenseStep } from './dense-step.js';
import { type ParamLayout, paramLayout, unflatten } from './layout.js';

/** A dense replica's plan and place (all in the init's `memory`). */
export interface DenseReplica {
  plan: DensePlan;
  /** DenseStep.workspaceFloats(plan, rows) floats of the arena */
  workspace: Float32Array;
  /** the most examples one call gets */
  rows: number;
}

import { computeGradients } from './step.js';

/**
 * One copy of the model that computes gradients. The trainer runs one in its own thread (native
 * TensorFlow backends use every core already) or one per core in worker threads (wasm is
 * single-threaded in Node). Weights and gradients travel through shared memory, not messages:
 * before each batch a replica loads the current weights from `weights` (written by the
 * trainer's optimiser), and it leaves its gradients in its own `grads` slot.
 */
export interface ReplicaInit {
  spec: CvaeSpec;
  data: SharedDataset;
  /** all tensors, flat, in paramLayout order (SharedArrayBuffer-backed when threaded) */
  weights: Float32Array;
  /** this replica's gradient slot: the trainable prefix of the layout */
  grads: Float32Array;
  /** every replica's gradient slot, Adam's moments and settings, for the replica's share of the update */
  allGrads: Float32Array[];
  adamM: Float32Array;
  adamV: Float32Array;
  adam: AdamConfig;
  /**
   * the shared wasm memory (src/worker/wasm/arena.ts) that all the arrays above lie in: the
   * replica's share of Adam then runs in wasm (adam-wasm.ts)
   */
  memory?: WebAssembly.Memory;
  /** set: step with dense-step.ts instead of tfjs (dense-only specs; see denseStepPlan) */
  dense?: DenseReplica;
}

export interface UpdateRequest {
  /** Adam step number (1-based) */
  t: number;
  /** each replica's fraction of the batch */
  shares: number[];
  /** the slice of the trainable parameters this replica updates */
  from: number;
  to: number;
  /** this epoch's rate (the schedule's), in place of the one the replica was made with */
  learningRate: number;
}

export interface GradientSummary {
  count: number;
  loss: number;
  reconstruction: number;
  kl: number;
  /** per batch-norm layer (by prefix): mean and variance over this share */
  stats: { name: string; mean: Float32Array; variance: Float32Array }[];
}

export class Replica {
  private readonly layout: ParamLayout;
  private readonly vars: Variables = {};
  private readonly dense: Promise<DenseStep> | undefined;
  private adamKernel: Promise<AdamKernel | undefined> | undefined;

  constructor(private readonly init: ReplicaInit) {
    const info = describeCvae(init.spec);
    this.layout = paramLayout(info.params);
    const { dense, memory } = init;
    if (dense && !memory) throw new Error('a dense replica needs the arena memory');
    if (dense && memory)
      this.dense = DenseStep.create(
        dense.plan,
        this.layout,
        { memory, workspace: dense.workspace, weights: init.weights, grads: init.grads },
        dense.rows,
      );
    else this.vars = createVariables(info.params, unflatten(this.layout, init.weights));
  }

  private loadWeights(): void {
    const { weights } = this.init;
    for (const e of this.layout.entries) {
      const v = this.vars[e.name] as tf.Variable;
      tf.tidy(() => v.assign(tf.tensor(weights.subarray(e.offset, e.offset + e.length), e.shape)));
    }
  }

  async gradients(indices: Int32Array, eps: Float32Array, klWeight = 1): Promise<GradientSummary> {
    const { spec, data } = this.init;
    const batch = gatherBatch(data, indices);
    const n = batch.count;
    if (this.dense) {
      const engine = await this.dense;
      const losses = engine.gradients(batch.images, batch.conditions, eps, n, klWeight);
      return { count: n, ...losses, stats: [] };
    }
    this.loadWeights();
    const inputs = [
      tf.tensor4d(batch.images, [n, ...data.imageShape]),
      tf.tensor2d(batch.conditions, [n, data.conditionSize]),
      tf.tensor2d(eps, [n, spec.latentDim]),
    ] as const;
    const result = computeGradients(spec, this.vars, ...inputs, klWeight);
    tf.dispose([...inputs]);
    for (const e of this.layout.entries) {
      if (e.trainable) copyTensorInto(result.grads[e.name] as tf.Tensor, this.init.grads, e.offset);
    }
    const read = async (t: tf.Tensor) => ((await t.data()) as Float32Array)[0] as number;
    const summary: GradientSummary = {
      count: n,
      loss: await read(result.loss),
      reconstruction: await read(result.reconstruction),
      kl: await read(result.kl),
      stats: await Promise.all(
        result.batchStats.map(async (s) => ({
          name: s.name,
          mean: (await s.mean.data()) as Float32Array,
          variance: (await s.variance.data()) as Float32Array,
        })),
      ),
    };
    tf.dispose([result.loss, result.reconstruction, result.kl, ...Object.values(result.grads)]);
    tf.dispose(result.batchStats.flatMap((s) => [s.mean, s.variance]));
    return summary;
  }

  /**
   * Applies Adam to this replica's slice of the shared weights: in wasm over the arena where there
   * is one and at most two gradient slots (adam-wasm.ts), else in JavaScript.
   */
  async update(req: UpdateRequest): Promise<void> {
    const { weights, allGrads, adamM, adamV, adam, memory } = this.init;
    const cfg = { ...adam, learningRate: req.learningRate };
    const grads = allGrads.slice(0, req.shares.length);
    if (memory && grads.length <= 2) this.adamKernel ??= wasmAdam(SharedArena.adopt(memory)).catch(() => undefined);
    const kernel = grads.length <= 2 ? await this.adamKernel : undefined;
    (kernel ?? adamUpdate)(weights, grads, req.shares, adamM, adamV, req.t, cfg, req.from, req.to);
  }

  dispose(): void {
    tf.dispose(Object.values(this.vars));
  }
}
