import { assertSameShape, type FloatImage } from './image.js';

/**
 * SSIM (Wang, Bovik, Sheikh & Simoncelli, 2004), mean over the valid windows and, for colour
 * images, over channels.
 *
 * Two windows are offered because the paper does not say which it used:
 *  - 'gaussian' (the paper's definition and our main figure): 11x11 Gaussian, sigma 1.5,
 *    population statistics — as in Wang et al.'s reference code.
 *  - 'uniform7': 7x7 box with sample covariance (N/(N-1)) — scikit-image's default.
 * Constants: K1 = 0.01, K2 = 0.03, data range L = 1.
 */
export type SsimWindow = 'gaussian' | 'uniform7';

const K1 = 0.01;
const K2 = 0.03;
const L = 1;
const C1 = (K1 * L) ** 2;
const C2 = (K2 * L) ** 2;

function kernel1d(window: SsimWindow): Float64Array {
  if (window === 'uniform7') return new Float64Array(7).fill(1 / 7);
  const size = 11;
  const sigma = 1.5;
  const k = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = i - (size - 1) / 2;
    k[i] = Math.exp(-(x * x) / (2 * sigma * sigma));
    sum += k[i] as number;
  }
  for (let i = 0; i < size; i++) k[i] = (k[i] as number) / sum;
  return k;
}

const KERNELS: Record<SsimWindow, Float64Array> = { gaussian: kernel1d('gaussian'), uniform7: kernel1d('uniform7') };

/** 'valid' separable filtering of an h×w plane. */
function filterValid(src: Float64Array, h: number, w: number, k: Float64Array): Float64Array {
  const n = k.length;
  const oh = h - n + 1;
  const ow = w - n + 1;
  const tmp = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += (k[i] as number) * (src[y * w + x + i] as number);
      tmp[y * ow + x] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += (k[i] as number) * (tmp[(y + i) * ow + x] as number);
      out[y * ow + x] = s;
    }
  }
  return out;
}

function channelSsim(a: Float64Array, b: Float64Array, h: number, w: number, window: SsimWindow): number {
  const k = KERNELS[window];
  if (h < k.length || w < k.length) throw new Error(`SSIM needs images of at least ${k.length}x${k.length}`);
  const n = h * w;
  const aa = new Float64Array(n);
  const bb = new Float64Array(n);
  const ab = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    aa[i] = x * x;
    bb[i] = y * y;
    ab[i] = x * y;
  }
  const muA = filterValid(a, h, w, k);
  const muB = filterValid(b, h, w, k);
  const eAA = filterValid(aa, h, w, k);
  const eBB = filterValid(bb, h, w, k);
  const eAB = filterValid(ab, h, w, k);
  const count = k.length * k.length;
  const correction = window === 'uniform7' ? count / (count - 1) : 1;
  let total = 0;
  for (let i = 0; i < muA.length; i++) {
    const ma = muA[i] as number;
    const mb = muB[i] as number;
    const va = ((eAA[i] as number) - ma * ma) * correction;
    const vb = ((eBB[i] as number) - mb * mb) * correction;
    const cov = ((eAB[i] as number) - ma * mb) * correction;
    total += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
  }
  return total / muA.length;
}

export function ssim(a: FloatImage, b: FloatImage, window: SsimWindow = 'gaussian'): number {
  assertSameShape(a, b);
  const { height: h, width: w, channels: c } = a;
  let sum = 0;
  for (let ch = 0; ch < c; ch++) {
    const pa = new Float64Array(h * w);
    const pb = new Float64Array(h * w);
    for (let i = 0; i < h * w; i++) {
      pa[i] = a.data[i * c + ch] as number;
      pb[i] = b.data[i * c + ch] as number;
    }
    sum += channelSsim(pa, pb, h, w, window);
  }
  return sum / c;
}
