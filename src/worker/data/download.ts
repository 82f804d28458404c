import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CvaeError } from '../../shared/errors.js';

/**
 * Downloads files with checksum verification. Each file streams to `<name>.partial`, is hashed
 * on the way, and is renamed into place only when its checksum matches: a failed or interrupted
 * download never leaves a file under the real name, and the next run resumes the partial file.
 */
export interface RemoteFile {
  file: string;
  md5: string;
}

export interface DownloadHooks {
  onStart?(file: string, bytes: number | undefined): void;
  onProgress?(file: string, received: number): void;
  onDone?(file: string, skipped: boolean): void;
}

async function md5Of(path: string): Promise<string> {
  return createHash('md5')
    .update(await readFile(path))
    .digest('hex');
}

export async function downloadVerified(
  baseUrl: string,
  files: RemoteFile[],
  dir: string,
  hooks: DownloadHooks = {},
  fetchImpl: typeof fetch = fetch,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of files) {
    const target = join(dir, f.file);
    if (existsSync(target) && (await md5Of(target)) === f.md5) {
      hooks.onDone?.(f.file, true);
      continue;
    }
    const url = new URL(f.file, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
    const partial = `${target}.partial`;
    // Resume: bytes already in <name>.partial are asked for no more (HTTP Range); a server that
    // ignores the range answers 200 and the file starts over.
    const have = existsSync(partial) ? (await stat(partial)).size : 0;
    let response: Response;
    try {
      response = await fetchImpl(url, {
        signal: AbortSignal.timeout(10 * 60_000),
        ...(have > 0 ? { headers: { range: `bytes=${have}-` } } : {}),
      });
    } catch (error) {
      throw new CvaeError('download_failed', `could not download ${url}: ${(error as Error).message}`);
    }
    if (!response.ok || !response.body) {
      throw new CvaeError('download_failed', `could not download ${url}: HTTP ${response.status}`);
    }
    const resumed = response.status === 206 && have > 0;
    const hash = createHash('md5');
    let received = 0;
    if (resumed) {
      hash.update(await readFile(partial));
      received = have;
    }
    const length = Number(response.headers.get('content-length')) || undefined;
    hooks.onStart?.(f.file, length === undefined ? undefined : length + received);
    try {
      const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
        hooks.onProgress?.(f.file, received);
      });
      await pipeline(body, createWriteStream(partial, { flags: resumed ? 'a' : 'w' }));
    } catch (error) {
      // keep what arrived: the next run resumes from it
      throw new CvaeError(
        'download_failed',
        `download of ${url} broke off after ${received} bytes (kept ${partial}; run again to resume): ${(error as Error).message}`,
      );
    }
    const digest = hash.digest('hex');
    if (digest !== f.md5) {
      await rm(partial, { force: true });
      throw new CvaeError(
        'checksum_mismatch',
        `${url}: MD5 ${digest} does not match the expected ${f.md5}; the file was discarded`,
      );
    }
    await rename(partial, target);
    hooks.onDone?.(f.file, false);
  }
}
