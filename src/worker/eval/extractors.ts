import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fashionClassifier, fashionJudge } from '../../shared/arch/fashion.js';
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
 * otherwise the shipped Fashion-MNIST classifier) and the classifier that judges class accuracy:
 * the blur-augmented judge when models/fashion-judge exists, else the shipped classifier.
 */
export async function chooseExtractors(choice: ExtractorChoice): Promise<{
  features: FeatureExtractor;
  judge: FeatureExtractor;
  judgeMeta: ClassifierMeta;
  dispose(): void;
}> {
  const dir = join(MODELS_DIR, fashionClassifier.id);
  if (!existsSync(join(dir, 'classifier.json'))) {
    throw new CvaeError('classifier_missing', `no classifier in ${dir}; run: cvae classifier train`);
  }
  const classifier = await loadClassifier(dir);
  const crisp = classifierExtractor(classifier.meta.spec, classifier.values);
  const blurred = existsSync(join(MODELS_DIR, fashionJudge.id, 'classifier.json')) ? await loadJudge() : undefined;
  const judge = blurred?.extractor ?? crisp;
  const onnxPath = choice.fidOnnx ?? process.env.CVAE_FID_ONNX;
  const features = onnxPath ? await onnxExtractor(onnxPath, { normalize: choice.fidNormalize }) : crisp;
  return {
    features,
    judge,
    judgeMeta: blurred?.meta ?? classifier.meta,
    dispose() {
      crisp.dispose();
      if (judge !== crisp) judge.dispose();
      if (features !== crisp) features.dispose();
    },
  };
}

/**
 * The class-fidelity judge (models/fashion-judge: the classifier trained with blur augmentation),
 * which reads generations by shape rather than sharpness.
 */
export async function loadJudge(): Promise<{ extractor: FeatureExtractor; meta: ClassifierMeta }> {
  const dir = join(MODELS_DIR, fashionJudge.id);
  if (!existsSync(join(dir, 'classifier.json'))) {
    throw new CvaeError('classifier_missing', `no judge in ${dir}; run: cvae classifier train --judge`);
  }
  const { meta, values } = await loadClassifier(dir);
  return { extractor: classifierExtractor(meta.spec, values), meta };
}
