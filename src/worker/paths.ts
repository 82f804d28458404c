import { fileURLToPath } from 'node:url';

/** The repository's `models/` folder: the packages the project ships (bundled and default models, the classifier, CLIP's vocabulary). */
export const MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));
