import { describe, expect, it } from 'vitest';
import { prewarm, webRuntime } from '../../src/edge/runtime/ort-web.js';
import { bundledDecoder, bundledDecoderInputs } from '../../src/edge/sources/bundled.js';

// The session made while the isolate starts (src/edge/index.ts) must be the one the first request
// gets for the same model bytes, and only once: a second createSession is a session of its own.
describe('prewarmed ORT session in workerd', () => {
  it('is run once on zeros of the manifest inputs and handed to the first createSession of equal bytes', async () => {
    const inputs = bundledDecoderInputs;
    expect(inputs.map((i) => i.name)).toEqual(['z', 'label']);
    const warmed = await prewarm(bundledDecoder, inputs);
    expect(warmed.outputNames).toEqual(['image']);

    // equal bytes in another buffer (as a registry read would give) adopt it
    const first = await webRuntime.createSession(new Uint8Array(bundledDecoder));
    expect(first).toBe(warmed);
    const second = await webRuntime.createSession(bundledDecoder);
    expect(second).not.toBe(warmed);
    expect(second.outputNames).toEqual(['image']);
  });

  it('does not hand a prewarmed session to other bytes', async () => {
    const warmed = await prewarm(bundledDecoder);
    // same length, other bytes: ORT must be asked (and refuses them), not the prewarmed session returned
    await expect(webRuntime.createSession(new Uint8Array(bundledDecoder.length))).rejects.toThrow();
    expect(await webRuntime.createSession(bundledDecoder)).toBe(warmed);
  });
});
