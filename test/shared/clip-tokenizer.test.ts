import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { byteSymbolsInVocabOrder, bytesToUnicode, ClipTokenizer, cleanText } from '../../src/shared/clip/tokenizer.js';
import { tokenizerFromVocabGz } from '../../src/shared/clip/tokenizer-loader.js';

// Golden cases made with openai/CLIP's simple_tokenizer.py (test/fixtures/clip); the vocabulary is models/clip-vocab.
const GOLDEN = join(__dirname, '../fixtures/clip');
const VOCAB = join(__dirname, '../../models/clip-vocab');
const golden = JSON.parse(readFileSync(join(GOLDEN, 'tokenizer-golden.json'), 'utf8')) as {
  cases: { text: string; ids: number[]; bpe: number[] }[];
};

let tokenizer: ClipTokenizer;
beforeAll(async () => {
  tokenizer = await tokenizerFromVocabGz(new Uint8Array(readFileSync(join(VOCAB, 'bpe_simple_vocab_16e6.txt.gz'))));
});

describe('CLIP tokenizer: golden parity with the reference', () => {
  it('has CLIP vocabulary size and special ids', () => {
    expect(tokenizer.vocabSize).toBe(49408);
    expect([tokenizer.sot, tokenizer.eot]).toEqual([49406, 49407]);
  });

  it.each(golden.cases.map((c) => [c.text.slice(0, 60), c] as const))('%s', (_label, c) => {
    expect(tokenizer.encode(c.text)).toEqual(c.bpe);
    expect(tokenizer.encodeForModel(c.text).ids).toEqual(c.ids);
  });

  it('batches as zero-padded int64 rows of 77', () => {
    const ids = tokenizer.batch(['Make a dress', 'a photo of a cat']);
    expect(ids.length).toBe(2 * 77);
    expect(Array.from(ids.slice(0, 6), Number)).toEqual([49406, 1078, 320, 2595, 49407, 0]);
    expect(Number(ids[77])).toBe(49406);
  });
});

describe('CLIP tokenizer: the algorithm on a tiny vocabulary', () => {
  // Merges (by rank): "l o" → lo, "lo w</w>" → low</w>, "e r</w>" → er</w>
  const tiny = new ClipTokenizer(['l o', 'lo w</w>', 'e r</w>']);
  const id = (token: string) => {
    const ids = tiny.encode(token);
    expect(ids).toHaveLength(1);
    return ids[0] as number;
  };

  it('applies merges by rank and marks word ends', () => {
    const base = 512; // merged tokens come after the 2 × 256 byte symbols
    const symbol = (ch: string) => byteSymbolsInVocabOrder().indexOf(bytesToUnicode()[ch.charCodeAt(0)] as string);
    expect(symbol('!')).toBe(0); // printable bytes come first, from '!' (33)
    expect(id('low')).toBe(base + 1);
    expect(tiny.encode('lower')).toEqual([base + 0, symbol('w'), base + 2]);
  });

  it('splits punctuation, digits one by one, and contractions', () => {
    const byte = (ch: string) => byteSymbolsInVocabOrder().indexOf(bytesToUnicode()[ch.charCodeAt(0)] as string);
    const end = (ch: string) => 256 + byte(ch);
    expect(tiny.encode("it's 12!")).toEqual([byte('i'), end('t'), byte("'"), end('s'), end('1'), end('2'), end('!')]);
  });

  it('cleans like the reference: entities, whitespace, case', () => {
    expect(cleanText('  A &amp;amp; B\n\tC ')).toBe('a & b c');
  });

  it('truncates to the context keeping <|endoftext|> last', () => {
    const { ids, truncated } = tiny.encodeForModel('low '.repeat(100), 10);
    expect(truncated).toBe(true);
    expect(ids).toHaveLength(10);
    expect(ids[0]).toBe(tiny.sot);
    expect(ids[9]).toBe(tiny.eot);
  });

  it('refuses a vocabulary file without the header', () => {
    expect(() => ClipTokenizer.fromVocabText('l o\n')).toThrow(/header/);
  });
});
