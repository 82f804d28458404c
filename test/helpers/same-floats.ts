import { expect } from 'vitest';

/**
 * Bit-for-bit equality of two weight arrays. `toEqual` walks a typed array element by element
 * through its generic deep-equality (about 4 µs an element), which makes comparing a model's
 * weights take seconds; this finds the first difference directly and names it.
 */
export function expectSameFloats(actual: Float32Array | undefined, expected: Float32Array | undefined, label = '') {
  expect(actual, label).toBeInstanceOf(Float32Array);
  expect(expected, label).toBeInstanceOf(Float32Array);
  const a = actual as Float32Array;
  const b = expected as Float32Array;
  expect(a.length, label).toBe(b.length);
  const at = a.findIndex((v, i) => !Object.is(v, b[i]));
  expect(at === -1 ? 'identical' : `first difference at ${at}: ${a[at]} vs ${b[at]}`, label).toBe('identical');
}
