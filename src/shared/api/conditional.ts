/**
 * If-None-Match per RFC 9110 §13.1.2: `*` matches any current representation, a list matches when
 * any member does, and the comparison is weak (`W/"x"` equals `"x"`).
 */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const value = ifNoneMatch.trim();
  if (value === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return value.split(',').some((tag) => opaque(tag) === opaque(etag));
}
