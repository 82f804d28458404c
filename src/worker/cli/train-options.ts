import type { Command } from 'commander';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { trainingDefaults } from '../../shared/arch/training-defaults.js';
import { type FashionMnist, loadFashionMnist, takeFirst } from '../data/fashion-mnist.js';
import { type SharedDataset, sharedFromLabeled } from '../train/dataset.js';
import { type LearningRateStep, parseLearningRateSteps } from '../train/schedule.js';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions, type TrainResult, train } from '../train/trainer.js';
import { intOption, numberOption } from './options.js';
import { createBar } from './progress.js';

/*
 * What the commands that train share (`train`, `experiment table1`, `experiment table2`): the
 * training options, their defaults per architecture, and training with progress bars.
 */

/** Trains with a progress bar per epoch and a summary line per epoch on stderr. */
export async function trainWithProgress(
  spec: CvaeSpec,
  options: TrainOptions,
  subset: number | undefined,
  fm?: FashionMnist,
): Promise<TrainResult> {
  fm ??= await loadFashionMnist();
  const split = subset ? takeFirst(fm.train, subset) : fm.train;
  const data = sharedFromLabeled(split.pixels, split.labels, [split.height, split.width, 1], 10);
  return trainWithBar(spec, data, options, `training images from ${fm.dir}`);
}

/** Trains with a progress bar per epoch and a line per finished epoch (any dataset). */
export async function trainWithBar(
  spec: CvaeSpec,
  data: SharedDataset,
  options: TrainOptions,
  what: string,
): Promise<TrainResult> {
  let bar: ReturnType<typeof createBar> | undefined;
  return train(spec, data, options, {
    onStart: ({ startEpoch, backend, replicas }) => {
      console.error(
        `${spec.id}: ${data.count} ${what}; ${replicas} replica(s) on ${backend.label}` +
          (startEpoch > 0
            ? `; resuming after epoch ${startEpoch}`
            : options.warmStart
              ? `; starting from ${options.warmStart.from}'s weights (a fresh optimiser)`
              : ''),
      );
    },
    onBatch: (p) => {
      if (!bar) bar = createBar(`${spec.id} epoch ${p.epoch}/${p.epochs}`, p.total);
      bar.update(p.seen, `loss ${p.loss.toFixed(2)} | ${p.imagesPerSecond.toFixed(0)} img/s`);
    },
    onEpoch: (r) => {
      bar?.stop();
      bar = undefined;
      console.error(
        `${spec.id} epoch ${r.epoch}: loss ${r.loss.toFixed(3)} (reconstruction ${r.reconstruction.toFixed(3)}, KL ${r.kl.toFixed(3)})${r.learningRate !== options.learningRate ? `, learning rate ${r.learningRate}` : ''}, ${r.seconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(0)} img/s; checkpoint saved to ${options.outDir}`,
      );
    },
  });
}

export function addTrainOptions(cmd: Command): Command {
  const d = DEFAULT_TRAIN_OPTIONS;
  return cmd
    .option('--epochs <n>', 'epochs to train', intOption(1), d.epochs)
    .option('--batch-size <n>', 'examples per batch', intOption(2), d.batchSize)
    .option('--seed <n>', 'seed for initial weights, shuffling and noise', intOption(0), d.seed)
    .option('--lr <x>', 'Adam learning rate', numberOption(0), d.learningRate)
    .option(
      '--lr-steps <list>',
      'later learning rates from given epochs on, e.g. 26=1e-4,29=1e-5 (a resume may add steps for epochs to come)',
      parseLearningRateSteps,
    )
    .option(
      '--weight-decay <x>',
      'L2 weight decay added to the gradient (PyTorch Adam semantics)',
      numberOption(0),
      d.weightDecay,
    )
    .option(
      '--replicas <n>',
      'data-parallel worker threads for the wasm/cpu backends (default: one per core)',
      intOption(1),
      d.replicas,
    )
    .option('--kl-weight <x>', 'β: weight of the KL term in the loss (1 = the plain ELBO)', numberOption(0), d.klWeight)
    .option(
      '--kl-weight-from <x>',
      'β at the start, moved linearly to --kl-weight over --kl-anneal-epochs',
      numberOption(0),
    )
    .option(
      '--kl-anneal-epochs <x>',
      'epochs over which β moves from --kl-weight-from to --kl-weight',
      numberOption(0),
      0,
    )
    .option(
      '--whiten-shrinkage <x>',
      'long text: shrinkage of the condition whitening towards the identity (a direction the captions barely use is amplified at most 1/√x times the average) (default: 1e-2 at 64 px, 3e-2 from 128 px)',
      numberOption(0),
    )
    .option('--subset <n>', 'Fashion-MNIST: train on the first n training images only', intOption(1))
    .option('--resume', 'continue from the checkpoint in the output folder', false)
    .option(
      '--keep-every <n>',
      "also keep every n-th epoch's weights in <out>/epoch-<n>/ (cvae export --from that folder picks an earlier epoch)",
      intOption(1),
    );
}

export interface TrainFlags {
  epochs: number;
  batchSize: number;
  seed: number;
  lr: number;
  lrSteps?: LearningRateStep[];
  weightDecay: number;
  replicas: number;
  subset?: number;
  resume: boolean;
  keepEvery?: number;
  klWeight: number;
  klWeightFrom?: number;
  klAnnealEpochs: number;
  whitenShrinkage?: number;
}

export function trainOptionsFrom(flags: TrainFlags, outDir: string): TrainOptions {
  return {
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    seed: flags.seed,
    learningRate: flags.lr,
    ...(flags.lrSteps ? { learningRateSteps: flags.lrSteps } : {}),
    weightDecay: flags.weightDecay,
    klWeight: flags.klWeight,
    klWeightFrom: flags.klWeightFrom,
    klAnnealEpochs: flags.klAnnealEpochs,
    whitenShrinkage: flags.whitenShrinkage,
    replicas: flags.replicas,
    outDir,
    resume: flags.resume,
    ...(flags.keepEvery ? { keepEvery: flags.keepEvery } : {}),
  };
}

/**
 * Epochs, batch size and β: the architecture's defaults (train/defaults.ts) unless given on the
 * command line.
 */
export function withArchitectureDefaults<T extends TrainFlags>(spec: CvaeSpec, flags: T, cmd: Command): T {
  const d = trainingDefaults(spec);
  const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
  return {
    ...flags,
    epochs: given('epochs') ? flags.epochs : d.epochs,
    batchSize: given('batchSize') ? flags.batchSize : d.batchSize,
    klWeight: given('klWeight') ? flags.klWeight : d.klWeight,
  };
}
