import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cvae } from '../helpers/cvae-cli.js';

// `cvae experiment table2` as users run it, shrunk: 40 generated scenes, the tiny CLIP graph,
// 64 px only, one epoch. The defaults' hour-long run is in the README.
describe('cvae experiment table2', () => {
  it('trains and scores add and concat on synthetic data: MSE, SSIM, FID, caption following, β, figures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'table2-'));
    const data = join(dir, 'synth');
    const clip = join(dir, 'clip');
    const out = join(dir, 'out');
    expect((await cvae('datasets', 'synth-coco', '--out', data, '--images', '40', '--size', '64')).code).toBe(0);
    expect((await cvae('clip', 'generate', '--config', 'tiny', '--out', clip)).code).toBe(0);
    // the same data, encoder and training options for every run below
    const common = [
      '--data',
      data,
      '--clip',
      clip,
      '--epochs',
      '1',
      '--kl-weight',
      '5',
      '--eval-limit',
      '4',
      '--out',
      out,
    ];
    const r = await cvae('experiment', 'table2', '--sizes', '64', ...common);
    expect(r.code, r.stderr).toBe(0);
    const table = readFileSync(join(out, 'table2.md'), 'utf8');
    for (const join_ of ['add', 'concat']) {
      const row = table.split('\n').find((l) => l.startsWith(`| coco-64-${join_} |`));
      expect(row, table).toBeDefined();
      const cells = (row as string).split('|').map((c) => c.trim());
      expect(Number(cells[4])).toBeGreaterThan(0); // MSE
      expect(cells[9]).toMatch(/^\d+% \/ \d+% \/ \d+% \/ \d+%$/); // caption following, read back
      expect(cells[10]).toBe('1'); // epochs
      expect(cells[11]).toBe('5'); // β from --kl-weight
      expect(existsSync(join(out, `coco-64-${join_}`, 'generations.png'))).toBe(true);
      expect(existsSync(join(out, `coco-64-${join_}`, 'reconstructions.png'))).toBe(true);
    }
    const json = JSON.parse(readFileSync(join(out, 'table2.json'), 'utf8'));
    // FIDs print to 3 significant digits, however small the extractor's scale makes them
    const fidCell = (table.split('\n').find((l) => l.startsWith('| coco-64-add |')) as string).split('|')[7]?.trim();
    expect(fidCell).toBe(Number(json.rows[0].report.fidGenerated).toPrecision(3));
    expect(json.rows[0].captionFollowing.prompts).toBe(54);
    expect(json.rows[0].captionFollowing.images).toBe(216);

    // --models with --resume: one model re-scored from its finished checkpoint (no training), the
    // other's row kept as it was
    const rowOf = (t: string, id: string) => t.split('\n').find((l) => l.startsWith(`| ${id} |`));
    const again = await cvae('experiment', 'table2', '--models', 'coco-64-concat', '--resume', ...common);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/coco-64-add/);
    const second = readFileSync(join(out, 'table2.md'), 'utf8');
    expect(rowOf(second, 'coco-64-add')).toBe(rowOf(table, 'coco-64-add'));
    expect(rowOf(second, 'coco-64-concat')).toBe(rowOf(table, 'coco-64-concat'));
    expect(
      JSON.parse(readFileSync(join(out, 'table2.json'), 'utf8')).rows.map((r: { model: string }) => r.model),
    ).toEqual(['coco-64-add', 'coco-64-concat']);

    const bad = await cvae('experiment', 'table2', '--models', 'coco-64-blend', '--out', out);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--models: 'coco-64-blend' is not one of coco-64-add, coco-64-concat/);
  });
});
