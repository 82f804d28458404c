/**
 * Gaussian blur of HWC float images, in place, separable, edges clamped. The class-fidelity judge
 * trains on blurred copies so that a VAE's soft edges are not read as a different class (a crisp
 * classifier takes a blurred coat for a pullover more often than the blur warrants).
 */
export function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = (k[i] as number) / sum;
  return k;
}

/** Blurs image `index` of a batch of [h, w, c] images with standard deviation `sigma` pixels. */
export function blurImage(
  batch: Float32Array,
  index: number,
  shape: readonly [number, number, number],
  sigma: number,
): void {
  if (sigma <= 0) return;
  const [h, w, c] = shape;
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const base = index * h * w * c;
  const tmp = new Float32Array(h * w * c);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let t = -r; t <= r; t++)
          s += (k[t + r] as number) * (batch[base + (y * w + clamp(x + t, w)) * c + ch] as number);
        tmp[(y * w + x) * c + ch] = s;
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let t = -r; t <= r; t++) s += (k[t + r] as number) * (tmp[(clamp(y + t, h) * w + x) * c + ch] as number);
        batch[base + (y * w + x) * c + ch] = s;
      }
}

export interface BlurAugmentation {
  /** share of training images blurred */
  probability: number;
  /** sigma drawn uniformly from [minSigma, maxSigma] pixels */
  minSigma: number;
  maxSigma: number;
}

/** The judge's augmentation: half the images, sigma 0.5–1.5 px (a VAE's blur on 28x28 is about 1 px). */
export const JUDGE_BLUR: BlurAugmentation = { probability: 0.5, minSigma: 0.5, maxSigma: 1.5 };

/** Blurs a random share of a batch in place; `random` returns uniform numbers in [0, 1). */
export function blurSome(
  batch: Float32Array,
  count: number,
  shape: readonly [number, number, number],
  aug: BlurAugmentation,
  random: () => number,
): void {
  for (let i = 0; i < count; i++) {
    if (random() >= aug.probability) continue;
    blurImage(batch, i, shape, aug.minSigma + random() * (aug.maxSigma - aug.minSigma));
  }
}
