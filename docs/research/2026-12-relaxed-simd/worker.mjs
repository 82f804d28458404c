// The Worker run-workerd.mjs loads: runs one kernel r times on fixed data, checks the sums.
import wasm from './int8-gemm.wasm';

const { exports: x } = new WebAssembly.Instance(wasm, {});
const M = 16;
const K = 512;
const cases = {};

function setup(N) {
  if (cases[N]) return cases[N];
  const A = Int8Array.from({ length: M * K }, (_, i) => ((i * 7919) % 255) - 127);
  // weights of 7 bits, stored with offset 64 (0..127): the relaxed dot's second operand
  const B = Int8Array.from({ length: N * K }, (_, i) => (i * 104729) % 128);
  const aP = 0;
  const bP = 65536;
  const cP = bP + N * K;
  const ref = new Int32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[m * K + k] * B[n * K + k];
      ref[m * N + n] = s;
    }
  cases[N] = { A, B, aP, bP, cP, ref };
  return cases[N];
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const N = Number(url.searchParams.get('n'));
    const r = Number(url.searchParams.get('r'));
    const s = setup(N);
    new Int8Array(x.memory.buffer, s.aP, M * K).set(s.A);
    new Int8Array(x.memory.buffer, s.bP, N * K).set(s.B);
    const kernel = url.searchParams.get('k') === 'relaxed' ? x.gemm_relaxed : x.gemm_i16;
    for (let i = 0; i < r; i++) kernel(s.aP, s.bP, s.cP, M, N, K);
    let bad = 0;
    if (r > 0) {
      const c = new Int32Array(x.memory.buffer, s.cP, M * N);
      for (let i = 0; i < M * N; i++) if (c[i] !== s.ref[i]) bad++;
    }
    return new Response(JSON.stringify({ bad }));
  },
};
