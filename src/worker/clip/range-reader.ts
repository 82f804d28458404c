import { open, stat } from 'node:fs/promises';
import { CvaeError } from '../../shared/errors.js';

/**
 * Byte ranges of a local file or of a URL (HTTP Range requests), so a large checkpoint is read in
 * place: of a whole CLIP checkpoint only the text tower's tensors are fetched.
 */
export interface RangeReader {
  /** the path or URL, for messages */
  label: string;
  size: number;
  read(offset: number, length: number, onBytes?: (received: number, total: number) => void): Promise<Uint8Array>;
}

export async function fileRangeReader(path: string): Promise<RangeReader> {
  const info = await stat(path).catch(() => {
    throw new CvaeError('clip_invalid', `${path} does not exist`);
  });
  return {
    label: path,
    size: info.size,
    async read(offset, length, onBytes) {
      const out = new Uint8Array(length);
      const handle = await open(path, 'r');
      try {
        // in 64 MiB pieces, so progress moves on a large span
        for (let done = 0; done < length; ) {
          const { bytesRead } = await handle.read(out, done, Math.min(64 << 20, length - done), offset + done);
          if (bytesRead === 0) throw new CvaeError('clip_invalid', `${path} ended early (at byte ${offset + done})`);
          done += bytesRead;
          onBytes?.(done, length);
        }
      } finally {
        await handle.close();
      }
      return out;
    },
  };
}

/** attempts per range: a connection that breaks off is resumed from the bytes already here */
const ATTEMPTS = 4;

export async function httpRangeReader(url: string, fetchImpl: typeof fetch = fetch): Promise<RangeReader> {
  const get = async (from: number, to: number) => {
    let response: Response;
    try {
      response = await fetchImpl(url, {
        headers: { range: `bytes=${from}-${to}` },
        signal: AbortSignal.timeout(60 * 60_000),
      });
    } catch (error) {
      throw new CvaeError('download_failed', `could not download ${url}: ${(error as Error).message}`);
    }
    if (response.status === 200) {
      await response.body?.cancel();
      throw new CvaeError(
        'download_failed',
        `${url} does not answer HTTP Range requests; download the file and pass its path instead`,
      );
    }
    if (response.status !== 206 || !response.body) {
      await response.body?.cancel();
      throw new CvaeError('download_failed', `could not download ${url}: HTTP ${response.status}`);
    }
    return response;
  };
  const first = await get(0, 0);
  await first.body?.cancel();
  const size = Number(first.headers.get('content-range')?.match(/\/(\d+)$/)?.[1]);
  if (!Number.isSafeInteger(size))
    throw new CvaeError('download_failed', `${url} gave no file size (Content-Range) for a range request`);
  return {
    label: url,
    size,
    async read(offset, length, onBytes) {
      const out = new Uint8Array(length);
      let received = 0;
      let lastError: unknown;
      for (let attempt = 0; attempt < ATTEMPTS && received < length; attempt++) {
        // a refused request is final; a body that breaks off (or ends early) is asked for again
        const response = await get(offset + received, offset + length - 1);
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            if (received + value.length > length) throw new Error(`more than the ${length} bytes asked for`);
            out.set(value, received);
            received += value.length;
            onBytes?.(received, length);
          }
        } catch (error) {
          lastError = error;
          await reader.cancel().catch(() => {});
        }
      }
      if (received < length)
        throw new CvaeError(
          'download_failed',
          `download of ${url} broke off after ${received} of ${length} bytes: ${(lastError as Error | undefined)?.message ?? 'the server closed the response early'}`,
        );
      return out;
    },
  };
}
