/**
 * The text of `movePhases`: the resize-convolution's four output phases, one convolution's output
 * [N, H + 1, W + 1, 4·C], to the image [N, 2H, 2W, C] they interleave into, or back (its gradient;
 * the phases' unused border is left as it is). What it does and why: src/worker/tf/kernels/phases.ts.
 *
 *   movePhases(phases, image, n, h, w, c, toImage)   addresses in bytes, sizes in values
 *
 * Each output pixel is a run of C values in both layouts: copied as vectors while 16 bytes are
 * left, then as single values (C = 3 in the last layer).
 */
export function phasesFunctions(): string[] {
  return [
    `(func $run (param $to i32) (param $from i32) (param $bytes i32)
  (block $vectors_done (loop $vectors
    (br_if $vectors_done (i32.lt_u (local.get $bytes) (i32.const 16)))
    (v128.store (local.get $to) (v128.load (local.get $from)))
    (local.set $to (i32.add (local.get $to) (i32.const 16)))
    (local.set $from (i32.add (local.get $from) (i32.const 16)))
    (local.set $bytes (i32.sub (local.get $bytes) (i32.const 16)))
    (br $vectors)))
  (block $values_done (loop $values
    (br_if $values_done (i32.eqz (local.get $bytes)))
    (f32.store (local.get $to) (f32.load (local.get $from)))
    (local.set $to (i32.add (local.get $to) (i32.const 4)))
    (local.set $from (i32.add (local.get $from) (i32.const 4)))
    (local.set $bytes (i32.sub (local.get $bytes) (i32.const 4)))
    (br $values))))`,
    `(func (export "movePhases") (param $phases i32) (param $image i32) (param $n i32) (param $h i32) (param $w i32)
    (param $c i32) (param $toImage i32)
  (local $bytes i32) (local $pixelIn i32) (local $rowIn i32) (local $b i32) (local $y i32) (local $j i32)
  (local $a i32) (local $even i32) (local $odd i32) (local $out i32)
  (local.set $bytes (i32.shl (local.get $c) (i32.const 2)))
  (local.set $pixelIn (i32.shl (local.get $bytes) (i32.const 2)))
  (local.set $rowIn (i32.mul (i32.add (local.get $w) (i32.const 1)) (local.get $pixelIn)))
  (local.set $out (local.get $image))
  (block $b_done (loop $b_loop
    (br_if $b_done (i32.ge_u (local.get $b) (local.get $n)))
    (local.set $y (i32.const 0))
    (block $y_done (loop $y_loop
      (br_if $y_done (i32.ge_u (local.get $y) (i32.shl (local.get $h) (i32.const 1))))
      (local.set $a (i32.and (local.get $y) (i32.const 1)))
      ;; output pixels 2j and 2j + 1 of row y: phases (a, 0) and (a, 1), input columns j and j + 1
      (local.set $even (i32.add (local.get $phases)
        (i32.add
          (i32.mul (i32.add (i32.mul (local.get $b) (i32.add (local.get $h) (i32.const 1)))
                            (i32.add (i32.shr_u (local.get $y) (i32.const 1)) (local.get $a)))
                   (local.get $rowIn))
          (i32.mul (i32.shl (local.get $a) (i32.const 1)) (local.get $bytes)))))
      (local.set $odd (i32.add (local.get $even) (i32.add (local.get $pixelIn) (local.get $bytes))))
      (local.set $j (i32.const 0))
      (block $j_done (loop $j_loop
        (br_if $j_done (i32.ge_u (local.get $j) (local.get $w)))
        (if (local.get $toImage)
          (then
            (call $run (local.get $out) (local.get $even) (local.get $bytes))
            (call $run (i32.add (local.get $out) (local.get $bytes)) (local.get $odd) (local.get $bytes)))
          (else
            (call $run (local.get $even) (local.get $out) (local.get $bytes))
            (call $run (local.get $odd) (i32.add (local.get $out) (local.get $bytes)) (local.get $bytes))))
        (local.set $even (i32.add (local.get $even) (local.get $pixelIn)))
        (local.set $odd (i32.add (local.get $odd) (local.get $pixelIn)))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $bytes) (i32.const 1))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $j_loop)))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br $y_loop)))
    (local.set $b (i32.add (local.get $b) (i32.const 1)))
    (br $b_loop))))`,
  ];
}
