import { describe, expect, it } from 'vitest';
import { routePrompt } from '../../src/shared/prompt/route-prompt.js';

// The documented rule, as a table: short text names one clothing item and nothing around it;
// long text is a scene (no item, several, or one inside a scene).
const SHORT: string[] = [
  'Make a dress',
  'a dress',
  'Draw me a red dress',
  'I want running trainers',
  'a pair of JEANS',
  'Generate a t-shirt',
  'Show me a warm winter coat',
  'ankle boots',
  'A leather handbag, please',
  'Make a hoodie',
  'a summer sandal',
  'A blouse with long sleeves',
  'A tank top',
  'I would like a black evening gown with a long skirt',
  'two sneakers',
  'Make a pullover for the cold',
];
const LONG: string[] = [
  'A large red circle at the top left on a black background.',
  'A red circle at the top left.',
  'A blue square below it.',
  'A small yellow triangle in the center on a black background.',
  'Two large green circles at the top on a gray background.',
  'On a white background, a large magenta square is at the left.',
  'A man riding a wave on top of a surfboard.',
  'A man wearing a coat walks his dog in the park.',
  'A woman in a dress standing next to a car.',
  'A cat sleeping on a bed.',
  'A plate of food on a wooden table.',
  'a photo of a cat',
  'A bus driving down a city street.',
  'A shirt and a pair of jeans',
  'A dress hanging on the left side of a room.',
  'Two dogs play in the snow. The sky is blue.',
  'A bag on the table next to a pizza.',
  'a toaster',
  'A green triangle.',
  'Children playing football on a field.',
];

describe('routing a prompt with no model: short text or long text', () => {
  it('has a table of at least 30 prompts', () => expect(SHORT.length + LONG.length).toBeGreaterThanOrEqual(30));
  it.each(SHORT)('short text: %s', (prompt) => {
    const route = routePrompt(prompt);
    expect(route.kind, route.reason).toBe('short-text');
    expect(route.reason).toMatch(/^names one clothing item \(/);
  });
  it.each(LONG)('long text: %s', (prompt) => {
    const route = routePrompt(prompt);
    expect(route.kind, route.reason).toBe('long-text');
  });
  it('says why', () => {
    expect(routePrompt('A large red circle at the top left on a black background.').reason).toBe(
      'names no clothing item',
    );
    expect(routePrompt('A man wearing a coat walks his dog.').reason).toBe('names Coat inside a scene ("man", "dog")');
    expect(routePrompt('A shirt and a pair of jeans').reason).toBe('names several items: a scene');
  });
});
