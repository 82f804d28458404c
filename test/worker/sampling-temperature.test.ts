import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateImages, imageSeeds, latentNoise, priorNoise } from '../../src/shared/generation/generate.js';
import { latentModel } from '../../src/shared/generation/latent.js';
import { ModelCache } from '../../src/shared/generation/model-cache.js';
import { parseManifest } from '../../src/shared/manifest.js';
import { packageSource } from '../../src/shared/registry/package-source.js';
import { RegistryReader } from '../../src/shared/registry/reader.js';
import { nodeRuntime } from '../../src/worker/onnx/runtime.js';
import { MODELS_DIR } from '../../src/worker/paths.js';
import { folderPackage } from '../../src/worker/registry/folder-source.js';
import { readManifest } from '../../src/worker/registry/package.js';

// A manifest's samplingTemperature t: generations draw z ~ N(0, t² I) (the class-fidelity choice,
// docs/results/class-fidelity.md). Checked on the shipped fashion-conv's own decoder.
describe('sampling temperature', () => {
  it('scales the prior noise of every seed, and only when the manifest names it', () => {
    const seeds = imageSeeds(9, 3);
    const base = latentNoise(seeds, 8);
    const m = { samplingTemperature: 0.5 } as Parameters<typeof priorNoise>[0];
    expect(Array.from(priorNoise(m, seeds, 8))).toEqual(Array.from(base, (v) => Math.fround(v * 0.5)));
    expect(priorNoise({} as Parameters<typeof priorNoise>[0], seeds, 8)).toEqual(base);
  });

  it('generations decode t·z, with the seeds the answer reports', async () => {
    const dir = join(MODELS_DIR, 'fashion-conv');
    const shipped = await readManifest(dir);
    const cooler = parseManifest({ ...shipped, samplingTemperature: 0.4 });
    const models = new ModelCache(
      new RegistryReader(packageSource('test', [folderPackage(dir, shipped)])),
      nodeRuntime,
    );
    const ask = { prompt: 'a coat', n: 2, seed: 11 };
    const plain = await generateImages(models, { ...shipped, samplingTemperature: 1 }, ask);
    const cool = await generateImages(models, cooler, ask);
    expect(cool.seeds).toEqual([11, 12]);
    const model = await latentModel(models, shipped);
    const z = latentNoise([11, 12], model.latentDim).map((v) => v * 0.4);
    const expected = await model.decode(z, { labels: [4, 4] });
    expect(Array.from(cool.batch.data)).toEqual(Array.from(expected));
    expect(Array.from(plain.batch.data)).not.toEqual(Array.from(cool.batch.data));
  });

  it('the manifest refuses a temperature outside (0, 2]', async () => {
    const shipped = await readManifest(join(MODELS_DIR, 'fashion-conv'));
    expect(parseManifest({ ...shipped, samplingTemperature: 0.8 }).samplingTemperature).toBe(0.8);
    expect(() => parseManifest({ ...shipped, samplingTemperature: 0 })).toThrow(/samplingTemperature/);
    expect(() => parseManifest({ ...shipped, samplingTemperature: 3 })).toThrow(/samplingTemperature/);
  });
});
