import { exports } from 'cloudflare:workers';
import { decode } from 'fast-png';
import { describe, expect, inject, it } from 'vitest';

// The real worker entry (src/edge/index.ts) inside workerd, with the bundled Fashion-MNIST model.
const post = (body: unknown, headers: Record<string, string> = {}) =>
  exports.default.fetch('http://edge/v1/images/generations', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

function pngFromBase64(b64: string) {
  return decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
}

describe('POST /v1/images/generations in workerd', () => {
  it('draws a dress with the bundled model and says how it read the prompt', async () => {
    const res = await post({ prompt: 'Make a dress', seed: 7 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      model: { id: string; version: string };
      data: { b64_json: string; seed: number }[];
      condition: { type: string; className: string; matched: string };
    };
    expect(body.model.id).toBe('fashion-conv');
    expect(body.condition).toMatchObject({ type: 'class', className: 'Dress', matched: 'dress' });
    expect(body.data).toHaveLength(1);
    expect(body.data[0]?.seed).toBe(7);
    const png = pngFromBase64(body.data[0]?.b64_json as string);
    expect([png.width, png.height, png.channels]).toEqual([28, 28, 1]);
    const pixels = Array.from(png.data as Uint8Array);
    expect(Math.max(...pixels)).toBeGreaterThan(100); // a garment, not a blank
    expect(Math.min(...pixels)).toBeLessThan(30); // on a dark background
  });

  it('is byte-identical across calls and against Node (same engine, same seed)', async () => {
    const call = async () =>
      (
        (await (await post({ prompt: 'Make a dress', n: 4, seed: 7 })).json()) as { data: { b64_json: string }[] }
      ).data.map((d) => d.b64_json);
    const first = await call();
    expect(await call()).toEqual(first);
    expect(first).toEqual(inject('nodeDressPngs'));
    // image i uses seed + i: image 2 alone with seed 9 is the same picture
    const alone = ((await (await post({ prompt: 'Make a dress', seed: 9 })).json()) as { data: { b64_json: string }[] })
      .data[0]?.b64_json;
    expect(alone).toBe(first[2]);
  });

  it('returns a PNG grid for response_format png and for Accept: image/png', async () => {
    for (const res of [
      await post({ prompt: 'two sneakers', n: 6, seed: 1, response_format: 'png' }),
      await post({ prompt: 'two sneakers', n: 6, seed: 1 }, { accept: 'image/png' }),
    ]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('x-cvae-seed')).toBe('1');
      const png = decode(new Uint8Array(await res.arrayBuffer()));
      // 6 images → 3 columns x 2 rows of 28 px with 2 px gaps
      expect([png.width, png.height]).toEqual([3 * 28 + 2 * 2, 2 * 28 + 2]);
    }
  });

  it('picks and echoes a random seed when none is given', async () => {
    const body = (await (await post({ prompt: 'a bag', n: 2 })).json()) as { data: { seed: number }[] };
    const [a, b] = body.data.map((d) => d.seed) as [number, number];
    expect(Number.isInteger(a)).toBe(true);
    expect(b).toBe((a + 1) >>> 0);
  });
});
