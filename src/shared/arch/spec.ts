/**
 * Declarative CVAE architecture specs.
 *
 * A spec is plain data (no tfjs or ONNX types) so that every consumer reads the same description:
 * the tfjs interpreter used for training (src/worker/model), the ONNX writer used for export, and
 * the shapes written into a model's manifest. A network is described here once and nowhere else.
 *
 * Tensors are NHWC in specs and in tfjs; exporters translate layouts themselves.
 */

export type Activation = 'relu' | 'sigmoid' | 'linear';

/** 'same' padding follows TensorFlow's convention: output = ceil(input / stride), extra pad at the end. */
export type Layer =
  | { type: 'dense'; units: number; activation: Activation; batchNorm?: boolean }
  | {
      type: 'conv2d';
      filters: number;
      kernel: number;
      stride: number;
      activation: Activation;
      batchNorm?: boolean;
    }
  | {
      type: 'conv2dTranspose';
      filters: number;
      kernel: number;
      stride: number;
      activation: Activation;
      batchNorm?: boolean;
    }
  /**
   * Nearest-neighbour upsampling by an integer factor. Followed by a stride-1 convolution it is a
   * resize-convolution: every output pixel sees the same kernel, where a stride-2 transposed
   * convolution gives each of the four output phases its own taps (the checkerboard artefact).
   */
  | { type: 'upsample'; factor: number }
  | { type: 'flatten' }
  | { type: 'reshape'; shape: [number, number, number] };

/**
 * What conditions the model. A class index is one-hot encoded and multiplied by a matrix (an
 * embedding without a gather, which trains on every tfjs backend); a text embedding goes through
 * a dense layer with bias.
 */
export type Condition =
  | { type: 'class'; classes: number }
  | {
      type: 'text-embedding';
      dim: number;
      /**
       * Whiten the embedding first: (c − mean) · matrix, a fixed affine map fitted on the training
       * conditions before training starts (zero mean, identity covariance) and not trained. Text
       * embeddings such as CLIP's share a large common component, and the differences between
       * captions are small against it; whitened, every direction the captions use starts at unit
       * scale. Export folds the map into the condition projections, so the ONNX graphs and their
       * inputs do not change.
       */
      whiten?: boolean;
    };

/**
 * How the projected condition meets the features: 'concat' appends `size` features;
 * 'add' projects the condition to the features' own width and adds it elementwise.
 */
export type ConditionJoin = { join: 'concat'; size: number } | { join: 'add' };

export interface CvaeSpec {
  id: string;
  description: string;
  task: 'short-text' | 'long-text';
  image: { height: number; width: number; channels: number };
  latentDim: number;
  condition: Condition;
  /** image → layers → (flattened features ⊕ condition) → dense heads for mu and logvar */
  encoder: { layers: Layer[]; condition: ConditionJoin };
  /** (z ⊕ condition) → layers; the last layer's activation is the output activation */
  decoder: { condition: ConditionJoin; layers: Layer[] };
  /**
   * Soft bound on the encoder's logvar: L·tanh(raw / L). Large RGB images sum thousands of pixel
   * errors against a 128-d KL, and without a bound the posterior variance can collapse towards 0
   * (logvar → −100s; seen on the 64 px COCO models). Absent: logvar is the raw head.
   */
  logvarLimit?: number;
}

/** A plain feed-forward network (the FID feature extractor / classifier). */
export interface ClassifierSpec {
  id: string;
  description: string;
  image: { height: number; width: number; channels: number };
  layers: Layer[];
  /** index into `layers` whose output is the feature vector used for FID */
  featureLayer: number;
  classes: number;
}
