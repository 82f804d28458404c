import { describe, expect, it } from 'vitest';
import { createRng, normalArray } from '../../src/shared/random.js';
import { adamStep, adamUpdate, createAdamState, DEFAULT_ADAM, FLUSH_EVERY } from '../../src/worker/train/adam.js';
import { wasmAdam } from '../../src/worker/train/adam-wasm.js';
import { SharedArena } from '../../src/worker/wasm/arena.js';

describe('Adam (PyTorch semantics, fused with the replica average)', () => {
  it('first step moves each weight by lr·sign(g) (bias-corrected), weight decay included in g', () => {
    const params = Float32Array.from([1, -2, 0.5]);
    const grads = Float32Array.from([0.3, -0.7, 0]);
    const state = createAdamState(3);
    adamStep(params, [grads], [1], state, { ...DEFAULT_ADAM, weightDecay: 0 });
    expect(params[0]).toBeCloseTo(1 - 1e-3, 6);
    expect(params[1]).toBeCloseTo(-2 + 1e-3, 6);
    expect(params[2]).toBeCloseTo(0.5, 6);
    // With weight decay, g = 0 + 1e-3 · 0.5 > 0, so the third weight moves down by ~lr.
    const p2 = Float32Array.from([0.5]);
    adamStep(p2, [Float32Array.from([0])], [1], createAdamState(1), DEFAULT_ADAM);
    expect(p2[0]).toBeCloseTo(0.5 - 1e-3, 4);
  });

  it('matches a reference implementation over several steps', () => {
    const cfg = { ...DEFAULT_ADAM, learningRate: 0.01, weightDecay: 0.01 };
    const params = Float32Array.from([0.3, -0.1]);
    const state = createAdamState(2);
    let p = [0.3, -0.1];
    let m = [0, 0];
    let v = [0, 0];
    for (let t = 1; t <= 5; t++) {
      const g0 = [Math.sin(t), Math.cos(t) * 0.5];
      adamStep(params, [Float32Array.from(g0)], [1], state, cfg);
      // torch.optim.Adam, written out in float64
      const g = g0.map((x, i) => x + cfg.weightDecay * (p[i] as number));
      m = m.map((x, i) => cfg.beta1 * x + (1 - cfg.beta1) * (g[i] as number));
      v = v.map((x, i) => cfg.beta2 * x + (1 - cfg.beta2) * (g[i] as number) ** 2);
      const mh = m.map((x) => x / (1 - cfg.beta1 ** t));
      const vh = v.map((x) => x / (1 - cfg.beta2 ** t));
      p = p.map((x, i) => x - (cfg.learningRate * (mh[i] as number)) / (Math.sqrt(vh[i] as number) + cfg.epsilon));
    }
    expect(params[0]).toBeCloseTo(p[0] as number, 5);
    expect(params[1]).toBeCloseTo(p[1] as number, 5);
  });

  it('averages the replicas by their share of the batch', () => {
    const a = Float32Array.from([1]);
    const b = Float32Array.from([1]);
    adamStep(a, [Float32Array.from([0.2]), Float32Array.from([0.6])], [0.75, 0.25], createAdamState(1), DEFAULT_ADAM);
    adamStep(b, [Float32Array.from([0.3])], [1], createAdamState(1), DEFAULT_ADAM);
    expect(a[0]).toBe(b[0]);
  });

  it('flushes denormal-range values to zero every FLUSH_EVERY steps instead of letting them slow the CPU', () => {
    const params = Float32Array.from([1e-35, 1, -1e-31]);
    const state = createAdamState(3);
    state.v[0] = 1e-36;
    state.m[0] = -1e-36;
    const noDecay = { ...DEFAULT_ADAM, weightDecay: 0 };
    const zero = Float32Array.from([0, 0, 0]);
    adamStep(params, [zero], [1], state, noDecay); // step 1: no pass yet
    expect(state.m[0]).not.toBe(0);
    expect(params[0]).not.toBe(0);
    state.step = FLUSH_EVERY - 1;
    adamStep(params, [zero], [1], state, noDecay); // step FLUSH_EVERY: the pass
    expect(state.m[0]).toBe(0);
    expect(state.v[0]).toBe(0);
    expect(params[0]).toBe(0);
    expect(params[2]).toBe(0);
    expect(params[1]).toBe(1); // a normal value stays
  });

  it('with a zero gradient, a first moment above the threshold stays a normal float until the next pass', () => {
    // the flush interval's promise: 0.9 a step for FLUSH_EVERY steps keeps 1e-30 far above 1.2e-38
    const params = Float32Array.from([1]);
    const state = createAdamState(1);
    state.m[0] = 1.01e-30;
    state.v[0] = 1;
    const noDecay = { ...DEFAULT_ADAM, weightDecay: 0 };
    for (let t = 0; t < FLUSH_EVERY - 1; t++) adamStep(params, [Float32Array.from([0])], [1], state, noDecay);
    expect(state.m[0] as number).toBeGreaterThan(1.2e-38);
    adamStep(params, [Float32Array.from([0])], [1], state, noDecay);
    expect(state.m[0]).toBe(0);
  });
});

describe('Adam in wasm over the trainer arena', () => {
  const n = 1001; // not a whole number of vectors
  const rng = createRng(5);
  function arrays(arena: SharedArena) {
    const [p, m, v, g0, g1] = [0, 1, 2, 3, 4].map(() => arena.floats(n)) as Float32Array[];
    p?.set(normalArray(rng, n));
    g0?.set(normalArray(rng, n));
    g1?.set(normalArray(rng, n));
    return { p: p as Float32Array, m: m as Float32Array, v: v as Float32Array, g: [g0, g1] as Float32Array[] };
  }

  it('matches adamUpdate (float64 JavaScript) to float32 rounding, one or two slots, any range', async () => {
    const arena = new SharedArena(5 * n, 5);
    const kernel = await wasmAdam(arena);
    const ours = arrays(arena);
    const js = { p: ours.p.slice(), m: ours.m.slice(), v: ours.v.slice(), g: ours.g.map((g) => g.slice()) };
    const cfg = { ...DEFAULT_ADAM, learningRate: 0.01, weightDecay: 0.01 };
    for (let t = 1; t <= 6; t++) {
      const slots = t % 2 ? 1 : 2;
      const shares = slots === 1 ? [1] : [0.75, 0.25];
      const [from, to] = t % 3 ? [0, n] : [3, 998]; // unaligned ends take the scalar tail
      kernel(ours.p, ours.g.slice(0, slots), shares, ours.m, ours.v, t, cfg, from, to);
      adamUpdate(js.p, js.g.slice(0, slots), shares, js.m, js.v, t, cfg, from, to);
    }
    let err = 0;
    for (let i = 0; i < n; i++) err = Math.max(err, Math.abs((ours.p[i] as number) - (js.p[i] as number)));
    expect(err).toBeGreaterThan(0); // float32 arithmetic, not the JavaScript path
    expect(err).toBeLessThan(1e-6);
    expect(Array.from(ours.m.slice(0, 4)).every((x) => x !== 0)).toBe(true);
  });

  it('flushes on the steps the JavaScript update does', async () => {
    const arena = new SharedArena(5 * n, 5);
    const kernel = await wasmAdam(arena);
    const { p, m, v, g } = arrays(arena);
    (g[0] as Float32Array).fill(0);
    const noDecay = { ...DEFAULT_ADAM, weightDecay: 0 };
    m[0] = 1e-35;
    kernel(p, [g[0] as Float32Array], [1], m, v, FLUSH_EVERY - 1, noDecay, 0, n);
    expect(m[0]).not.toBe(0);
    m[0] = 1e-35;
    kernel(p, [g[0] as Float32Array], [1], m, v, FLUSH_EVERY, noDecay, 0, n);
    expect(m[0]).toBe(0);
  });

  it('refuses arrays outside its arena, and the arena refuses more than it was made for', async () => {
    const arena = new SharedArena(5 * n, 5);
    const kernel = await wasmAdam(arena);
    const { p, m, v } = arrays(arena);
    const outside = new Float32Array(n);
    expect(() => kernel(p, [outside], [1], m, v, 1, DEFAULT_ADAM, 0, n)).toThrow(/outside its arena/);
    const small = new SharedArena(8, 1);
    expect(small.floats(8).byteOffset % 16).toBe(0);
    expect(() => small.floats((3 * 65536) / 4)).toThrow(/out of the space/);
  });
});
