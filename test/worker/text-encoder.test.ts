import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenizerFromVocabGz } from '../../src/shared/clip/tokenizer-loader.js';
import { SerialSession } from '../../src/shared/generation/runtime.js';
import { ClipTextEncoder } from '../../src/shared/text/text-encoder.js';
import { fullGraphRunner } from '../../src/shared/text/token-runners.js';
import { checkClipOnnx } from '../../src/worker/clip/publish.js';
import { buildClipTextModel, CLIP_TEXT_CONFIGS, clipParameterCount } from '../../src/worker/clip/text-graph.js';
import { nodeRuntime } from '../../src/worker/onnx/runtime.js';

// The generated CLIP text graph (tiny configuration) and the text-encoder runner over it.
const VOCAB = join(__dirname, '../../models/clip-vocab/bpe_simple_vocab_16e6.txt.gz');
const model = buildClipTextModel(CLIP_TEXT_CONFIGS.tiny, { seed: 1 });
let encoder: ClipTextEncoder;
let runs = 0;

beforeAll(async () => {
  const tokenizer = await tokenizerFromVocabGz(new Uint8Array(readFileSync(VOCAB)));
  const session = new SerialSession(await nodeRuntime.createSession(model));
  const counting = {
    run: (feeds: Parameters<SerialSession['run']>[0]) => {
      runs++;
      return session.run(feeds);
    },
  } as SerialSession;
  encoder = new ClipTextEncoder(tokenizer, fullGraphRunner(counting, nodeRuntime, 512));
});

describe('CLIP text graph', () => {
  it("has CLIP's signature: input_ids int64 [B, 77] → text_embeds float32 [B, 512]", async () => {
    expect(await checkClipOnnx(model, 'tiny')).toEqual({ input: 'input_ids', output: 'text_embeds' });
  });

  it('full size is ViT-B/32 text: 63M parameters (width 512, 12 layers, 8 heads)', () => {
    expect(CLIP_TEXT_CONFIGS.full).toMatchObject({ width: 512, layers: 12, heads: 8, context: 77, vocab: 49408 });
    expect(clipParameterCount(CLIP_TEXT_CONFIGS.full)).toBeGreaterThan(63e6);
    expect(clipParameterCount(CLIP_TEXT_CONFIGS.full)).toBeLessThan(64e6);
  });

  it('pools at the end-of-text token and attends causally: padding after it changes nothing', async () => {
    const session = await ort.InferenceSession.create(model);
    const run = async (ids: number[]) => {
      const row = new BigInt64Array(77);
      ids.forEach((id, i) => {
        row[i] = BigInt(id);
      });
      return (await session.run({ input_ids: new ort.Tensor('int64', row, [1, 77]) })).text_embeds
        ?.data as Float32Array;
    };
    const base = await run([49406, 1078, 320, 2595, 49407]);
    const withJunkAfterEot = await run([49406, 1078, 320, 2595, 49407, 500, 600]);
    const other = await run([49406, 1078, 320, 2184, 49407]);
    expect(Array.from(withJunkAfterEot)).toEqual(Array.from(base));
    expect(Array.from(other)).not.toEqual(Array.from(base));
  });
});

describe('text-encoder runner', () => {
  it('embeds each sentence and averages them (paper 3.4), caching sentences', async () => {
    const a = await encoder.embed('A red circle at the top left.');
    const b = await encoder.embed('A blue square below it.');
    const before = runs;
    const both = await encoder.embed('A red circle at the top left. A blue square below it.');
    expect(runs).toBe(before); // both sentences were cached
    expect(both.sentences).toEqual(['A red circle at the top left.', 'A blue square below it.']);
    both.embedding.forEach((v, i) => {
      expect(v).toBeCloseTo(((a.embedding[i] as number) + (b.embedding[i] as number)) / 2, 5);
    });
  });

  it('truncates past 77 tokens and says so', async () => {
    const long = `${'very '.repeat(100)}long sentence.`;
    expect((await encoder.embed(long)).truncated).toBe(1);
  });

  it('embeds many texts in batches with the same result as one by one', async () => {
    const texts = ['Two green triangles.', 'A cat. A dog.', 'Two green triangles.'];
    const many = await encoder.embedMany(texts);
    for (const [i, t] of texts.entries()) {
      const one = (await encoder.embed(t)).embedding;
      for (let d = 0; d < 512; d++) expect(many[i * 512 + d]).toBeCloseTo(one[d] as number, 5);
    }
    await expect(encoder.embed('  ')).rejects.toThrow(/no words/);
  });
});
