/**
 * WebAssembly text of two functions that turn a convolution's gradients into matrix products
 * (`gemm`, gemm-wat.ts), over NHWC float32 tensors in tfjs' memory:
 *
 *   `im2col`: rows k0 … k0+rows−1 of the patch matrix, one row per output position
 *   k = (n·Oh + a)·Ow + b, holding the input pixels that position's window sees,
 *   (i·kw + j)·C + c ↦ x[n, a·sh + i − pt, b·sw + j − pl, c] (zero outside the image);
 *   `col2im`: the reverse, adding such rows back onto an image (the input gradient).
 *
 * The filter gradient is then patchesᵀ·dy and the input gradient col2im(dy·Wᵀ), a chunk of rows
 * at a time (own-conv-grads.ts). Why: tfjs' wasm backend has no filter-gradient kernel, and the
 * compositions over its convolution (conv2d-backprop-*.ts) hand XNNPACK a new "filter" every call
 * (dy, or the flipped weights), which it packs each time; with one input channel they ran at
 * about 0.5 G multiply-adds/s (docs/PERFORMANCE.md).
 */

const PARAMS = ['img', 'H', 'W', 'C', 'Oh', 'Ow', 'kh', 'kw', 'sh', 'sw', 'pt', 'pl', 'k0', 'rows', 'cols'] as const;

/** C floats from `src` to `dst` (copy), or added onto `dst` (add), or zeros at `dst`. */
function channels(mode: 'copy' | 'add' | 'zero'): string[] {
  const vec =
    mode === 'copy'
      ? '(v128.store (local.get $d) (v128.load (local.get $s)))'
      : mode === 'add'
        ? '(v128.store (local.get $d) (f32x4.add (v128.load (local.get $d)) (v128.load (local.get $s))))'
        : '(v128.store (local.get $d) (v128.const i32x4 0 0 0 0))';
  const one =
    mode === 'copy'
      ? '(f32.store (local.get $d) (f32.load (local.get $s)))'
      : mode === 'add'
        ? '(f32.store (local.get $d) (f32.add (f32.load (local.get $d)) (f32.load (local.get $s))))'
        : '(f32.store (local.get $d) (f32.const 0))';
  const step = (bytes: number) => [
    `(local.set $s (i32.add (local.get $s) (i32.const ${bytes})))`,
    `(local.set $d (i32.add (local.get $d) (i32.const ${bytes})))`,
  ];
  return [
    '(local.set $c (local.get $C))',
    '(block $v_done (loop $v',
    '  (br_if $v_done (i32.lt_u (local.get $c) (i32.const 4)))',
    `  ${vec}`,
    ...step(16).map((l) => `  ${l}`),
    '  (local.set $c (i32.sub (local.get $c) (i32.const 4)))',
    '  (br $v)))',
    '(block $s_done (loop $s1',
    '  (br_if $s_done (i32.eqz (local.get $c)))',
    `  ${one}`,
    ...step(4).map((l) => `  ${l}`),
    '  (local.set $c (i32.sub (local.get $c) (i32.const 1)))',
    '  (br $s1)))',
  ];
}

/**
 * The walk both functions share: rows of the patch matrix from k0, each window position (i, j)
 * of each row, with `inside` run for a pixel in the image (src = its C channels in the image) and
 * `outside` for one in the padding; `$d` walks the patch matrix (advanced by the C-float moves).
 */
interface WalkExtras {
  params?: string;
  locals?: string;
  /** run at the start of each row (output position) */
  rowStart?: string[];
  /** run at the end of each row, before the next output position */
  rowEnd?: string[];
}

function walk(
  name: string,
  inside: string[],
  outside: string[],
  imageIsSource: boolean,
  extras: WalkExtras = {},
): string {
  const params = `${PARAMS.map((p) => `(param $${p} i32)`).join(' ')} ${extras.params ?? ''}`;
  const pixel = `(i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (local.get $y)) (local.get $W)) (local.get $x)) (local.get $C)) (i32.const 2))`;
  // for col2im the image is written (`$d`) and the patch matrix read (`$s`): swap the roles
  const [patch, image] = imageIsSource ? ['d', 's'] : ['s', 'd'];
  return [
    `(func (export "${name}") ${params}`,
    '  (local $n i32) (local $a i32) (local $b i32) (local $i i32) (local $j i32) (local $y i32) (local $x i32)',
    `  (local $s i32) (local $d i32) (local $c i32) (local $at i32) ${extras.locals ?? ''}`,
    '  (local.set $b (i32.rem_u (local.get $k0) (local.get $Ow)))',
    '  (local.set $a (i32.rem_u (i32.div_u (local.get $k0) (local.get $Ow)) (local.get $Oh)))',
    '  (local.set $n (i32.div_u (i32.div_u (local.get $k0) (local.get $Ow)) (local.get $Oh)))',
    '  (local.set $at (local.get $cols))',
    '  (block $rows_done (loop $row',
    '    (br_if $rows_done (i32.eqz (local.get $rows)))',
    ...(extras.rowStart ?? []).map((l) => `    ${l}`),
    '    (local.set $i (i32.const 0))',
    '    (block $i_done (loop $wi',
    '      (br_if $i_done (i32.ge_u (local.get $i) (local.get $kh)))',
    '      (local.set $y (i32.sub (i32.add (i32.mul (local.get $a) (local.get $sh)) (local.get $i)) (local.get $pt)))',
    '      (local.set $j (i32.const 0))',
    '      (block $j_done (loop $wj',
    '        (br_if $j_done (i32.ge_u (local.get $j) (local.get $kw)))',
    '        (local.set $x (i32.sub (i32.add (i32.mul (local.get $b) (local.get $sw)) (local.get $j)) (local.get $pl)))',
    `        (local.set $${patch} (local.get $at))`,
    // unsigned comparisons: a row or column above or left of the image wraps to a large number
    '        (if (i32.and (i32.lt_u (local.get $y) (local.get $H)) (i32.lt_u (local.get $x) (local.get $W)))',
    `          (then (local.set $${image} (i32.add (local.get $img) ${pixel}))`,
    ...inside.map((l) => `            ${l}`),
    '          )',
    '          (else',
    ...outside.map((l) => `            ${l}`),
    '          ))',
    '        (local.set $at (i32.add (local.get $at) (i32.shl (local.get $C) (i32.const 2))))',
    '        (local.set $j (i32.add (local.get $j) (i32.const 1)))',
    '        (br $wj)))',
    '      (local.set $i (i32.add (local.get $i) (i32.const 1)))',
    '      (br $wi)))',
    ...(extras.rowEnd ?? []).map((l) => `    ${l}`),
    // next output position: b, then a, then n
    '    (local.set $b (i32.add (local.get $b) (i32.const 1)))',
    '    (if (i32.eq (local.get $b) (local.get $Ow)) (then',
    '      (local.set $b (i32.const 0))',
    '      (local.set $a (i32.add (local.get $a) (i32.const 1)))',
    '      (if (i32.eq (local.get $a) (local.get $Oh)) (then',
    '        (local.set $a (i32.const 0))',
    '        (local.set $n (i32.add (local.get $n) (i32.const 1)))))))',
    '    (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))',
    '    (br $row)))',
    ')',
  ].join('\n');
}

/**
 * The input gradient for few output channels (O < 8), without a patch matrix: for each output
 * position and window tap inside the image, dx[pixel, c] += Σ_o dy[k, o]·Wt[i, j, o, c], four
 * channels at a time, with Wt the weights as [kh, kw, O, C]. Here `cols` is dy's row k0 and the
 * product's inner dimension is O (3 for an image): as a product plus col2im, writing and reading
 * back kh·kw·C values per position cost more than the multiply-adds (docs/PERFORMANCE.md).
 */
function scatterProduct(outChannels: number): string {
  const o = Array.from({ length: outChannels }, (_, k) => k);
  const tap =
    '(i32.shl (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)) (local.get $C)) (i32.const 2))';
  // Wt[i, j, o, c] for the current c: w + o·C·4
  const weight = (k: number) =>
    k === 0 ? '(local.get $w)' : `(i32.add (local.get $w) (i32.mul (local.get $C) (i32.const ${4 * k})))`;
  const dyAt = (k: number) => `(local.get $dy${k})`;
  const inside = [
    `(local.set $w (i32.add (local.get $wt) (i32.mul ${tap} (i32.const ${outChannels}))))`,
    '(local.set $c (local.get $C))',
    '(block $v_done (loop $v',
    '  (br_if $v_done (i32.lt_u (local.get $c) (i32.const 4)))',
    `  (v128.store (local.get $d) (f32x4.add (v128.load (local.get $d)) ${o
      .map((k) => `(f32x4.mul (local.get $dv${k}) (v128.load ${weight(k)}))`)
      .reduce((a, b) => `(f32x4.add ${a} ${b})`)}))`,
    '  (local.set $d (i32.add (local.get $d) (i32.const 16)))',
    '  (local.set $w (i32.add (local.get $w) (i32.const 16)))',
    '  (local.set $c (i32.sub (local.get $c) (i32.const 4)))',
    '  (br $v)))',
    '(block $s_done (loop $s1',
    '  (br_if $s_done (i32.eqz (local.get $c)))',
    `  (f32.store (local.get $d) (f32.add (f32.load (local.get $d)) ${o
      .map((k) => `(f32.mul ${dyAt(k)} (f32.load ${weight(k)}))`)
      .reduce((a, b) => `(f32.add ${a} ${b})`)}))`,
    '  (local.set $d (i32.add (local.get $d) (i32.const 4)))',
    '  (local.set $w (i32.add (local.get $w) (i32.const 4)))',
    '  (local.set $c (i32.sub (local.get $c) (i32.const 1)))',
    '  (br $s1)))',
  ];
  // this row's dy values, as scalars and splatted, loaded once per row (at its start)
  const loadRow = o.flatMap((k) => [
    `(local.set $dy${k} (f32.load offset=${4 * k} (local.get $row)))`,
    `(local.set $dv${k} (f32x4.splat (local.get $dy${k})))`,
  ]);
  const text = walk(`scatterProduct${outChannels}`, inside, [], false, {
    params: '(param $wt i32)',
    locals: `(local $w i32) (local $row i32) ${o.map((k) => `(local $dy${k} f32) (local $dv${k} v128)`).join(' ')}`,
    rowStart: loadRow,
    rowEnd: [`(local.set $row (i32.add (local.get $row) (i32.const ${4 * outChannels})))`],
  });
  // dy's rows start at `cols`
  return text.replace(
    '  (local.set $at (local.get $cols))',
    '  (local.set $at (local.get $cols))\n  (local.set $row (local.get $cols))',
  );
}

/** output channel counts below which the input gradient takes scatterProduct{O} */
export const SCATTER_BELOW = 8;

export function patchesFunctions(): string[] {
  return [
    walk('im2col', channels('copy'), channels('zero'), true),
    walk('col2im', channels('add'), [], false),
    ...Array.from({ length: SCATTER_BELOW - 1 }, (_, k) => scatterProduct(k + 1)),
  ];
}
