/**
 * Seeded randomness that gives the same numbers in Workers, Node and browsers.
 *
 * Generator: xoshiro128** (Blackman & Vigna, 2018) with its 128-bit state filled by splitmix32
 * from a 32-bit seed. Normals: Box–Muller over two uniforms in (0, 1], using both outputs.
 * Only 32-bit integer arithmetic (Math.imul, >>>) and Math.log/sqrt/cos/sin are used; V8 computes
 * those identically everywhere it runs, so a seed reproduces the same floats on the edge and in Node.
 */
/** Seeds are unsigned 32-bit: requests, training jobs and the playground accept 0 … MAX_SEED. */
export const MAX_SEED = 0xffffffff;

export interface Rng {
  /** uniform 32-bit unsigned integer */
  nextUint32(): number;
  /** uniform float in [0, 1) with 32 bits of randomness */
  next(): number;
  /** standard normal */
  normal(): number;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createRng(seed: number): Rng {
  const init = splitmix32(seed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  let spare: number | undefined;
  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const next = () => nextUint32() / 4294967296;
  return {
    nextUint32,
    next,
    normal() {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      const u1 = (nextUint32() + 1) / 4294967296; // (0, 1]: log stays finite
      const u2 = next();
      const r = Math.sqrt(-2 * Math.log(u1));
      spare = r * Math.sin(2 * Math.PI * u2);
      return r * Math.cos(2 * Math.PI * u2);
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Fills a new Float32Array with standard normals. */
export function normalArray(rng: Rng, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.normal();
  return out;
}

/** Fisher–Yates shuffle of 0..n-1. */
export function permutation(rng: Rng, n: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = p[i] as number;
    p[i] = p[j] as number;
    p[j] = t;
  }
  return p;
}

/** Derives an independent seed for a named stream (e.g. per epoch) from a base seed. */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const p of parts) h = splitmix32((h ^ Math.imul(p + 1, 0x27d4eb2f)) >>> 0)();
  return h;
}
