// A CLIP text forward in plain JS around a wasm int8 product (gemm_i16 or gemm_relaxed of int8-gemm.wat): the research behind "The transformer outside onnxruntime-web" in docs/research/2026-11-edge-text-encoder.md
export function makeEncoder(blob, wasm, kernelName) {
  const hl = new DataView(blob.buffer, blob.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(blob.subarray(8, 8 + hl)));
  const base = 8 + hl;
  const { config } = header;
  const W = config.width, L = config.layers, H = config.heads, D = W / H, E = config.embedDim;
  const t = (name) => {
    const d = header.tensors[name];
    const bytes = blob.slice(base + d.offset, base + d.offset + d.bytes);
    return d.type === 'f32' ? new Float32Array(bytes.buffer, bytes.byteOffset, d.bytes / 4) : bytes;
  };
  const mem = wasm.memory;
  const gemm = wasm[kernelName];
  // lay the 7-bit matrices into wasm memory
  let total = 0;
  const mats = {};
  for (const [name, d] of Object.entries(header.tensors)) if (name.endsWith('.w7')) total += (d.bytes + 15) & ~15;
  const scratchBytes = 77 * 2048 + 77 * 2048 * 4 + 64;
  const need = total + scratchBytes + 65536;
  const have = mem.buffer.byteLength;
  if (need > have) mem.grow(Math.ceil((need - have) / 65536));
  let p = 65536;
  for (const [name, d] of Object.entries(header.tensors)) {
    if (!name.endsWith('.w7')) continue;
    new Uint8Array(mem.buffer, p, d.bytes).set(blob.subarray(base + d.offset, base + d.offset + d.bytes));
    mats[name.slice(0, -3)] = { ptr: p, N: d.dims[0], K: d.dims[1], scale: t(`${name.slice(0, -3)}.scale`), bias: t(`${name.slice(0, -3)}.bias`) };
    p += (d.bytes + 15) & ~15;
  }
  const aPtr = p, cPtr = p + 77 * 2048 + 16;
  const pos = t('positional_embedding');
  const rows = t('token_rows');
  const rowOf = new Map(header.tokenIds.map((id, r) => [id, r]));
  const layers = Array.from({ length: L }, (_, l) => ({
    ln1w: t(`layer${l}.ln_1.weight`), ln1b: t(`layer${l}.ln_1.bias`), ln2w: t(`layer${l}.ln_2.weight`), ln2b: t(`layer${l}.ln_2.bias`),
    q: mats[`layer${l}.q`], kv: mats[`layer${l}.kv`], out: mats[`layer${l}.out`], fc: mats[`layer${l}.fc`], proj: mats[`layer${l}.proj`],
  }));
  const lnfw = t('ln_final.weight'), lnfb = t('ln_final.bias'), P = t('text_projection');
  const rowScale = new Float32Array(78), rowSum = new Int32Array(78);

  function layerNorm(x, S, w, b, out) {
    for (let i = 0; i < S; i++) {
      const o = i * W;
      let mean = 0;
      for (let j = 0; j < W; j++) mean += x[o + j];
      mean /= W;
      let v = 0;
      for (let j = 0; j < W; j++) { const d = x[o + j] - mean; v += d * d; }
      const inv = 1 / Math.sqrt(v / W + 1e-5);
      for (let j = 0; j < W; j++) out[o + j] = (x[o + j] - mean) * inv * w[j] + b[j];
    }
    return out;
  }
  // rows of x (S × K) → int8 per-row symmetric into wasm at aPtr, padded to an even count
  function quantize(x, S, K) {
    const M = S + (S & 1);
    const a = new Int8Array(mem.buffer, aPtr, M * K);
    for (let i = 0; i < S; i++) {
      const o = i * K;
      let m = 0;
      for (let j = 0; j < K; j++) { const v = x[o + j]; if (v > m) m = v; else if (-v > m) m = -v; }
      const s = m / 127 || 1e-12;
      const inv = 1 / s;
      let sum = 0;
      for (let j = 0; j < K; j++) { const q = Math.round(x[o + j] * inv); a[o + j] = q; sum += q; }
      rowScale[i] = s; rowSum[i] = sum;
    }
    if (S & 1) a.fill(0, S * K, M * K);
    return M;
  }
  function linear(x, S, mat, out) {
    const M = quantize(x, S, mat.K);
    gemm(aPtr, mat.ptr, cPtr, M, mat.N, mat.K);
    const c = new Int32Array(mem.buffer, cPtr, M * mat.N);
    const N = mat.N, sc = mat.scale, bias = mat.bias;
    for (let i = 0; i < S; i++) {
      const corr = 64 * rowSum[i], rs = rowScale[i], o = i * N;
      for (let n = 0; n < N; n++) out[o + n] = (c[o + n] - corr) * rs * sc[n] + bias[n];
    }
    return out;
  }
  const bufs = { h: new Float32Array(77 * W), q: new Float32Array(77 * W), kv: new Float32Array(77 * 2 * W), att: new Float32Array(77 * W), o: new Float32Array(77 * W), fc: new Float32Array(77 * 4 * W), sc: new Float32Array(77) };
  const scale = 1 / Math.sqrt(D);

  function encode(ids) {
    const S = ids.length, eot = S - 1;
    let x = new Float32Array(S * W);
    for (let i = 0; i < S; i++) {
      const r = rowOf.get(ids[i]);
      for (let j = 0; j < W; j++) x[i * W + j] = rows[r * W + j] + pos[i * W + j];
    }
    for (let l = 0; l < L; l++) {
      const ly = layers[l];
      const last = l === L - 1;
      const h = layerNorm(x, S, ly.ln1w, ly.ln1b, bufs.h);
      const kv = linear(h, S, ly.kv, bufs.kv);
      // queries: every row, or the end-of-text row alone in the last block
      const q0 = last ? eot : 0, nq = last ? 1 : S;
      const q = linear(last ? h.subarray(eot * W, (eot + 1) * W) : h, nq, ly.q, bufs.q);
      const att = bufs.att, sc = bufs.sc;
      for (let qi = 0; qi < nq; qi++) {
        const i = q0 + qi;
        for (let hd = 0; hd < H; hd++) {
          const qo = qi * W + hd * D;
          let mx = -Infinity;
          for (let j = 0; j <= i; j++) {
            const ko = j * 2 * W + hd * D;
            let s = 0;
            for (let d = 0; d < D; d++) s += q[qo + d] * kv[ko + d];
            s *= scale; sc[j] = s; if (s > mx) mx = s;
          }
          let z = 0;
          for (let j = 0; j <= i; j++) { const e = Math.exp(sc[j] - mx); sc[j] = e; z += e; }
          const ao = qi * W + hd * D;
          for (let d = 0; d < D; d++) att[ao + d] = 0;
          for (let j = 0; j <= i; j++) {
            const pj = sc[j] / z, vo = j * 2 * W + W + hd * D;
            for (let d = 0; d < D; d++) att[ao + d] += pj * kv[vo + d];
          }
        }
      }
      if (last) x = x.slice(eot * W, (eot + 1) * W);
      const o = linear(att, nq, ly.out, bufs.o);
      for (let k = 0; k < nq * W; k++) x[k] += o[k];
      const h2 = layerNorm(x, nq, ly.ln2w, ly.ln2b, bufs.h);
      const fc = linear(h2, nq, ly.fc, bufs.fc);
      for (let k = 0; k < nq * 4 * W; k++) { const v = fc[k]; fc[k] = v / (1 + Math.exp(-1.702 * v)); }
      const pr = linear(fc, nq, ly.proj, bufs.o);
      for (let k = 0; k < nq * W; k++) x[k] += pr[k];
    }
    const f = layerNorm(x, 1, lnfw, lnfb, new Float32Array(W));
    const out = new Float32Array(E);
    for (let w = 0; w < W; w++) { const v = f[w]; for (let e = 0; e < E; e++) out[e] += v * P[w * E + e]; }
    return out;
  }
  return { encode, header, ref: (name) => t(name) };
}
export function cosine(a, b) { let ab = 0, aa = 0, bb = 0; for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; } return ab / Math.sqrt(aa * bb); }
