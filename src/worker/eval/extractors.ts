import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fashionClassifier } from '../../shared/arch/fashion.js';
import { CvaeError } from '../../shared/errors.js';
import { MODELS_DIR } from '../paths.js';
import { type ClassifierMeta, loadClassifier } from './classifier-store.js';
import { classifierExtractor, type FeatureExtractor } from './feature-extractor.js';
import { onnxExtractor } from './onnx-extractor.js';

export interface ExtractorChoice {
  /** an ONNX image network (InceptionV3) for FID features; else the shipped classifier */
  fidOnnx?: string | undefined;
  fidNormalize?: 'inception' | 'imagenet' | undefined;
}

/**
 * The FID feature extractor (InceptionV3 ONNX when configured with --fid-onnx or $CVAE_FID_ONNX,
 * otherwise the shipped Fashion-MNIST classifier) and the classifier that judges class accuracy.
 */
export async function chooseExtractors(choice: ExtractorChoice): Promise<{
  features: FeatureExtractor;
  judge: FeatureExtractor;
  classifierMeta: ClassifierMeta;
  dispose(): void;
}> {
  const dir = join(MODELS_DIR, fashionClassifier.id);
  if (!existsSync(join(dir, 'classifier.json'))) {
    throw new CvaeError('classifier_missing', `no classifier in ${dir}; run: cvae classifier train`);
  }
  const classifier = await loadClassifier(dir);
  const judge = classifierExtractor(classifier.meta.spec, classifier.values);
  const onnxPath = choice.fidOnnx ?? process.env.CVAE_FID_ONNX;
  const features = onnxPath ? await onnxExtractor(onnxPath, { normalize: choice.fidNormalize }) : judge;
  return {
    features,
    judge,
    classifierMeta: classifier.meta,
    dispose() {
      judge.dispose();
      if (features !== judge) features.dispose();
    },
  };
}
