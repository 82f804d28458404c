// Assembles int8-gemm.wat into int8-gemm.wasm (needs wabt: npm i --no-save wabt).
const fs = require('node:fs');
const path = require('node:path');

require('wabt')().then((wabt) => {
  const source = fs.readFileSync(path.join(__dirname, 'int8-gemm.wat'), 'utf8');
  const module = wabt.parseWat('int8-gemm.wat', source, { simd: true, relaxed_simd: true });
  const { buffer } = module.toBinary({});
  fs.writeFileSync(path.join(__dirname, 'int8-gemm.wasm'), Buffer.from(buffer));
  console.log(`int8-gemm.wasm: ${buffer.length} bytes`);
});
