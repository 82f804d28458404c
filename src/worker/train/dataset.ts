/**
 * A training set every replica thread can read without copying: pixels and conditions live in
 * SharedArrayBuffers, so worker threads get views of the same memory.
 */
export interface SharedDataset {
  count: number;
  /** [height, width, channels] */
  imageShape: [number, number, number];
  /** count × H × W × C bytes, 0..255 */
  pixels: Uint8Array;
  /** count × conditionSize floats: one-hot rows or text embeddings */
  conditions: Float32Array;
  conditionSize: number;
  /** class per example where there is one (for figures and accuracy), else empty */
  labels: Uint8Array;
  /** example → image, when images are shared by several examples (COCO: one per caption) */
  imageIndex?: Uint32Array;
}

function shared<T extends Uint8Array | Float32Array>(make: (buffer: SharedArrayBuffer) => T, bytes: number): T {
  return make(new SharedArrayBuffer(bytes));
}

export function sharedFromLabeled(
  pixels: Uint8Array,
  labels: Uint8Array,
  imageShape: [number, number, number],
  classes: number,
): SharedDataset {
  const count = labels.length;
  const px = shared((b) => new Uint8Array(b), pixels.length);
  px.set(pixels);
  const conditions = shared((b) => new Float32Array(b), count * classes * 4);
  for (let i = 0; i < count; i++) conditions[i * classes + (labels[i] as number)] = 1;
  const lab = shared((b) => new Uint8Array(b), count);
  lab.set(labels);
  return { count, imageShape, pixels: px, conditions, conditionSize: classes, labels: lab };
}

/** Gathers examples into float batches: pixels scaled to [0, 1]. */
export function gatherBatch(data: SharedDataset, indices: ArrayLike<number>) {
  const [h, w, c] = data.imageShape;
  const size = h * w * c;
  const n = indices.length;
  const images = new Float32Array(n * size);
  const conditions = new Float32Array(n * data.conditionSize);
  for (let k = 0; k < n; k++) {
    const i = indices[k] as number;
    const img = data.imageIndex ? (data.imageIndex[i] as number) : i;
    const src = data.pixels.subarray(img * size, (img + 1) * size);
    const base = k * size;
    for (let p = 0; p < size; p++) images[base + p] = (src[p] as number) / 255;
    conditions.set(
      data.conditions.subarray(i * data.conditionSize, (i + 1) * data.conditionSize),
      k * data.conditionSize,
    );
  }
  return { images, conditions, count: n };
}
