import { get, set } from './wat.js';

/**
 * The text of `bceSum`, the loss' reconstruction sum (src/worker/tf/kernels/bce-sum.ts) in wasm SIMD:
 *
 *   bceSum(logits, images, n, totals)   adds Σ softplus(l) − x·l over n values (n a multiple of 4)
 *                                       to the two float64 values at `totals`
 *
 * softplus(l) = max(l, 0) + log(1 + e), e = exp(−|l|) ∈ (0, 1]. e is Cephes' expf (range reduction
 * by ln 2, a degree-5 polynomial, the power of two put in the exponent bits; relative error about
 * 1e-7); log(1 + e) = 2·atanh(s), s = e / (2 + e) ≤ 1/3, as its odd series to s¹⁵ (each term a
 * ninth of the last at most: error below 1e-8). Sums run in float32 vectors over blocks of
 * BLOCK values and go to float64 after each block.
 */
const BLOCK = 1024;

const f32 = (v: number) => `(v128.const f32x4 ${v} ${v} ${v} ${v})`;
const mul = (a: string, b: string) => `(f32x4.mul ${a} ${b})`;
const add = (a: string, b: string) => `(f32x4.add ${a} ${b})`;

/** exp(x) for x in [−87.3, 0], on the vector in $t; result in $e */
const EXP = [
  set('t', `(f32x4.max ${get('t')} ${f32(-87.3)})`),
  set('k', `(f32x4.nearest ${mul(get('t'), f32(Math.LOG2E))})`),
  set(
    'r',
    `(f32x4.sub (f32x4.sub ${get('t')} ${mul(get('k'), f32(0.693359375))}) ${mul(get('k'), f32(-2.1219444e-4))})`,
  ),
  set(
    'e',
    [1.39819995e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].reduce(
      (poly, c) => add(mul(poly, get('r')), f32(c)),
      f32(1.98756915e-4),
    ),
  ),
  set('e', add(add(mul(get('e'), mul(get('r'), get('r'))), get('r')), f32(1))),
  // × 2^k: k + 127 in the exponent bits
  set(
    'e',
    mul(
      get('e'),
      `(i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s ${get('k')}) (v128.const i32x4 127 127 127 127)) (i32.const 23))`,
    ),
  ),
];

/** log(1 + e) for e in (0, 1], from $e; result in $p */
const LOG1P = [
  set('s', `(f32x4.div ${get('e')} ${add(get('e'), f32(2))})`),
  set('s2', mul(get('s'), get('s'))),
  set(
    'p',
    [13, 11, 9, 7, 5, 3, 1].reduce((poly, d) => add(mul(poly, get('s2')), f32(1 / d)), f32(1 / 15)),
  ),
  set('p', mul(mul(get('p'), get('s')), f32(2))),
];

export function bceFunctions(): string[] {
  const HIGH_TO_LOW = 'i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7';
  return [
    [
      '(func (export "bceSum") (param $l i32) (param $x i32) (param $n i32) (param $totals i32)',
      '  (local $left i32) (local $acc v128) (local $v v128) (local $t v128) (local $k v128)',
      '  (local $r v128) (local $e v128) (local $s v128) (local $s2 v128) (local $p v128)',
      '  (block $blocks_done (loop $blocks',
      `    (br_if $blocks_done (i32.eqz ${get('n')}))`,
      `    ${set('left', get('n'))}`,
      `    (if (i32.gt_u ${get('left')} (i32.const ${BLOCK})) (then ${set('left', `(i32.const ${BLOCK})`)}))`,
      `    ${set('n', `(i32.sub ${get('n')} ${get('left')})`)}`,
      `    ${set('acc', f32(0))}`,
      '    (block $values_done (loop $values',
      `      (br_if $values_done (i32.eqz ${get('left')}))`,
      `      ${set('v', `(v128.load ${get('l')})`)}`,
      `      ${set('t', `(f32x4.neg (f32x4.abs ${get('v')}))`)}`,
      ...EXP.map((l) => `      ${l}`),
      ...LOG1P.map((l) => `      ${l}`),
      // max(l, 0) − x·l + log(1 + e)
      `      ${set('acc', add(get('acc'), add(`(f32x4.sub (f32x4.max ${get('v')} ${f32(0)}) ${mul(`(v128.load ${get('x')})`, get('v'))})`, get('p'))))}`,
      `      ${set('l', `(i32.add ${get('l')} (i32.const 16))`)}`,
      `      ${set('x', `(i32.add ${get('x')} (i32.const 16))`)}`,
      `      ${set('left', `(i32.sub ${get('left')} (i32.const 4))`)}`,
      '      (br $values)))',
      `    (v128.store ${get('totals')} (f64x2.add (v128.load ${get('totals')}) (f64x2.promote_low_f32x4 ${get('acc')})))`,
      `    (v128.store ${get('totals')} (f64x2.add (v128.load ${get('totals')}) (f64x2.promote_low_f32x4 (${HIGH_TO_LOW} ${get('acc')} ${get('acc')}))))`,
      '    (br $blocks)))',
      ')',
    ].join('\n'),
  ];
}
