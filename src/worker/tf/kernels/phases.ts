import {
  engine,
  type GradConfig,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  registerGradient,
  type Tensor,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { cpuFloats, cpuOutput } from './compose.js';
import { heapFloats, ownWasm, type WasmBackendInternals } from './own-wasm.js';

/**
 * The last step of the resize-convolution at the input's resolution (src/worker/model/upsample-conv.ts):
 * its four output phases come out of one convolution as `all` [N, H + 1, W + 1, 4·O] (phase
 * (a, b), channels (2a + b)·O…, is the H × W window from (a, b)), and go to output pixel
 * (2i + a, 2j + b) of [N, 2H, 2W, O]. Written as slices and concatenations, tfjs' WebAssembly
 * backend spent more on those copies (and their gradients) than the convolution saved; here it is
 * one pass each way, over the backend's own arrays (on wasm in the project's own wasm,
 * src/worker/wasm/phases-wat.ts).
 *
 *   PhasesToImage:  all → image           ImageToPhases (its gradient): dy → d(all), zero elsewhere
 */
export const PHASES_TO_IMAGE = 'CvaePhasesToImage';
export const IMAGE_TO_PHASES = 'CvaeImageToPhases';

/** image from phases (`toImage`), or the reverse into zeroed phases; sizes from the image's shape */
export function movePhases(
  phases: Float32Array,
  image: Float32Array,
  [n, h2, w2, o]: number[] | [number, number, number, number],
  toImage: boolean,
): void {
  const h = (h2 as number) / 2;
  const w = (w2 as number) / 2;
  const c = o as number;
  const pixelIn = 4 * c;
  const rowIn = (w + 1) * pixelIn;
  let out = 0;
  for (let b = 0; b < (n as number); b++)
    for (let y = 0; y < 2 * h; y++) {
      const a = y & 1;
      // output pixels 2j and 2j + 1 of this row: phases (a, 0) and (a, 1), input columns j and j + 1
      const even = (b * (h + 1) + (y >> 1) + a) * rowIn + 2 * a * c;
      const odd = even + pixelIn + c;
      for (let j = 0; j < w; j++) {
        const e = even + j * pixelIn;
        const f = odd + j * pixelIn;
        if (toImage) {
          for (let k = 0; k < c; k++) image[out + k] = phases[e + k] as number;
          for (let k = 0; k < c; k++) image[out + c + k] = phases[f + k] as number;
        } else {
          for (let k = 0; k < c; k++) phases[e + k] = image[out + k] as number;
          for (let k = 0; k < c; k++) phases[f + k] = image[out + c + k] as number;
        }
        out += 2 * c;
      }
    }
}

/** A backend's side of the kernels: a new output, and a move between its arrays. */
type Mover = (backend: KernelBackend, input: TensorInfo, outShape: number[], toImage: boolean) => TensorInfo;

/** wasm: the own wasm's movePhases over the backend's heap, else the loop above over views of it */
const wasmMover: Mover = (anyBackend, input, outShape, toImage) => {
  const backend = anyBackend as unknown as WasmBackendInternals;
  const out = backend.makeOutput(outShape, 'float32');
  // views after the output's allocation, which may have grown the heap
  const view = (t: TensorInfo) => heapFloats(backend, t);
  const [phases, image] = toImage ? [input, out] : [out, input];
  if (!toImage) view(out).fill(0); // the phases' unused border (the heap is not zeroed)
  const own = ownWasm(backend);
  if (!own) movePhases(view(phases), view(image), image.shape, toImage);
  else {
    const [n, h2, w2, c] = image.shape as [number, number, number, number];
    const at = (t: TensorInfo) => backend.getMemoryOffset(t.dataId);
    own.movePhases(at(phases), at(image), n, h2 / 2, w2 / 2, c, toImage ? 1 : 0);
  }
  return out;
};

/** cpu: its arrays are plain JavaScript */
const cpuMover: Mover = (backend, input, outShape, toImage) => {
  const output = new Float32Array(util.sizeFromShape(outShape));
  const values = cpuFloats(backend, input);
  if (toImage) movePhases(values, output, outShape, true);
  else movePhases(output, values, input.shape, false);
  return cpuOutput(backend, outShape, output);
};

function kernels(backendName: string, move: Mover): KernelConfig[] {
  const toImage: KernelFunc = ({ inputs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    const [n, h1, w1, o4] = x.shape as [number, number, number, number];
    return move(backend as KernelBackend, x, [n, 2 * (h1 - 1), 2 * (w1 - 1), o4 / 4], true);
  };
  const toPhases: KernelFunc = ({ inputs, backend }) => {
    const { dy } = inputs as { dy: TensorInfo };
    const [n, h2, w2, o] = dy.shape as [number, number, number, number];
    return move(backend as KernelBackend, dy, [n, h2 / 2 + 1, w2 / 2 + 1, 4 * o], false);
  };
  return [
    { kernelName: PHASES_TO_IMAGE, backendName, kernelFunc: toImage },
    { kernelName: IMAGE_TO_PHASES, backendName, kernelFunc: toPhases },
  ];
}

export const phasesConfigs = (backendName: string): KernelConfig[] =>
  kernels(backendName, backendName === 'wasm' ? wasmMover : cpuMover);

/** The four phases interleaved into the image (`all` as above); differentiable. */
export function phasesToImage(all: Tensor): Tensor {
  return engine().runKernel(PHASES_TO_IMAGE, { x: all }) as Tensor;
}

let gradientRegistered = false;
/** The gradient is the same kernel pair on every backend that has them; registered once. */
export function registerPhasesGradient(): void {
  if (gradientRegistered) return;
  const gradient: GradConfig = {
    kernelName: PHASES_TO_IMAGE,
    gradFunc: (dy) => ({ x: () => engine().runKernel(IMAGE_TO_PHASES, { dy: dy as Tensor }) as Tensor }),
  };
  registerGradient(gradient);
  gradientRegistered = true;
}
