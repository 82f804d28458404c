import { ClipTokenizer } from './tokenizer.js';

/**
 * Builds the tokenizer from CLIP's vocabulary file as shipped (bpe_simple_vocab_16e6.txt.gz), in
 * any runtime: DecompressionStream is a web standard (Workers, browsers, Node ≥ 18).
 */
export async function tokenizerFromVocabGz(bytes: Uint8Array): Promise<ClipTokenizer> {
  const copy = new Uint8Array(bytes); // a plain ArrayBuffer-backed copy for Blob
  const stream = new Blob([copy.buffer]).stream().pipeThrough(new DecompressionStream('gzip'));
  return ClipTokenizer.fromVocabText(await new Response(stream).text());
}
