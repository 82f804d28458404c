import { decodeHTML } from 'entities';

/**
 * CLIP's byte-level BPE tokenizer (openai/CLIP simple_tokenizer.py), reproduced id for id.
 *
 * Steps, as in the reference: clean (HTML entities unescaped twice, NFC), collapse whitespace,
 * lowercase; split with CLIP's pattern; map each UTF-8 byte to a printable character
 * (GPT-2's bytes_to_unicode); apply the merges by rank, the last symbol of a word carrying
 * '</w>'; look up ids. Encoding for the text encoder wraps the ids in <|startoftext|> and
 * <|endoftext|> and truncates to the 77-token context keeping <|endoftext|> last.
 *
 * Not reproduced: ftfy's repair of mojibake (the reference runs ftfy.fix_text first); text that
 * is already valid Unicode — all ordinary captions — is unaffected.
 *
 * The vocabulary (bpe_simple_vocab_16e6.txt) is CLIP's own file, read at run time: see tokenizer-loader.ts.
 */
export const SOT = '<|startoftext|>';
export const EOT = '<|endoftext|>';
export const CONTEXT_LENGTH = 77;
/** merges used: 49,152 − 256 − 2 (the reference's slice); vocabulary = 2 × 256 bytes + merges + SOT + EOT = 49,408 */
const MERGE_COUNT = 49152 - 256 - 2;

const PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/**
 * GPT-2's reversible byte → printable-character map, indexed by byte. `vocabOrder` is the order
 * the reference lists them in the vocabulary (printable bytes first), which fixes their ids.
 */
export function bytesToUnicode(): string[] {
  return byteTable().table;
}

/** The byte symbols in vocabulary order (id = position). */
export function byteSymbolsInVocabOrder(): string[] {
  return byteTable().vocabOrder;
}

function byteTable(): { table: string[]; vocabOrder: string[] } {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n += 1;
    }
  }
  const table = new Array<string>(256);
  const vocabOrder: string[] = [];
  bs.forEach((b, i) => {
    table[b] = String.fromCodePoint(cs[i] as number);
    vocabOrder.push(table[b]);
  });
  return { table, vocabOrder };
}

export function cleanText(text: string): string {
  const unescaped = decodeHTML(decodeHTML(text.normalize('NFC'))).trim();
  return unescaped.replace(/\s+/gu, ' ').trim().toLowerCase();
}

export class ClipTokenizer {
  private readonly encoder = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();
  private readonly byteMap = byteTable();
  readonly sot: number;
  readonly eot: number;

  /**
   * @param merges the merge lines of the vocabulary file (without its header line), e.g. "t h"
   */
  constructor(merges: string[]) {
    const order = this.byteMap.vocabOrder;
    const vocab = [...order, ...order.map((c) => `${c}</w>`)];
    merges.forEach((line, rank) => {
      const [a, b] = line.split(' ');
      if (a === undefined || b === undefined) throw new Error(`CLIP vocabulary: bad merge line ${rank + 2}: '${line}'`);
      this.ranks.set(`${a} ${b}`, rank);
      vocab.push(a + b);
    });
    vocab.push(SOT, EOT);
    vocab.forEach((token, id) => {
      this.encoder.set(token, id);
    });
    this.sot = this.encoder.get(SOT) as number;
    this.eot = this.encoder.get(EOT) as number;
    this.cache.set(SOT, [SOT]);
    this.cache.set(EOT, [EOT]);
  }

  /** From the whole vocabulary file's text: header line, then merges (only the first 48,894 are used). */
  static fromVocabText(text: string): ClipTokenizer {
    const lines = text.split('\n');
    if (!lines[0]?.startsWith('"bpe_simple_vocab_16e6.txt#version'))
      throw new Error("CLIP vocabulary: missing the 'bpe_simple_vocab_16e6.txt#version' header");
    const merges = lines.slice(1, 1 + MERGE_COUNT);
    if (merges.length < MERGE_COUNT)
      throw new Error(`CLIP vocabulary: ${merges.length} merges, expected ${MERGE_COUNT}`);
    return new ClipTokenizer(merges);
  }

  get vocabSize(): number {
    return this.encoder.size;
  }

  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = Array.from(token);
    let word = [...chars.slice(0, -1), `${chars.at(-1)}</w>`];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      // Merge every occurrence of the best pair, left to right (as the reference does).
      const first = word[best] as string;
      const second = word[best + 1] as string;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i] as string);
          i += 1;
        }
      }
      word = merged;
    }
    this.cache.set(token, word);
    return word;
  }

  /** BPE ids of the text, without SOT/EOT. */
  encode(text: string): number[] {
    const ids: number[] = [];
    const utf8 = new TextEncoder();
    for (const match of cleanText(text).matchAll(PATTERN)) {
      const token = Array.from(utf8.encode(match[0]), (b) => this.byteMap.table[b] as string).join('');
      for (const piece of this.bpe(token)) {
        const id = this.encoder.get(piece);
        if (id === undefined) throw new Error(`CLIP tokenizer: '${piece}' is not in the vocabulary`);
        ids.push(id);
      }
    }
    return ids;
  }

  /** [SOT, …ids, EOT], truncated to the context keeping EOT last; `truncated` says whether it was. */
  encodeForModel(text: string, context = CONTEXT_LENGTH): { ids: number[]; truncated: boolean } {
    const ids = [this.sot, ...this.encode(text), this.eot];
    if (ids.length <= context) return { ids, truncated: false };
    const cut = ids.slice(0, context);
    cut[context - 1] = this.eot;
    return { ids: cut, truncated: true };
  }

  /** input_ids for the ONNX text encoder: int64 [n, context], zero-padded. */
  batch(texts: string[], context = CONTEXT_LENGTH): BigInt64Array {
    const out = new BigInt64Array(texts.length * context);
    texts.forEach((t, row) => {
      this.encodeForModel(t, context).ids.forEach((id, i) => {
        out[row * context + i] = BigInt(id);
      });
    });
    return out;
  }
}
