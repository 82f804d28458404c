import type {
  KernelBackend,
  KernelConfig,
  KernelFunc,
  ResizeNearestNeighborGradAttrs,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { callKernel, wrapRegistered } from './compose.js';

/**
 * Gradient of nearest-neighbour upsampling by an integer factor (the decoders' `upsample` layer):
 * each input pixel gets the sum of the f×f output pixels that copied it, which is an f×f average
 * pooling of dy times f².
 *
 * Why: tfjs' WebAssembly ResizeNearestNeighborGrad searches the output window per input pixel:
 * 286 ms for dy [32,256,256,8], 7% of a 256 px training step; XNNPACK's average pooling does it
 * in a fraction of that. Only the default mode (no align-corners, no half-pixel centres) with
 * output sizes that are exact multiples maps this way; anything else goes to the stock kernel.
 */
function wrap(backendName: string, original: KernelFunc): KernelFunc {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as KernelBackend;
    const { images, dy } = inputs as { images: TensorInfo; dy: TensorInfo };
    const { alignCorners, halfPixelCenters } = attrs as unknown as ResizeNearestNeighborGradAttrs;
    const [, inH, inW] = images.shape as [number, number, number, number];
    const [, outH, outW] = dy.shape as [number, number, number, number];
    const fh = outH / inH;
    const fw = outW / inW;
    const exact = Number.isInteger(fh) && Number.isInteger(fw);
    if (alignCorners || halfPixelCenters || !exact || dy.dtype !== 'float32') {
      return original({ inputs, backend, attrs });
    }
    const temps: TensorInfo[] = [];
    try {
      const pooled = callKernel(
        backendName,
        backend,
        'AvgPool',
        { x: dy },
        {
          filterSize: [fh, fw],
          strides: [fh, fw],
          pad: 'valid',
        },
      );
      temps.push(pooled);
      const area = {
        dataId: backend.write(new Float32Array([fh * fw]), [], 'float32'),
        shape: [],
        dtype: 'float32' as const,
      };
      temps.push(area);
      return callKernel(backendName, backend, 'Multiply', { a: pooled, b: area });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

export const resizeNearestGradConfigs = (backendName: string): KernelConfig[] =>
  wrapRegistered('ResizeNearestNeighborGrad', backendName, (original) => wrap(backendName, original));
