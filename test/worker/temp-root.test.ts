import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The benchmarks' and the test run's temporary folders (scripts/temp-root.ts): everything a
// process and its children put in TMPDIR is gone when it exits.
const script = `
  import { mkdtempSync, writeFileSync } from 'node:fs';
  import { tmpdir } from 'node:os';
  import { join } from 'node:path';
  import { useTempRoot } from ${JSON.stringify(join(__dirname, '../../scripts/temp-root.ts'))};
  const root = useTempRoot('CVAE_TEMP_ROOT_TEST', 'temp-root-test-');
  const inner = mkdtempSync(join(tmpdir(), 'made-by-a-bench-'));
  writeFileSync(join(inner, 'big.bin'), new Uint8Array(1024));
  console.log(JSON.stringify({ root, inner, again: useTempRoot('CVAE_TEMP_ROOT_TEST', 'other-') }));
`;

describe('useTempRoot', () => {
  it('puts the temporary folders of a process under one, removed when it exits', () => {
    const env = { ...process.env, CVAE_TEMP_ROOT_TEST: '' };
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env,
      encoding: 'utf8',
    });
    const { root, inner, again } = JSON.parse(out) as { root: string; inner: string; again: string };
    expect(inner.startsWith(`${root}/`)).toBe(true); // tmpdir() now answers the root
    expect(again).toBe(root); // a second call (or a child process) keeps the same root
    expect(existsSync(root)).toBe(false);
  });
});
