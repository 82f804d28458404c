import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLIP_VOCAB_PATH, generateClipPackage } from '../../src/worker/clip/local-encoder.js';

// SIGTERM (what a container stop, systemd or `timeout` sends) stops each long-running command
// cleanly: exit 0 within a bounded time, with nothing left running. The training worker's own
// SIGTERM (finish the epoch, keep the checkpoint, hand the job back) is in jobs-e2e.test.ts.
const started: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function cvae(args: string[], env: Record<string, string> = {}) {
  const child = spawn('node', ['bin/cvae.mjs', ...args], { env: { ...process.env, ...env } });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d;
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d;
  });
  const waitFor = async (pattern: RegExp, seconds: number) => {
    for (let i = 0; i < seconds * 10; i++) {
      const m = output.match(pattern);
      if (m) return m;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no ${pattern} in:\n${output}`);
  };
  const exited = new Promise<{ code: number | null; signal: string | null; ms: number }>((resolve) => {
    let since = 0;
    child.once('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - since }));
    child.kill = ((kill) => (signal?: NodeJS.Signals | number) => {
      since = Date.now();
      return kill(signal);
    })(child.kill.bind(child));
  });
  return { child, waitFor, exited, output: () => output };
}

/** Every process in `pid`'s tree (from /proc), to check that none outlives it. */
async function tree(pid: number): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [child, parent] of parents) if (parent === out[i]) out.push(child);
  return out;
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('SIGTERM', () => {
  it('cvae serve finishes the request in flight, refuses new connections and exits 0', async () => {
    const serve = cvae(['serve', '--port', '0']);
    const [, url] = await serve.waitFor(/cvae serve: (http:\/\/\S+)/, 60);
    const generate = (n: number) =>
      fetch(`${url}/v1/images/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'a dress', n, seed: 1 }),
      });
    expect((await generate(1)).status).toBe(200);
    // a request in flight when the signal comes: its headers are in, its body still arriving
    let push: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        push = controller;
      },
    });
    const inFlight = fetch(`${url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    push?.enqueue(new TextEncoder().encode('{"prompt":"a dress",'));
    await new Promise((r) => setTimeout(r, 300));
    serve.child.kill('SIGTERM');
    await serve.waitFor(/cvae serve: stopping/, 10);
    push?.enqueue(new TextEncoder().encode('"n":4,"seed":1}'));
    push?.close();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { data: unknown[] }).data).toHaveLength(4);
    const { code, ms } = await serve.exited;
    expect(code, serve.output()).toBe(0);
    expect(ms).toBeLessThan(15_000);
    await expect(generate(1)).rejects.toThrow();
  }, 90_000);

  it('npm start (cvae stack) stops all of its processes and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-signal-'));
    dirs.push(dir);
    // a tiny text encoder keeps this test from making the full-size one (the stack then says it
    // does not serve the shipped long-text models, which were trained with that one)
    const clip = join(dir, 'clip');
    await generateClipPackage({ config: 'tiny', seed: 1, vocab: CLIP_VOCAB_PATH, out: clip, compact: false });
    const stack = cvae([
      'stack',
      '--text-encoder',
      clip,
      '--dir',
      dir,
      '--edge-port',
      '0',
      '--serve-port',
      '0',
      '--s3-port',
      '0',
      '--worker-metrics-port',
      '0',
    ]);
    await stack.waitFor(/cvae-edge is running/, 240);
    expect(stack.output()).toMatch(
      /not serving the shipped coco-64-concat: it is conditioned on clip-vit-b32-text@random-full-s1/,
    );
    await stack.waitFor(/polling http/, 60);
    const processes = await tree(stack.child.pid as number);
    // the stack itself, workerd, the training worker at least
    expect(processes.length).toBeGreaterThanOrEqual(3);
    stack.child.kill('SIGTERM');
    const { code, ms } = await stack.exited;
    expect(code, stack.output()).toBe(0);
    expect(ms).toBeLessThan(30_000);
    expect(stack.output()).toMatch(/stack: stopped/);
    // helpers (esbuild's service) end when their parent's pipes close: give them a moment
    for (let i = 0; i < 50 && processes.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    const { readFileSync } = await import('node:fs');
    const left = processes
      .filter(alive)
      .map((pid) => `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    expect(left).toEqual([]);
  }, 300_000);
});
