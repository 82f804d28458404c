import { adamWat } from '../wasm/adam-wat.js';
import type { SharedArena } from '../wasm/arena.js';
import { assemble } from '../wasm/assemble.js';
import { adamCorrections, type adamUpdate, flushIfDue } from './adam.js';

type AdamExport = (
  p: number,
  m: number,
  v: number,
  g0: number,
  g1: number,
  n: number,
  w0: number,
  w1: number,
  b1: number,
  b2: number,
  c1: number,
  c2: number,
  stepSize: number,
  eps: number,
  wd: number,
) => void;

/** `adamUpdate`'s signature (range required), for arrays in the arena, at most two gradient slots. */
export type AdamKernel = (...args: Required<Parameters<typeof adamUpdate>>) => void;

/**
 * Adam in wasm over an arena's memory (src/worker/wasm/adam-wat.ts). It refuses arrays outside
 * the arena and more than two gradient slots; those take `adamUpdate`.
 */
export async function wasmAdam(arena: SharedArena): Promise<AdamKernel> {
  const module = await assemble('adam.wat', adamWat());
  const adam = new WebAssembly.Instance(module, { env: { memory: arena.memory } }).exports.adam as AdamExport;
  return (params, grads, shares, m, v, t, cfg, from, to) => {
    const g0 = grads[0] as Float32Array;
    const g1 = (grads[1] ?? g0) as Float32Array;
    if (grads.length > 2 || ![params, m, v, g0, g1].every((a) => arena.holds(a)))
      throw new Error('wasm Adam: arrays outside its arena, or more than two gradient slots');
    const { stepSize, epsHat } = adamCorrections(t, cfg);
    const at = (a: Float32Array) => a.byteOffset + from * 4;
    adam(
      at(params),
      at(m),
      at(v),
      at(g0),
      at(g1),
      to - from,
      shares[0] as number,
      grads[1] ? (shares[1] as number) : 0,
      cfg.beta1,
      cfg.beta2,
      1 - cfg.beta1,
      1 - cfg.beta2,
      stepSize,
      epsHat,
      cfg.weightDecay,
    );
    flushIfDue(t, [params, m, v], from, to);
  };
}
