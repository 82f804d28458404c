import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describeCvae, WHITENING, whitenedConditionDim } from '../../shared/arch/shapes.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { SHORT_TEXT_DEFAULTS, trainingDefaults } from '../../shared/arch/training-defaults.js';
import { createRng, deriveSeed, normalArray, permutation } from '../../shared/random.js';
import { initialValues } from '../model/weights.js';
import { type ActiveBackend, initBackend } from '../tf/backend.js';
import { SharedArena } from '../wasm/arena.js';
import { type AdamConfig, type AdamState, createAdamState, DEFAULT_ADAM } from './adam.js';
import { hasCheckpoint, loadCheckpoint, type ModelState, saveCheckpoint } from './checkpoint.js';
import type { SharedDataset } from './dataset.js';
import { DENSE_STEP, DenseStep, denseStepPlan } from './dense-step.js';
import { flatten, type ParamLayout, paramLayout, unflatten } from './layout.js';
import { createReplicas } from './pool.js';
import type { GradientSummary } from './replica.js';
import { type LearningRateStep, learningRateAt, scheduleConflict } from './schedule.js';
import type { WarmStart } from './warm-start.js';
import { DEFAULT_WHITEN_SHRINKAGE, fitWhitening } from './whitening.js';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  learningRate: number;
  /** later rates from given epochs on (schedule.ts); none: `learningRate` throughout */
  learningRateSteps?: LearningRateStep[];
  weightDecay: number;
  /** data-parallel replicas for single-threaded backends; default: one per core */
  replicas: number;
  /** run folder for checkpoints */
  outDir: string;
  resume: boolean;
  /**
   * Also keep the weights of every n-th epoch in `<outDir>/epoch-<n>/` (without the optimiser's
   * state: a third of the size). The run folder's checkpoint is always the latest epoch's; these
   * let `cvae export --from` pick an earlier one, e.g. the epoch that follows captions best.
   */
  keepEvery?: number;
  /** a fresh start from an exported model's weights instead of random ones (warm-start.ts) */
  warmStart?: WarmStart;
  /** β, the weight of the KL term in the loss (1 = the plain ELBO) */
  klWeight: number;
  /**
   * β at the start of training, moved linearly to `klWeight` over `klAnnealEpochs`. A high start
   * keeps the posterior near the prior early on, so the decoder learns to read the condition
   * before z can carry what the condition already says.
   */
  klWeightFrom?: number;
  klAnnealEpochs?: number;
  /** the condition whitening's shrinkage ε (whitening.ts), for specs that whiten; default: the architecture's */
  whitenShrinkage?: number;
  /**
   * where the examples came from (dataset source, text encoder): kept in the checkpoint, so export
   * scores on the same data and names the same encoder, and a resume on other data is refused
   */
  data?: Record<string, unknown>;
}

/** Where `keepEvery` keeps an epoch's weights, inside the run folder. */
export const epochFolder = (epoch: number) => `epoch-${epoch}`;

/** β at a (fractional) point of training. */
export function klWeightAt(
  options: Pick<TrainOptions, 'klWeight' | 'klWeightFrom' | 'klAnnealEpochs'>,
  epochs: number,
) {
  const span = options.klAnnealEpochs ?? 0;
  const from = options.klWeightFrom ?? options.klWeight;
  if (span <= 0 || epochs >= span) return options.klWeight;
  return from + (options.klWeight - from) * (epochs / span);
}

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'outDir'> = {
  ...SHORT_TEXT_DEFAULTS,
  seed: 1,
  learningRate: DEFAULT_ADAM.learningRate,
  weightDecay: DEFAULT_ADAM.weightDecay,
  replicas: availableParallelism(),
  resume: false,
};

export interface EpochRecord {
  epoch: number;
  loss: number;
  reconstruction: number;
  kl: number;
  seconds: number;
  imagesPerSecond: number;
  /** the rate this epoch trained at (absent in checkpoints from before schedules) */
  learningRate?: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  seen: number;
  total: number;
  loss: number;
  imagesPerSecond: number;
}

export interface TrainHooks {
  onStart?(info: { startEpoch: number; backend: ActiveBackend; replicas: number }): void;
  onBatch?(p: TrainProgress): void;
  onEpoch?(r: EpochRecord): void;
  /** awaited after each epoch's checkpoint is on disk (e.g. to upload it) */
  afterCheckpoint?(r: EpochRecord, dir: string): Promise<void>;
  /** checked after each checkpoint: true ends training there (shutdown, cancellation) */
  shouldStop?(): boolean;
  /** checked between batches: true ends training at once, without a checkpoint of the partial epoch */
  shouldAbort?(): boolean;
}

export interface TrainResult {
  state: ModelState;
  history: EpochRecord[];
  backend: ActiveBackend;
  replicas: number;
  /** epochs run in this call (0 when a finished checkpoint was resumed) */
  epochsRun: number;
  trainExamples: number;
  /** ended early by hooks.shouldStop */
  stopped: boolean;
}

/**
 * Trains a CVAE: shuffles with the seed, splits each batch across replicas, averages their
 * gradients in the optimiser (adam.ts), checkpoints after every epoch. With `resume`, continues from the run
 * folder's checkpoint (refusing one made with a different configuration).
 *
 * Determinism: the same seed, backend and replica count give the same weights. Batch order and
 * the reparameterisation noise come from the seeded generator in src/shared/random.ts.
 */
export async function train(
  spec: CvaeSpec,
  data: SharedDataset,
  options: TrainOptions,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const backend = await initBackend();
  const info = describeCvae(spec);
  if (data.conditionSize !== info.conditionSize) {
    throw new Error(
      `${spec.id} expects conditions of size ${info.conditionSize}, the dataset has ${data.conditionSize}`,
    );
  }
  const config = {
    spec: spec.id,
    epochs: options.epochs,
    batchSize: options.batchSize,
    seed: options.seed,
    learningRate: options.learningRate,
    ...(options.learningRateSteps?.length ? { learningRateSteps: options.learningRateSteps } : {}),
    weightDecay: options.weightDecay,
    trainExamples: data.count,
    klWeight: options.klWeight,
    klWeightFrom: options.klWeightFrom ?? options.klWeight,
    klAnnealEpochs: options.klAnnealEpochs ?? 0,
    ...(whitenedConditionDim(spec)
      ? {
          whitenShrinkage:
            options.whitenShrinkage ?? trainingDefaults(spec).whitenShrinkage ?? DEFAULT_WHITEN_SHRINKAGE,
        }
      : {}),
    ...(options.data ? { data: options.data } : {}),
    ...(options.warmStart ? { initFrom: options.warmStart.from } : {}),
  };
  let state: ModelState = { values: initialValues(info.params, options.seed), adam: undefined };
  let history: EpochRecord[] = [];
  let startEpoch = 0;
  if (options.resume && hasCheckpoint(options.outDir)) {
    const saved = await loadCheckpoint<EpochRecord>(options.outDir, spec);
    const keys = ['batchSize', 'seed', 'weightDecay', 'trainExamples'] as const;
    // checkpoints from before β was configurable were trained with β = 1 throughout
    const klKeys = ['klWeight', 'klWeightFrom', 'klAnnealEpochs'] as const;
    const savedKl = { klWeight: 1, klWeightFrom: 1, klAnnealEpochs: 0, ...saved.meta.config };
    for (const key of klKeys) {
      if (savedKl[key] !== config[key]) {
        throw new Error(
          `cannot resume ${options.outDir}: it was trained with ${key}=${savedKl[key]}, now ${key}=${config[key]}`,
        );
      }
    }
    for (const key of keys) {
      if (saved.meta.config[key] !== config[key]) {
        throw new Error(
          `cannot resume ${options.outDir}: it was trained with ${key}=${saved.meta.config[key]}, now ${key}=${config[key]}`,
        );
      }
    }
    // a resumed run keeps the whitening its checkpoint holds; checkpoints from before the option
    // (fitted with 1e-3) do not say, are not checked, and the run does not claim a value for them
    const savedShrinkage = saved.meta.config.whitenShrinkage;
    if (savedShrinkage === undefined) delete config.whitenShrinkage;
    else if (savedShrinkage !== config.whitenShrinkage) {
      throw new Error(
        `cannot resume ${options.outDir}: its condition whitening was fitted with shrinkage ${savedShrinkage}, now ${config.whitenShrinkage} was asked for`,
      );
    }
    const savedSchedule = saved.meta.config as { learningRate: number; learningRateSteps?: LearningRateStep[] };
    const changed = scheduleConflict(savedSchedule, config, saved.meta.epoch);
    if (changed !== undefined) {
      const rate = (c: typeof savedSchedule) => learningRateAt(c.learningRate, c.learningRateSteps, changed);
      throw new Error(
        `cannot resume ${options.outDir}: its epoch ${changed} trained at learning rate ${rate(savedSchedule)}, the schedule asked for now gives ${rate(config)} (--lr-steps may only change epochs still to come)`,
      );
    }
    const savedData = saved.meta.config.data;
    if (savedData && options.data && JSON.stringify(savedData) !== JSON.stringify(options.data)) {
      throw new Error(
        `cannot resume ${options.outDir}: it was trained on ${JSON.stringify(savedData)}, now ${JSON.stringify(options.data)}`,
      );
    }
    // the run's origin is what its checkpoint says: a resume keeps the weights it started from on
    // record (the manifest cites it) whether or not --init-from is given again
    const savedOrigin = saved.meta.config.initFrom; // "id@version", as written above
    if (typeof savedOrigin === 'string') config.initFrom = savedOrigin;
    else delete config.initFrom;
    state = saved.state;
    history = saved.meta.history;
    startEpoch = saved.meta.epoch;
  }
  const whitenDim = whitenedConditionDim(spec);
  if (startEpoch === 0 && whitenDim) {
    // a fresh start: fit the condition's whitening on the training conditions (a resumed run has its own)
    const fitted = fitWhitening(data.conditions, whitenDim, { shrinkage: config.whitenShrinkage });
    state.values[WHITENING.mean] = fitted.mean;
    state.values[WHITENING.matrix] = fitted.matrix;
  }
  // a resumed run already began from it
  if (startEpoch === 0 && options.warmStart) state.values = options.warmStart.values(state.values, data);
  const adamConfig: AdamConfig = {
    ...DEFAULT_ADAM,
    learningRate: options.learningRate,
    weightDecay: options.weightDecay,
  };
  const layout = paramLayout(info.params);
  const wanted = Math.max(1, Math.min(options.replicas, Math.floor(options.batchSize / 2)));
  // dense-only models step without tfjs on the single-threaded backends (dense-step.ts), each
  // replica in a workspace of the arena sized for its share of a batch
  const dense = await denseStepPlan(spec, layout, backend.name);
  const rows = Math.ceil(options.batchSize / wanted);
  const workspace = dense ? DenseStep.workspaceFloats(dense, rows) : 0;
  // weights, Adam's moments, one gradient slot (and workspace) per replica, in one shared wasm memory
  const arena = new SharedArena(
    layout.totalSize + (2 + wanted) * layout.trainableSize + wanted * workspace,
    3 + 2 * wanted,
  );
  const alloc = (n: number) => arena.floats(n);
  const weights = flatten(layout, state.values, alloc(layout.totalSize));
  const adam = restoreAdam(layout, state, alloc);
  const ran: ActiveBackend = dense ? { ...backend, label: `${backend.label}; ${DENSE_STEP}` } : backend;
  const { replicas } = createReplicas(
    { spec, data, weights, adamM: adam.m, adamV: adam.v, adam: adamConfig, memory: arena.memory },
    layout.trainableSize,
    backend.name,
    wanted,
    alloc,
    dense && (() => ({ plan: dense, workspace: alloc(workspace), rows })),
  );
  // each replica applies Adam to its own slice of the parameters, at once: in wasm over the arena
  // for up to two gradient slots (every default run), else in JavaScript (replica.ts)
  const updateRanges = splitEven(layout.trainableSize, replicas.length);
  hooks.onStart?.({ startEpoch, backend: ran, replicas: replicas.length });
  const snapshot = (): ModelState => ({
    values: unflatten(layout, weights),
    adam: { step: adam.step, m: unflatten(layout, adam.m, true), v: unflatten(layout, adam.v, true) },
  });
  let stopped = false;
  try {
    for (let epoch = startEpoch; epoch < options.epochs; epoch++) {
      const order = permutation(createRng(deriveSeed(options.seed, 1, epoch)), data.count);
      const noise = createRng(deriveSeed(options.seed, 2, epoch));
      const started = performance.now();
      const learningRate = learningRateAt(options.learningRate, options.learningRateSteps, epoch + 1);
      let seen = 0;
      let sums = { loss: 0, reconstruction: 0, kl: 0 };
      for (let start = 0; start < data.count; start += options.batchSize) {
        const batch = order.subarray(start, Math.min(start + options.batchSize, data.count));
        if (hooks.shouldAbort?.()) {
          stopped = true;
          break;
        }
        const eps = normalArray(noise, batch.length * spec.latentDim);
        const klWeight = klWeightAt(options, epoch + start / data.count);
        const ranges = splitEven(batch.length, replicas.length).filter(([from, to]) => to > from);
        const results = await Promise.all(
          ranges.map(([from, to], k) =>
            (replicas[k] as (typeof replicas)[number]).gradients(
              Int32Array.from(batch.subarray(from, to)),
              eps.slice(from * spec.latentDim, to * spec.latentDim),
              klWeight,
            ),
          ),
        );
        const shares = results.map((r) => r.count / batch.length);
        adam.step += 1;
        await Promise.all(
          replicas.map((r, k) => {
            const [from, to] = updateRanges[k] as [number, number];
            return r.update({ t: adam.step, shares, from, to, learningRate });
          }),
        );
        updateMovingStatistics(layout, weights, results, shares);
        const weighted = (key: 'loss' | 'reconstruction' | 'kl') =>
          results.reduce((a, r, k) => a + (shares[k] as number) * r[key], 0);
        seen += batch.length;
        sums = {
          loss: sums.loss + weighted('loss') * batch.length,
          reconstruction: sums.reconstruction + weighted('reconstruction') * batch.length,
          kl: sums.kl + weighted('kl') * batch.length,
        };
        // An in-thread replica (native TensorFlow, or --replicas 1) never leaves the microtask
        // queue: without a turn of the event loop per batch, timers (progress bars, job-lease
        // heartbeats) and signal handlers would wait for the end of the epoch.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const elapsed = (performance.now() - started) / 1000;
        hooks.onBatch?.({
          epoch: epoch + 1,
          epochs: options.epochs,
          seen,
          total: data.count,
          loss: sums.loss / seen,
          imagesPerSecond: seen / elapsed,
        });
      }
      if (stopped) break; // aborted mid-epoch: the last checkpoint stays the last complete epoch
      const seconds = (performance.now() - started) / 1000;
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: sums.loss / seen,
        reconstruction: sums.reconstruction / seen,
        kl: sums.kl / seen,
        seconds,
        imagesPerSecond: seen / seconds,
        learningRate,
      };
      history.push(record);
      const saved = snapshot();
      await saveCheckpoint(options.outDir, spec, saved, { epoch: epoch + 1, config, history });
      if (options.keepEvery && (epoch + 1) % options.keepEvery === 0) {
        await saveCheckpoint(
          join(options.outDir, epochFolder(epoch + 1)),
          spec,
          { values: saved.values, adam: undefined },
          { epoch: epoch + 1, config, history },
        );
      }
      await hooks.afterCheckpoint?.(record, options.outDir);
      hooks.onEpoch?.(record);
      if (hooks.shouldStop?.()) {
        stopped = true;
        break;
      }
    }
    return {
      state: snapshot(),
      history,
      backend: ran,
      replicas: replicas.length,
      epochsRun: Math.max(0, history.length - startEpoch),
      trainExamples: data.count,
      stopped,
    };
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
  }
}

function restoreAdam(layout: ParamLayout, state: ModelState, alloc: (n: number) => Float32Array): AdamState {
  const adam = createAdamState(layout.trainableSize, alloc);
  if (!state.adam) return adam;
  adam.step = state.adam.step;
  for (const e of layout.entries) {
    if (!e.trainable) continue;
    adam.m.set(state.adam.m[e.name] as Float32Array, e.offset);
    adam.v.set(state.adam.v[e.name] as Float32Array, e.offset);
  }
  return adam;
}

const BN_MOMENTUM = 0.99;

/**
 * Batch norm: fold this batch's statistics into the moving averages used at inference. The
 * replicas' shares are combined exactly: mean of means, and variance by the law of total variance.
 */
function updateMovingStatistics(
  layout: ParamLayout,
  weights: Float32Array,
  results: GradientSummary[],
  shares: number[],
): void {
  const first = results[0];
  if (!first) return;
  first.stats.forEach((s, i) => {
    const mean = new Float64Array(s.mean.length);
    const second = new Float64Array(s.mean.length);
    results.forEach((r, k) => {
      const rs = r.stats[i] as GradientSummary['stats'][number];
      const w = shares[k] as number;
      for (let j = 0; j < mean.length; j++) {
        const m = rs.mean[j] as number;
        mean[j] = (mean[j] as number) + w * m;
        second[j] = (second[j] as number) + w * ((rs.variance[j] as number) + m * m);
      }
    });
    const at = (stat: string) => layout.entries.find((e) => e.name === `${s.name}.bn.${stat}`);
    const meanEntry = at('mean');
    const varEntry = at('variance');
    if (!meanEntry || !varEntry) throw new Error(`no moving statistics for ${s.name}`);
    for (let j = 0; j < mean.length; j++) {
      const mj = mean[j] as number;
      const vj = (second[j] as number) - mj * mj;
      const mo = meanEntry.offset + j;
      const vo = varEntry.offset + j;
      weights[mo] = BN_MOMENTUM * (weights[mo] as number) + (1 - BN_MOMENTUM) * mj;
      weights[vo] = BN_MOMENTUM * (weights[vo] as number) + (1 - BN_MOMENTUM) * vj;
    }
  });
}

/** [from, to) ranges splitting n items into k near-equal consecutive shares. */
export function splitEven(n: number, k: number): [number, number][] {
  const base = Math.floor(n / k);
  const extra = n % k;
  const out: [number, number][] = [];
  let from = 0;
  for (let i = 0; i < k; i++) {
    const to = from + base + (i < extra ? 1 : 0);
    out.push([from, to]);
    from = to;
  }
  return out;
}
