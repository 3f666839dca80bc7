// Guest RAM and the CPU register files share one WebAssembly.Memory, so the interpreter
// (typed-array views) and the future WebAssembly translator (native i64 loads) read the
// very same bytes. Layout of the Memory:
//   [0, STATE_AREA)            per-hart register files, HART_STATE_SIZE bytes each
//   [RAM_OFFSET, +ramSize)     guest RAM, guest physical address ramBase maps to RAM_OFFSET

export const HART_STATE_SIZE = 0x400;
/** Byte offsets inside one hart's state area. */
export const STATE_X = 0x000; // 32 integer registers, 8 bytes each, little-endian
export const STATE_F = 0x100; // 32 floating-point registers, 8 bytes each
export const STATE_AREA = 0x10000; // room for 64 harts
export const RAM_OFFSET = STATE_AREA;
const WASM_PAGE = 0x10000;

export class GuestMemory {
  readonly memory: WebAssembly.Memory;
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly view: DataView;
  readonly i32: Int32Array;
  /** Guest RAM alone, indexed from ramBase. */
  readonly ram: Uint8Array;

  constructor(readonly ramBase: number, readonly ramSize: number) {
    if (ramSize <= 0 || ramSize % WASM_PAGE !== 0) {
      throw new Error(`RAM size must be a positive multiple of 64 KiB, got ${ramSize}`);
    }
    const pages = (RAM_OFFSET + ramSize) / WASM_PAGE;
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.buffer = this.memory.buffer;
    this.u8 = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.ram = new Uint8Array(this.buffer, RAM_OFFSET, ramSize);
  }

  get ramEnd(): number {
    return this.ramBase + this.ramSize;
  }

  /** True when [pa, pa+len) lies inside RAM. */
  inRam(pa: number, len = 1): boolean {
    return pa >= this.ramBase && pa + len <= this.ramBase + this.ramSize;
  }

  /** Copies host bytes into guest RAM (loaders, device DMA). Throws outside RAM. */
  writeBytes(pa: number, data: Uint8Array): void {
    if (!this.inRam(pa, data.length)) {
      throw new Error(`0x${pa.toString(16)}+0x${data.length.toString(16)} is outside guest RAM`);
    }
    this.ram.set(data, pa - this.ramBase);
  }

  /** A view of guest RAM (no copy). Throws outside RAM. */
  bytes(pa: number, len: number): Uint8Array {
    if (!this.inRam(pa, len)) {
      throw new Error(`0x${pa.toString(16)}+0x${len.toString(16)} is outside guest RAM`);
    }
    return this.ram.subarray(pa - this.ramBase, pa - this.ramBase + len);
  }

  /** Offset into `buffer` of hart `id`'s state area. */
  hartState(id: number): number {
    return id * HART_STATE_SIZE;
  }
}
