import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed, normalArray, permutation } from '../../src/shared/random.js';

describe('seeded randomness', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = normalArray(createRng(42), 8);
    expect(normalArray(createRng(42), 8)).toEqual(a);
    expect(normalArray(createRng(43), 8)).not.toEqual(a);
  });

  it('pins the first outputs (the edge must reproduce them byte for byte)', () => {
    const rng = createRng(1);
    const first = [rng.nextUint32(), rng.nextUint32(), rng.nextUint32()];
    expect(first).toMatchInlineSnapshot(`
      [
        2442144158,
        3238099751,
        3819917871,
      ]
    `);
  });

  it('normals have mean 0 and variance 1', () => {
    const x = normalArray(createRng(5), 200_000);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
  });

  it('permutation contains every index once', () => {
    const p = permutation(createRng(3), 1000);
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(1000).keys()]);
    expect([...p.subarray(0, 10)]).not.toEqual([...Array(10).keys()]);
  });

  it('derived seeds differ by stream', () => {
    expect(deriveSeed(1, 1, 0)).not.toBe(deriveSeed(1, 2, 0));
    expect(deriveSeed(1, 1, 0)).not.toBe(deriveSeed(1, 1, 1));
    expect(deriveSeed(1, 1, 0)).toBe(deriveSeed(1, 1, 0));
  });
});
