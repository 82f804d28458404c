import type { CvaeSpec, Layer } from './spec.js';

/**
 * Paper 3.5: convolutional CVAEs with batch norm for COCO at 64, 128 and 256 px, conditioned on a
 * 512-d CLIP text embedding either by addition (a linear layer resizes the embedding to the
 * features / the latent and it is added elementwise) or by concatenation, in encoder and decoder.
 *
 * Encoder: 3 (64 px) or 4 (128, 256 px) convolutions 4x4/2, each batch norm + ReLU, flattened.
 * Decoder: a dense projection of (z ⊕ condition) to 8x8 feature maps (batch norm + ReLU), then
 * 3, 4 or 5 upsampling convolutions (nearest x2 + 3x3 conv; 8→…→size), all but the last with
 * batch norm + ReLU, the last sigmoid. The embedding is whitened first (fitted on the training
 * captions, folded into both projections at export, so the exported graphs are exactly the
 * paper's): measured on the synthetic set, it speeds learning the caption's background and place
 * several-fold (README, Long text). Channel widths are the paper's structure at widths this
 * project's CPU fallback can train in minutes (16–64 channels); the latent is 128 everywhere.
 */
export type CocoSize = 64 | 128 | 256;
export type CocoJoin = 'add' | 'concat';

export const COCO_SIZES: readonly CocoSize[] = [64, 128, 256];
export const COCO_JOINS: readonly CocoJoin[] = ['add', 'concat'];
export const CLIP_EMBEDDING_DIM = 512;
/** the registry id of the text encoder long-text models are conditioned with */
export const CLIP_MODEL_ID = 'clip-vit-b32-text';
const LATENT = 128;
/** width of the projected embedding when it is concatenated */
const CONCAT_SIZE = 128;

const WIDTHS: Record<CocoSize, { encoder: number[]; decoder: number[] }> = {
  64: { encoder: [16, 32, 64], decoder: [32, 16] },
  128: { encoder: [16, 32, 64, 64], decoder: [32, 16, 8] },
  256: { encoder: [16, 32, 64, 64], decoder: [64, 32, 16, 8] },
};

const conv = (filters: number): Layer => ({
  type: 'conv2d',
  filters,
  kernel: 4,
  stride: 2,
  activation: 'relu',
  batchNorm: true,
});
/**
 * One decoder layer doubling the size: nearest upsampling, then a 3x3 convolution (a
 * resize-convolution). A 4x4 stride-2 transposed convolution gives each of the four output phases
 * its own taps; measured at 64 px, its decoders drew every object in the palette's mean colour,
 * dithered into a checker, and never learnt the caption's colour in 20 epochs (18%, chance 17%),
 * while this layer learnt it by epoch 12 (78%) with background and place as fast (README, Long
 * text). Both are the paper's "convolutional layers" in the decoder.
 */
const up = (filters: number, last = false): Layer[] => [
  { type: 'upsample', factor: 2 },
  {
    type: 'conv2d',
    filters,
    kernel: 3,
    stride: 1,
    activation: last ? 'sigmoid' : 'relu',
    ...(last ? {} : { batchNorm: true }),
  },
];

export const cocoModelId = (size: CocoSize, join: CocoJoin) => `coco-${size}-${join}`;

export function cocoSpec(size: CocoSize, join: CocoJoin): CvaeSpec {
  const widths = WIDTHS[size];
  const seed = 64; // channels of the 8x8 map the decoder starts from
  const condition = join === 'add' ? ({ join: 'add' } as const) : ({ join: 'concat', size: CONCAT_SIZE } as const);
  return {
    id: cocoModelId(size, join),
    description: `Convolutional CVAE with batch norm for ${size}x${size} COCO, CLIP condition by ${join === 'add' ? 'addition' : 'concatenation'} (paper 3.5)`,
    task: 'long-text',
    image: { height: size, width: size, channels: 3 },
    latentDim: LATENT,
    logvarLimit: 8,
    condition: { type: 'text-embedding', dim: CLIP_EMBEDDING_DIM, whiten: true },
    encoder: { layers: [...widths.encoder.map(conv), { type: 'flatten' }], condition },
    decoder: {
      condition,
      layers: [
        { type: 'dense', units: 8 * 8 * seed, activation: 'relu', batchNorm: true },
        { type: 'reshape', shape: [8, 8, seed] },
        ...widths.decoder.flatMap((f) => up(f)),
        ...up(3, true),
      ],
    },
  };
}

export const COCO_ARCHITECTURES: Record<string, CvaeSpec> = Object.fromEntries(
  COCO_SIZES.flatMap((size) => COCO_JOINS.map((join) => [cocoModelId(size, join), cocoSpec(size, join)])),
);
