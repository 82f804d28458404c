import wabtInit from 'wabt';

/**
 * WebAssembly text → compiled module, with wabt (the WebAssembly project's own toolkit). The
 * project's kernels are written as generated text so their tile shapes live in one readable
 * place; assembling them takes about 30 ms, once per thread.
 */
let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

export async function assemble(name: string, text: string): Promise<WebAssembly.Module> {
  wabt ??= await wabtInit();
  const parsed = wabt.parseWat(name, text, { simd: true, threads: true });
  try {
    // compiling validates (wabt's own validate() rejects shared memories whatever the features)
    return new WebAssembly.Module(parsed.toBinary({}).buffer as Uint8Array<ArrayBuffer>);
  } finally {
    parsed.destroy();
  }
}
