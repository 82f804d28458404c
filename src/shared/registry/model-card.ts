import type { Manifest } from '../manifest.js';

/**
 * A package's README.md, generated from its manifest: what the model is, its inputs and outputs,
 * how to make z and the condition, metrics (with the feature extractor named), data and command,
 * license, and runnable examples for onnxruntime in JavaScript and Python. `cvae export` writes it
 * into every package (src/worker/registry/package.ts), made from the manifest without the card's own
 * entry, so the edge can remake the bundled model's card byte for byte; a test runs the JavaScript
 * example against the package.
 */
export const CARD_FILE = 'README.md';

const PAPER = '*Conditional VAE for text to image generation using short-text and long-text synthesis*';

export function modelCard(manifest: Manifest, parameters?: number): string {
  const decoder = manifest.files.find((f) => f.role === 'decoder');
  const encoder = manifest.files.find((f) => f.role === 'encoder');
  const image = manifest.image;
  const latent = manifest.latentDim ?? 128;
  const shortText = manifest.task === 'short-text';
  const sig = (s: { name: string; type: string; shape: (number | string)[] }) =>
    `\`${s.name}\` ${s.type} [${s.shape.join(', ')}]`;
  const io = (f: Manifest['files'][number] | undefined) =>
    f ? `- \`${f.name}\`: ${(f.inputs ?? []).map(sig).join(', ')} → ${(f.outputs ?? []).map(sig).join(', ')}` : '';
  const m = manifest.metrics;
  const labels = (manifest.labels ?? []).map((l) => `${l.index} ${l.name}`).join(', ');
  const lines = [
    `# ${manifest.id}@${manifest.version}`,
    '',
    `${manifest.description}. A conditional variational autoencoder after the paper ${PAPER}` +
      (image ? `, drawing ${image.width}×${image.height} ${image.channels === 1 ? 'grayscale' : 'RGB'} images` : '') +
      (parameters ? `; ${parameters.toLocaleString('en-US')} parameters` : '') +
      `. Weights stored as ${manifest.weightType}; served ${manifest.serving === 'gpu' ? 'by the GPU server' : 'at the edge'}.`,
    '',
    '## Inputs and outputs',
    '',
    io(decoder),
    io(encoder),
    '',
    `\`z\` is ${latent} standard normals per image (the prior)` +
      (manifest.samplingTemperature && manifest.samplingTemperature !== 1
        ? `, which the API scales by the sampling temperature ${manifest.samplingTemperature} (\`samplingTemperature\`: generations nearer the prior's centre draw their class more faithfully)`
        : '') +
      ". The decoder's `image` is NCHW floats in [0, 1].",
    shortText
      ? `The condition \`label\` is a class index: ${labels}. The API reads it from a prompt ("Make a dress").`
      : `The condition \`text_embedding\` is the 512-d CLIP embedding of the caption (sentences embedded and averaged) by the text encoder package \`${manifest.textEncoder ?? 'clip-vit-b32-text'}\`${manifest.textEncoderSha256 ? ` (its graph has sha256 ${manifest.textEncoderSha256.slice(0, 12)}…)` : ''}: \`POST /v1/embeddings\` gives it. Another encoder's embeddings mean nothing to this model.`,
    'The encoder maps an image and its condition to the posterior `mu`, `logvar` (variations, interpolations).',
    '',
    '## Metrics',
    '',
    m
      ? `On ${m.testImages} held-out images: MSE ${m.mse.toFixed(2)} (per-image sum of squared errors), SSIM ${m.ssim.toFixed(3)}` +
        (m.fid !== undefined ? `, FID ${m.fid.toFixed(4)} (features: ${m.fidExtractor})` : '') +
        (m.classAccuracy !== undefined
          ? `, class accuracy of samples ${(m.classAccuracy * 100).toFixed(1)}%${m.classJudge ? ` (judged by ${m.classJudge})` : ''}`
          : '') +
        '.'
      : 'None recorded.',
    '',
    '## Training',
    '',
    manifest.training
      ? `${manifest.training.architecture}, ${manifest.training.epochs} epochs, seed ${manifest.training.seed}, on ${manifest.training.backend}.`
      : 'Not recorded.',
    manifest.command ? `Made with: \`${manifest.command}\`` : '',
    '',
    '## License',
    '',
    shortText
      ? 'Trained on Fashion-MNIST (MIT, Zalando Research). The weights come with this project.'
      : "Trained on image-caption pairs (COCO: CC BY 4.0 annotations, Flickr terms for images; or the project's synthetic scenes). The weights come with this project; CLIP's vocabulary is MIT (OpenAI).",
    '',
    `## Run it (JavaScript, ${CARD_JS_RUNTIME})`,
    '',
    '```js',
    ...jsExample(manifest, latent),
    '```',
    '',
    '## Run it (Python, onnxruntime)',
    '',
    '```python',
    ...pythonExample(manifest, latent),
    '```',
    '',
  ];
  return lines.filter((l, i, all) => !(l === '' && all[i - 1] === '')).join('\n');
}

/**
 * The npm package the card's JavaScript example runs on, in Node. It is only a name in the card's
 * text: this module imports no runtime (it runs in Workers and browsers too).
 */
const CARD_JS_RUNTIME = 'onnxruntime-node';

const temperatureOf = (manifest: Manifest) => manifest.samplingTemperature ?? 1;

/** The card's JavaScript example, as text for the card's readers to run. */
function jsExample(manifest: Manifest, latent: number): string[] {
  const shortText = manifest.task === 'short-text';
  return [
    `// npm i ${CARD_JS_RUNTIME}; run beside decoder.onnx: node example.mjs`,
    `import * as ort from '${CARD_JS_RUNTIME}';`,
    '',
    "const decoder = await ort.InferenceSession.create(new URL('./decoder.onnx', import.meta.url).pathname);",
    `const n = 4, latent = ${latent};`,
    `// z ~ N(0, t² I), Box–Muller; t = ${temperatureOf(manifest)}, the sampling temperature the API uses`,
    `const t = ${temperatureOf(manifest)};`,
    'const z = Float32Array.from({ length: n * latent }, () => t * Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random()));',
    shortText
      ? `const condition = { label: new ort.Tensor('int64', new BigInt64Array(n).fill(${manifest.labels?.[3]?.index ?? 0}n), [n]) }; // ${manifest.labels?.[3]?.name ?? 'class 0'}`
      : "const embedding = new Float32Array(512); // your caption's embedding: POST /v1/embeddings\nconst condition = { text_embedding: new ort.Tensor('float32', Float32Array.from({ length: n * 512 }, (_, i) => embedding[i % 512]), [n, 512]) };",
    "const { image } = await decoder.run({ z: new ort.Tensor('float32', z, [n, latent]), ...condition });",
    "console.log('image', image.dims.join('x'), 'values in [0, 1]');",
  ];
}

function pythonExample(manifest: Manifest, latent: number): string[] {
  const shortText = manifest.task === 'short-text';
  return [
    '# pip install onnxruntime numpy; run beside decoder.onnx',
    'import numpy as np, onnxruntime as ort',
    '',
    "decoder = ort.InferenceSession('decoder.onnx')",
    `n, latent = 4, ${latent}`,
    `z = (${temperatureOf(manifest)} * np.random.standard_normal((n, latent))).astype(np.float32)  # the API's sampling temperature`,
    shortText
      ? `condition = {'label': np.full((n,), ${manifest.labels?.[3]?.index ?? 0}, dtype=np.int64)}  # ${manifest.labels?.[3]?.name ?? 'class 0'}`
      : "embedding = np.zeros(512, dtype=np.float32)  # your caption's embedding: POST /v1/embeddings\ncondition = {'text_embedding': np.tile(embedding, (n, 1))}",
    "(image,) = decoder.run(['image'], {'z': z, **condition})",
    "print('image', image.shape, 'values in [0, 1]')",
  ];
}
