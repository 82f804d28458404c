import { describe, expect, it } from 'vitest';
import { CvaeError } from '../../src/shared/errors.js';
import { FASHION_CLASSES } from '../../src/shared/fashion/classes.js';
import { acceptedWords, parsePrompt, wordForms } from '../../src/shared/prompt/parse-prompt.js';

// Table of phrasings → [class name, matched text as written].
const CASES: [string, string, string][] = [
  ['Make a dress', 'Dress', 'dress'],
  ['I want running trainers', 'Sneaker', 'running trainers'],
  ['a pair of JEANS', 'Trouser', 'JEANS'],
  ['T-Shirt please', 'T-shirt/top', 'T-Shirt'],
  ['a plain tee', 'T-shirt/top', 'tee'],
  ['tank tops for summer', 'T-shirt/top', 'tank tops'],
  ['a shirt', 'Shirt', 'shirt'],
  ['polo shirts', 'Shirt', 'polo shirts'],
  ['a dress shirt for the office', 'Shirt', 'dress shirt'],
  ['Dresses!', 'Dress', 'Dresses'],
  ['a cosy sweater', 'Pullover', 'sweater'],
  ['grey hoodie', 'Pullover', 'hoodie'],
  ['black hoodies', 'Pullover', 'hoodies'],
  ['a woolly jumper', 'Pullover', 'jumper'],
  ['rain jacket', 'Coat', 'jacket'],
  ['trench coats', 'Coat', 'trench coats'],
  ['a warm parka', 'Coat', 'parka'],
  ['pants', 'Trouser', 'pants'],
  ['trousers', 'Trouser', 'trousers'],
  ['summer sandals', 'Sandal', 'sandals'],
  ['flip-flops', 'Sandal', 'flip-flops'],
  ['white sneakers', 'Sneaker', 'sneakers'],
  ['a leather handbag', 'Bag', 'handbag'],
  ['BACKPACK', 'Bag', 'BACKPACK'],
  ['ankle boots', 'Ankle boot', 'ankle boots'],
  ['a boot', 'Ankle boot', 'boot'],
  ['draw me two sneakers, sneakers please', 'Sneaker', 'sneakers'],
];

describe('parsePrompt', () => {
  it.each(CASES)('%s → %s', (prompt, className, matched) => {
    const reading = parsePrompt(prompt);
    expect(reading.className).toBe(className);
    expect(reading.matched).toBe(matched);
    expect(FASHION_CLASSES[reading.classIndex]?.name).toBe(className);
  });

  it('every synonym maps to its own class', () => {
    for (const c of FASHION_CLASSES) {
      for (const s of c.synonyms) expect(parsePrompt(`a ${s}`).classIndex, s).toBe(c.index);
    }
  });

  it('refuses a prompt without a class word, listing the accepted words', () => {
    const error = catchError(() => parsePrompt('a picture of the sea'));
    expect(error.code).toBe('prompt_no_class');
    expect(error.message).toContain('dress');
    expect(error.details?.accepted).toEqual(acceptedWords());
  });

  it('refuses two different classes', () => {
    const error = catchError(() => parsePrompt('a dress and a coat'));
    expect(error.code).toBe('prompt_ambiguous');
    expect(error.message).toContain('Dress');
    expect(error.message).toContain('Coat');
  });

  it('matches whole words only', () => {
    expect(catchError(() => parsePrompt('a desktop wallpaper')).code).toBe('prompt_no_class');
    expect(catchError(() => parsePrompt('')).code).toBe('prompt_no_class');
  });

  it('accepts plurals of every kind the synonyms need', () => {
    for (const [plural, singular] of [
      ['dresses', 'dress'],
      ['jeans', 'jean'],
      ['hoodies', 'hoodie'],
      ['boots', 'boot'],
      ['blouses', 'blouse'],
    ]) {
      expect(wordForms(plural as string).has(singular as string), plural).toBe(true);
    }
    expect(wordForms('dress').has('dres')).toBe(false);
    expect(parsePrompt('two hoodies').className).toBe('Pullover');
  });
});

function catchError(f: () => unknown): CvaeError {
  try {
    f();
  } catch (e) {
    if (e instanceof CvaeError) return e;
    throw e;
  }
  throw new Error('expected an error');
}
