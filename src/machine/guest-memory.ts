// Guest RAM and the CPU register files share one WebAssembly.Memory, so the interpreter
// (typed-array views) and the WebAssembly translator (native i64 loads) read the very
// same bytes. Layout of the Memory:
//   [0, STATE_AREA)            per-hart register files, HART_STATE_SIZE bytes each
//   [TLB_AREA, JC_AREA)        per-hart software TLBs (tags, then page bases, biased float64)
//   [JC_AREA, RAM_OFFSET)      per-hart jump caches of the translator (pc -> translation)
//   [RAM_OFFSET, +ramSize)     guest RAM, guest physical address ramBase maps to RAM_OFFSET
// Under KVM the RAM is instead host memory mapped for the kernel (an external ArrayBuffer,
// see GuestMemory.external): no register files, RAM from offset 0 of the buffer.

export const HART_STATE_SIZE = 0x400;
/** Byte offsets inside one hart's state area. */
export const STATE_X = 0x000; // 32 integer registers, 8 bytes each, little-endian
export const STATE_F = 0x100; // 32 floating-point registers, 8 bytes each
/** What translated code and its dispatcher exchange (src/accel/tcg). */
export const STATE_PC = 0x200; // i64: the pc where translated code stopped
export const STATE_ICOUNT = 0x208; // i32: instructions translated code retired in this call
export const STATE_BUDGET = 0x20c; // i32: instructions translated code may run in this call
export const STATE_RTLB = 0x210; // i32: byte offset of the current read TLB's tags
export const STATE_WTLB = 0x214; // i32: byte offset of the current write TLB's tags
export const STATE_XTLB = 0x218; // i32: byte offset of the current instruction TLB's tags
export const STATE_JC = 0x21c; // i32: byte offset of the hart's jump cache
/** i32: 1 when mstatus.FS is Dirty and frm is valid: translated FP instructions cannot trap. */
export const STATE_FPOK = 0x220;
/** i32: chunk functions the dispatcher called in this entry into translated code (statistics). */
export const STATE_CALLS = 0x224;
export const STATE_AREA = 0x10000; // room for 64 harts' registers
/** The TLB: 3 access kinds x 4 privilege slots x TLB_SIZE entries; tags, then bases. */
export const TLB_SIZE = 1024;
export const TLB_ENTRIES = 3 * 4 * TLB_SIZE;
export const TLB_BASES = TLB_ENTRIES * 8; // byte distance from a tag to its base
/**
 * TLB entries are float64s that the interpreter reads as numbers and translated code as
 * integers. A tag holds vpn + TLB_TAG_BIAS (1.5 * 2^52): for any page number of a 64-bit
 * address (-2^51 <= vpn < 2^51) that double's bit pattern is TLB_TAG_BITS + vpn, so wasm
 * compares it with an i64 add. A base holds the page's host offset + TLB_BASE_BIAS
 * (2^52), whose low word is the offset itself, an i32 load for wasm. Plain doubles cost
 * wasm a conversion each way per access (with i32.trunc_f64_u's range check, a quarter
 * of tier 1's load function). NaN marks an empty entry.
 */
export const TLB_TAG_BIAS = 6755399441055744;
export const TLB_TAG_BITS = 0x4338000000000000n;
export const TLB_BASE_BIAS = 4503599627370496;
export const HART_TLB_SIZE = 2 * TLB_BASES;
export const TLB_AREA = STATE_AREA;
/** Harts that have a TLB in the Memory (the boards refuse more). */
export const MAX_HARTS = 8;
/**
 * The jump cache: JC_ENTRIES entries of 16 bytes indexed by a hash of the pc's low word
 * (jumpCacheIndex in src/accel/tcg/dispatcher.ts): i64 pc, i32 host offset of the code's
 * page (0: empty), i32 table slot << 12 | block.
 */
export const JC_ENTRIES = 16384;
export const JC_SIZE = JC_ENTRIES * 16;
export const JC_AREA = TLB_AREA + MAX_HARTS * HART_TLB_SIZE;
export const RAM_OFFSET = JC_AREA + MAX_HARTS * JC_SIZE;
const WASM_PAGE = 0x10000;

export class GuestMemory {
  /** The WebAssembly.Memory holding RAM and hart state; undefined for external RAM (KVM). */
  readonly memory: WebAssembly.Memory | undefined;
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly view: DataView;
  readonly i32: Int32Array;
  /** Guest RAM alone, indexed from ramBase. */
  readonly ram: Uint8Array;

  constructor(readonly ramBase: number, readonly ramSize: number, external?: ArrayBuffer) {
    if (ramSize <= 0 || ramSize % WASM_PAGE !== 0) {
      throw new Error(`RAM size must be a positive multiple of 64 KiB, got ${ramSize}`);
    }
    if (external) {
      if (external.byteLength < ramSize) throw new Error("external RAM buffer is smaller than ramSize");
      this.memory = undefined;
      this.buffer = external;
    } else {
      const pages = (RAM_OFFSET + ramSize) / WASM_PAGE;
      this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      this.buffer = this.memory.buffer;
    }
    this.u8 = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.ram = new Uint8Array(this.buffer, external ? 0 : RAM_OFFSET, ramSize);
  }

  /** Zeroes what precedes RAM in the Memory (register files, TLBs, jump caches); RAM stays. */
  clearHartState(): void {
    if (this.memory !== undefined) this.u8.fill(0, 0, RAM_OFFSET);
  }

  /** Guest RAM in host memory the caller mapped (KVM): GPA ramBase is byte 0 of `buffer`. */
  static external(buffer: ArrayBuffer, ramBase: number, ramSize: number): GuestMemory {
    return new GuestMemory(ramBase, ramSize, buffer);
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
    this.beforeHostWrite?.(pa, data.length, data);
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

  /** Offset into `buffer` of hart `id`'s TLB (tags; bases follow at +TLB_BASES). */
  hartTlb(id: number): number {
    if (id >= MAX_HARTS) throw new Error(`at most ${MAX_HARTS} harts are supported`);
    return TLB_AREA + id * HART_TLB_SIZE;
  }

  /** Byte offset of hart `id`'s jump cache. */
  hartJumpCache(id: number): number {
    if (id >= MAX_HARTS) throw new Error(`at most ${MAX_HARTS} harts are supported`);
    return JC_AREA + id * JC_SIZE;
  }

  /**
   * Called before the host (device DMA, loaders) writes guest RAM behind the CPU's back,
   * with the bytes when they are known, so that translated code of pages that change is
   * dropped (src/accel/tcg/code-pages.ts sets it).
   */
  beforeHostWrite: ((pa: number, len: number, data?: Uint8Array) => void) | undefined = undefined;

  /** A view of guest RAM that the caller will write into (DMA): like bytes(), and tells beforeHostWrite. */
  bytesForWrite(pa: number, len: number): Uint8Array {
    const b = this.bytes(pa, len);
    this.beforeHostWrite?.(pa, len);
    return b;
  }
}
