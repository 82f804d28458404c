import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '../..');

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.end();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

/**
 * README: "Ctrl-C or SIGTERM stops everything". A supervisor signals the process it started,
 * `npm`: npm passes SIGTERM to its script's shell, and a shell waiting on `node` does not pass it
 * on, so the scripts `exec` the CLI (package.json) and npm's signal reaches it.
 */
describe('npm run cvae under a supervisor', () => {
  it('stops the CLI when npm gets SIGTERM', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'npm-signal-'));
    const npm = spawn('npm', ['run', '--silent', 'cvae', '--', 's3', 'serve', '--port', String(port), '--dir', dir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout.on('data', (d) => (out += d));
    for (let i = 0; i < 100 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await listening(port), out).toBe(true);
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    npm.kill('SIGTERM');
    await exited;
    let open = true;
    for (let i = 0; i < 50 && open; i++) {
      open = await listening(port);
      if (open) await new Promise((r) => setTimeout(r, 100));
    }
    // leave no server behind if it failed (its command line holds the test's folder)
    if (open) spawnSync('pkill', ['-f', dir]);
    expect(open, 'the S3 server still answers after npm got SIGTERM').toBe(false);
  }, 30_000);
});
