/**
 * Splits a caption into sentences (paper 3.4: each sentence is embedded, then averaged).
 *
 * A sentence ends at `.`, `!`, `?` or an ellipsis followed by space and an uppercase letter,
 * digit or opening quote/bracket, or at the end of the text, except after a known abbreviation
 * ("Mr.", "e.g.", "approx.") or a single capital initial ("J. Smith"). A period inside a number
 * ("3.5 m") has no space after it and never splits. Hand-written and deterministic: Intl.Segmenter
 * depends on each runtime's ICU data, and the edge and the worker must split identically.
 */
const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'sr',
  'jr',
  'st',
  'mt',
  'ft',
  'vs',
  'etc',
  'e.g',
  'i.e',
  'approx',
  'no',
  'fig',
  'inc',
  'ltd',
  'co',
  'corp',
  'ave',
  'rd',
  'dept',
  'est',
  'jan',
  'feb',
  'mar',
  'apr',
  'jun',
  'jul',
  'aug',
  'sep',
  'sept',
  'oct',
  'nov',
  'dec',
  'a.m',
  'p.m',
  'u.s',
  'u.k',
]);

export function splitSentences(text: string): string[] {
  const normalized = text.replace(/\s+/g, ' ').trim();
  if (!normalized) return [];
  const out: string[] = [];
  let start = 0;
  const boundary = /(\.{3}|…|[.!?]+)["')\]]*(?= (?=["'([]?[\p{Lu}\p{N}])|$)/gu;
  for (const m of normalized.matchAll(boundary)) {
    const end = m.index + m[0].length;
    if (m[0].startsWith('.') && !m[0].startsWith('...')) {
      const before = normalized.slice(start, m.index);
      const word = /([\p{L}.]+)$/u.exec(before)?.[1] ?? '';
      if (ABBREVIATIONS.has(word.toLowerCase()) || /^\p{Lu}$/u.test(word)) continue;
    }
    const sentence = normalized.slice(start, end).trim();
    if (sentence) out.push(sentence);
    start = end;
  }
  const rest = normalized.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}
