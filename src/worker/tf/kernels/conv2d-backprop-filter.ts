import type {
  Conv2DBackpropFilterAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { kernelScope, nhwcConvInfo } from './compose.js';

/**
 * Conv2DBackpropFilter as one forward convolution over transposed tensors.
 *
 * Why: tfjs' WebAssembly backend has no filter-gradient kernel (so no convolution can be trained
 * there) and the pure-JS CPU one is a scalar loop that takes ~96% of a training step. A forward
 * convolution is the fastest kernel either backend has (XNNPACK on wasm), and the filter
 * gradient is one:
 *
 *   dW[i,j,c,o] = Σ_{n,a,b} x_pad[n, a·s + i, b·s + j, c] · dy[n, a, b, o]
 *
 * which is a 'valid' convolution of x (channels and batch swapped: [C, H, W, N]) with dy as the
 * filter ([Oh, Ow, N, O]) at dilation s and stride 1, giving [C, kh, kw, O].
 */
export function makeConv2DBackpropFilter(backendName: string): KernelFunc {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as KernelBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
    if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter: only NHWC is supported');
    const info = nhwcConvInfo(x.shape as [number, number, number, number], filterShape, strides, pad, dimRoundingMode);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const [, inH, inW] = x.shape as [number, number, number, number];
    const { call, keep, release } = kernelScope(backendName, backend);
    try {
      const xT = keep(call('Transpose', { x }, { perm: [3, 1, 2, 0] })); // [C, H, W, N]
      // Rows/cols the dilated convolution must see: exactly kh + (Oh-1)·s, starting at -padTop.
      const needH = kh + (info.outHeight - 1) * sh;
      const needW = kw + (info.outWidth - 1) * sw;
      const top = info.padInfo.top;
      const left = info.padInfo.left;
      const bottom = needH - inH - top;
      const right = needW - inW - left;
      let xPad = xT;
      if (top > 0 || left > 0 || bottom > 0 || right > 0) {
        const paddings = [
          [0, 0],
          [Math.max(top, 0), Math.max(bottom, 0)],
          [Math.max(left, 0), Math.max(right, 0)],
          [0, 0],
        ];
        xPad = keep(call('PadV2', { x: xPad }, { paddings, constantValue: 0 }));
      }
      if (bottom < 0 || right < 0) {
        // 'valid' convolutions whose windows never reach the last rows: crop them.
        const [c, h, w, n] = xPad.shape as [number, number, number, number];
        xPad = keep(
          call('Slice', { x: xPad }, { begin: [0, 0, 0, 0], size: [c, Math.min(h, needH), Math.min(w, needW), n] }),
        );
      }
      const dyT = keep(call('Transpose', { x: dy }, { perm: [1, 2, 0, 3] })); // [Oh, Ow, N, O]
      const dwT = keep(
        call(
          'Conv2D',
          { x: xPad, filter: dyT },
          { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: undefined },
        ),
      ); // [C, kh, kw, O]
      return call('Transpose', { x: dwT }, { perm: [1, 2, 0, 3] }); // [kh, kw, C, O]
    } finally {
      release();
    }
  };
}

export function conv2DBackpropFilterConfig(backendName: string): KernelConfig {
  return { kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: makeConv2DBackpropFilter(backendName) };
}
