import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * Fréchet distance between Gaussian fits of two feature sets (Heusel et al., 2017):
 *   d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2})
 *
 * Tr((Σ₁Σ₂)^{1/2}) is computed stably as Tr((√Σ₁ Σ₂ √Σ₁)^{1/2}): both factors are symmetric
 * positive semi-definite, so two symmetric eigendecompositions suffice, and tiny negative
 * eigenvalues from rounding are clamped to zero (no complex parts to discard, as scipy's sqrtm
 * route has to).
 *
 * What the features are is the caller's choice (the extractor); every FID we report names it.
 */
export interface GaussianFit {
  mean: Float64Array;
  covariance: Matrix;
  count: number;
}

/** Mean and unbiased covariance of `count` feature rows of length `dim`, stored back to back. */
export function fitGaussian(features: Float32Array | Float64Array, count: number, dim: number): GaussianFit {
  if (count < 2) throw new Error('FID needs at least two feature vectors per set');
  if (features.length !== count * dim)
    throw new Error(`expected ${count}x${dim} features, got ${features.length} values`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++)
    for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) + (features[i * dim + j] as number);
  for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) / count;
  const centered = new Matrix(count, dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) centered.set(i, j, (features[i * dim + j] as number) - (mean[j] as number));
  }
  const covariance = centered
    .transpose()
    .mmul(centered)
    .div(count - 1);
  return { mean, covariance, count };
}

function symmetricSqrt(m: Matrix): Matrix {
  const sym = m.add(m.transpose()).div(2);
  const eig = new EigenvalueDecomposition(sym, { assumeSymmetric: true });
  const v = eig.eigenvectorMatrix;
  const roots = eig.realEigenvalues.map((x) => Math.sqrt(Math.max(x, 0)));
  return v.mmul(Matrix.diag(roots)).mmul(v.transpose());
}

function traceSqrtProduct(a: Matrix, b: Matrix): number {
  const rootA = symmetricSqrt(a);
  const inner = rootA.mmul(b).mmul(rootA);
  const sym = inner.add(inner.transpose()).div(2);
  const eig = new EigenvalueDecomposition(sym, { assumeSymmetric: true });
  return eig.realEigenvalues.reduce((s, x) => s + Math.sqrt(Math.max(x, 0)), 0);
}

export function frechetDistance(a: GaussianFit, b: GaussianFit): number {
  if (a.mean.length !== b.mean.length) throw new Error('feature dimensions differ');
  let meanTerm = 0;
  for (let i = 0; i < a.mean.length; i++) meanTerm += ((a.mean[i] as number) - (b.mean[i] as number)) ** 2;
  const traceTerm = a.covariance.trace() + b.covariance.trace() - 2 * traceSqrtProduct(a.covariance, b.covariance);
  return Math.max(0, meanTerm + traceTerm);
}

export function fid(
  features1: Float32Array,
  count1: number,
  features2: Float32Array,
  count2: number,
  dim: number,
): number {
  return frechetDistance(fitGaussian(features1, count1, dim), fitGaussian(features2, count2, dim));
}
