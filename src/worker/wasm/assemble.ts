import wabtInit from 'wabt';

/**
 * WebAssembly text → compiled module, with wabt (the WebAssembly project's own toolkit). The
 * project's kernels are written as generated text so their tile shapes live in one readable
 * place; assembling them takes about 30 ms plus wabt's own start.
 *
 * Modules are kept by their text. A thread that starts other threads (the trainer starting its
 * replicas) hands them what it has assembled (`assembledModules` → `adoptModules`): a posted
 * module shares its compiled code, so wabt loads and each module compiles once per training run
 * instead of once per thread.
 */
let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;
const modules = new Map<string, WebAssembly.Module>();

export async function assemble(name: string, text: string): Promise<WebAssembly.Module> {
  const known = modules.get(text);
  if (known) return known;
  wabt ??= await wabtInit();
  const parsed = wabt.parseWat(name, text, { simd: true, threads: true });
  try {
    // compiling validates (wabt's own validate() rejects shared memories whatever the features)
    const module = new WebAssembly.Module(parsed.toBinary({}).buffer as Uint8Array<ArrayBuffer>);
    modules.set(text, module);
    return module;
  } finally {
    parsed.destroy();
  }
}

/** What this thread has assembled, to post to threads it starts (structured-cloneable). */
export const assembledModules = (): [string, WebAssembly.Module][] => [...modules];

/** Takes modules another thread assembled; `assemble` of the same text then compiles nothing. */
export function adoptModules(entries: [string, WebAssembly.Module][] | undefined): void {
  for (const [text, module] of entries ?? []) modules.set(text, module);
}
