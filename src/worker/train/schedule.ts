import { CvaeError } from '../../shared/errors.js';

/**
 * A piecewise-constant learning rate: the base rate, then `lr` from epoch `from` (1-based) on.
 * A late drop (e.g. 10x for the last epochs) lets Adam settle into the minimum it has been
 * circling; the effect on fashion-conv is measured in docs/RESULTS.md (Table 1).
 */
export interface LearningRateStep {
  from: number;
  lr: number;
}

export function learningRateAt(base: number, steps: readonly LearningRateStep[] | undefined, epoch: number): number {
  let lr = base;
  for (const s of steps ?? []) if (epoch >= s.from) lr = s.lr;
  return lr;
}

/** `26=1e-4,29=1e-5` → steps sorted by epoch; refuses anything else with a clear message. */
export function parseLearningRateSteps(value: string): LearningRateStep[] {
  const steps = value
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const [from, lr] = part.split('=').map(Number);
      if (!Number.isInteger(from) || (from as number) < 1 || !Number.isFinite(lr) || (lr as number) <= 0)
        throw new CvaeError('bad_option', `--lr-steps: expected epoch=rate (e.g. 26=1e-4), got '${part}'`);
      return { from: from as number, lr: lr as number };
    })
    .sort((a, b) => a.from - b.from);
  if (new Set(steps.map((s) => s.from)).size !== steps.length)
    throw new CvaeError('bad_option', '--lr-steps: an epoch is given twice');
  return steps;
}

type Schedule = { learningRate: number; learningRateSteps?: readonly LearningRateStep[] };

/**
 * The first of the epochs 1…trained whose rate differs between a checkpoint's schedule and the
 * one asked for now: a resume may change the rate of epochs still to come, never of epochs run.
 */
export function scheduleConflict(saved: Schedule, now: Schedule, trained: number): number | undefined {
  for (let epoch = 1; epoch <= trained; epoch++) {
    const was = learningRateAt(saved.learningRate, saved.learningRateSteps, epoch);
    if (was !== learningRateAt(now.learningRate, now.learningRateSteps, epoch)) return epoch;
  }
  return undefined;
}
