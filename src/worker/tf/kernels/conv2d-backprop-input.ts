import type {
  Conv2DBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { kernelScope, nhwcConvInfo } from './compose.js';

/**
 * Conv2DBackpropInput (the input gradient of a convolution, and the forward pass of every
 * transposed convolution) as one stride-1 forward convolution followed by DepthToSpace.
 *
 * Why: tfjs' WebAssembly kernel for it is a scalar loop (~0.8 GFLOP/s here, most of a training
 * step); XNNPACK's forward convolution runs an order of magnitude faster.
 *
 * How ("sub-pixel" decomposition): with forward conv y[o] = Σ_i x[o·s + i - pad] W[i], the input
 * gradient at row r, written r + pad = q·s + p (phase p < s), is
 *   dx[r] = Σ_m dy[q - m] · W[p + m·s]      for m = 0 .. ceil(kh/s) - 1.
 * For every phase that is a stride-1 correlation of dy with K = ceil(kh/s) taps; all s² phases
 * become output channels of one convolution (kernel built here from W, zero where p + m·s ≥ kh),
 * and a depth-to-space shuffle interleaves the phases back into rows and columns. A crop removes the padding.
 */

/** Rearranges W [kh,kw,Ci,Co] into the phase kernel [K,K,Co,s_h·s_w·Ci]. */
export function phaseKernel(
  w: Float32Array,
  [kh, kw, ci, co]: [number, number, number, number],
  sh: number,
  sw: number,
): { values: Float32Array; shape: [number, number, number, number] } {
  const kH = Math.ceil(kh / sh);
  const kW = Math.ceil(kw / sw);
  const outC = sh * sw * ci;
  const values = new Float32Array(kH * kW * co * outC);
  for (let u = 0; u < kH; u++) {
    for (let v = 0; v < kW; v++) {
      for (let ph = 0; ph < sh; ph++) {
        const i = ph + (kH - 1 - u) * sh;
        if (i >= kh) continue;
        for (let pw = 0; pw < sw; pw++) {
          const j = pw + (kW - 1 - v) * sw;
          if (j >= kw) continue;
          for (let c = 0; c < ci; c++) {
            const src = ((i * kw + j) * ci + c) * co;
            const outChannel = (ph * sw + pw) * ci + c;
            for (let o = 0; o < co; o++) {
              values[((u * kW + v) * co + o) * outC + outChannel] = w[src + o] as number;
            }
          }
        }
      }
    }
  }
  return { values, shape: [kH, kW, co, outC] };
}

export function makeConv2DBackpropInput(backendName: string): KernelFunc {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as KernelBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
    if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropInput: only NHWC is supported');
    const filterShape = filter.shape as [number, number, number, number];
    const info = nhwcConvInfo(inputShape, filterShape, strides, pad, dimRoundingMode);
    const { strideHeight: sh, strideWidth: sw, outHeight, outWidth } = info;
    const [batch, inH, inW, inC] = inputShape;
    const pt = info.padInfo.top;
    const pl = info.padInfo.left;
    const { call, keep, release } = kernelScope(backendName, backend);
    try {
      const w = readFloats(backend, filter);
      const kernel = phaseKernel(w, filterShape, sh, sw);
      const [kH, kW] = kernel.shape;
      const k = keep({
        dataId: backend.write(kernel.values, kernel.shape, 'float32'),
        shape: kernel.shape,
        dtype: 'float32',
      });
      // Rows q of each phase we need: 0 .. floor((H - 1 + pt) / s); dy gives q < Oh, pad the rest.
      const padBottom = Math.max(0, Math.floor((inH - 1 + pt) / sh) + 1 - outHeight);
      const padRight = Math.max(0, Math.floor((inW - 1 + pl) / sw) + 1 - outWidth);
      const paddings = [
        [0, 0],
        [kH - 1, padBottom],
        [kW - 1, padRight],
        [0, 0],
      ];
      const needsPad = kH > 1 || kW > 1 || padBottom > 0 || padRight > 0;
      const dyPad = needsPad ? keep(call('PadV2', { x: dy }, { paddings, constantValue: 0 })) : dy;
      const phases = keep(
        call(
          'Conv2D',
          { x: dyPad, filter: k },
          { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
        ),
      );
      let full = phases;
      if (sh > 1 || sw > 1) {
        // DepthToSpace, done as reshape → transpose → reshape: wasm's own DepthToSpace kernel is
        // ~25x slower than a transpose. Channels are ordered (ph, pw, c); rows become q·s + ph.
        const [b, qh, qw] = phases.shape as number[];
        const split = keep(
          call('Reshape', { x: phases }, { shape: [(b as number) * (qh as number), qw, sh, sw * inC] }),
        );
        const moved = keep(call('Transpose', { x: split }, { perm: [0, 2, 1, 3] }));
        full = keep(call('Reshape', { x: moved }, { shape: [b, (qh as number) * sh, (qw as number) * sw, inC] }));
      }
      const [, fullH, fullW] = full.shape as number[];
      if (pt === 0 && pl === 0 && fullH === inH && fullW === inW) {
        // Nothing to crop: hand back a new reference to the same data (the intermediates are freed below).
        return call('Identity', { x: full });
      }
      return call('Slice', { x: full }, { begin: [0, pt, pl, 0], size: [batch, inH, inW, inC] });
    } finally {
      release();
    }
  };
}

function readFloats(backend: KernelBackend, t: TensorInfo): Float32Array {
  return backend.readSync(t.dataId) as Float32Array;
}

export function conv2DBackpropInputConfig(backendName: string): KernelConfig {
  return { kernelName: 'Conv2DBackpropInput', backendName, kernelFunc: makeConv2DBackpropInput(backendName) };
}
