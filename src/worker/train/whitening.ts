import { CholeskyDecomposition, inverse, Matrix } from 'ml-matrix';

/**
 * Fits the condition whitening of a spec with `condition.whiten` (see spec.ts): a fixed affine map
 * y = (c − mean) · matrix under which the training conditions have zero mean and identity
 * covariance. The trainer fits it once, before the first step, and it is saved with the weights.
 *
 * The covariance is shrunk towards the identity (Σ + ε · tr(Σ)/d · I) so that directions the
 * training captions barely use, which new captions will use differently, are amplified at most
 * about 1/√ε times more than the average direction. At ε = 1e-3 (31×) the decoders turned the
 * edge's compact text encoder's small error (cosine 0.9995) into colour flips; training uses 1e-2
 * at 64 px and 3e-2 from 128 px (shared/arch/training-defaults.ts; measured in
 * docs/research/2026-11-edge-text-encoder.md, "The decoders' whitening"). matrix = L⁻ᵀ for the
 * Cholesky factor Σ = L Lᵀ. Rows are evenly strided down to `maxRows`: the covariance of 16k
 * captions is as good as that of all of COCO's, at a fraction of the O(n·d²) cost.
 */
export interface WhiteningOptions {
  /** shrinkage ε, relative to the mean variance */
  shrinkage?: number;
  maxRows?: number;
}

/** the shrinkage ε where neither the run nor its architecture names one */
export const DEFAULT_WHITEN_SHRINKAGE = 1e-2;

export function fitWhitening(
  conditions: Float32Array,
  dim: number,
  { shrinkage = DEFAULT_WHITEN_SHRINKAGE, maxRows = 16384 }: WhiteningOptions = {},
): { mean: Float32Array; matrix: Float32Array } {
  const count = Math.floor(conditions.length / dim);
  if (count < 2) throw new Error(`whitening needs at least 2 conditions, got ${count}`);
  const rows = Math.min(count, maxRows);
  const stride = count / rows;
  const x = new Matrix(rows, dim);
  for (let r = 0; r < rows; r++) {
    const at = Math.floor(r * stride) * dim;
    for (let j = 0; j < dim; j++) x.set(r, j, conditions[at + j] as number);
  }
  const mean = x.mean('column');
  x.subRowVector(mean);
  const cov = x.transpose().mmul(x).div(rows);
  const ridge = (shrinkage * cov.trace()) / dim || 1e-12;
  for (let j = 0; j < dim; j++) cov.set(j, j, cov.get(j, j) + ridge);
  const cholesky = new CholeskyDecomposition(cov);
  if (!cholesky.isPositiveDefinite()) throw new Error('condition covariance is not positive definite');
  const matrix = inverse(cholesky.lowerTriangularMatrix).transpose();
  return { mean: Float32Array.from(mean), matrix: Float32Array.from(matrix.to1DArray()) };
}
