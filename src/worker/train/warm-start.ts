import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { architecture } from '../../shared/arch/catalogue.js';
import { describeCvae, WHITENING } from '../../shared/arch/shapes.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { CvaeError } from '../../shared/errors.js';
import { createRng, normalArray } from '../../shared/random.js';
import { decode, encode, reparameterize } from '../model/cvae.js';
import { createVariables } from '../model/weights.js';
import { batchNormsFromStatistics, type Values, valuesFromGraphs } from '../onnx/import-cvae.js';
import { verifyPackage } from '../registry/package.js';
import { gatherBatch, type SharedDataset } from './dataset.js';

/**
 * Training that starts from an exported model instead of random weights (`cvae train
 * --init-from <package>`): to go on training a published model whose run folder is gone, or to
 * fine-tune it on other data. The optimiser starts afresh; the epochs count from 1.
 */
export interface WarmStart {
  /** what it starts from, kept in the run's configuration: "<id>@<version>" */
  from: string;
  /** long text: the text encoder (id@version, sha256) its conditions came from */
  textEncoder?: { id: string; sha256: string };
  /** the starting weights, given the run's fresh ones (for its condition whitening) and its data */
  values(fresh: Values, data: SharedDataset): Values;
}

/** examples the batch norms are calibrated on: enough for per-channel means and variances */
const CALIBRATION_EXAMPLES = 128;

/**
 * A warm start from a model package folder (checked against its manifest's sizes and sha256s).
 * Refuses (`bad_option`) a package of another architecture or one without an encoder, unless
 * `matching`: then the package may hold a related architecture of the same task (a 128 px model
 * for a 256 px run), and only the tensors whose names and shapes both specs share are taken (for
 * the COCO models: the encoder's convolutions, the condition projections and the decoder's dense
 * seed); the rest start from the run's fresh weights. `log` lists what was taken.
 */
export async function warmStartFromPackage(
  dir: string,
  spec: CvaeSpec,
  opts: { matching?: boolean; log?: (line: string) => void } = {},
): Promise<WarmStart> {
  const manifest = await verifyPackage(dir);
  const trainedAs = manifest.training?.architecture;
  let source = spec;
  if (trainedAs && trainedAs !== spec.id) {
    if (!opts.matching)
      throw new CvaeError('bad_option', `cannot start from ${dir}: it holds a ${trainedAs} model, not ${spec.id}`);
    source = architecture(trainedAs);
    if (source.task !== spec.task)
      throw new CvaeError(
        'bad_option',
        `cannot start from ${dir}: ${trainedAs} is a ${source.task} model, ${spec.id} ${spec.task}`,
      );
  }
  const file = (role: 'encoder' | 'decoder') => {
    const f = manifest.files.find((x) => x.role === role);
    if (!f)
      throw new CvaeError(
        'bad_option',
        `cannot start from ${dir}: the package has no ${role}; training on needs both the encoder and the decoder`,
      );
    return join(dir, f.name);
  };
  const graphs = {
    encoder: new Uint8Array(await readFile(file('encoder'))),
    decoder: new Uint8Array(await readFile(file('decoder'))),
  };
  return {
    from: `${manifest.id}@${manifest.version}`,
    ...(manifest.textEncoder && manifest.textEncoderSha256
      ? { textEncoder: { id: manifest.textEncoder, sha256: manifest.textEncoderSha256 } }
      : {}),
    values(fresh, data) {
      const mean = fresh[WHITENING.mean];
      const matrix = fresh[WHITENING.matrix];
      const read = valuesFromGraphs(source, graphs, mean && matrix ? { mean, matrix } : undefined);
      if (source === spec) {
        calibrateBatchNorms(spec, read, data);
        return read;
      }
      const { values, layers } = matchingValues(spec, source, read, fresh, opts.log);
      calibrateBatchNorms(spec, values, data);
      // a fresh layer keeps its fresh batch norm: only a taken one must reproduce what it learnt
      for (const name of Object.keys(values)) {
        const layer = /^(.*)\.bn\.(gamma|beta|mean|variance)$/.exec(name)?.[1];
        if (layer !== undefined && !layers.has(layer)) values[name] = fresh[name] as Float32Array;
      }
      return values;
    },
  };
}

/**
 * The run's fresh weights, with every tensor the source spec has under the same name and shape
 * taken from `read` (the whitening and batch norms excepted: the run's own, and calibrated);
 * `layers` are the layers a kernel or bias was taken for.
 */
function matchingValues(spec: CvaeSpec, source: CvaeSpec, read: Values, fresh: Values, log?: (line: string) => void) {
  const shapes = new Map(describeCvae(source).params.map((p) => [p.name, p.shape.join('x')]));
  const values: Values = { ...fresh };
  const taken: string[] = [];
  for (const p of describeCvae(spec).params) {
    const v = read[p.name];
    const own = p.name === WHITENING.mean || p.name === WHITENING.matrix || /\.bn\./.test(p.name);
    if (!v || own || shapes.get(p.name) !== p.shape.join('x')) continue;
    values[p.name] = v;
    taken.push(p.name);
  }
  log?.(`from ${source.id}: ${taken.length} tensors taken (${taken.join(', ')}); the rest start fresh`);
  return { values, layers: new Set(taken.map((n) => n.replace(/\.(kernel|bias)$/, ''))) };
}

/**
 * Refuses (`bad_option`) to warm-start a long-text run from a model conditioned on another text
 * encoder's embeddings: they would mean something else to it. `remedy` ends the message: what the
 * caller can do (the CLI: pass the encoder with --clip).
 */
export function checkTextEncoder(
  warm: WarmStart,
  runEncoder: { id: string; version: string; sha256: string } | undefined,
  remedy: string,
) {
  if (!warm.textEncoder || !runEncoder || warm.textEncoder.sha256 === runEncoder.sha256) return;
  throw new CvaeError(
    'bad_option',
    `cannot start from ${warm.from}: it was trained on embeddings of ${warm.textEncoder.id}, this run embeds with ${runEncoder.id}@${runEncoder.version} (another sha256); ${remedy}`,
  );
}

/**
 * Runs the model (batch norms as the identity) on examples spread over the training set, with z
 * drawn as in training, and sets each batch norm from the statistics of its input there.
 */
export function calibrateBatchNorms(spec: CvaeSpec, values: Values, data: SharedDataset): void {
  const n = Math.min(CALIBRATION_EXAMPLES, data.count);
  const indices = Array.from({ length: n }, (_, k) => Math.floor((k * data.count) / n));
  const batch = gatherBatch(data, indices);
  const w = createVariables(describeCvae(spec).params, values);
  const stats = tf.tidy(() => {
    const images = tf.tensor(batch.images, [n, ...data.imageShape]);
    const condition = tf.tensor(batch.conditions, [n, data.conditionSize]);
    const seen: { name: string; mean: tf.Tensor; variance: tf.Tensor }[] = [];
    const opts = { training: false, batchStats: seen };
    const { mu, logvar } = encode(spec, w, images, condition, opts);
    const eps = tf.tensor(normalArray(createRng(1), n * spec.latentDim), [n, spec.latentDim]);
    decode(spec, w, reparameterize(mu, logvar, eps), condition, opts);
    return seen.map((s) => ({
      name: s.name,
      mean: s.mean.dataSync() as Float32Array,
      variance: s.variance.dataSync() as Float32Array,
    }));
  });
  tf.dispose(Object.values(w));
  batchNormsFromStatistics(values, stats);
}
