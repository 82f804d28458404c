import { Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { fid, fitGaussian, frechetDistance } from '../../src/shared/metrics/fid.js';
import type { FloatImage } from '../../src/shared/metrics/image.js';
import { sumSquaredError } from '../../src/shared/metrics/mse.js';
import { ssim } from '../../src/shared/metrics/ssim.js';
import { createRng } from '../../src/shared/random.js';

function image(h: number, w: number, c: number, f: (i: number) => number): FloatImage {
  const data = new Float32Array(h * w * c);
  for (let i = 0; i < data.length; i++) data[i] = f(i);
  return { height: h, width: w, channels: c, data };
}

const rng = createRng(7);
const noisy = image(28, 28, 1, () => rng.next());

describe('MSE (per-image sum of squared errors)', () => {
  it('is 0 for identical images', () => {
    expect(sumSquaredError(noisy, noisy)).toBe(0);
  });
  it('sums, not averages: 784 pixels off by 0.1 give 7.84', () => {
    const a = image(28, 28, 1, () => 0.5);
    const b = image(28, 28, 1, () => 0.6);
    expect(sumSquaredError(a, b)).toBeCloseTo(784 * 0.01, 4);
  });
  it('refuses images of different shapes', () => {
    expect(() =>
      sumSquaredError(
        noisy,
        image(27, 28, 1, () => 0),
      ),
    ).toThrow(/shapes differ/);
  });
});

describe('SSIM (Wang et al. 2004)', () => {
  it('is 1 for identical images, both windows, grey and RGB', () => {
    const rgb = image(32, 32, 3, () => rng.next());
    for (const w of ['gaussian', 'uniform7'] as const) {
      expect(ssim(noisy, noisy, w)).toBeCloseTo(1, 10);
      expect(ssim(rgb, rgb, w)).toBeCloseTo(1, 10);
    }
  });
  it('matches the closed form for two flat images: (2ab + C1) / (a² + b² + C1)', () => {
    const c1 = 0.01 ** 2;
    const expected = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1);
    const a = image(28, 28, 1, () => 0.5);
    const b = image(28, 28, 1, () => 0.6);
    expect(ssim(a, b, 'gaussian')).toBeCloseTo(expected, 6);
    expect(ssim(a, b, 'uniform7')).toBeCloseTo(expected, 6);
  });
  it('matches the closed form for an image and its negative-contrast copy (flat windows excluded)', () => {
    // a = 0.5 + d·s, b = 0.5 - d·s with s = ±1 in a checkerboard: means equal, cov = -var.
    const d = 0.2;
    const a = image(28, 28, 1, (i) => 0.5 + d * (((i % 28) + Math.floor(i / 28)) % 2 ? 1 : -1));
    const b = image(28, 28, 1, (i) => 1 - (a.data[i] as number));
    const c2 = 0.03 ** 2;
    // Gaussian window on a checkerboard: local mean ≈ 0.5 ± tiny; variance ≈ d²; cov ≈ -d².
    const s = ssim(a, b, 'gaussian');
    expect(s).toBeLessThan(0);
    expect(s).toBeCloseTo((-2 * d * d + c2) / (2 * d * d + c2), 2);
  });
  it('the two windows differ on natural-ish images and stay within [-1, 1]', () => {
    const smooth = image(28, 28, 1, (i) => 0.5 + 0.4 * Math.sin((i % 28) / 4) * Math.cos(Math.floor(i / 28) / 5));
    const blurred = image(28, 28, 1, (i) =>
      Math.min(1, Math.max(0, (smooth.data[i] as number) + 0.3 * (rng.next() - 0.5))),
    );
    const g = ssim(smooth, blurred, 'gaussian');
    const u = ssim(smooth, blurred, 'uniform7');
    expect(g).toBeGreaterThan(-1);
    expect(g).toBeLessThan(1);
    expect(u).not.toBeCloseTo(g, 3);
  });
});

describe('FID (Fréchet distance of Gaussian fits)', () => {
  const dim = 4;
  const n = 400;
  const features = new Float32Array(n * dim).map(() => rng.normal());

  it('is 0 for a set against itself', () => {
    expect(fid(features, n, features, n, dim)).toBeCloseTo(0, 6);
  });

  it('diagonal covariances: ‖μ₁−μ₂‖² + Σ(σ₁ − σ₂)²', () => {
    const a = { mean: Float64Array.from([0, 0]), covariance: Matrix.diag([1, 4]), count: 10 };
    const b = { mean: Float64Array.from([1, 2]), covariance: Matrix.diag([9, 1]), count: 10 };
    expect(frechetDistance(a, b)).toBeCloseTo(1 + 4 + (1 - 3) ** 2 + (2 - 1) ** 2, 8);
  });

  it('non-commuting 2x2 covariances match the independent closed form', () => {
    // For 2x2 A with positive eigenvalues, Tr √A = √(tr A + 2√det A).
    const s1 = new Matrix([
      [2, 0.5],
      [0.5, 1],
    ]);
    const s2 = new Matrix([
      [1, -0.3],
      [-0.3, 3],
    ]);
    const p = s1.mmul(s2);
    const det = p.get(0, 0) * p.get(1, 1) - p.get(0, 1) * p.get(1, 0);
    const trSqrt = Math.sqrt(p.trace() + 2 * Math.sqrt(det));
    const expected = 0.25 + s1.trace() + s2.trace() - 2 * trSqrt;
    const a = { mean: Float64Array.from([0.5, 0]), covariance: s1, count: 10 };
    const b = { mean: Float64Array.from([0, 0]), covariance: s2, count: 10 };
    expect(frechetDistance(a, b)).toBeCloseTo(expected, 8);
  });

  it('fitGaussian gives the unbiased covariance', () => {
    const fit = fitGaussian(Float32Array.from([0, 0, 2, 2]), 2, 2);
    expect(Array.from(fit.mean)).toEqual([1, 1]);
    expect(fit.covariance.to2DArray()).toEqual([
      [2, 2],
      [2, 2],
    ]);
  });

  it('grows with a shift of the mean', () => {
    const shifted = features.map((v, i) => (i % dim === 0 ? v + 1 : v));
    expect(fid(features, n, shifted, n, dim)).toBeCloseTo(1, 6);
  });
});
