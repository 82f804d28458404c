import { CvaeError } from '../errors.js';
import { FASHION_CLASSES, type FashionClass } from '../fashion/classes.js';

/**
 * Short-text prompts → a class (paper 3.1): find the class words in the prompt.
 *
 * Prompt and synonyms are split into lowercase words (hyphens and punctuation separate words, so
 * "T-Shirt" = "t shirt"), plurals are accepted (see wordForms), and synonyms match as whole
 * word sequences. Longer matches win over the words inside them; if the remaining matches name
 * more than one class, or none, the prompt is refused with the accepted words listed.
 */
export interface PromptReading {
  classIndex: number;
  className: string;
  /** the prompt's words that matched, as written */
  matched: string;
  /** the synonym that matched */
  synonym: string;
}

interface Word {
  /** the word lowercased, and the singulars it could be the plural of */
  forms: Set<string>;
  start: number;
  end: number;
}

/**
 * The forms a lowercase word may stand for: itself and, if it looks plural, its candidate
 * singulars ("dresses" → dresse, dress; "hoodies" → hoodie, hoody). Synonyms are written in the
 * singular, so a synonym word matches when it is one of these forms.
 */
export function wordForms(word: string): Set<string> {
  const forms = new Set([word]);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) {
    forms.add(word.slice(0, -1));
    if (word.endsWith('es')) forms.add(word.slice(0, -2));
    if (word.endsWith('ies')) forms.add(`${word.slice(0, -3)}y`);
  }
  return forms;
}

function words(text: string): Word[] {
  const out: Word[] = [];
  for (const m of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    out.push({ forms: wordForms(m[0].toLowerCase()), start: m.index, end: m.index + m[0].length });
  }
  return out;
}

interface Candidate {
  cls: FashionClass;
  synonym: string;
  from: number;
  length: number;
}

interface SynonymWords {
  cls: FashionClass;
  synonym: string;
  words: string[];
}

// Class lists come from manifests at the edge: split each list's synonyms into words once.
const synonymCache = new WeakMap<readonly FashionClass[], SynonymWords[]>();
function synonymWords(classes: readonly FashionClass[]): SynonymWords[] {
  let cached = synonymCache.get(classes);
  if (!cached) {
    cached = classes.flatMap((cls) =>
      cls.synonyms.map((synonym) => ({ cls, synonym, words: synonym.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [] })),
    );
    synonymCache.set(classes, cached);
  }
  return cached;
}

/** Every accepted word, for error messages and the API docs. */
export function acceptedWords(classes: readonly FashionClass[] = FASHION_CLASSES): string[] {
  return classes.flatMap((c) => c.synonyms);
}

/** Reads a prompt against a class list: Fashion-MNIST's by default, or a model manifest's labels. */
export function parsePrompt(prompt: string, classes: readonly FashionClass[] = FASHION_CLASSES): PromptReading {
  const tokens = words(prompt);
  const candidates: Candidate[] = [];
  for (const s of synonymWords(classes)) {
    for (let i = 0; i + s.words.length <= tokens.length; i++) {
      if (s.words.every((w, k) => tokens[i + k]?.forms.has(w))) {
        candidates.push({ cls: s.cls, synonym: s.synonym, from: i, length: s.words.length });
      }
    }
  }
  // Longest first; a match is kept only if it overlaps no longer match already kept.
  candidates.sort((a, b) => b.length - a.length || a.from - b.from);
  const kept: Candidate[] = [];
  for (const c of candidates) {
    if (kept.every((k) => c.from + c.length <= k.from || k.from + k.length <= c.from)) kept.push(c);
  }
  const found = [...new Set(kept.map((k) => k.cls.index))];
  if (found.length === 0) {
    const accepted = acceptedWords(classes);
    throw new CvaeError(
      'prompt_no_class',
      `No item this model knows is named in the prompt. Name one of: ${accepted.join(', ')}.`,
      {
        accepted,
      },
    );
  }
  if (found.length > 1) {
    const named = kept.sort((a, b) => a.from - b.from).map((k) => `"${k.synonym}" (${k.cls.name})`);
    throw new CvaeError(
      'prompt_ambiguous',
      `The prompt names more than one item: ${named.join(', ')}. Ask for one item at a time.`,
      {
        accepted: acceptedWords(classes),
        classes: named,
      },
    );
  }
  const first = kept.sort((a, b) => a.from - b.from)[0] as Candidate;
  const startWord = tokens[first.from] as Word;
  const endWord = tokens[first.from + first.length - 1] as Word;
  return {
    classIndex: first.cls.index,
    className: first.cls.name,
    matched: prompt.slice(startWord.start, endWord.end),
    synonym: first.synonym,
  };
}
