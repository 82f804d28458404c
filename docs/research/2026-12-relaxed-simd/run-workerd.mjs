// Times the two int8 kernels of int8-gemm.wasm inside local workerd (Miniflare), where time
// does not move during a request: each request runs a kernel R times and is timed from outside,
// minus an empty request. Run build.cjs first.
import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';

const here = new URL('.', import.meta.url);
const mf = new Miniflare({
  modules: [
    { type: 'ESModule', path: 'worker.mjs', contents: readFileSync(new URL('worker.mjs', here), 'utf8') },
    { type: 'CompiledWasm', path: 'int8-gemm.wasm', contents: readFileSync(new URL('int8-gemm.wasm', here)) },
  ],
  compatibilityDate: '2025-01-01',
});
const call = async (kernel, n, r) => {
  const t = performance.now();
  const body = await (await mf.dispatchFetch(`http://x/?k=${kernel}&n=${n}&r=${r}`)).json();
  return { ms: performance.now() - t, ...body };
};
const R = 100;
const median = (v) => v.sort((a, b) => a - b)[v.length >> 1];
for (const N of [512, 2048]) {
  await call('relaxed', N, 1);
  await call('i16', N, 1);
  const times = { relaxed: [], i16: [], empty: [] };
  const wrong = {};
  for (let rep = 0; rep < 15; rep++) {
    for (const kernel of ['relaxed', 'i16']) {
      const o = await call(kernel, N, R);
      times[kernel].push(o.ms);
      wrong[kernel] = o.bad;
    }
    times.empty.push((await call('i16', N, 0)).ms);
  }
  const empty = median(times.empty);
  for (const kernel of ['relaxed', 'i16']) {
    const us = ((median(times[kernel]) - empty) / R) * 1000;
    const gmacs = (16 * N * 512) / us / 1000;
    console.log(`16x512x${N} ${kernel}: ${us.toFixed(0)} µs, ${gmacs.toFixed(1)} G multiply-adds/s, ${wrong[kernel]} outputs wrong`);
  }
}
await mf.dispose();
