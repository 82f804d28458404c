import { add, get, loop, set } from './wat.js';

/**
 * The text of training batch norm's passes (with an optional ReLU after it) over an activation
 * x [rows, C], C a multiple of 4, for src/worker/tf/kernels/batch-norm-train.ts, which computes
 * the per-channel constants between the passes. Addresses in bytes; per-channel arrays of C
 * values (f32, or f64 where they are sums).
 *
 *   bnSums(x, rows, C, sums, squares)                         Σd, Σd² per channel, d = x − x's first row, added to f64 arrays
 *   bnApply(x, y, rows, C, a, shift, relu)                    y = x·a + shift (then max(0, ·))
 *   bnGradSums(dy, x, y, rows, C, mean, relu, sumG, sumGc)    Σg, Σg·(x − mean), g = dy (0 where y ≤ 0 with relu)
 *   bnGradApply(dy, x, y, dx, rows, C, a, k1, k0, relu)       dx = a·g − k1·x + k0
 *
 * The sums run down each group of four channels over blocks of BLOCK rows (the block stays in L1
 * for the next group) in float32 vectors, and each block's sums are added to float64 totals, so a
 * million rows keep the precision the variance needs.
 */
const BLOCK = 256;

const HIGH_TO_LOW = 'i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7';
/** adds the four f32 lanes of `v` to the four f64 values at `at` */
const addToTotals = (at: string, v: string) => [
  `(v128.store ${at} (f64x2.add (v128.load ${at}) (f64x2.promote_low_f32x4 ${v})))`,
  `(v128.store offset=16 ${at} (f64x2.add (v128.load offset=16 ${at}) (f64x2.promote_low_f32x4 (${HIGH_TO_LOW} ${v} ${v}))))`,
];

/**
 * The block walk of the two sum passes: `perRow` computes the two vectors to add (into $s1, $s2)
 * from the row's group at $p (and $py, $pd for the other arrays, same offsets).
 */
function sums(name: string, params: string, perRow: string[], totals: [string, string], before: string[] = []): string {
  return [
    `(func (export "${name}") ${params}`,
    '  (local $r0 i32) (local $n i32) (local $g i32) (local $k i32) (local $stride i32) (local $off i32)',
    '  (local $s1 v128) (local $s2 v128) (local $v v128) (local $m v128)',
    `  ${set('stride', `(i32.shl ${get('c')} (i32.const 2))`)}`,
    ...loop('blocks', `(i32.ge_u ${get('r0')} ${get('rows')})`, [
      set('n', `(i32.sub ${get('rows')} ${get('r0')})`),
      `(if (i32.gt_u ${get('n')} (i32.const ${BLOCK})) (then ${set('n', `(i32.const ${BLOCK})`)}))`,
      set('g', '(i32.const 0)'),
      ...loop('groups', `(i32.ge_u ${get('g')} ${get('c')})`, [
        set('s1', '(v128.const i32x4 0 0 0 0)'),
        set('s2', '(v128.const i32x4 0 0 0 0)'),
        ...before,
        set('off', `(i32.shl ${add(`(i32.mul ${get('r0')} ${get('c')})`, get('g'))} (i32.const 2))`),
        set('k', get('n')),
        ...loop('rows', `(i32.eqz ${get('k')})`, [
          ...perRow,
          set('off', add(get('off'), get('stride'))),
          set('k', `(i32.sub ${get('k')} (i32.const 1))`),
        ]),
        ...addToTotals(add(get(totals[0]), `(i32.shl ${get('g')} (i32.const 3))`), get('s1')),
        ...addToTotals(add(get(totals[1]), `(i32.shl ${get('g')} (i32.const 3))`), get('s2')),
        set('g', add(get('g'), '(i32.const 4)')),
      ]),
      set('r0', add(get('r0'), get('n'))),
    ]).map((l) => `  ${l}`),
    ')',
  ].join('\n');
}

/** The elementwise walk of the two apply passes, every value once, with ReLU or without. */
function apply(name: string, params: string, value: (relu: boolean) => string[]): string {
  const walk = (relu: boolean) =>
    loop(relu ? 'relu_rows' : 'rows', `(i32.ge_u ${get('r')} ${get('rows')})`, [
      set('g', '(i32.const 0)'),
      ...loop(relu ? 'relu_groups' : 'groups', `(i32.ge_u ${get('g')} ${get('c')})`, [
        set('pc', `(i32.shl ${get('g')} (i32.const 2))`),
        ...value(relu),
        set('off', add(get('off'), '(i32.const 16)')),
        set('g', add(get('g'), '(i32.const 4)')),
      ]),
      set('r', add(get('r'), '(i32.const 1)')),
    ]);
  return [
    `(func (export "${name}") ${params}`,
    '  (local $r i32) (local $g i32) (local $off i32) (local $pc i32) (local $v v128) (local $gr v128)',
    `  (if ${get('relu')} (then`,
    ...walk(true).map((l) => `    ${l}`),
    '  ) (else',
    ...walk(false).map((l) => `    ${l}`),
    '  ))',
    ')',
  ].join('\n');
}

const at = (base: string, offset = 'off') => add(get(base), get(offset));
const load = (base: string, offset = 'off') => `(v128.load ${at(base, offset)})`;
const ZERO = '(v128.const i32x4 0 0 0 0)';
/** dy where y > 0 */
const masked = (dy: string, y: string) => `(v128.and ${dy} (f32x4.gt ${y} ${ZERO}))`;

export function batchNormFunctions(): string[] {
  return [
    sums(
      'bnSums',
      '(param $x i32) (param $rows i32) (param $c i32) (param $sums i32) (param $squares i32)',
      [
        set('v', `(f32x4.sub ${load('x')} ${get('m')})`),
        set('s1', `(f32x4.add ${get('s1')} ${get('v')})`),
        set('s2', `(f32x4.add ${get('s2')} (f32x4.mul ${get('v')} ${get('v')}))`),
      ],
      ['sums', 'squares'],
      [set('m', `(v128.load ${add(get('x'), `(i32.shl ${get('g')} (i32.const 2))`)})`)],
    ),
    apply(
      'bnApply',
      '(param $x i32) (param $y i32) (param $rows i32) (param $c i32) (param $a i32) (param $shift i32) (param $relu i32)',
      (relu) => {
        const v = `(f32x4.add (f32x4.mul ${load('x')} ${load('a', 'pc')}) ${load('shift', 'pc')})`;
        return [`(v128.store ${at('y')} ${relu ? `(f32x4.max ${v} ${ZERO})` : v})`];
      },
    ),
    sums(
      'bnGradSums',
      '(param $dy i32) (param $x i32) (param $y i32) (param $rows i32) (param $c i32) (param $mean i32) (param $relu i32) (param $sumG i32) (param $sumGc i32)',
      [
        set('v', load('dy')),
        `(if ${get('relu')} (then ${set('v', masked(get('v'), load('y')))}))`,
        set('s1', `(f32x4.add ${get('s1')} ${get('v')})`),
        set('s2', `(f32x4.add ${get('s2')} (f32x4.mul ${get('v')} (f32x4.sub ${load('x')} ${get('m')})))`),
      ],
      ['sumG', 'sumGc'],
      [set('m', `(v128.load ${add(get('mean'), `(i32.shl ${get('g')} (i32.const 2))`)})`)],
    ),
    apply(
      'bnGradApply',
      '(param $dy i32) (param $x i32) (param $y i32) (param $dx i32) (param $rows i32) (param $c i32) (param $a i32) (param $k1 i32) (param $k0 i32) (param $relu i32)',
      (relu) => [
        set('gr', relu ? masked(load('dy'), load('y')) : load('dy')),
        `(v128.store ${at('dx')} (f32x4.add (f32x4.sub (f32x4.mul ${load('a', 'pc')} ${get('gr')}) (f32x4.mul ${load('k1', 'pc')} ${load('x')})) ${load('k0', 'pc')}))`,
      ],
    ),
  ];
}
