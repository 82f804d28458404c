/** An image as the metrics see it: HWC floats, values in [0, 1]. */
export interface FloatImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/** Views image `i` of a batch stored back to back (N×H×W×C) without copying. */
export function imageAt(batch: Float32Array, i: number, height: number, width: number, channels: number): FloatImage {
  const size = height * width * channels;
  return { width, height, channels, data: batch.subarray(i * size, (i + 1) * size) };
}

export function assertSameShape(a: FloatImage, b: FloatImage): void {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) {
    throw new Error(
      `image shapes differ: ${a.height}x${a.width}x${a.channels} vs ${b.height}x${b.width}x${b.channels}`,
    );
  }
}
