// RISC-V Platform-Level Interrupt Controller ("sifive,plic-1.0.0" / "riscv,plic0"), laid
// out as in QEMU's virt board and the RISC-V PLIC specification. Sources are
// level-triggered; each hart has two contexts: 2*hart for M-mode, 2*hart+1 for S-mode.
// A context's output is high while some enabled source is pending with priority above
// the context's threshold. Claiming takes the best source (highest priority, then lowest
// id) out of pending; completing it lets the gateway pend it again if its line is high.
import { subWord, type AccessSize, type IrqLine, type MmioDevice } from "../device.js";

const PRIORITY_BASE = 0x0; // 4 bytes per source
const PENDING_BASE = 0x1000; // 1 bit per source
const ENABLE_BASE = 0x2000; // 1 bit per source, per context
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x20_0000; // per context: threshold at +0, claim/complete at +4
const CONTEXT_STRIDE = 0x1000;
const CONTEXT_THRESHOLD = 0x0;
const CONTEXT_CLAIM = 0x4;

/** QEMU virt advertises sources 1..0x35 ("riscv,ndev" = 0x35); source 0 means "none". */
export const PLIC_NDEV = 0x35;
/** Priorities and thresholds are 0..7 (QEMU virt: 7 priority levels, 3 bits). */
const PRIORITY_MASK = 0x7;
/** Region size on QEMU virt: room for the contexts of 512 harts. */
export const PLIC_SIZE = 0x60_0000;

export interface PlicOptions {
  /** Harts served; contexts are 0 .. 2*harts-1. */
  harts: number;
  /** Called when a context's external interrupt output changes. */
  setContextIrq: (ctx: number, level: boolean) => void;
  /** Highest source id (default PLIC_NDEV); put the same value in "riscv,ndev". */
  ndev?: number;
}

export class Plic implements MmioDevice {
  readonly size = PLIC_SIZE;
  readonly ndev: number;
  readonly contexts: number;

  private readonly words: number; // 32-bit words of pending/enable bits
  private readonly priority: Uint32Array;
  private readonly level: Uint8Array; // current input line levels
  private readonly pending: Uint32Array;
  private readonly claimed: Uint32Array; // in service: gateway holds further requests
  private readonly enable: Uint32Array; // contexts * words
  private readonly threshold: Uint32Array;
  private readonly output: Uint8Array; // last level sent per context
  private readonly lines: IrqLine[] = [];
  private readonly setContextIrq: (ctx: number, level: boolean) => void;

  constructor(opts: PlicOptions) {
    this.ndev = opts.ndev ?? PLIC_NDEV;
    this.contexts = 2 * opts.harts;
    if (this.contexts > (PLIC_SIZE - CONTEXT_BASE) / CONTEXT_STRIDE) throw new Error("plic: too many harts");
    this.setContextIrq = opts.setContextIrq;
    this.words = Math.ceil((this.ndev + 1) / 32);
    this.priority = new Uint32Array(this.ndev + 1);
    this.level = new Uint8Array(this.ndev + 1);
    this.pending = new Uint32Array(this.words);
    this.claimed = new Uint32Array(this.words);
    this.enable = new Uint32Array(this.contexts * this.words);
    this.threshold = new Uint32Array(this.contexts);
    this.output = new Uint8Array(this.contexts);
  }

  /** The input line of source `n` (1..ndev), for a device's interrupt. */
  irqLine(n: number): IrqLine {
    if (!Number.isInteger(n) || n < 1 || n > this.ndev) throw new Error(`plic: no source ${n}`);
    this.lines[n] ??= { set: (level: boolean) => this.setSourceLevel(n, level) };
    return this.lines[n];
  }

  read(offset: number, size: AccessSize): number {
    return subWord(this.readWord(offset & ~3), offset, size);
  }

  write(offset: number, value: number, size: AccessSize): void {
    // The PLIC's registers are 32 bits wide; narrower writes are ignored.
    if (size !== 4 || (offset & 3) !== 0) return;
    value >>>= 0;
    if (offset < PENDING_BASE) return this.writePriority(offset >>> 2, value);
    if (offset < ENABLE_BASE) return; // pending bits are read-only
    if (offset < CONTEXT_BASE) return this.writeEnable(offset, value);
    this.writeContext(offset, value);
  }

  private readWord(offset: number): number {
    if (offset < PENDING_BASE) {
      const src = offset >>> 2;
      return src <= this.ndev ? this.priority[src] : 0;
    }
    if (offset < ENABLE_BASE) {
      const w = (offset - PENDING_BASE) >>> 2;
      return w < this.words ? this.pending[w] : 0;
    }
    if (offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      return ctx < this.contexts && w < this.words ? this.enable[ctx * this.words + w] : 0;
    }
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contexts) return 0;
    switch ((offset - CONTEXT_BASE) % CONTEXT_STRIDE) {
      case CONTEXT_THRESHOLD: return this.threshold[ctx];
      case CONTEXT_CLAIM: return this.claim(ctx);
      default: return 0;
    }
  }

  private writePriority(src: number, value: number): void {
    if (src === 0 || src > this.ndev) return;
    this.priority[src] = value & PRIORITY_MASK;
    this.updateOutputs();
  }

  private writeEnable(offset: number, value: number): void {
    const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
    const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
    if (ctx >= this.contexts || w >= this.words) return;
    if (w === 0) value &= ~1; // source 0 does not exist
    if (w === this.words - 1) value &= this.lastWordMask();
    this.enable[ctx * this.words + w] = value >>> 0;
    this.updateOutputs();
  }

  private writeContext(offset: number, value: number): void {
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contexts) return;
    switch ((offset - CONTEXT_BASE) % CONTEXT_STRIDE) {
      case CONTEXT_THRESHOLD:
        this.threshold[ctx] = value & PRIORITY_MASK;
        return this.updateOutputs();
      case CONTEXT_CLAIM:
        return this.complete(ctx, value);
    }
  }

  /** Bits of the last pending/enable word that name real sources. */
  private lastWordMask(): number {
    const bits = (this.ndev + 1) - 32 * (this.words - 1);
    return bits === 32 ? 0xffffffff : (1 << bits) - 1;
  }

  /** The gateway: a high level pends the source unless it is already in service. */
  private setSourceLevel(src: number, high: boolean): void {
    this.level[src] = high ? 1 : 0;
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    // A line that drops before the claim withdraws its request, as in QEMU.
    if (high && !(this.claimed[w] & bit)) this.pending[w] |= bit;
    else if (!high) this.pending[w] &= ~bit;
    this.updateOutputs();
  }

  /** Best pending enabled source for `ctx` above its threshold, or 0. */
  private best(ctx: number): number {
    let bestSrc = 0;
    let bestPrio = this.threshold[ctx];
    const base = ctx * this.words;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w] & this.enable[base + w];
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits); // lowest set bit: ids ascend, ties keep lowest
        bits &= bits - 1;
        const src = w * 32 + b;
        if (this.priority[src] > bestPrio) {
          bestPrio = this.priority[src];
          bestSrc = src;
        }
      }
    }
    return bestSrc;
  }

  private claim(ctx: number): number {
    const src = this.best(ctx);
    if (src === 0) return 0;
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    this.pending[w] &= ~bit;
    this.claimed[w] |= bit;
    this.updateOutputs();
    return src;
  }

  private complete(ctx: number, src: number): void {
    if (src === 0 || src > this.ndev) return;
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    // The spec ignores completions of sources not enabled for this context.
    if (!(this.enable[ctx * this.words + w] & bit)) return;
    if (!(this.claimed[w] & bit)) return;
    this.claimed[w] &= ~bit;
    if (this.level[src]) this.pending[w] |= bit;
    this.updateOutputs();
  }

  private updateOutputs(): void {
    for (let ctx = 0; ctx < this.contexts; ctx++) {
      const level = this.best(ctx) !== 0 ? 1 : 0;
      if (level === this.output[ctx]) continue;
      this.output[ctx] = level;
      this.setContextIrq(ctx, level === 1);
    }
  }
}
