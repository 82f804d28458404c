import { rmSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/worker/serve/server.js';
import { tinyRegistry } from '../helpers/tiny-registry.js';

// The official `openai` client against `cvae serve` directly (no edge in front): generations as
// b64 and as signed URLs, embeddings in both encodings, errors as the client's classes.
let root: string;
let server: RunningServer;
let openai: OpenAI;
beforeAll(async () => {
  root = await tinyRegistry('openai-serve-');
  server = await startServer({ port: 0, host: '127.0.0.1', modelsDir: root, imageUrlSecret: 'serve-url-secret' });
  openai = new OpenAI({ apiKey: 'unused-here', baseURL: `${server.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the official openai client against cvae serve', () => {
  it('generates as b64_json and as URLs that serve the same PNG', async () => {
    const b64 = await openai.images.generate({ prompt: 'Make a bag', n: 1, size: '28x28' as never, seed: 4 } as never);
    const urls = await openai.images.generate({ prompt: 'Make a bag', response_format: 'url', seed: 4 } as never);
    const url = urls.data?.[0]?.url as string;
    expect(url.startsWith(`${server.url}/v1/images/`)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).toString('base64')).toBe(b64.data?.[0]?.b64_json);
  });

  it('embeds with the default base64 encoding and with floats', async () => {
    const base64 = await openai.embeddings.create({
      input: ['A red circle.', 'A blue square.'],
      model: 'clip-vit-b32-text',
    });
    const floats = await openai.embeddings.create({
      input: ['A red circle.', 'A blue square.'],
      model: 'clip-vit-b32-text',
      encoding_format: 'float',
    });
    expect(base64.data).toHaveLength(2);
    const fromBase64 = base64.data[1]?.embedding ?? [];
    expect(fromBase64).toHaveLength(512);
    fromBase64.forEach((v, i) => {
      expect(v).toBeCloseTo(floats.data[1]?.embedding[i] as number, 5);
    });
  });

  it('reports bad fields through the client with param', async () => {
    const error = await openai.images
      .generate({ prompt: 'Make a bag', size: '30x40' as never })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ param: 'size', type: 'invalid_request_error' });
  });
});
