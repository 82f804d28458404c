import type { CvaeSpec } from '../../shared/arch/spec.js';
import type { Manifest } from '../../shared/manifest.js';
import type { EvalSet } from './evaluate.js';
import { type EvalReport, evaluate, runModel } from './evaluate.js';
import { chooseExtractors, type ExtractorChoice } from './extractors.js';
import type { FeatureExtractor } from './feature-extractor.js';
import { onnxExtractor } from './onnx-extractor.js';
import { randomCnnExtractor } from './random-cnn.js';

/**
 * Scores trained weights on a held-out set the way the manifest records them, for any
 * architecture: Fashion models with the shipped classifier (FID features and class accuracy),
 * long-text models with an ONNX network when given (--fid-onnx, $CVAE_FID_ONNX) or a fixed random
 * CNN of the model's size. `cvae export`, `cvae evaluate` and training jobs share it.
 */
export async function scoreModel(
  spec: CvaeSpec,
  values: Record<string, Float32Array>,
  set: EvalSet,
  choice: ExtractorChoice = {},
  seed = 1,
  temperature = 1,
): Promise<{ report: EvalReport; metrics: NonNullable<Manifest['metrics']> }> {
  let features: FeatureExtractor;
  let judge: FeatureExtractor | undefined;
  let dispose: () => void;
  if (spec.task === 'short-text') {
    const chosen = await chooseExtractors(choice);
    features = chosen.features;
    judge = chosen.judge;
    dispose = chosen.dispose;
  } else {
    const onnx = choice.fidOnnx ?? process.env.CVAE_FID_ONNX;
    features = onnx
      ? await onnxExtractor(onnx, { normalize: choice.fidNormalize })
      : randomCnnExtractor(spec.image.height);
    dispose = () => features.dispose();
  }
  try {
    const report = await evaluate(await runModel(spec, values, set, seed, temperature), set, features, judge);
    return {
      report,
      metrics: {
        testImages: report.count,
        mse: report.posteriorMean.mse,
        mseSampled: report.sampled.mse,
        ssim: report.posteriorMean.ssimGaussian,
        ssimUniform7: report.posteriorMean.ssimUniform7,
        fid: report.fidGenerated,
        fidReconstructed: report.fidReconstructed,
        fidExtractor: report.fidExtractor,
        ...(report.classAccuracy === undefined || !judge
          ? {}
          : { classAccuracy: report.classAccuracy, classJudge: judge.id }),
      },
    };
  } finally {
    dispose();
  }
}
