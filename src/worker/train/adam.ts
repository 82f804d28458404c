/**
 * Adam with L2 weight decay added to the gradient, as torch.optim.Adam(weight_decay=…) does — the
 * paper's optimiser (lr 1e-3, weight decay 1e-3). tfjs' own Adam has no weight decay.
 *
 * It runs in plain JavaScript over the flat parameter vector, fused with the averaging of the
 * replicas' gradients: one pass over memory per step instead of a dozen tensor ops per weight.
 *
 * Weight decay shrinks idle weights and their moments geometrically into denormal floats, which
 * CPUs process many times slower. Every FLUSH_EVERY steps a separate pass sets values under
 * FLUSH_BELOW to zero; nothing measurable changes and late epochs stay as fast as early ones.
 * (A test per value inside the update loop made the whole update 2-3x slower: docs/PERFORMANCE.md,
 * "Adam without a branch per value".) Between two passes a value shrinks by at most 0.9 a step
 * (the first moment of a weight whose gradient is zero), so nothing above FLUSH_BELOW at one pass
 * gets near the denormal range (below 1.2e-38) before it is flushed at the next: 1e-30·0.9^64 ≈ 1e-33.
 */
export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

export const DEFAULT_ADAM: AdamConfig = {
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 1e-3,
};

const FLUSH_BELOW = 1e-30;
export const FLUSH_EVERY = 64;

export interface AdamState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export function createAdamState(
  size: number,
  alloc: (n: number) => Float32Array = (n) => new Float32Array(n),
): AdamState {
  return { step: 0, m: alloc(size), v: alloc(size) };
}

/** Bias-corrected step size and epsilon for step t (Kingma & Ba, section 2; as PyTorch computes them). */
export function adamCorrections(t: number, cfg: AdamConfig) {
  const c2 = Math.sqrt(1 - cfg.beta2 ** t);
  return { stepSize: (cfg.learningRate * c2) / (1 - cfg.beta1 ** t), epsHat: cfg.epsilon * c2 };
}

/**
 * Adam step `t` on params[from, to): g = Σ_k shares[k]·grads[k] + weightDecay·p. `shares` are the
 * replicas' fractions of the batch (their losses are means over their share). Replicas each run
 * this on a disjoint range of the shared buffers, so the optimiser is parallel too.
 */
export function adamUpdate(
  params: Float32Array,
  grads: Float32Array[],
  shares: number[],
  m: Float32Array,
  v: Float32Array,
  t: number,
  cfg: AdamConfig,
  from = 0,
  to = m.length,
): void {
  const { stepSize, epsHat } = adamCorrections(t, cfg);
  const { beta1: b1, beta2: b2, weightDecay: wd } = cfg;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const g0 = grads[0] as Float32Array;
  const w0 = shares[0] as number;
  // The common case (one or two replicas) gets a branch-free loop.
  const g1 = (grads[1] ?? g0) as Float32Array;
  const w1 = grads[1] ? (shares[1] as number) : 0;
  const extra = grads.slice(2);
  const extraShares = shares.slice(2);
  for (let i = from; i < to; i++) {
    const p = params[i] as number;
    let g = w0 * (g0[i] as number) + w1 * (g1[i] as number) + wd * p;
    for (let k = 0; k < extra.length; k++) g += (extraShares[k] as number) * ((extra[k] as Float32Array)[i] as number);
    const mi = b1 * (m[i] as number) + c1 * g;
    const vi = b2 * (v[i] as number) + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = p - (stepSize * mi) / (Math.sqrt(vi) + epsHat);
  }
  flushIfDue(t, [params, m, v], from, to);
}

/** The flush pass, on the steps it is due (every FLUSH_EVERY). */
export function flushIfDue(t: number, arrays: Float32Array[], from: number, to: number): void {
  if (t % FLUSH_EVERY === 0) flushTiny(arrays, from, to);
}

/** Zeroes values under FLUSH_BELOW in [from, to) of each array. */
function flushTiny(arrays: Float32Array[], from: number, to: number): void {
  for (const a of arrays) {
    for (let i = from; i < to; i++) {
      const x = a[i] as number;
      if (x < FLUSH_BELOW && x > -FLUSH_BELOW) a[i] = 0;
    }
  }
}

/** One whole step in this thread (advances state.step). */
export function adamStep(
  params: Float32Array,
  grads: Float32Array[],
  shares: number[],
  state: AdamState,
  cfg: AdamConfig,
): void {
  state.step += 1;
  adamUpdate(params, grads, shares, state.m, state.v, state.step, cfg);
}
