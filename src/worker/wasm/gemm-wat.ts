import { add, get, loop, set } from './wat.js';

/**
 * The text of a WebAssembly module of float32 matrix products for training, over tfjs' own wasm
 * memory (imported), so tensors are read and written where the backend keeps them.
 *
 * Why: tfjs-backend-wasm hands every product to XNNPACK, which first packs the right operand into
 * its own layout through a new operator, caching it by tensor; in training every weight and every
 * gradient is a new tensor each step, so every product pays for that, about 3.5 transposes a value
 * (docs/PERFORMANCE.md, "Products with the small operand packed"), and a transposed operand costs
 * a copy more. Here one kernel takes each operand as it lies:
 *
 *   `gemm`: C (+)= A·B, C row-major; A(i, k) at a + i·rs + k·ks and B(k, j) at b + k·bk + j·bj
 *   (bytes), so x·W, xᵀ·dy and dy·Wᵀ (every product of a dense layer's step) are one kernel.
 *
 * K is cut into blocks of KC (C accumulates across them). For each block and panel of 8 columns,
 * B's slice is copied to a small contiguous panel (transposed on the way when B is stored that
 * way), then register tiles of 4 rows × 8 columns run over it: per k, two vector loads of the
 * panel, four broadcasts of A, eight multiplies and adds. Smaller tiles take the edges.
 */

const KC = 256;
/** `gemm` as JavaScript calls it: C (+)= A·B, addresses and strides in bytes (see above) */
export type GemmFunction = (
  a: number,
  rs: number,
  ks: number,
  b: number,
  bk: number,
  bj: number,
  c: number,
  ldc: number,
  m: number,
  n: number,
  k: number,
  accumulate: number,
  panel: number,
) => void;

/** the scratch `gemm` needs for its panel (its last argument): KC rows of 8 floats */
export const PANEL_BYTES = KC * 32;

const NN_ROWS = [4, 3, 2, 1];
const NN_COLS = [8, 4, 1];

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** C[mr × nr] (+)= A·B over kc values of k; nr 8 and 4 as vectors, 1 as scalars. */
function nnTile(mr: number, nr: number): string {
  const vector = nr >= 4;
  const lanes = vector ? nr / 4 : 1;
  const [T, fadd, fmul] = vector ? ['v128', 'f32x4.add', 'f32x4.mul'] : ['f32', 'f32.add', 'f32.mul'];
  const c = (r: number, v: number) => `c${r}_${v}`;
  const locals = [
    ...range(mr).map((r) => `(local $p${r} i32)`),
    ...range(mr).flatMap((r) => range(lanes).map((v) => `(local $${c(r, v)} ${T})`)),
    ...range(lanes).map((v) => `(local $b${v} ${T})`),
    `(local $a ${T}) (local $k i32)`,
  ];
  const body = [
    ...range(lanes).map((v) => set(`b${v}`, `(${T}.load offset=${v * 16} ${get('pb')})`)),
    ...range(mr).flatMap((r) => [
      set('a', vector ? `(v128.load32_splat ${get(`p${r}`)})` : `(f32.load ${get(`p${r}`)})`),
      ...range(lanes).map((v) => set(c(r, v), `(${fadd} ${get(c(r, v))} (${fmul} ${get('a')} ${get(`b${v}`)}))`)),
      set(`p${r}`, add(get(`p${r}`), get('ks'))),
    ]),
    set('pb', add(get('pb'), '(i32.const 32)')),
    set('k', `(i32.sub ${get('k')} (i32.const 1))`),
  ];
  const store = range(mr).flatMap((r) => [
    ...range(lanes).flatMap((v) => [
      `(if ${get('acc')} (then ${set(c(r, v), `(${fadd} ${get(c(r, v))} (${T}.load offset=${v * 16} ${get('pc')}))`)}))`,
      `(${T}.store offset=${v * 16} ${get('pc')} ${get(c(r, v))})`,
    ]),
    set('pc', add(get('pc'), get('ldc'))),
  ]);
  return [
    `(func $nn${mr}x${nr} (param $pa i32) (param $rs i32) (param $ks i32) (param $pb i32)`,
    `    (param $pc i32) (param $ldc i32) (param $kc i32) (param $acc i32)`,
    ...locals.map((l) => `  ${l}`),
    ...range(mr).map((r) => `  ${set(`p${r}`, add(get('pa'), `(i32.mul ${get('rs')} (i32.const ${r}))`))}`),
    ...(vector
      ? range(mr).flatMap((r) => range(lanes).map((v) => `  ${set(c(r, v), '(v128.const i32x4 0 0 0 0)')}`))
      : []),
    `  ${set('k', get('kc'))}`,
    ...loop('k', `(i32.eqz ${get('k')})`, body).map((l) => `  ${l}`),
    ...store.map((l) => `  ${l}`),
    ')',
  ].join('\n');
}

/** `if (mr == m && nr == n) call tile` for every tile shape: the drivers' dispatch. */
const dispatch = (rows: number[], cols: number[], call: (m: number, n: number) => string) =>
  rows.flatMap((m) =>
    cols.map(
      (n) =>
        `(if (i32.and (i32.eq ${get('mr')} (i32.const ${m})) (i32.eq ${get('nr')} (i32.const ${n}))) (then ${call(m, n)}))`,
    ),
  );

/** `x = min(x, cap)`, or for column tiles the largest of `sizes` that fits. */
const largestFitting = (name: string, left: string, sizes: number[]) =>
  set(
    name,
    sizes
      .slice(0, -1)
      .reduceRight(
        (rest, size) =>
          `(if (result i32) (i32.ge_u ${left} (i32.const ${size})) (then (i32.const ${size})) (else ${rest}))`,
        `(i32.const ${sizes[sizes.length - 1]})`,
      ),
  );

/** i8x16.shuffle's byte indices for 32-bit lanes (0-3: first operand, 4-7: second). */
const lanes32 = (...lanes: number[]) => lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ');

/**
 * Copies B's panel of columns j..j+nr over kc values of k to `to`, one row of 32 bytes per k: the
 * layout the tiles read, contiguous, so a panel stays in L1 whatever B's row length (a row length
 * of a power of two maps a column of B onto a few cache sets). Made once per block and panel,
 * read by every row tile. `from` is B(k0, j); rows of B (`bk` bytes apart) either hold the panel's
 * columns side by side, or, when B is stored transposed (`bk` = 4), each column is a row of the
 * stored matrix (`bj` bytes apart) and the copy transposes 4 × 4 blocks in registers.
 */
function packPanel(): string {
  const rowCopy = (n: number) =>
    loop(`r${n}`, `(i32.eqz ${get('k')})`, [
      ...(n === 1
        ? [`(f32.store ${get('to')} (f32.load ${get('from')}))`]
        : range(n / 4).map(
            (v) => `(v128.store offset=${v * 16} ${get('to')} (v128.load offset=${v * 16} ${get('from')}))`,
          )),
      set('from', add(get('from'), get('bk'))),
      set('to', add(get('to'), '(i32.const 32)')),
      set('k', `(i32.sub ${get('k')} (i32.const 1))`),
    ]);
  // transposed: four stored rows (= four columns of B) at a time, four k per pass, then the k left
  const rowOf = (q: number) => add(get('src'), `(i32.mul ${get('bj')} (i32.const ${q}))`);
  const shuffle = (x: string, y: string, l: number[]) => `(i8x16.shuffle ${lanes32(...l)} ${get(x)} ${get(y)})`;
  const columnGroup = (g: number) => [
    set('src', add(get('from'), `(i32.mul ${get('bj')} (i32.const ${4 * g}))`)),
    set('dst', add(get('to'), `(i32.const ${16 * g})`)),
    set('left', get('k')),
    ...loop(`t${g}`, `(i32.lt_u ${get('left')} (i32.const 4))`, [
      ...range(4).map((q) => set(`x${q}`, `(v128.load ${rowOf(q)})`)),
      set('y0', shuffle('x0', 'x1', [0, 4, 1, 5])),
      set('y1', shuffle('x0', 'x1', [2, 6, 3, 7])),
      set('y2', shuffle('x2', 'x3', [0, 4, 1, 5])),
      set('y3', shuffle('x2', 'x3', [2, 6, 3, 7])),
      `(v128.store offset=0 ${get('dst')} ${shuffle('y0', 'y2', [0, 1, 4, 5])})`,
      `(v128.store offset=32 ${get('dst')} ${shuffle('y0', 'y2', [2, 3, 6, 7])})`,
      `(v128.store offset=64 ${get('dst')} ${shuffle('y1', 'y3', [0, 1, 4, 5])})`,
      `(v128.store offset=96 ${get('dst')} ${shuffle('y1', 'y3', [2, 3, 6, 7])})`,
      set('src', add(get('src'), '(i32.const 16)')),
      set('dst', add(get('dst'), '(i32.const 128)')),
      set('left', `(i32.sub ${get('left')} (i32.const 4))`),
    ]),
    ...loop(`u${g}`, `(i32.eqz ${get('left')})`, [
      ...range(4).map((q) => `(f32.store offset=${4 * q} ${get('dst')} (f32.load ${rowOf(q)}))`),
      set('src', add(get('src'), '(i32.const 4)')),
      set('dst', add(get('dst'), '(i32.const 32)')),
      set('left', `(i32.sub ${get('left')} (i32.const 1))`),
    ]),
  ];
  const columnCopy = (n: number) =>
    n === 1
      ? loop('c1', `(i32.eqz ${get('k')})`, [
          `(f32.store ${get('to')} (f32.load ${get('from')}))`,
          set('from', add(get('from'), '(i32.const 4)')),
          set('to', add(get('to'), '(i32.const 32)')),
          set('k', `(i32.sub ${get('k')} (i32.const 1))`),
        ])
      : range(n / 4).flatMap(columnGroup);
  return [
    '(func $pack (param $from i32) (param $bk i32) (param $bj i32) (param $to i32) (param $k i32) (param $nr i32)',
    '  (local $src i32) (local $dst i32) (local $left i32)',
    '  (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)',
    '  (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)',
    `  (if (i32.ne ${get('bk')} (i32.const 4)) (then`,
    ...NN_COLS.map((n) => `    (if (i32.eq ${get('nr')} (i32.const ${n})) (then ${rowCopy(n).join(' ')}))`),
    '  ) (else',
    ...NN_COLS.map((n) => `    (if (i32.eq ${get('nr')} (i32.const ${n})) (then ${columnCopy(n).join(' ')}))`),
    '  ))',
    ')',
  ].join('\n');
}

function nnDriver(): string {
  const params =
    '(param $pa i32) (param $rs i32) (param $ks i32) (param $pb i32) (param $bk i32) (param $bj i32) (param $pc i32) (param $ldc i32)' +
    ' (param $M i32) (param $N i32) (param $K i32) (param $acc0 i32) (param $panel i32)';
  const locals =
    '(local $k0 i32) (local $kc i32) (local $acc i32) (local $j i32) (local $i i32) (local $mr i32) (local $nr i32)' +
    ' (local $pak i32) (local $pbk i32) (local $pbj i32) (local $pcj i32)';
  const tile = (m: number, n: number) =>
    `(call $nn${m}x${n} ${add(get('pak'), `(i32.mul ${get('i')} ${get('rs')})`)} ${get('rs')} ${get('ks')} ${get('panel')} ${add(get('pcj'), `(i32.mul ${get('i')} ${get('ldc')})`)} ${get('ldc')} ${get('kc')} ${get('acc')})`;
  const rows = [
    largestFitting('mr', `(i32.sub ${get('M')} ${get('i')})`, NN_ROWS),
    ...dispatch(NN_ROWS, NN_COLS, tile),
    set('i', add(get('i'), get('mr'))),
  ];
  const columns = [
    largestFitting('nr', `(i32.sub ${get('N')} ${get('j')})`, NN_COLS),
    set('pbj', add(get('pbk'), `(i32.mul ${get('j')} ${get('bj')})`)),
    `(call $pack ${get('pbj')} ${get('bk')} ${get('bj')} ${get('panel')} ${get('kc')} ${get('nr')})`,
    set('pcj', add(get('pc'), `(i32.shl ${get('j')} (i32.const 2))`)),
    set('i', '(i32.const 0)'),
    ...loop('i', `(i32.ge_u ${get('i')} ${get('M')})`, rows),
    set('j', add(get('j'), get('nr'))),
  ];
  const blocks = [
    set('kc', `(i32.sub ${get('K')} ${get('k0')})`),
    `(if (i32.gt_u ${get('kc')} (i32.const ${KC})) (then ${set('kc', `(i32.const ${KC})`)}))`,
    set('acc', `(i32.or ${get('acc0')} (i32.ne ${get('k0')} (i32.const 0)))`),
    set('pak', add(get('pa'), `(i32.mul ${get('k0')} ${get('ks')})`)),
    set('pbk', add(get('pb'), `(i32.mul ${get('k0')} ${get('bk')})`)),
    set('j', '(i32.const 0)'),
    ...loop('j', `(i32.ge_u ${get('j')} ${get('N')})`, columns),
    set('k0', add(get('k0'), get('kc'))),
  ];
  return [
    `(func (export "gemm") ${params}`,
    `  ${locals}`,
    ...loop('kb', `(i32.ge_u ${get('k0')} ${get('K')})`, blocks).map((l) => `  ${l}`),
    ')',
  ].join('\n');
}

/**
 * The module's text: `gemm` and any `functions` that call or sit beside it. `memory` describes the
 * memory it imports as env.memory: a shared memory (tfjs' threaded build) must be imported as
 * shared, with a maximum.
 */
export function gemmWat(memory: { shared: boolean }, functions: string[] = []): string {
  const limits = memory.shared ? '1 65536 shared' : '1';
  return [
    '(module',
    `(import "env" "memory" (memory ${limits}))`,
    ...NN_ROWS.flatMap((m) => NN_COLS.map((n) => nnTile(m, n))),
    packPanel(),
    nnDriver(),
    ...functions,
    ')',
  ].join('\n');
}
