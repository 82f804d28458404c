/**
 * Float32 arrays in one shared WebAssembly memory, sized once: the trainer's weights, gradient
 * slots and Adam moments live here so that the project's wasm kernels (the optimiser) work on them
 * in place, while worker-thread replicas see the same memory as they saw plain SharedArrayBuffers.
 */
export class SharedArena {
  readonly memory: WebAssembly.Memory;
  private top = 0;

  constructor(floats: number, arrays: number) {
    // each array starts on 16 bytes (whole vectors); one spare page for that rounding
    const bytes = floats * 4 + arrays * 16;
    const pages = Math.ceil(bytes / 65536) + 1;
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  }

  floats(length: number): Float32Array {
    const at = Math.ceil(this.top / 16) * 16;
    if (at + length * 4 > this.memory.buffer.byteLength) throw new Error('arena: out of the space it was made with');
    this.top = at + length * 4;
    return new Float32Array(this.memory.buffer, at, length);
  }

  /** The arena another thread made, seen from this one: its kernels run over its arrays; it allocates nothing. */
  static adopt(memory: WebAssembly.Memory): SharedArena {
    const arena = Object.create(SharedArena.prototype) as SharedArena;
    return Object.assign(arena, { memory, top: memory.buffer.byteLength });
  }

  /** whether `array` lies in this arena's memory */
  holds(array: Float32Array): boolean {
    return array.buffer === this.memory.buffer;
  }
}
