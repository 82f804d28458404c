import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describeCvae, type ParamInfo } from '../../src/shared/arch/shapes.js';
import type { CvaeSpec } from '../../src/shared/arch/spec.js';

/**
 * Runs the PyTorch reference (cvae_reference.py) on a catalogue spec. The spec and its parameter
 * list go in as JSON, so the Python side interprets the project's own description and checks its
 * tensors against the list before it times anything.
 */
const SCRIPT = fileURLToPath(new URL('./cvae_reference.py', import.meta.url));
/** Debian's python3-torch lives under /usr/bin/python3, which a pyenv or venv `python3` may shadow. */
const CANDIDATES = process.env.BENCH_PYTHON ? [process.env.BENCH_PYTHON] : ['python3', '/usr/bin/python3'];
let python: string | undefined;

export interface ReferenceResult {
  model: string;
  parameters: number;
  threads: number;
  imagesPerSecond: number;
  byThreads: Record<string, number>;
  torch: string;
}

/** true, or why the PyTorch column cannot be measured here. */
export function referenceAvailable(): true | string {
  python = CANDIDATES.find((p) => spawnSync(p, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
  if (python) return true;
  return `no torch for ${CANDIDATES.join(' or ')} (Debian: apt-get install python3-torch; or set BENCH_PYTHON)`;
}

/** the python that has torch (after `referenceAvailable()` found one), for other reference scripts */
export function referencePython(): string | undefined {
  return python;
}

/**
 * One run of the reference script. torch's own threads (1 or 2) do the parallel work; OpenBLAS'
 * pool on top of them oversubscribes the 2 cores (measured: fashion-fc 4,746 → 5,527 images/s
 * with it off), so it is held to one thread.
 */
function runReference(job: object, what: string): string[] {
  if (!python && referenceAvailable() !== true) throw new Error('no python3 with torch');
  const out = spawnSync(python as string, [SCRIPT], {
    input: JSON.stringify(job),
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  if (out.status !== 0) throw new Error(`PyTorch reference failed for ${what}: ${out.stderr || out.error}`);
  return out.stdout.trim().split('\n');
}

export function referenceThroughput(
  spec: CvaeSpec,
  run: { batch: number; steps: number; warmup: number; threads?: number[]; checkOnly?: boolean },
  params: ParamInfo[] = describeCvae(spec).params,
): ReferenceResult {
  const lines = runReference({ spec, params, threads: [1, 2], ...run }, spec.id);
  const result = JSON.parse(lines.at(-1) as string) as ReferenceResult;
  const expected = describeCvae(spec).parameterCount;
  if (result.parameters !== expected) {
    throw new Error(`PyTorch reference of ${spec.id} has ${result.parameters} parameters, the catalogue ${expected}`);
  }
  return result;
}

/** The catalogue check and one training step at batch 2 for each spec, in one Python process. */
export function referenceChecks(specs: CvaeSpec[]): { model: string; parameters: number }[] {
  const job = { checks: specs.map((spec) => ({ spec, params: describeCvae(spec).params })) };
  return runReference(job, specs.map((s) => s.id).join(', ')).map(
    (line) => JSON.parse(line) as { model: string; parameters: number },
  );
}
