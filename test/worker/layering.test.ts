import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering rules of docs/ARCHITECTURE.md are lint rules (biome.json, noRestrictedImports):
// each deliberate violation below fails `biome lint` with the configuration the repository uses,
// in a scratch tree, so the working tree is never touched.
const ROOT = join(__dirname, '../..');
const BIOME = join(ROOT, 'node_modules/.bin/biome');

function lint(files: Record<string, string>): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'layering-'));
  copyFileSync(join(ROOT, 'biome.json'), join(dir, 'biome.json'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  try {
    return { ok: true, output: execFileSync(BIOME, ['lint', '.'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' }) };
  } catch (error) {
    const e = error as { stdout: string; stderr: string };
    return { ok: false, output: `${e.stdout}${e.stderr}` };
  }
}

describe('layering lint rules', () => {
  it.each([
    ['src/shared/x.ts', "import { a } from '../worker/cli/main.js';", 'imports neither side'],
    ['src/shared/api/x.ts', "import { a } from '../../edge/config.js';", 'imports neither side'],
    ['src/shared/x.ts', "import { readFileSync as a } from 'node:fs';", 'no node: module'],
    ['src/edge/x.ts', "import { a } from '../worker/registry/registry.js';", 'never imports src/worker'],
    ['src/worker/jobs/x.ts', "import { a } from '../lab/table1.js';", 'never imports lab code'],
    ['src/worker/eval/x.ts', "import { a } from '../lab/caption-following.js';", 'never imports lab code'],
  ])('%s: %s fails', (path, line, message) => {
    const result = lint({ [path]: `${line}\nexport const b = a;\n` });
    expect(result.ok).toBe(false);
    expect(result.output).toContain('noRestrictedImports');
    expect(result.output).toContain(message);
  });

  it('allows what the layers may import', () => {
    const result = lint({
      'src/worker/jobs/x.ts': "import { a } from '../../shared/errors.js';\nexport const b = a;\n",
      'src/edge/x.ts': "import { a } from '../shared/errors.js';\nexport const b = a;\n",
      'src/worker/cli/experiment-command.ts': "import { a } from '../lab/table1.js';\nexport const b = a;\n",
    });
    expect(result.output).not.toContain('noRestrictedImports');
  });
});
