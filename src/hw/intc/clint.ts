// SiFive Core-Local Interruptor ("sifive,clint0" / "riscv,clint0"), the ACLINT MSWI and
// MTIMER pair as QEMU virt maps them: per-hart software interrupt bits (MSIP) and timer
// compare registers (MTIMECMP) against one 64-bit MTIME counting at 10 MHz.
// MTIME comes from the host clock: mtime = floor(nowNs / 100) + offset. It stays below
// 2^53, so a Number holds it exactly; MTIMECMP is kept as two uint32 halves because the
// guest may write any 64-bit value (all-ones at reset means "never").
import { subWord, type AccessSize, type Clock, type MmioDevice } from "../device.js";

const MSIP_BASE = 0x0; // 4 bytes per hart, bit 0
const MTIMECMP_BASE = 0x4000; // 8 bytes per hart
const MTIME = 0xbff8; // 8 bytes

/** QEMU virt's timebase-frequency. */
export const CLINT_TIMEBASE_HZ = 10_000_000;
const NS_PER_TICK = 1e9 / CLINT_TIMEBASE_HZ;
const TWO32 = 0x1_0000_0000;
/** A compare value whose high word reaches this is beyond 2^53 ticks (28 years): never. */
const HI_NEVER = 0x20_0000;

export interface ClintOptions {
  harts: number;
  clock: Clock;
  /** Machine software interrupt level of a hart changed (mip.MSIP). */
  setMsip: (hart: number, level: boolean) => void;
  /** Machine timer interrupt level of a hart changed (mip.MTIP). */
  setMtip: (hart: number, level: boolean) => void;
}

export class Clint implements MmioDevice {
  readonly size = 0x1_0000;
  readonly harts: number;

  private readonly clock: Clock;
  private readonly setMsip: (hart: number, level: boolean) => void;
  private readonly setMtip: (hart: number, level: boolean) => void;
  private readonly msip: Uint8Array;
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  private readonly mtip: Uint8Array;
  /** Ticks added to the host-derived count; guest writes to MTIME change it. */
  private offset = 0;
  /** High word sampled with the last MTIME low-word read, so a split 64-bit read is whole. */
  private latchedHi: number | undefined;

  constructor(opts: ClintOptions) {
    this.harts = opts.harts;
    this.clock = opts.clock;
    this.setMsip = opts.setMsip;
    this.setMtip = opts.setMtip;
    this.msip = new Uint8Array(opts.harts);
    this.cmpLo = new Uint32Array(opts.harts).fill(0xffffffff);
    this.cmpHi = new Uint32Array(opts.harts).fill(0xffffffff);
    this.mtip = new Uint8Array(opts.harts);
  }

  /** Current MTIME in ticks; what the harts' `time` CSR reads. */
  mtime(): number {
    return Math.floor(this.clock.nowNs() / NS_PER_TICK) + this.offset;
  }

  /**
   * Recomputes the MTIP lines, then returns the clock time (Clock.nowNs units) at which
   * the earliest timer not yet fired expires, or Infinity: how long the run loop may sleep.
   */
  nextDeadlineNs(): number {
    this.update();
    let deadline = Infinity;
    for (let h = 0; h < this.harts; h++) {
      if (this.mtip[h] || this.cmpHi[h] >= HI_NEVER) continue;
      const cmp = this.cmpHi[h] * TWO32 + this.cmpLo[h];
      deadline = Math.min(deadline, (cmp - this.offset) * NS_PER_TICK);
    }
    return deadline;
  }

  /** Raises or lowers each hart's MTIP from MTIME >= MTIMECMP. */
  update(): void {
    const now = this.mtime();
    for (let h = 0; h < this.harts; h++) this.updateHart(h, now);
  }

  read(offset: number, size: AccessSize): number {
    return subWord(this.readWord(offset & ~3), offset, size);
  }

  write(offset: number, value: number, size: AccessSize): void {
    // Registers are written as whole 32-bit words (64-bit ones as two halves, low first).
    if (size !== 4 || (offset & 3) !== 0) return;
    value >>>= 0;
    if (offset < MTIMECMP_BASE) return this.writeMsip(offset >>> 2, value);
    if (offset < MTIME) return this.writeMtimecmp(offset - MTIMECMP_BASE, value);
    if (offset === MTIME || offset === MTIME + 4) this.writeMtime(offset === MTIME + 4, value);
  }

  private readWord(offset: number): number {
    if (offset < MTIMECMP_BASE) {
      const hart = (offset - MSIP_BASE) >>> 2;
      return hart < this.harts ? this.msip[hart] : 0;
    }
    if (offset < MTIME) {
      const hart = (offset - MTIMECMP_BASE) >>> 3;
      if (hart >= this.harts) return 0;
      return offset & 4 ? this.cmpHi[hart] : this.cmpLo[hart];
    }
    if (offset === MTIME) {
      const now = this.mtime();
      this.latchedHi = Math.floor(now / TWO32);
      return now % TWO32;
    }
    if (offset === MTIME + 4) {
      const hi = this.latchedHi ?? Math.floor(this.mtime() / TWO32);
      this.latchedHi = undefined;
      return hi;
    }
    return 0;
  }

  private writeMsip(hart: number, value: number): void {
    if (hart >= this.harts) return;
    const level = value & 1;
    if (level === this.msip[hart]) return;
    this.msip[hart] = level;
    this.setMsip(hart, level === 1);
  }

  private writeMtimecmp(rel: number, value: number): void {
    const hart = rel >>> 3;
    if (hart >= this.harts) return;
    if (rel & 4) this.cmpHi[hart] = value;
    else this.cmpLo[hart] = value;
    this.updateHart(hart, this.mtime());
  }

  /** Setting MTIME moves the offset so that it reads the new value from now on. */
  private writeMtime(high: boolean, value: number): void {
    const now = this.mtime();
    const hi = high ? value : Math.floor(now / TWO32);
    const lo = high ? now % TWO32 : value;
    this.offset += hi * TWO32 + lo - now;
    this.latchedHi = undefined;
    this.update();
  }

  private updateHart(hart: number, now: number): void {
    const nowHi = Math.floor(now / TWO32);
    const nowLo = now - nowHi * TWO32;
    const hi = this.cmpHi[hart];
    const fired = nowHi > hi || (nowHi === hi && nowLo >= this.cmpLo[hart]) ? 1 : 0;
    if (fired === this.mtip[hart]) return;
    this.mtip[hart] = fired;
    this.setMtip(hart, fired === 1);
  }
}
