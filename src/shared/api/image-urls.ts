import { CvaeError } from '../errors.js';

/**
 * `response_format: "url"`: generation is deterministic, so a URL can name everything needed to
 * draw one image again (model@version, prompt, that image's seed) and nothing is stored. The
 * payload is signed with HMAC-SHA256 so that nobody can make the API draw what it did not offer;
 * the URL is then a capability (it redraws even a private model's image, like a shared link) and
 * is cacheable forever (`immutable`, ETag = the signature).
 */
export interface ImageRef {
  /** "<id>@<version>": pinned, so the image never changes */
  model: string;
  prompt: string;
  seed: number;
}

const encoder = new TextEncoder();

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');

function fromBase64url(text: string): Uint8Array {
  const b64 = text.replaceAll('-', '+').replaceAll('_', '/');
  return Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/** The imported key, once per secret: a response with n URLs signs n times. */
const keys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    keys.set(secret, key);
  }
  return key;
}

/** The file name of an image URL: `<payload>.<signature>.png`. */
export async function signImageRef(ref: ImageRef, secret: string): Promise<string> {
  const payload = base64url(encoder.encode(JSON.stringify([ref.model, ref.prompt, ref.seed])));
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(payload)));
  return `${payload}.${base64url(signature)}.png`;
}

/** The image a file name names, if its signature is ours (a constant-time check); else 404. */
export async function verifyImageRef(file: string, secret: string): Promise<{ ref: ImageRef; etag: string }> {
  const notFound = () => new CvaeError('not_found', 'No such image: the URL is not one this API issued.');
  const match = /^([A-Za-z0-9_-]{1,4096})\.([A-Za-z0-9_-]{43})\.png$/.exec(file);
  if (!match) throw notFound();
  const [, payload, signature] = match as unknown as [string, string, string];
  let valid = false;
  try {
    valid = await crypto.subtle.verify(
      'HMAC',
      await hmacKey(secret),
      fromBase64url(signature) as Uint8Array<ArrayBuffer>,
      encoder.encode(payload),
    );
  } catch {
    valid = false;
  }
  if (!valid) throw notFound();
  const [model, prompt, seed] = JSON.parse(new TextDecoder().decode(fromBase64url(payload))) as [
    string,
    string,
    number,
  ];
  return { ref: { model, prompt, seed }, etag: `"${signature}"` };
}
