import type { CvaeSpec } from '../../shared/arch/spec.js';
import { assemble } from '../wasm/assemble.js';
import { type GemmFunction, gemmWat, PANEL_BYTES } from '../wasm/gemm-wat.js';
import { type DenseLayerPlan, type DensePlan, densePlan } from './dense-plan.js';
import type { ParamLayout } from './layout.js';

/**
 * One training step of a dense-only CVAE (dense-plan.ts) without tfjs: the forward pass, the loss
 * and every gradient written out by hand, the products in the project's wasm `gemm`
 * (src/worker/wasm/gemm-wat.ts), everything else in plain loops over the same memory.
 *
 * Why: such a model's step is a dozen small products; under tfjs each step also pays for about a
 * hundred kernel dispatches, tape records and tensor allocations, about as long as the products
 * (docs/PERFORMANCE.md, "A dense step without tfjs"). It computes what step.ts computes through
 * tfjs (same loss, same gradients; test/worker/dense-step.test.ts holds the two together).
 *
 * It works in the trainer's shared memory (src/worker/wasm/arena.ts): it reads the weights and
 * writes its replica's gradient slot where they lie (both in the trainer's flat layout), and keeps
 * the batch's activations, each with a gradient twin, in a workspace of its own there.
 */

/** How a run that steps here says so after its backend's name (logs, manifests, benchmarks). */
export const DENSE_STEP = 'dense step in own wasm';

/** A row-major matrix of the batch's rows in the engine's memory: `cols` values at `at + row·ld` (floats). */
interface View {
  at: number;
  cols: number;
  ld: number;
}

const sub = (v: View, from: number, cols: number): View => ({ at: v.at + from, cols, ld: v.ld });

export interface DenseLosses {
  loss: number;
  reconstruction: number;
  kl: number;
}

/** Activations (and their gradients) of one batch. */
interface Buffers {
  images: View;
  conditions: View;
  eps: View;
  /** per encoder layer, its output; the last one inside `joined` when the join concatenates */
  encoder: View[];
  encoderProjection: View;
  joined: View;
  mu: View;
  raw: View;
  logvar: View;
  std: View;
  z: View;
  decoderProjection: View;
  decoderInput: View;
  decoder: View[];
  /** the gradient twin of each view above, at the same place in a second region */
  twin: number;
}

/** Where a DenseStep works: arrays of one shared arena (src/worker/wasm/arena.ts). */
export interface DenseSpace {
  memory: WebAssembly.Memory;
  /** the whole flat layout (ParamLayout order) */
  weights: Float32Array;
  /** the trainable prefix of the layout */
  grads: Float32Array;
  /** `DenseStep.workspaceFloats(plan, rows)` floats */
  workspace: Float32Array;
}

export class DenseStep {
  private readonly f: Float32Array;
  private readonly panel: number;
  private readonly weights: number;
  private readonly grads: number;
  private readonly offsets = new Map<string, number>();
  private readonly buffers: Buffers;

  /** Floats of workspace a step of up to `rows` examples needs. */
  static workspaceFloats(plan: DensePlan, rows: number): number {
    return PANEL_BYTES / 4 + 2 * placeBuffers(plan, rows, 0).floats;
  }

  static async create(plan: DensePlan, layout: ParamLayout, space: DenseSpace, rows: number): Promise<DenseStep> {
    const module = await assemble('dense-gemm.wat', gemmWat({ shared: true }));
    const gemm = new WebAssembly.Instance(module, { env: { memory: space.memory } }).exports.gemm as GemmFunction;
    return new DenseStep(plan, layout, space, rows, gemm);
  }

  private constructor(
    private readonly plan: DensePlan,
    layout: ParamLayout,
    space: DenseSpace,
    private readonly rows: number,
    private readonly gemm: GemmFunction,
  ) {
    for (const e of layout.entries) this.offsets.set(e.name, e.offset);
    const written = trainableNames(plan);
    const trainable = layout.entries.filter((e) => e.trainable).map((e) => e.name);
    const missing = trainable.filter((name) => !written.has(name));
    if (missing.length > 0 || written.size !== trainable.length)
      throw new Error(`dense step: the plan and the parameters disagree (${missing.join(', ') || 'extra names'})`);
    const { memory, weights, grads, workspace } = space;
    const inside = (a: Float32Array) => a.buffer === memory.buffer && a.byteOffset % 16 === 0;
    if (![weights, grads, workspace].every(inside)) throw new Error('dense step: arrays outside its memory');
    if (weights.length < layout.totalSize || grads.length < layout.trainableSize)
      throw new Error('dense step: weights or gradients smaller than the layout');
    if (workspace.length < DenseStep.workspaceFloats(plan, rows))
      throw new Error(`dense step: workspace too small for ${rows} rows`);
    this.f = new Float32Array(memory.buffer);
    this.weights = weights.byteOffset / 4;
    this.grads = grads.byteOffset / 4;
    this.panel = workspace.byteOffset;
    this.buffers = placeBuffers(plan, rows, workspace.byteOffset / 4 + PANEL_BYTES / 4).buffers;
  }

  /**
   * Loss and gradients on one batch of n ≤ rows examples: `images` n × pixels in [0, 1],
   * `conditions` n × conditionSize, `eps` n × latent. The gradients (of the loss averaged over the
   * batch, the KL term weighted by `klWeight`) go to the space's `grads`.
   */
  gradients(
    images: Float32Array,
    conditions: Float32Array,
    eps: Float32Array,
    n: number,
    klWeight: number,
  ): DenseLosses {
    if (n > this.rows) throw new Error(`dense step: ${n} examples, room for ${this.rows}`);
    const p = this.plan;
    const b = this.buffers;
    const f = this.f;
    f.set(images.subarray(0, n * p.imageSize), b.images.at);
    f.set(conditions.subarray(0, n * p.conditionSize), b.conditions.at);
    f.set(eps.subarray(0, n * p.latent), b.eps.at);
    const losses = this.forward(b, n, klWeight);
    this.backward(b, n, klWeight);
    return losses;
  }

  private forward(b: Buffers, n: number, klWeight: number): DenseLosses {
    const p = this.plan;
    const f = this.f;
    let x = b.images;
    p.encoder.forEach((layer, i) => {
      this.dense(x, layer, b.encoder[i] as View, n);
      x = b.encoder[i] as View;
    });
    this.affine(b.conditions, 'encoder.condition', b.encoderProjection, n, p.encoderJoin.bias);
    if (p.encoderJoin.join === 'add') this.sum(b.joined, x, b.encoderProjection, n);
    this.affine(b.joined, 'encoder.mu', b.mu, n);
    this.affine(b.joined, 'encoder.logvar', b.raw, n);
    // z = mu + exp(logvar / 2)·eps, logvar = L·tanh(raw / L) when bounded; KL against N(0, I)
    const limit = p.logvarLimit;
    let klSum = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < p.latent; c++) {
        const k = r * p.latent + c;
        const raw = f[b.raw.at + k] as number;
        const lv = limit ? limit * Math.tanh(raw / limit) : raw;
        const std = Math.exp(0.5 * lv);
        const mu = f[b.mu.at + k] as number;
        f[b.logvar.at + k] = lv;
        f[b.std.at + k] = std;
        f[b.z.at + r * b.z.ld + c] = mu + std * (f[b.eps.at + k] as number);
        klSum += 1 + lv - mu * mu - std * std;
      }
    }
    this.affine(b.conditions, 'decoder.condition', b.decoderProjection, n, p.decoderJoin.bias);
    if (p.decoderJoin.join === 'add') this.sum(b.decoderInput, b.z, b.decoderProjection, n);
    x = b.decoderInput;
    const last = p.decoder.length - 1;
    p.decoder.forEach((layer, i) => {
      // the last layer gives logits: its sigmoid is inside the loss
      this.dense(x, i === last ? { ...layer, activation: 'linear' } : layer, b.decoder[i] as View, n);
      x = b.decoder[i] as View;
    });
    // reconstruction = Σ BCE(x, σ(l)) = Σ softplus(l) − x·l; its gradient (σ(l) − x) / n in the twin
    // softplus(l) = max(l, 0) + log(1 + e^-|l|); the logs are summed as the log of a product of up
    // to 512 factors in [1, 2] (at most 2^512, exact enough in a double): one log per 512 pixels
    let bce = 0;
    let product = 1;
    const logits = x.at;
    const dLogits = x.at + b.twin;
    const images = b.images.at;
    const count = n * p.imageSize;
    for (let k = 0; k < count; k++) {
      const l = f[logits + k] as number;
      const t = f[images + k] as number;
      const e = Math.exp(-Math.abs(l));
      product *= 1 + e;
      bce += Math.max(l, 0) - t * l;
      f[dLogits + k] = ((l >= 0 ? 1 : e) / (1 + e) - t) / n;
      if ((k & 511) === 511) {
        bce += Math.log(product);
        product = 1;
      }
    }
    bce += Math.log(product);
    const reconstruction = bce / n;
    const kl = (-0.5 * klSum) / n;
    return { loss: reconstruction + klWeight * kl, reconstruction, kl };
  }

  private backward(b: Buffers, n: number, klWeight: number): void {
    const p = this.plan;
    const f = this.f;
    const d = (v: View): View => ({ ...v, at: v.at + b.twin });
    for (let i = p.decoder.length - 1; i >= 0; i--) {
      const layer = p.decoder[i] as DenseLayerPlan;
      const input = i === 0 ? b.decoderInput : (b.decoder[i - 1] as View);
      const activation = i === p.decoder.length - 1 ? 'linear' : layer.activation;
      const y = b.decoder[i] as View;
      this.denseBackward(input, { ...layer, activation }, y, d(y), d(input), n);
    }
    // the decoder's input: z ⊕ projection (two slices of one gradient) or z + projection (one gradient for both)
    const concatenated = p.decoderJoin.join === 'concat';
    const dProjection = concatenated ? d(b.decoderProjection) : d(b.decoderInput);
    this.affineBackward(b.conditions, 'decoder.condition', dProjection, undefined, n, false, p.decoderJoin.bias);
    const dz = concatenated ? d(b.z) : d(b.decoderInput);
    const limit = p.logvarLimit;
    const dmu = d(b.mu).at;
    const draw = d(b.raw).at;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < p.latent; c++) {
        const k = r * p.latent + c;
        const g = f[dz.at + r * dz.ld + c] as number;
        const mu = f[b.mu.at + k] as number;
        const std = f[b.std.at + k] as number;
        f[dmu + k] = g + (klWeight * mu) / n;
        const dlv = 0.5 * g * std * (f[b.eps.at + k] as number) + (0.5 * klWeight * (std * std - 1)) / n;
        if (!limit) f[draw + k] = dlv;
        else {
          const t = (f[b.logvar.at + k] as number) / limit;
          f[draw + k] = dlv * (1 - t * t);
        }
      }
    }
    this.affineBackward(b.joined, 'encoder.mu', d(b.mu), d(b.joined), n, false);
    this.affineBackward(b.joined, 'encoder.logvar', d(b.raw), d(b.joined), n, true);
    // before the encoder's last layer turns the joined gradient into its own in place
    const added = p.encoderJoin.join === 'add';
    const dEncoderProjection = added ? d(b.joined) : d(b.encoderProjection);
    this.affineBackward(b.conditions, 'encoder.condition', dEncoderProjection, undefined, n, false, p.encoderJoin.bias);
    for (let i = p.encoder.length - 1; i >= 0; i--) {
      const layer = p.encoder[i] as DenseLayerPlan;
      const input = i === 0 ? b.images : (b.encoder[i - 1] as View);
      const y = b.encoder[i] as View;
      const dy = added && i === p.encoder.length - 1 ? d(b.joined) : d(y);
      // the images are data: no gradient to them
      this.denseBackward(input, layer, y, dy, i === 0 ? undefined : d(input), n);
    }
  }

  /** y = act(x·W + b) for a layer of the plan */
  private dense(x: View, layer: DenseLayerPlan, y: View, n: number): void {
    this.affine(x, layer.prefix, y, n);
    const f = this.f;
    const { cols, ld } = y;
    // one branch per layer, plain locals in the loops: these run over every activation
    for (let r = 0, row = y.at; r < n; r++, row += ld) {
      const end = row + cols;
      if (layer.activation === 'relu') for (let c = row; c < end; c++) f[c] = Math.max(f[c] as number, 0);
      else if (layer.activation === 'sigmoid')
        for (let c = row; c < end; c++) f[c] = 1 / (1 + Math.exp(-(f[c] as number)));
    }
  }

  /** y = x·W + b (`${prefix}.kernel`, `${prefix}.bias`) */
  private affine(x: View, prefix: string, y: View, n: number, bias = true): void {
    const f = this.f;
    if (bias) {
      const at = this.param(`${prefix}.bias`);
      const row = f.subarray(at, at + y.cols);
      for (let r = 0; r < n; r++) f.set(row, y.at + r * y.ld);
    }
    this.product(x, false, { at: this.param(`${prefix}.kernel`), cols: y.cols, ld: y.cols }, false, y, n, bias);
  }

  /**
   * Given dy (the gradient of the layer's output y, overwritten with that of its pre-activation):
   * the kernel's and bias' gradients, and dx = dy·Wᵀ.
   */
  private denseBackward(x: View, layer: DenseLayerPlan, y: View, dy: View, dx: View | undefined, n: number): void {
    const f = this.f;
    const { cols } = y;
    for (let r = 0, yr = y.at, gr = dy.at; r < n; r++, yr += y.ld, gr += dy.ld) {
      if (layer.activation === 'relu') {
        for (let c = 0; c < cols; c++) if (!((f[yr + c] as number) > 0)) f[gr + c] = 0;
      } else if (layer.activation === 'sigmoid') {
        for (let c = 0; c < cols; c++) {
          const v = f[yr + c] as number;
          f[gr + c] = (f[gr + c] as number) * v * (1 - v);
        }
      }
    }
    this.affineBackward(x, layer.prefix, dy, dx, n, false);
  }

  /**
   * gradients of y = x·W (+ b) given dy: W's (and b's) into the gradient area, dx (+)= dy·Wᵀ where
   * asked (not for data: the images, the conditions)
   */
  private affineBackward(
    x: View,
    prefix: string,
    dy: View,
    dx: View | undefined,
    n: number,
    accumulate: boolean,
    bias = true,
  ) {
    const units = dy.cols;
    const kernel = this.param(`${prefix}.kernel`);
    // dW = xᵀ·dy
    this.product(x, true, dy, false, { at: this.gradient(kernel), cols: units, ld: units }, x.cols, false, n);
    if (bias) this.columnSums(dy, this.gradient(this.param(`${prefix}.bias`)), n);
    if (dx) this.product(dy, false, { at: kernel, cols: units, ld: units }, true, dx, n, accumulate);
  }

  private columnSums(v: View, at: number, n: number): void {
    const f = this.f;
    const sums = new Float64Array(v.cols);
    for (let r = 0; r < n; r++) {
      const row = v.at + r * v.ld;
      for (let c = 0; c < v.cols; c++) sums[c] = (sums[c] as number) + (f[row + c] as number);
    }
    for (let c = 0; c < v.cols; c++) f[at + c] = sums[c] as number;
  }

  private sum(out: View, a: View, b: View, n: number): void {
    const f = this.f;
    for (let r = 0; r < n; r++)
      for (let c = 0; c < out.cols; c++)
        f[out.at + r * out.ld + c] = (f[a.at + r * a.ld + c] as number) + (f[b.at + r * b.ld + c] as number);
  }

  /**
   * c (+)= op(a)·op(b), op = transpose where asked. Without transposes a is [rows, k] and b [k, c.cols];
   * `rows` is c's row count (n, or a's columns for xᵀ·dy) and k is a's columns (or n).
   */
  private product(
    a: View,
    at: boolean,
    b: View,
    bt: boolean,
    c: View,
    rows: number,
    accumulate: boolean,
    k?: number,
  ): void {
    const depth = k ?? a.cols;
    const [rs, ks] = at ? [4, a.ld * 4] : [a.ld * 4, 4];
    const [bk, bj] = bt ? [4, b.ld * 4] : [b.ld * 4, 4];
    const cols = c.cols;
    this.gemm(
      a.at * 4,
      rs,
      ks,
      b.at * 4,
      bk,
      bj,
      c.at * 4,
      c.ld * 4,
      rows,
      cols,
      depth,
      accumulate ? 1 : 0,
      this.panel,
    );
  }

  /** where the gradient of the weights at `at` (a float index from `param`) goes */
  private gradient(at: number): number {
    return this.grads + at - this.weights;
  }

  private param(name: string): number {
    const offset = this.offsets.get(name);
    if (offset === undefined) throw new Error(`dense step: no parameter ${name}`);
    return this.weights + offset;
  }
}

/**
 * The batch's matrices for `rows` examples from float index `from` on, then their gradient twins
 * (the same layout again, `twin` floats further); `floats` is the size of one of the two halves.
 */
function placeBuffers(p: DensePlan, rows: number, from: number): { buffers: Buffers; floats: number } {
  let top = from;
  const matrix = (cols: number): View => {
    const at = top;
    top = align(top + rows * cols);
    return { at, cols, ld: cols };
  };
  const images = matrix(p.imageSize);
  const conditions = matrix(p.conditionSize);
  const eps = matrix(p.latent);
  const encoder = p.encoder.map((l) => matrix(l.units));
  const lastUnits = (p.encoder[p.encoder.length - 1] as DenseLayerPlan).units;
  const joined = matrix(p.joined);
  let encoderProjection: View;
  if (p.encoderJoin.join === 'concat') {
    // the last layer writes the left columns, the projection the right ones: the concat is free
    encoder[encoder.length - 1] = sub(joined, 0, lastUnits);
    encoderProjection = sub(joined, lastUnits, p.encoderJoin.width);
  } else encoderProjection = matrix(p.encoderJoin.width);
  const mu = matrix(p.latent);
  const raw = matrix(p.latent);
  const logvar = matrix(p.latent);
  const std = matrix(p.latent);
  let z: View;
  let decoderProjection: View;
  const decoderInput = matrix(p.decoderJoin.join === 'concat' ? p.latent + p.decoderJoin.width : p.latent);
  if (p.decoderJoin.join === 'concat') {
    z = sub(decoderInput, 0, p.latent);
    decoderProjection = sub(decoderInput, p.latent, p.decoderJoin.width);
  } else {
    z = matrix(p.latent);
    decoderProjection = matrix(p.latent);
  }
  const decoder = p.decoder.map((l) => matrix(l.units));
  const floats = top - from;
  const buffers = { images, conditions, eps, encoder, encoderProjection, joined, mu, raw, logvar, std, z };
  return { buffers: { ...buffers, decoderProjection, decoderInput, decoder, twin: floats }, floats };
}

/** whole vectors: every matrix starts on 16 bytes */
const align = (floats: number) => Math.ceil(floats / 4) * 4;

function trainableNames(plan: DensePlan): Set<string> {
  const names = new Set<string>();
  const both = (prefix: string, bias = true) => {
    names.add(`${prefix}.kernel`);
    if (bias) names.add(`${prefix}.bias`);
  };
  for (const l of [...plan.encoder, ...plan.decoder]) both(l.prefix);
  both('encoder.condition', plan.encoderJoin.bias);
  both('decoder.condition', plan.decoderJoin.bias);
  both('encoder.mu');
  both('encoder.logvar');
  return names;
}

/**
 * The plan when this run's replicas should step without tfjs: a dense-only spec (dense-plan.ts) on
 * the single-threaded backends (native TensorFlow runs its own kernels faster), unless
 * CVAE_TRAIN_STEP=tfjs asks for tfjs' step (to compare, or should this one misbehave), and only
 * where its wasm compiles (SIMD).
 */
export async function denseStepPlan(
  spec: CvaeSpec,
  _layout: ParamLayout,
  backendName: string,
): Promise<DensePlan | undefined> {
  if (process.env.CVAE_TRAIN_STEP === 'tfjs' || (backendName !== 'wasm' && backendName !== 'cpu')) return undefined;
  const plan = densePlan(spec);
  if ('unsupported' in plan) return undefined;
  try {
    await assemble('dense-gemm.wat', gemmWat({ shared: true }));
    return plan;
  } catch {
    return undefined;
  }
}
