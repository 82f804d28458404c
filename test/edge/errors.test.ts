import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

// Every bad input is a 4xx with {"error":{"code","message"}}, never a 500.
const call = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  exports.default.fetch('http://edge/v1/images/generations', { method: 'POST', headers, body });

const cases: [string, string, Record<string, string> | undefined, number, string][] = [
  ['bad JSON', '{"prompt": "dress",', undefined, 400, 'invalid_json'],
  ['not JSON at all', 'prompt=dress', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
  ['no prompt', '{}', undefined, 400, 'invalid_request'],
  ['empty prompt', '{"prompt":"   "}', undefined, 400, 'invalid_request'],
  ['prompt too long', JSON.stringify({ prompt: `a dress ${'x'.repeat(1000)}` }), undefined, 400, 'invalid_request'],
  ['prompt with no class', '{"prompt":"a red car"}', undefined, 400, 'prompt_no_class'],
  ['prompt with two classes', '{"prompt":"a dress and a bag"}', undefined, 400, 'prompt_ambiguous'],
  ['n = 0', '{"prompt":"dress","n":0}', undefined, 400, 'invalid_request'],
  ['n = 17', '{"prompt":"dress","n":17}', undefined, 400, 'invalid_request'],
  ['n not an integer', '{"prompt":"dress","n":1.5}', undefined, 400, 'invalid_request'],
  ['prompt of wrong type', '{"prompt":42}', undefined, 400, 'invalid_request'],
  ['seed negative', '{"prompt":"dress","seed":-1}', undefined, 400, 'invalid_request'],
  ['seed too large', '{"prompt":"dress","seed":4294967296}', undefined, 400, 'invalid_request'],
  ['unknown field', '{"prompt":"dress","promt":"x"}', undefined, 400, 'invalid_request'],
  ['bad response_format', '{"prompt":"dress","response_format":"jpeg"}', undefined, 400, 'invalid_request'],
  ['size not square', '{"prompt":"dress","size":"28x64"}', undefined, 400, 'invalid_request'],
  ['size a word', '{"prompt":"dress","size":"big"}', undefined, 400, 'invalid_request'],
  ['unknown model', '{"prompt":"dress","model":"nope"}', undefined, 404, 'model_not_found'],
  ['unknown version', '{"prompt":"dress","model":"fashion-conv@v999"}', undefined, 404, 'model_not_found'],
  ['malformed model', '{"prompt":"dress","model":"Bad Model!"}', undefined, 400, 'invalid_request'],
  [
    'size the model cannot make',
    '{"prompt":"dress","model":"fashion-conv","size":64}',
    undefined,
    400,
    'unsupported_size',
  ],
  ['size with no default model', '{"prompt":"dress","size":100}', undefined, 400, 'unsupported_size'],
  ['body too large', JSON.stringify({ prompt: 'x'.repeat(20_000) }), undefined, 413, 'payload_too_large'],
];

describe('generation errors', () => {
  for (const [name, body, headers, status, code] of cases) {
    it(`${name} → ${status} ${code}`, async () => {
      const res = await call(body, headers);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/json');
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe(code);
      expect(json.error.message.length).toBeGreaterThan(5);
    });
  }

  it('lists the accepted words when no class is found', async () => {
    const json = (await (await call('{"prompt":"a red car"}')).json()) as {
      error: { details: { accepted: string[] } };
    };
    expect(json.error.details.accepted).toContain('dress');
  });

  it('answers unknown routes with JSON 404, and other methods on known paths with 405 + Allow', async () => {
    const unknown = await exports.default.fetch('http://edge/v2/nothing');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
    for (const [method, path, allow] of [
      ['GET', '/v1/images/generations', 'OPTIONS, POST'],
      ['DELETE', '/v1/models', 'GET, HEAD, OPTIONS'],
      ['PUT', '/v1/models/fashion-conv', 'GET, HEAD, OPTIONS'],
      ['GET', '/v1/models/alice/my-model/promote', 'OPTIONS, POST'],
    ] as const) {
      const res = await exports.default.fetch(`http://edge${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    }
  });

  it('takes OpenAI\'s "WxH" size form, and still documents every route in /openapi.json', async () => {
    const res = await call('{"prompt":"dress","size":"28x28","seed":1}');
    expect(res.status, await res.clone().text()).toBe(200);
    const doc = await exports.default.fetch('http://edge/openapi.json');
    expect(doc.status).toBe(200);
    const paths = Object.keys(((await doc.json()) as { paths: Record<string, unknown> }).paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/images/generations',
        '/v1/images/variations',
        '/v1/images/interpolations',
        '/v1/images/{file}',
        '/v1/models/{id}/promote',
        '/v1/embeddings',
      ]),
    );
  });

  it('quotes at most a short prefix of bad input and never names internal endpoints', async () => {
    const long = 'a'.repeat(100_000);
    const res = await exports.default.fetch(`http://edge/v1/models/${long}`);
    expect(res.status).toBe(400);
    expect((await res.text()).length).toBeLessThan(400);
    const missing = await exports.default.fetch('http://edge/v1/models/no-such-model');
    expect(missing.status).toBe(404);
    const text = await missing.text();
    expect(text).not.toMatch(/https?:\/\/|s3|r2|bundled/i);
  });
});
