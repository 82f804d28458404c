import { InvalidArgumentError } from 'commander';

/** Commander parsers that reject junk with a clear message instead of passing NaN along. */
export function intOption(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected a whole number ≥ ${min}, got '${value}'`);
    return n;
  };
}

export function numberOption(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`expected a number ≥ ${min}, got '${value}'`);
    return n;
  };
}
