import sharp from 'sharp';

/**
 * Image grids as PNG, via sharp. Cells are HWC floats in [0, 1]; a 2-pixel gap separates them;
 * `scale` enlarges with nearest-neighbour so 28x28 digits stay crisp.
 */
export interface GridOptions {
  rows: number;
  cols: number;
  height: number;
  width: number;
  channels: number;
  scale?: number;
  gap?: number;
}

export function gridPixels(cells: Float32Array[], o: GridOptions): { data: Uint8Array; width: number; height: number } {
  const gap = o.gap ?? 2;
  const width = o.cols * o.width + (o.cols + 1) * gap;
  const height = o.rows * o.height + (o.rows + 1) * gap;
  const data = new Uint8Array(width * height * o.channels).fill(255);
  cells.forEach((cell, k) => {
    const r = Math.floor(k / o.cols);
    const c = k % o.cols;
    if (r >= o.rows) return;
    const top = gap + r * (o.height + gap);
    const left = gap + c * (o.width + gap);
    for (let y = 0; y < o.height; y++) {
      for (let x = 0; x < o.width; x++) {
        for (let ch = 0; ch < o.channels; ch++) {
          const v = cell[(y * o.width + x) * o.channels + ch] as number;
          data[((top + y) * width + left + x) * o.channels + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
        }
      }
    }
  });
  return { data, width, height };
}

export async function writeGrid(path: string, cells: Float32Array[], o: GridOptions): Promise<void> {
  const { data, width, height } = gridPixels(cells, o);
  const scale = o.scale ?? 3;
  await sharp(data, { raw: { width, height, channels: o.channels as 1 | 3 } })
    .resize(width * scale, height * scale, { kernel: 'nearest' })
    .png()
    .toFile(path);
}
