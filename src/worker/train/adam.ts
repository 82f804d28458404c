/**
 * Adam with L2 weight decay added to the gradient, as torch.optim.Adam(weight_decay=…) does — the
 * paper's optimiser (lr 1e-3, weight decay 1e-3). tfjs' own Adam has no weight decay.
 *
 * It runs in plain JavaScript over the flat parameter vector, fused with the averaging of the
 * replicas' gradients: one pass over memory per step instead of a dozen tensor ops per weight.
 *
 * Weight decay shrinks idle weights and their moments geometrically into denormal floats, which
 * CPUs process many times slower. Values under FLUSH_BELOW are flushed to zero as they are
 * written; nothing measurable changes and late epochs stay as fast as early ones.
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

export interface AdamState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export function createAdamState(size: number): AdamState {
  return { step: 0, m: new Float32Array(size), v: new Float32Array(size) };
}

/**
 * One step: g = Σ_k shares[k]·grads[k] + weightDecay·p, then Adam on params[0 .. m.length).
 * `shares` are the replicas' fractions of the batch (their losses are means over their share).
 */
export function adamStep(
  params: Float32Array,
  grads: Float32Array[],
  shares: number[],
  state: AdamState,
  cfg: AdamConfig,
): void {
  state.step += 1;
  const t = state.step;
  const { beta1: b1, beta2: b2, weightDecay: wd } = cfg;
  // Bias corrections folded into the step size (Kingma & Ba, section 2), as PyTorch does.
  const c2 = Math.sqrt(1 - b2 ** t);
  const stepSize = (cfg.learningRate * c2) / (1 - b1 ** t);
  const epsHat = cfg.epsilon * c2;
  const { m, v } = state;
  const n = m.length;
  const g0 = grads[0] as Float32Array;
  const g1 = grads[1];
  const w0 = shares[0] as number;
  const w1 = (shares[1] ?? 0) as number;
  const more = grads.length > 2;
  for (let i = 0; i < n; i++) {
    const p = params[i] as number;
    let g = w0 * (g0[i] as number);
    if (g1) g += w1 * (g1[i] as number);
    if (more)
      for (let k = 2; k < grads.length; k++) g += (shares[k] as number) * ((grads[k] as Float32Array)[i] as number);
    g += wd * p;
    let mi = b1 * (m[i] as number) + (1 - b1) * g;
    let vi = b2 * (v[i] as number) + (1 - b2) * g * g;
    if (mi < FLUSH_BELOW && mi > -FLUSH_BELOW) mi = 0;
    if (vi < FLUSH_BELOW) vi = 0;
    let pi = p - (stepSize * mi) / (Math.sqrt(vi) + epsHat);
    if (pi < FLUSH_BELOW && pi > -FLUSH_BELOW) pi = 0;
    m[i] = mi;
    v[i] = vi;
    params[i] = pi;
  }
}
