import { CvaeError } from '../../shared/errors.js';
import { quote } from '../../shared/model-id.js';

/**
 * Where a completion webhook may go: https to a public host. Plain http only to loopback, and only
 * behind the development setting (WEBHOOK_ALLOW_HTTP_LOOPBACK, the local stack and tests); private,
 * link-local, loopback and other special addresses never in production. Checked when the job is
 * created, so a bad target is a 400 then and not a silent failure at the end.
 */
const refuse = (url: string, why: string) => new CvaeError('bad_webhook', `webhookUrl ${quote(url, 80)}: ${why}`);

function ipv4(host: string): number[] | undefined {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return undefined;
  const bytes = parts.map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function specialIpv4([a, b]: number[]): string | undefined {
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && (b as number) >= 16 && (b as number) <= 31) || (a === 192 && b === 168))
    return 'private';
  if (a === 169 && b === 254) return 'link-local';
  if (a === 100 && (b as number) >= 64 && (b as number) <= 127) return 'shared (CGNAT)';
  if (a === 0 || (a as number) >= 224) return 'reserved';
  return undefined;
}

function specialIpv6(host: string): string | undefined {
  const h = host.toLowerCase();
  if (h === '::1') return 'loopback';
  if (h === '::') return 'reserved';
  if (/^f[cd]/.test(h)) return 'private';
  if (/^fe[89ab]/.test(h)) return 'link-local';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)?.[1];
  if (mapped) return specialIpv4(ipv4(mapped) ?? [0]) ?? undefined;
  if (/^::ffff:/.test(h)) return 'IPv4-mapped';
  return undefined;
}

/** Why `hostname` is not a public host, or undefined when it is. */
export function specialHost(hostname: string): string | undefined {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  if (host.endsWith('.local') || host.endsWith('.internal') || (!host.includes('.') && !host.includes(':')))
    return 'not a public host name';
  const v4 = ipv4(host);
  if (v4) return specialIpv4(v4);
  if (host.includes(':')) return specialIpv6(host);
  return undefined;
}

export function checkWebhookUrl(raw: string, allowHttpLoopback: boolean): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(raw, 'not a URL');
  }
  if (url.username || url.password) throw refuse(raw, 'credentials in the URL are not allowed');
  const special = specialHost(url.hostname);
  const loopback = special === 'loopback';
  if (url.protocol === 'http:' && allowHttpLoopback && loopback) return;
  if (url.protocol !== 'https:') throw refuse(raw, 'only https: URLs are allowed');
  if (special && !(allowHttpLoopback && loopback)) throw refuse(raw, `${special} addresses are not allowed`);
}
