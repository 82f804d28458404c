import type { ClipTokenizer } from '../clip/tokenizer.js';
import { CvaeError } from '../errors.js';
import { splitSentences } from './sentences.js';
import type { EncodeTokens } from './token-runners.js';

/**
 * Text → one CLIP embedding, as in paper 3.4: the text is split into sentences, each sentence is
 * tokenized (77 tokens, truncated keeping the end-of-text token) and embedded by the ONNX text
 * encoder (either graph form: ./token-runners.ts), and the sentence embeddings are averaged.
 * Sentence embeddings are kept in a small LRU cache: captions and prompts repeat.
 */
export interface TextEmbedding {
  embedding: Float32Array;
  sentences: string[];
  /** sentences cut at 77 tokens */
  truncated: number;
}

export class ClipTextEncoder {
  private readonly cache = new Map<string, Float32Array>();

  constructor(
    private readonly tokenizer: ClipTokenizer,
    private readonly encodeTokens: EncodeTokens,
    readonly dim = 512,
    private readonly cacheSize = 4096,
  ) {}

  /** Embeddings of sentences, one row each (no averaging); batched through the model. */
  async embedSentences(sentences: string[], batchSize = 64): Promise<Float32Array> {
    const out = new Float32Array(sentences.length * this.dim);
    const missing: number[] = [];
    sentences.forEach((s, i) => {
      const hit = this.cache.get(s);
      if (hit) {
        out.set(hit, i * this.dim);
        this.cache.delete(s); // LRU: re-insert as newest
        this.cache.set(s, hit);
      } else missing.push(i);
    });
    for (let b = 0; b < missing.length; b += batchSize) {
      const rows = missing.slice(b, b + batchSize);
      const data = await this.encodeTokens(rows.map((i) => this.tokenizer.encodeForModel(sentences[i] as string).ids));
      rows.forEach((i, k) => {
        const row = data.slice(k * this.dim, (k + 1) * this.dim);
        out.set(row, i * this.dim);
        this.remember(sentences[i] as string, row);
      });
    }
    return out;
  }

  /** Tokens the encoder reads for a text, start and end tokens included, sentence by sentence. */
  tokenCount(text: string): number {
    return splitSentences(text).reduce((n, s) => n + this.tokenizer.encodeForModel(s).ids.length, 0);
  }

  async embed(text: string): Promise<TextEmbedding> {
    const sentences = splitSentences(text);
    if (sentences.length === 0) throw new CvaeError('invalid_request', 'the text has no words to embed');
    const rows = await this.embedSentences(sentences);
    const truncated = sentences.filter((s) => this.tokenizer.encodeForModel(s).truncated).length;
    return {
      embedding: this.average(
        rows,
        sentences.map((_, i) => i),
      ),
      sentences,
      truncated,
    };
  }

  /**
   * Many texts at once (dataset captions): their distinct sentences go through the model in
   * batches, then each text averages its own. Rows of `dim` floats, one per text.
   */
  async embedMany(texts: string[], onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
    const perText = texts.map(splitSentences);
    const unique = [...new Set(perText.flat())];
    const position = new Map(unique.map((s, i) => [s, i]));
    const rows = new Float32Array(unique.length * this.dim);
    const step = 256;
    for (let start = 0; start < unique.length; start += step) {
      rows.set(await this.embedSentences(unique.slice(start, start + step)), start * this.dim);
      onProgress?.(Math.min(start + step, unique.length), unique.length);
    }
    const out = new Float32Array(texts.length * this.dim);
    perText.forEach((sentences, t) => {
      if (sentences.length === 0) throw new CvaeError('invalid_request', `text ${t} has no words to embed`);
      out.set(
        this.average(
          rows,
          sentences.map((s) => position.get(s) as number),
        ),
        t * this.dim,
      );
    });
    return out;
  }

  /** The mean of the given rows. */
  private average(rows: Float32Array, which: number[]): Float32Array {
    const embedding = new Float32Array(this.dim);
    for (const r of which)
      for (let d = 0; d < this.dim; d++) embedding[d] = (embedding[d] as number) + (rows[r * this.dim + d] as number);
    for (let d = 0; d < this.dim; d++) embedding[d] = (embedding[d] as number) / which.length;
    return embedding;
  }

  private remember(key: string, row: Float32Array) {
    this.cache.set(key, row);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
  }
}
