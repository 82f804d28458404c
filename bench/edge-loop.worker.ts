/**
 * The edge worker wrapped for `npm run bench:edge`: `POST /__loop?n=N` replays its body to the
 * generation route (or `&path=…`, as a GET when the body is empty) N times inside the isolate. workerd freezes timers while a request computes,
 * so in-isolate time cannot be read from inside; the benchmark times this request from outside
 * for two N and divides, which cancels the HTTP round trip. `GET /__memory` reports ORT's wasm
 * memory. Never deployed.
 */

import type { InferenceSession } from 'onnxruntime-common';
import decoder from '../models/fashion-conv/decoder.onnx';
import type { Env } from '../src/edge/config.js';
import edge from '../src/edge/index.js';
import { wasmMemoryBytes, webRuntime } from '../src/edge/runtime/ort-web.js';

let session: Promise<InferenceSession> | undefined;

/** The bundled decoder's session.run alone, n = 1: the engine's share of a request. */
async function runDecoder(n: number): Promise<void> {
  session ??= webRuntime.createSession(new Uint8Array(decoder));
  const s = await session;
  const feeds = {
    z: webRuntime.float32(new Float32Array(128), [1, 128]),
    label: webRuntime.int64(new BigInt64Array(1), [1]),
  };
  for (let i = 0; i < n; i++) await s.run(feeds);
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/__memory') return Response.json({ wasmBytes: wasmMemoryBytes() });
    if (url.pathname !== '/__loop') return edge.fetch(request, env, ctx);
    const n = Number(url.searchParams.get('n') ?? 1);
    if (url.searchParams.has('decoder-only')) {
      await runDecoder(n);
      return new Response(`${n} runs`);
    }
    const path = url.searchParams.get('path') ?? '/v1/images/generations';
    const expect = Number(url.searchParams.get('status') ?? 200);
    const body = await request.text();
    // with Content-Length, as HTTP clients send it (without it the body-size check must stream)
    const headers = {
      'content-type': 'application/json',
      'content-length': String(new TextEncoder().encode(body).length),
    };
    const init = body ? { method: 'POST', headers, body } : {};
    for (let i = 0; i < n; i++) {
      const res = await edge.fetch(new Request(`http://edge${path}`, init), env, ctx);
      await res.arrayBuffer();
      if (res.status !== expect) return new Response(`status ${res.status}`, { status: 500 });
    }
    return new Response(`${n} requests`);
  },
} satisfies ExportedHandler<Env>;
