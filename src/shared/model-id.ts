/**
 * Model ids, versions and namespaces: the one home of these rules.
 *
 * - A system model has a bare name (`fashion-conv`): the bundled default and anything the operator
 *   publishes with bucket credentials. No API key can write there.
 * - A user's model is `<owner>/<name>` (`alice/my-fashion`), as on the model hubs; an API key
 *   belongs to one owner and publishes only under it.
 * - A reference is `<id>` or `<id>@<version>`.
 */
const NAME = '[a-z0-9][a-z0-9-]{0,62}';
const OWNER = '[a-z0-9][a-z0-9-]{0,38}';
const VERSION = '[0-9A-Za-z][0-9A-Za-z._-]{0,62}';

export const MODEL_NAME_PATTERN = new RegExp(`^${NAME}$`);
export const OWNER_PATTERN = new RegExp(`^${OWNER}$`);
export const MODEL_ID_PATTERN = new RegExp(`^(?:${OWNER}/)?${NAME}$`);
export const VERSION_PATTERN = new RegExp(`^${VERSION}$`);
export const MODEL_REF_PATTERN = new RegExp(`^(?:${OWNER}/)?${NAME}(?:@${VERSION})?$`);
export const MODEL_ID_HINT = 'a model id: "<name>" or "<owner>/<name>" (lowercase letters, digits, dashes)';

/** Path segments that routes use after a model id; no model may be named so. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['versions', 'promote', 'latest']);

export function isValidModelId(id: string): boolean {
  if (!MODEL_ID_PATTERN.test(id)) return false;
  return !RESERVED_NAMES.has(id.slice(id.indexOf('/') + 1));
}

export function isValidVersion(version: string): boolean {
  return VERSION_PATTERN.test(version);
}

/** The owner of a namespaced id; undefined for system models. */
export function ownerOf(id: string): string | undefined {
  const slash = id.indexOf('/');
  return slash < 0 ? undefined : id.slice(0, slash);
}

export function parseModelRef(ref: string): { id: string; version: string } {
  const at = ref.indexOf('@');
  return at < 0 ? { id: ref, version: 'latest' } : { id: ref.slice(0, at), version: ref.slice(at + 1) };
}

/** At most `max` characters of untrusted input, for error messages (never echo a whole body). */
export function quote(input: string, max = 64): string {
  const clipped = input.length > max ? `${input.slice(0, max)}…` : input;
  return `'${clipped}'`;
}
