import { type Command, InvalidArgumentError, Option } from 'commander';

/** Commander parsers that reject junk with a clear message instead of passing NaN along. */
export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}, got '${value}'`,
      );
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

/** --fid-onnx / --fid-normalize: which network makes FID features (see eval/extractors.ts). */
export function addFidOptions(cmd: Command): Command {
  return cmd
    .option(
      '--fid-onnx <path>',
      'InceptionV3 (or other) ONNX for FID features (default: $CVAE_FID_ONNX, else the shipped classifier)',
    )
    .addOption(
      new Option('--fid-normalize <kind>', 'input normalisation for --fid-onnx')
        .choices(['inception', 'imagenet'])
        .default('inception'),
    );
}
