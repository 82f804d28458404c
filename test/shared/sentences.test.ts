import { describe, expect, it } from 'vitest';
import { splitSentences } from '../../src/shared/text/sentences.js';

describe('splitSentences (paper 3.4: embed per sentence, then average)', () => {
  it.each([
    [
      'A red circle at the top left. A blue square below it.',
      ['A red circle at the top left.', 'A blue square below it.'],
    ],
    [
      'Dr. Smith walks 3.5 km... Then he rests! Does he? Yes.',
      ['Dr. Smith walks 3.5 km...', 'Then he rests!', 'Does he?', 'Yes.'],
    ],
    ['A man, e.g. a chef, cooks. The pan is hot', ['A man, e.g. a chef, cooks.', 'The pan is hot']],
    ['Wait... what happened', ['Wait... what happened']],
    ['J. R. Tolkien wrote "A book." It sold.', ['J. R. Tolkien wrote "A book."', 'It sold.']],
    ['Two cats. 3 dogs.', ['Two cats.', '3 dogs.']],
    ['no punctuation here', ['no punctuation here']],
    ['  A dog.\n\n  A cat.  ', ['A dog.', 'A cat.']],
    ['It costs $3.50 at approx. 5 p.m. Every day.', ['It costs $3.50 at approx. 5 p.m. Every day.']],
    ['   ', []],
  ])('%s', (text, expected) => {
    expect(splitSentences(text)).toEqual(expected);
  });
});
