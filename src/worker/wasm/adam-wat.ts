/**
 * The text of a WebAssembly module with one function, `adam`: the optimiser's step over float32
 * vectors in a shared memory (imported: the trainer's arena, src/worker/wasm/arena.ts), four
 * values at a time. The same arithmetic as `adamUpdate` in src/worker/train/adam.ts (which stays
 * for arrays outside an arena and for more than two replicas), in float32 as PyTorch's is:
 *
 *   g = w0·g0 + w1·g1 + wd·p;  m = b1·m + c1·g;  v = b2·v + c2·g²;  p = p − stepSize·m / (√v + eps)
 *
 * Why: in JavaScript the square root and division run in float64 one value at a time; over
 * fashion-fc's 1.17M parameters that was a quarter of a training step (docs/PERFORMANCE.md).
 */

const PARAMS = ['p', 'm', 'v', 'g0', 'g1', 'n'] as const;
const SCALARS = ['w0', 'w1', 'b1', 'b2', 'c1', 'c2', 'stepSize', 'eps', 'wd'] as const;

/** The update of one value (f32) or four (f32x4), reading and advancing the six pointers. */
function body(vector: boolean): string[] {
  const [T, op, width] = vector ? ['v128', 'f32x4', 16] : ['f32', 'f32', 4];
  const k = (name: string) => (vector ? `(local.get $${name}4)` : `(local.get $${name})`);
  const load = (ptr: string) => `(${T}.load (local.get $${ptr}))`;
  const mul = (a: string, b: string) => `(${op}.mul ${a} ${b})`;
  const plus = (a: string, b: string) => `(${op}.add ${a} ${b})`;
  return [
    `(local.set $x ${load('p')})`,
    `(local.set $g ${plus(plus(mul(k('w0'), load('g0')), mul(k('w1'), load('g1'))), mul(k('wd'), '(local.get $x)'))})`,
    `(local.set $mi ${plus(mul(k('b1'), load('m')), mul(k('c1'), '(local.get $g)'))})`,
    `(local.set $vi ${plus(mul(k('b2'), load('v')), mul(k('c2'), mul('(local.get $g)', '(local.get $g)')))})`,
    `(${T}.store (local.get $m) (local.get $mi))`,
    `(${T}.store (local.get $v) (local.get $vi))`,
    `(${T}.store (local.get $p) (${op}.sub (local.get $x) (${op}.div ${mul(k('stepSize'), '(local.get $mi)')} ${plus(`(${op}.sqrt (local.get $vi))`, k('eps'))})))`,
    ...['p', 'm', 'v', 'g0', 'g1'].map((q) => `(local.set $${q} (i32.add (local.get $${q}) (i32.const ${width})))`),
    `(local.set $n (i32.sub (local.get $n) (i32.const ${vector ? 4 : 1})))`,
  ];
}

export function adamWat(): string {
  const params = [...PARAMS.map((p) => `(param $${p} i32)`), ...SCALARS.map((s) => `(param $${s} f32)`)].join(' ');
  const locals = [
    ...SCALARS.map((s) => `(local $${s}4 v128)`),
    '(local $x v128) (local $g v128) (local $mi v128) (local $vi v128)',
    '(local $xs f32) (local $gs f32) (local $ms f32) (local $vs f32)',
  ].join(' ');
  const scalarBody = body(false).map((line) =>
    line
      .replace(/\$x\b/g, '$xs')
      .replace(/\$g\b/g, '$gs')
      .replace(/\$mi\b/g, '$ms')
      .replace(/\$vi\b/g, '$vs'),
  );
  return [
    '(module',
    '(import "env" "memory" (memory 1 65536 shared))',
    `(func (export "adam") ${params}`,
    `  ${locals}`,
    ...SCALARS.map((s) => `  (local.set $${s}4 (f32x4.splat (local.get $${s})))`),
    '  (block $vdone (loop $v4',
    '    (br_if $vdone (i32.lt_u (local.get $n) (i32.const 4)))',
    ...body(true).map((l) => `    ${l}`),
    '    (br $v4)))',
    '  (block $sdone (loop $s1',
    '    (br_if $sdone (i32.eqz (local.get $n)))',
    ...scalarBody.map((l) => `    ${l}`),
    '    (br $s1)))',
    ')',
    ')',
  ].join('\n');
}
