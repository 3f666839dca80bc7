// RV64GC hart: the interpreter. Integer registers live in the shared WebAssembly.Memory
// as (lo, hi) int32 pairs; 64-bit arithmetic is done on the halves so that the hot loop
// never touches BigInt. Traps are thrown as one preallocated object and caught at the
// instruction boundary, which keeps the fast paths free of status checks.
import type { Bus } from "../../hw/bus.js";
import {
  RAM_OFFSET, STATE_BUDGET, STATE_CALLS, STATE_F, STATE_FPOK, STATE_ICOUNT, STATE_JC, STATE_PC, STATE_RTLB, STATE_WTLB, STATE_X, STATE_XTLB,
  TLB_BASE_BIAS, TLB_BASES, TLB_ENTRIES, TLB_SIZE, TLB_TAG_BIAS,
  type GuestMemory,
} from "../../machine/guest-memory.js";
import { CodePages } from "../../accel/tcg/code-pages.js";
import { DEFAULT_THRESHOLD, DEFAULT_TIER_UP, Jit, LONG_BLOCK, type JitCpu, type JitHelpers } from "../../accel/tcg/jit.js";
import { div32, divs, divu, mul64, mulh, mulw } from "./alu64.js";
import {
  CSR, EXC_BREAKPOINT, EXC_ECALL_M, EXC_ECALL_S, EXC_ECALL_U, EXC_ILLEGAL, EXC_INST_ACCESS,
  EXC_INST_PAGE, EXC_LOAD_ACCESS, EXC_LOAD_MISALIGNED, EXC_LOAD_PAGE, EXC_STORE_ACCESS,
  EXC_STORE_MISALIGNED, EXC_STORE_PAGE, MEDELEG_MASK, MIDELEG_MASK, MIE_MASK, MIP_WMASK, MISA_HI,
  MISA_LO, MSTATUS_FS, MSTATUS_FS_DIRTY, MSTATUS_HI_XL, MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP,
  MSTATUS_MPP_SHIFT, MSTATUS_MPRV, MSTATUS_MXR, MSTATUS_SIE, MSTATUS_SPIE, MSTATUS_SPP,
  MSTATUS_SUM, MSTATUS_TSR, MSTATUS_TVM, MSTATUS_TW, MSTATUS_WMASK, PRV_M, PRV_S, PRV_U,
  SSTATUS_HI_XL, SSTATUS_MASK,
} from "./csr.js";
import { executeFp } from "./fp-exec.js";
import { rvcExpand } from "./rvc.js";
import { disassemble } from "./disasm.js";

/** mip/mie bit numbers that devices drive. */
export const IRQ_S_SOFT = 1;
export const IRQ_M_SOFT = 3;
export const IRQ_S_TIMER = 5;
export const IRQ_M_TIMER = 7;
export const IRQ_S_EXT = 9;
export const IRQ_M_EXT = 11;

export interface CpuOptions {
  mem: GuestMemory;
  bus: Bus;
  hartId: number;
  /** Current mtime in ticks (10 MHz on virt); what the `time` CSR reads. */
  mtime: () => number;
  /** Translate hot code to WebAssembly (-accel tcg,jit=on, the default). Off while tracing in_asm. */
  jit?: boolean;
  /** Interpreted starts of a block before it is translated (default DEFAULT_THRESHOLD). */
  jitThreshold?: number;
  /** Blocks a tier-1 translated page runs before it is translated at tier 2 (default DEFAULT_TIER_UP). */
  jitTierUp?: number;
  /** Optional instruction/interrupt trace sink (-d). */
  trace?: (line: string) => void;
  /** -d items that are on: "in_asm" (each instruction), "int" (traps and interrupts). */
  traceItems?: readonly string[];
}

const TWO32 = 4294967296;
const TLB_MASK = TLB_SIZE - 1;
/** TLB slot for S-mode data accesses while SUM is set (U pages visible): no flush on SUM. */
const SLOT_S_SUM = 2;
// Access kinds; each has its own TLB so that a hit implies the permission.
const ACC_READ = 0;
const ACC_WRITE = 1;
const ACC_EXEC = 2;
const PAGE_FAULT = [EXC_LOAD_PAGE, EXC_STORE_PAGE, EXC_INST_PAGE];
const ACCESS_FAULT = [EXC_LOAD_ACCESS, EXC_STORE_ACCESS, EXC_INST_ACCESS];
// Interrupts in the priority order of the privileged spec: MEI, MSI, MTI, SEI, SSI, STI.
const IRQ_PRIORITY = [IRQ_M_EXT, IRQ_M_SOFT, IRQ_M_TIMER, IRQ_S_EXT, IRQ_S_SOFT, IRQ_S_TIMER];

/**
 * The first value of fields that later hold doubles (addresses above 2^31, offsets read
 * from the Float64Array TLBs): -0 is a double to V8, 0 a small integer. A field that
 * starts as a small integer and later gets a double changes the representation in the
 * CPU's hidden class. The warm-up's hart did that, and the guest's hart, built after it,
 * still changed class at the kernel's first satp write (V8's IC log); every optimized
 * function that had seen the old class was thrown away, the interpreter's execute()
 * included (~70 ms of V8's optimizing compiler to get back, unoptimized meanwhile).
 */
const DOUBLE = -0;

/** A synchronous exception on its way to the trap handler. One instance, reused. */
export class Trap {
  cause = 0;
  tvalLo = 0;
  tvalHi = 0;
}

export class RiscvCpu {
  /** Program counter as a signed 64-bit value held in a Number (exact within ±2^53). */
  pc = DOUBLE;
  /** Set by WFI; the run loop sleeps until an interrupt is pending, then clears it. */
  waiting = false;
  /** Retired instruction count (instret). */
  instret = 0;
  /** Of instret: instructions retired inside translated code (TSVISOR_STATS). */
  translatedRetired = 0;
  /** Entries into translated code (TSVISOR_STATS). */
  dispatches = 0;
  /** Chunk functions the dispatcher called in them: each entry's first, and each chain from chunk to chunk. */
  chunkCalls = 0;
  /** Current privilege level (PRV_U, PRV_S, PRV_M). */
  priv = PRV_M;
  /** Privilege that loads and stores use (differs from priv under MPRV). */
  private dprv = PRV_M;
  /** TLB slot of data accesses: dprv, or SLOT_S_SUM for S-mode with SUM set. */
  private dslot = PRV_M;
  /** Index of the first entry of the current read and write TLBs. */
  private readTlb = ACC_READ * 4 * TLB_SIZE + PRV_M * TLB_SIZE;
  private writeTlb = ACC_WRITE * 4 * TLB_SIZE + PRV_M * TLB_SIZE;

  readonly x: Int32Array;
  /** Floating-point registers as raw 64-bit patterns. */
  readonly f: BigUint64Array;
  /** The same registers as host doubles (binary64 fast paths, fp-exec.ts). */
  readonly fD: Float64Array;
  /** The f registers as int32 pairs (low word first). */
  readonly fWords: Int32Array;
  private readonly dv: DataView;
  private readonly u16: Uint16Array;
  private readonly ramBase: number;
  private readonly ramEnd: number;
  private readonly bus: Bus;
  private readonly trap = new Trap();
  private readonly traceInsn: boolean;
  private readonly traceCpu: boolean;
  private readonly traceInt: boolean;

  // CSR state. 64-bit values as (lo, hi) pairs indexed by CSR number.
  private readonly csr = new Int32Array(4096 * 2);
  mstatus = 0; // low word; the high word is constant (UXL/SXL) but for SD
  private mipHw = 0; // lines driven by devices
  private mipSw = 0; // bits written by software
  mie = 0;
  mideleg = 0;
  medeleg = 0;
  fflags = 0;
  frm = 0;
  private satpMode = 0; // 0 bare, 8 Sv39, 9 Sv48
  private satpRoot = DOUBLE; // physical address of the root page table
  private instretOffset = 0; // minstret/mcycle writes
  private checkIrq = true;
  private stopRequested = false;

  // LR/SC reservation (virtual address; one hart).
  private resValid = false;
  private resLo = 0;
  private resHi = 0;

  // Software TLB: per access kind and privilege (U, S, S+SUM, M), tag = virtual page
  // number (NaN: empty), base = the page's byte offset in the Memory. It lives in the
  // Memory so that translated code reads it too.
  private readonly tlbTag: Float64Array;
  private readonly tlbBase: Float64Array;
  /** Byte offset of the TLB tags in the Memory, and of this hart's state area. */
  private readonly tlbOffset: number;
  private readonly stateBase: number;
  private readonly state32: Int32Array;

  // The translator (src/accel/tcg): undefined when off.
  readonly jit: Jit | undefined;
  /** Which RAM pages hold some hart's translated code (undefined for external RAM). */
  private readonly codePages: CodePages | undefined;
  private readonly jitThreshold: number;
  private readonly jitTierUp: number;
  /** Interpret one block only: stop after the first jump, branch or system instruction. */
  private blockMode = false;
  // In block mode: the start of the block being interpreted (its pc, page offset, and
  // instret there), for the translator's count of long blocks.
  private blockPc = DOUBLE;
  private blockPageOff = DOUBLE; // set before each use
  private blockRet = 0;
  /** Set when translated code may be stale (a page's code changed, the TLB was flushed). */
  private codeChanged = false;
  // The current instruction page.
  // pc of the page start (Infinity when invalid) and its byte offset in the Memory buffer.
  private fetchStart = Infinity;
  private fetchBase = DOUBLE;

  /** Scratch result of 8-byte slow loads and CSR reads (high word). */
  private tmpHi = 0;
  /** Physical address found by the last translate() of an MMIO page. */
  private lastPa = DOUBLE;
  /** 4 KiB pages covered by the leaf PTE of the last walk(). */
  private walkSpan = 1;
  /**
   * First page numbers of the superpages the TLB holds entries of (since the last full
   * flush): SFENCE.VMA of an address inside one must drop all of its 4 KiB entries.
   */
  private readonly tlbSuperpages = new Set<number>();

  constructor(readonly opts: CpuOptions) {
    const mem = opts.mem;
    const base = mem.hartState(opts.hartId);
    this.x = new Int32Array(mem.buffer, base + STATE_X, 64);
    this.f = new BigUint64Array(mem.buffer, base + STATE_F, 32);
    this.fD = new Float64Array(mem.buffer, base + STATE_F, 32);
    this.fWords = new Int32Array(mem.buffer, base + STATE_F, 64);
    this.dv = mem.view;
    this.u16 = new Uint16Array(mem.buffer);
    this.ramBase = mem.ramBase;
    this.ramEnd = mem.ramBase + mem.ramSize;
    this.bus = opts.bus;
    const items = opts.trace ? opts.traceItems ?? [] : [];
    this.traceCpu = items.includes("cpu");
    this.traceInsn = items.includes("in_asm") || items.includes("exec") || this.traceCpu;
    this.traceInt = items.includes("int");
    this.stateBase = base;
    this.state32 = mem.i32;
    this.tlbOffset = mem.hartTlb(opts.hartId);
    this.tlbTag = new Float64Array(mem.buffer, this.tlbOffset, TLB_ENTRIES).fill(NaN);
    this.tlbBase = new Float64Array(mem.buffer, this.tlbOffset + TLB_BASES, TLB_ENTRIES);
    // Instruction traces show every instruction: only the interpreter can.
    this.jitThreshold = opts.jitThreshold ?? DEFAULT_THRESHOLD;
    this.jitTierUp = opts.jitTierUp ?? DEFAULT_TIER_UP;
    // Every hart's stores must reach the translated code of every hart, even one without a Jit.
    this.codePages = mem.memory ? CodePages.of(mem) : undefined;
    this.jit = opts.jit && !this.traceInsn && mem.memory ? this.bindJit(mem, opts.hartId) : undefined;
    this.updateDataPriv();
  }

  // ---------------------------------------------------------------- public surface

  /** Reset to M-mode at `pc` per the privileged spec. */
  reset(pc: number): void {
    this.x.fill(0);
    this.f.fill(0n);
    this.csr.fill(0);
    this.pc = pc;
    this.priv = PRV_M;
    this.mstatus = 0;
    this.updateDataPriv();
    this.mipHw = 0;
    this.mipSw = 0;
    this.mie = 0;
    this.mideleg = 0;
    this.medeleg = 0;
    this.fflags = 0;
    this.frm = 0;
    this.satpMode = 0;
    this.satpRoot = 0;
    this.instret = 0;
    this.instretOffset = 0;
    this.waiting = false;
    this.resValid = false;
    this.flushTlb();
    this.updateFpOk();
    this.checkIrq = true;
  }

  getX(i: number): bigint {
    return BigInt.asIntN(64, (BigInt(this.x[i * 2 + 1]! >>> 0) << 32n) | BigInt(this.x[i * 2]! >>> 0));
  }
  setX(i: number, v: bigint): void {
    if (i === 0) return;
    const u = BigInt.asUintN(64, v);
    this.x[i * 2] = Number(u & 0xffffffffn) | 0;
    this.x[i * 2 + 1] = Number(u >> 32n) | 0;
  }
  getF(i: number): bigint {
    return this.f[i]!;
  }
  setF(i: number, v: bigint): void {
    this.f[i] = BigInt.asUintN(64, v);
  }

  /** Ends the current run() after the instruction in progress (power-off, reset, HTIF). */
  requestStop(): void {
    this.stopRequested = true;
    this.checkIrq = true;
  }

  /** Drives one mip bit from a device (CLINT, PLIC). */
  setInterrupt(bit: number, level: boolean): void {
    const m = 1 << bit;
    const next = level ? this.mipHw | m : this.mipHw & ~m;
    if (next !== this.mipHw) {
      this.mipHw = next;
      this.checkIrq = true;
    }
  }

  get mip(): number {
    return this.mipHw | this.mipSw;
  }

  /** True when some enabled interrupt is pending (wakes WFI even with MIE clear). */
  interruptPending(): boolean {
    return (this.mip & this.mie) !== 0;
  }

  /** Executes up to `budget` instructions; returns how many ran. Stops early on WFI. */
  run(budget: number): number {
    if (this.waiting) {
      if (!this.interruptPending()) return 0;
      this.waiting = false;
    }
    const start = this.instret;
    let left = budget;
    while (left > 0 && !this.waiting && !this.stopRequested) {
      const before = this.instret;
      try {
        if (this.jit === undefined) this.execute(left);
        else this.step(left);
      } catch (e) {
        if (e !== this.trap) throw e;
        this.enterTrap(this.trap.cause, false, this.trap.tvalLo, this.trap.tvalHi);
        left--; // a trapping instruction does not retire but uses the budget
      }
      left -= this.instret - before;
    }
    this.stopRequested = false;
    this.jit?.endSlice();
    return this.instret - start;
  }

  // ---------------------------------------------------------------- translated code

  /** One dispatch with the translator: translated code as far as it chains, or one interpreted block. */
  private step(budget: number): void {
    if (this.checkIrq) {
      this.checkIrq = false;
      if (this.stopRequested) return;
      if (!this.takeInterrupt() && this.waiting) return;
    }
    const pc = this.pc;
    let pageOff = this.codePageOffset(pc);
    if (pageOff < 0) pageOff = this.walkCodePage(pc);
    if (pageOff >= 0 && this.jit!.find(pc, pageOff)) return this.runTranslated(budget);
    this.blockPc = pc;
    this.blockPageOff = pageOff;
    this.blockRet = this.instret;
    this.blockMode = true;
    try {
      this.execute(budget);
    } finally {
      this.blockMode = false;
    }
    if (this.blockPageOff >= 0) this.jit!.interpreted(this.blockPc, this.blockPageOff, this.instret - this.blockRet);
  }

  /**
   * In block mode, at the start of the next block (at `pc`, with `retired` instructions
   * retired so far): whether the interpreter goes on with it. It does when the block has
   * no translation: it is cold (see Jit.coldStart), or hot and waiting for its batch
   * (Jit.find counts that run, as step() would). That spares most interpreted blocks
   * (~5 instructions each) the dispatch in step(): of a boot's ~360,000 returns to it,
   * ~320,000 had been at hot block starts, most of them waiting.
   */
  private interpretsNextBlock(pc: number, retired: number): boolean {
    if (retired - this.blockRet >= LONG_BLOCK) return false; // step() counts it
    const pageOff = pc - this.fetchStart;
    if (!(pageOff >= 0 && pageOff <= 0xffc) && !this.enterCodePage(pc)) return false;
    if (!this.jit!.coldStart(pc, this.fetchBase) && this.jit!.find(pc, this.fetchBase)) return false;
    this.blockPc = pc;
    this.blockPageOff = this.fetchBase;
    this.blockRet = retired;
    return true;
  }

  /**
   * In block mode, a jump to another page: makes it the fetch page when the instruction
   * TLB has it (as fetchSlow would), so that the interpreter goes on there when the block
   * is cold: a call or return between pages of cold code was a return from execute() to
   * step() (~120,000 of a boot's ~480,000).
   */
  private enterCodePage(pc: number): boolean {
    const off = (pc | 0) & 0xfff;
    if (off > 0xffc) return false; // a 4-byte instruction there may straddle: fetchSlow
    const base = this.codePageOffset(pc);
    if (base < 0) return false;
    this.fetchStart = pc - off;
    this.fetchBase = base;
    return true;
  }

  /** The host offset of pc's page under the current instruction mapping, or -1 on a TLB miss. */
  private codePageOffset(pc: number): number {
    const vpn = Math.floor(pc / 4096);
    const idx = ACC_EXEC * 4 * TLB_SIZE + this.priv * TLB_SIZE + (vpn & TLB_MASK);
    if (this.tlbTag[idx] !== vpn + TLB_TAG_BIAS) return -1;
    return this.tlbBase[idx]! - TLB_BASE_BIAS;
  }

  /**
   * For `ex`: runs an atomic or CSR instruction that translated code passes (~160,000 and
   * ~175,000 of a boot's ~355,000 `ex` calls) without the interpreter's fetch and decode.
   * False for anything else (0: the interpreter fetches it).
   */
  private execDirect(inst: number): boolean {
    const op = inst & 0x7f, f3 = (inst >>> 12) & 7;
    if (!(op === 0x2f || (op === 0x73 && f3 !== 0 && f3 !== 4))) return false;
    const rd = (inst >>> 7) & 31, rs1 = (inst >>> 15) & 31;
    if (op === 0x2f) this.atomic(inst, rd * 2, rs1, (inst >>> 20) & 31, f3);
    else this.execCsr(inst, rd, rs1, f3);
    this.x[0] = 0;
    this.x[1] = 0;
    this.instret++;
    this.pc += 4;
    return true;
  }

  /**
   * codePageOffset() after an instruction-TLB miss: walks the page table (filling the TLB)
   * so that translated code can run at once, instead of after the interpreter's fetch
   * filled it. Of ~10,900 such misses in a boot (most after the TLB flushes at context
   * switches), ~5,300 went straight on into a translation instead of an interpreted
   * block. -1 for a page outside RAM or a fault, which the interpreter then takes.
   */
  private walkCodePage(pc: number): number {
    const lo = pc | 0;
    try {
      const off = this.translate(lo, Math.floor(pc / TWO32) | 0, ACC_EXEC, this.priv);
      return off < 0 ? -1 : off - (lo & 0xfff);
    } catch (e) {
      if (e !== this.trap) throw e;
      return -1;
    }
  }

  /** Runs the dispatcher from this.pc (whose translation is in the jump cache). */
  private runTranslated(budget: number): void {
    const s = this.state32;
    const sb = this.stateBase >> 2;
    s[sb + (STATE_BUDGET >> 2)] = budget;
    s[sb + (STATE_ICOUNT >> 2)] = 0;
    s[sb + (STATE_CALLS >> 2)] = 0;
    this.setStatePc(this.pc);
    this.codeChanged = false;
    this.dispatches++;
    try {
      this.jit!.dispatch();
    } finally {
      // On a trap too: the translated code stored the faulting pc and the count before it.
      const n = s[sb + (STATE_ICOUNT >> 2)]!;
      this.instret += n;
      this.translatedRetired += n;
      this.chunkCalls += s[sb + (STATE_CALLS >> 2)]!;
      this.pc = this.statePc();
    }
  }

  private statePc(): number {
    const at = (this.stateBase + STATE_PC) >> 2;
    return this.state32[at + 1]! * TWO32 + (this.state32[at]! >>> 0);
  }

  private setStatePc(pc: number): void {
    const at = (this.stateBase + STATE_PC) >> 2;
    this.state32[at] = pc | 0;
    this.state32[at + 1] = Math.floor(pc / TWO32) | 0;
  }

  /** Whether translated code must stop after the instruction a helper just did. */
  private mustLeave(): number {
    return this.checkIrq || this.codeChanged || this.stopRequested ? 1 : 0;
  }

  /** The hart's translator: the one a predecessor on this memory left (a guest reset), or a new one. */
  private bindJit(mem: GuestMemory, hartId: number): Jit {
    const jumpCache = mem.hartJumpCache(hartId);
    this.state32[(this.stateBase + STATE_JC) >> 2] = jumpCache;
    const thresholds = { hot: this.jitThreshold, tierUp: this.jitTierUp };
    const cpu = this.jitCpu();
    const kept = this.codePages!.holder(hartId);
    if (kept instanceof Jit && kept.adopt(cpu, thresholds)) return kept;
    return new Jit(mem, hartId, this.stateBase, jumpCache, thresholds, cpu);
  }

  /** What the Jit calls on this CPU. */
  private jitCpu(): JitCpu {
    const x = this.x;
    const helpers: JitHelpers = {
      ld: (f3, rd, lo, hi) => {
        this.loadSlow(0, lo, hi, f3, rd * 2);
        x[0] = x[1] = 0;
        return this.mustLeave();
      },
      st: (f3, rs2, lo, hi) => {
        this.storeSlow(0, lo, hi, f3, rs2);
        return this.mustLeave();
      },
      fp: (inst) => executeFp(this, inst),
      ex: (inst) => {
        // The instruction at the stored pc runs. The counters it may read (instret, cycle)
        // must include what translated code retired so far in this call.
        const k = this.state32[(this.stateBase + STATE_ICOUNT) >> 2]!;
        this.pc = this.statePc();
        this.instret += k;
        try {
          if (!this.execDirect(inst)) this.execute(1);
        } finally {
          this.instret -= k;
        }
        this.setStatePc(this.pc); // where to go on (a page-straddling jump leaves for it)
        return this.mustLeave();
      },
    };
    return {
      helpers,
      scrubWriteTlb: () => this.scrubWriteTlb(),
      onInvalidate: () => {
        this.codeChanged = true;
      },
    };
  }

  /**
   * Empties the write-TLB entries of pages that hold translated code (of any hart): stores
   * there must reach translate(), which drops the code. A pass over the write TLBs takes
   * ~7 us; looking each entry up in a set of the new code pages took ~20.
   */
  private scrubWriteTlb(): void {
    const harts = this.codePages!.harts;
    const from = ACC_WRITE * 4 * TLB_SIZE;
    const tag = this.tlbTag, base = this.tlbBase;
    for (let i = from; i < from + 4 * TLB_SIZE; i++) {
      const t = tag[i]!;
      if (t === t && harts[(base[i]! - TLB_BASE_BIAS - RAM_OFFSET) / 4096] !== 0) tag[i] = NaN; // NaN: empty
    }
  }


  // ---------------------------------------------------------------- traps

  private raise(cause: number, tvalLo: number, tvalHi: number): never {
    const t = this.trap;
    t.cause = cause;
    t.tvalLo = tvalLo;
    t.tvalHi = tvalHi;
    throw t;
  }

  private illegal(inst: number): never {
    return this.raise(EXC_ILLEGAL, inst, 0);
  }

  private enterTrap(cause: number, interrupt: boolean, tvalLo: number, tvalHi: number): void {
    const pc = this.pc;
    const prv = this.priv;
    const bit = 1 << cause;
    const deleg = interrupt ? this.mideleg : this.medeleg;
    this.resValid = false;
    if (this.traceInt) {
      this.opts.trace!(`${interrupt ? "interrupt" : "exception"} cause=${cause} pc=${hex64(pc)} ` +
        `tval=${hexPair(tvalLo, tvalHi)} priv=${prv}`);
    }
    const causeHi = interrupt ? 0x80000000 | 0 : 0;
    if (prv <= PRV_S && (deleg & bit) !== 0) {
      this.setCsrNum(CSR.sepc, pc);
      this.setCsr(CSR.scause, cause, causeHi);
      this.setCsr(CSR.stval, tvalLo, tvalHi);
      let s = this.mstatus;
      s = (s & MSTATUS_SIE) !== 0 ? s | MSTATUS_SPIE : s & ~MSTATUS_SPIE;
      s = prv === PRV_S ? s | MSTATUS_SPP : s & ~MSTATUS_SPP;
      this.mstatus = s & ~MSTATUS_SIE;
      this.setPriv(PRV_S);
      this.pc = this.trapVector(CSR.stvec, cause, interrupt);
    } else {
      this.setCsrNum(CSR.mepc, pc);
      this.setCsr(CSR.mcause, cause, causeHi);
      this.setCsr(CSR.mtval, tvalLo, tvalHi);
      let s = this.mstatus;
      s = (s & MSTATUS_MIE) !== 0 ? s | MSTATUS_MPIE : s & ~MSTATUS_MPIE;
      s = (s & ~MSTATUS_MPP) | (prv << MSTATUS_MPP_SHIFT);
      this.mstatus = s & ~MSTATUS_MIE;
      this.setPriv(PRV_M);
      this.updateDataPriv();
      this.pc = this.trapVector(CSR.mtvec, cause, interrupt);
    }
    this.checkIrq = true;
  }

  private trapVector(tvec: number, cause: number, interrupt: boolean): number {
    const lo = this.csr[tvec * 2]!, hi = this.csr[tvec * 2 + 1]!;
    let base = toNum(lo & ~3, hi);
    if ((lo & 3) === 1 && interrupt) base += 4 * cause;
    return base;
  }

  /** Takes the highest-priority enabled pending interrupt, if any. */
  private takeInterrupt(): boolean {
    const pending = this.mip & this.mie;
    if (pending === 0) return false;
    const mEnabled = this.priv < PRV_M || (this.mstatus & MSTATUS_MIE) !== 0;
    const sEnabled = this.priv < PRV_S || (this.priv === PRV_S && (this.mstatus & MSTATUS_SIE) !== 0);
    const mPending = pending & ~this.mideleg;
    const sPending = pending & this.mideleg;
    for (const irq of IRQ_PRIORITY) {
      if (mEnabled && (mPending & (1 << irq)) !== 0) return this.interrupt(irq);
    }
    for (const irq of IRQ_PRIORITY) {
      if (sEnabled && (sPending & (1 << irq)) !== 0) return this.interrupt(irq);
    }
    return false;
  }

  private interrupt(irq: number): boolean {
    this.waiting = false;
    this.enterTrap(irq, true, 0, 0);
    return true;
  }

  private setPriv(p: number): void {
    if (p !== this.priv) {
      this.priv = p;
      this.fetchStart = Infinity;
      this.updateDataPriv();
    }
  }

  // ---------------------------------------------------------------- CSRs

  private setCsr(n: number, lo: number, hi: number): void {
    this.csr[n * 2] = lo;
    this.csr[n * 2 + 1] = hi;
  }
  private setCsrNum(n: number, v: number): void {
    this.setCsr(n, v | 0, Math.floor(v / TWO32) | 0);
  }

  /** Reads CSR n (privilege already checked): returns the low word, tmpHi = high word. */
  private csrRead(n: number, inst: number): number {
    this.tmpHi = 0;
    switch (n) {
      case CSR.fflags: this.requireFp(inst); return this.fflags;
      case CSR.frm: this.requireFp(inst); return this.frm;
      case CSR.fcsr: this.requireFp(inst); return (this.frm << 5) | this.fflags;
      case CSR.cycle: case CSR.instret: case CSR.mcycle: case CSR.minstret:
        return this.splitHi(this.instret + this.instretOffset);
      case CSR.time:
        return this.splitHi(this.opts.mtime());
      case CSR.sstatus:
        this.tmpHi = SSTATUS_HI_XL | this.sdBit();
        return this.mstatus & SSTATUS_MASK;
      case CSR.mstatus:
        this.tmpHi = MSTATUS_HI_XL | this.sdBit();
        return this.mstatus;
      case CSR.sie: return this.mie & this.mideleg;
      case CSR.sip: return this.mip & this.mideleg;
      case CSR.mie: return this.mie;
      case CSR.mip: return this.mip;
      case CSR.mideleg: return this.mideleg;
      case CSR.medeleg: return this.medeleg;
      case CSR.misa: this.tmpHi = MISA_HI; return MISA_LO;
      case CSR.mhartid: return this.opts.hartId;
      case CSR.satp:
        if (this.priv === PRV_S && (this.mstatus & MSTATUS_TVM) !== 0) this.illegal(inst);
        break;
    }
    if (!csrExists(n)) this.illegal(inst);
    this.tmpHi = this.csr[n * 2 + 1]!;
    return this.csr[n * 2]!;
  }

  private sdBit(): number {
    return (this.mstatus & MSTATUS_FS) === MSTATUS_FS ? 0x80000000 | 0 : 0;
  }

  private splitHi(v: number): number {
    this.tmpHi = Math.floor(v / TWO32) | 0;
    return v | 0;
  }

  private csrWrite(n: number, lo: number, hi: number, inst: number): void {
    switch (n) {
      case CSR.fflags: this.fflags = lo & 0x1f; this.markFpDirty(); return;
      case CSR.frm: this.writeFrm(lo & 7); return;
      case CSR.fcsr: this.fflags = lo & 0x1f; this.writeFrm((lo >> 5) & 7); return;
      case CSR.mcycle: case CSR.minstret:
        this.instretOffset = toNum(lo, hi) - this.instret;
        return;
      case CSR.sstatus:
        this.writeMstatus((this.mstatus & ~SSTATUS_MASK) | (lo & SSTATUS_MASK));
        return;
      case CSR.mstatus: this.writeMstatus(lo); return;
      case CSR.sie: this.mie = (this.mie & ~this.mideleg) | (lo & this.mideleg & MIE_MASK); break;
      case CSR.mie: this.mie = lo & MIE_MASK; break;
      case CSR.sip: {
        const m = this.mideleg & (1 << IRQ_S_SOFT);
        this.mipSw = (this.mipSw & ~m) | (lo & m);
        break;
      }
      case CSR.mip: this.mipSw = (this.mipSw & ~MIP_WMASK) | (lo & MIP_WMASK); break;
      case CSR.mideleg: this.mideleg = lo & MIDELEG_MASK; break;
      case CSR.medeleg: this.medeleg = lo & MEDELEG_MASK; return;
      case CSR.misa: case CSR.mhartid: case CSR.mvendorid: case CSR.marchid: case CSR.mimpid:
      case CSR.mconfigptr:
        return; // read-only or WARL fixed
      case CSR.mtvec: case CSR.stvec:
        this.setCsr(n, (lo & 3) >= 2 ? lo & ~3 : lo, hi);
        return;
      case CSR.mepc: case CSR.sepc:
        this.setCsr(n, lo & ~1, hi);
        return;
      case CSR.satp: this.writeSatp(lo, hi); return;
      case CSR.scounteren: case CSR.mcounteren: this.setCsr(n, lo & 7, 0); return;
      case CSR.mcountinhibit: return;
      default:
        if (!csrExists(n)) this.illegal(inst);
        if (n >= CSR.mhpmcounter3 && n <= CSR.mhpmcounter31) return; // hard-wired zero
        if (n >= CSR.mhpmevent3 && n <= CSR.mhpmevent31) return;
        this.setCsr(n, lo, hi);
        return;
    }
    this.checkIrq = true;
  }

  private writeMstatus(v: number): void {
    const old = this.mstatus;
    let s = (old & ~MSTATUS_WMASK) | (v & MSTATUS_WMASK);
    // MPP is WARL: 2 (reserved) reads back as U.
    if (((s & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT) === 2) s &= ~MSTATUS_MPP;
    this.mstatus = s;
    this.updateDataPriv();
    this.updateFpOk();
    // TLB entries are per privilege and SUM, so only MXR changes need a flush.
    if (((old ^ s) & MSTATUS_MXR) !== 0) this.flushTlb();
    // Enabling interrupts matters only with one pending: the kernel toggles SIE around
    // every spinlock, and a needless check makes translated code leave.
    if (this.interruptPending()) this.checkIrq = true;
  }

  private writeSatp(lo: number, hi: number): void {
    const mode = hi >>> 28;
    if (mode !== 0 && mode !== 8 && mode !== 9) return; // WARL: unsupported modes leave it
    this.setCsr(CSR.satp, lo, hi);
    this.satpMode = mode;
    this.satpRoot = ((hi & 0xfff) * TWO32 + (lo >>> 0)) * 4096;
    this.flushTlb();
  }

  private csrPrivCheck(n: number, write: boolean, inst: number): void {
    const minPriv = (n >>> 8) & 3;
    if (this.priv < minPriv) this.illegal(inst);
    if (write && (n >>> 10) === 3) this.illegal(inst);
    // Counters visible to lower levels only where mcounteren/scounteren allow.
    if (n >= CSR.cycle && n <= CSR.hpmcounter31 && this.priv < PRV_M) {
      const bit = 1 << (n - CSR.cycle);
      if ((this.csr[CSR.mcounteren * 2]! & bit) === 0) this.illegal(inst);
      if (this.priv === PRV_U && (this.csr[CSR.scounteren * 2]! & bit) === 0) this.illegal(inst);
    }
  }

  private execCsr(inst: number, rd: number, rs1: number, f3: number): void {
    const n = inst >>> 20;
    const imm = (f3 & 4) !== 0;
    const op = f3 & 3;
    const x = this.x;
    const srcLo = imm ? rs1 : x[rs1 * 2]!;
    const srcHi = imm ? 0 : x[rs1 * 2 + 1]!;
    const write = op === 1 || rs1 !== 0;
    this.csrPrivCheck(n, write, inst);
    if (n <= CSR.fcsr) this.requireFp(inst); // fflags, frm, fcsr: FS Off makes them illegal
    let oldLo = 0, oldHi = 0;
    if (op !== 1 || rd !== 0) {
      oldLo = this.csrRead(n, inst);
      oldHi = this.tmpHi;
    } else if (!csrExists(n)) {
      this.illegal(inst);
    } else if (n === CSR.satp && this.priv === PRV_S && (this.mstatus & MSTATUS_TVM) !== 0) {
      this.illegal(inst);
    }
    if (write) {
      // A read-modify-write of mip sees the software-written SEIP bit, not the PLIC's
      // line: otherwise `csrs mip, STIP` would latch a pending external interrupt forever.
      const baseLo = n === CSR.mip ? (oldLo & ~(1 << IRQ_S_EXT)) | (this.mipSw & (1 << IRQ_S_EXT)) : oldLo;
      let lo = srcLo, hi = srcHi;
      if (op === 2) { lo = baseLo | srcLo; hi = oldHi | srcHi; }
      else if (op === 3) { lo = baseLo & ~srcLo; hi = oldHi & ~srcHi; }
      this.csrWrite(n, lo, hi, inst);
    }
    if (rd !== 0) {
      x[rd * 2] = oldLo;
      x[rd * 2 + 1] = oldHi;
    }
  }

  // ---------------------------------------------------------------- floating point state

  /** Raises illegal instruction when mstatus.FS is Off. */
  requireFp(inst: number): void {
    if ((this.mstatus & MSTATUS_FS) === 0) this.illegal(inst);
  }
  markFpDirty(): void {
    if ((this.mstatus & MSTATUS_FS) === MSTATUS_FS_DIRTY) return;
    this.mstatus |= MSTATUS_FS_DIRTY;
    this.updateFpOk();
  }
  private writeFrm(rm: number): void {
    this.frm = rm;
    this.markFpDirty();
    this.updateFpOk();
  }
  /**
   * Tells translated code whether FP instructions may skip the checks that make them trap
   * (run inline, or through the `fp` helper without saving state): FS is Dirty (nothing to
   * check or mark) and frm is a valid rounding mode (for those that use the dynamic one).
   * frm is written only through writeFrm.
   */
  private updateFpOk(): void {
    const ok = (this.mstatus & MSTATUS_FS) === MSTATUS_FS_DIRTY && this.frm <= 4;
    this.state32[(this.stateBase + STATE_FPOK) >> 2] = ok ? 1 : 0;
  }
  /** Resolves the instruction's rm field (7 = dynamic); illegal for reserved modes. */
  roundingMode(rm: number, inst: number): number {
    const r = rm === 7 ? this.frm : rm;
    if (r > 4) this.illegal(inst);
    return r;
  }
  illegalInstruction(inst: number): never {
    return this.illegal(inst);
  }

  // ---------------------------------------------------------------- MMU

  flushTlb(): void {
    this.tlbTag.fill(NaN);
    this.tlbSuperpages.clear();
    this.fetchStart = Infinity;
    this.codeChanged = true;
  }

  /**
   * SFENCE.VMA with an address: drops that page's entries only. Linux fences one page after
   * each page fault it fixes and each kernel mapping it changes (~6,400 times in a boot);
   * refilling the TLB after a full flush each time cost ~140 k page walks per boot. An
   * address inside a cached superpage flushes everything (its entries are spread over
   * the TLB).
   */
  private flushTlbPage(vlo: number, vhi: number): void {
    const vpn = vhi * 1048576 + (vlo >>> 12);
    for (let level = 1; level < LEVEL_PAGES.length; level++) {
      const span = LEVEL_PAGES[level]!;
      if (this.tlbSuperpages.has(Math.floor(vpn / span) * span)) return this.flushTlb();
    }
    const tag = this.tlbTag;
    const key = vpn + TLB_TAG_BIAS;
    for (let i = vpn & TLB_MASK; i < TLB_ENTRIES; i += TLB_SIZE) {
      if (tag[i] === key) tag[i] = NaN;
    }
    this.fetchStart = Infinity;
    // Translated code (which runs SFENCE.VMA through the `ex` helper, with this.pc at it)
    // goes on after a fence of another page: the dispatcher checks every page it enters
    // against the TLB. A fence of its own page may have changed the mapping it runs under.
    if (vpn === Math.floor(this.pc / 4096)) this.codeChanged = true;
  }

  /** Recomputes dprv after a change of privilege or of mstatus.MPRV/MPP. */
  private updateDataPriv(): void {
    this.dprv = this.priv === PRV_M && (this.mstatus & MSTATUS_MPRV) !== 0
      ? (this.mstatus & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT : this.priv;
    this.dslot = this.dprv === PRV_S && (this.mstatus & MSTATUS_SUM) !== 0 ? SLOT_S_SUM : this.dprv;
    this.readTlb = ACC_READ * 4 * TLB_SIZE + this.dslot * TLB_SIZE;
    this.writeTlb = ACC_WRITE * 4 * TLB_SIZE + this.dslot * TLB_SIZE;
    this.state32[(this.stateBase + STATE_RTLB) >> 2] = this.tlbOffset + this.readTlb * 8;
    this.state32[(this.stateBase + STATE_WTLB) >> 2] = this.tlbOffset + this.writeTlb * 8;
    this.state32[(this.stateBase + STATE_XTLB) >> 2] = this.tlbOffset + (ACC_EXEC * 4 + this.priv) * TLB_SIZE * 8;
  }

  /**
   * Translates a virtual address. Returns the offset of the byte in the Memory buffer
   * for RAM, or -1 for anything else (then lastPa holds the physical address).
   * Raises page and access faults. Fills the TLB for RAM pages.
   */
  private translate(vlo: number, vhi: number, acc: number, prv: number): number {
    let pa: number;
    let span = 1;
    if (prv === PRV_M || this.satpMode === 0) {
      pa = (vhi >>> 0) * TWO32 + (vlo >>> 0);
    } else {
      pa = this.walk(vlo, vhi, acc, prv);
      span = this.walkSpan;
    }
    if (pa >= this.ramBase && pa < this.ramEnd) {
      const pageOff = pa - (vlo & 0xfff) - this.ramBase + RAM_OFFSET;
      const vpn = vhi * 1048576 + (vlo >>> 12);
      const slot = prv === PRV_S && acc !== ACC_EXEC && (this.mstatus & MSTATUS_SUM) !== 0
        ? SLOT_S_SUM : prv;
      const idx = acc * 4 * TLB_SIZE + slot * TLB_SIZE + (vpn & (TLB_SIZE - 1));
      // A store into a page with translated code (of any hart) drops those translations first.
      if (acc === ACC_WRITE && this.codePages !== undefined && this.codePages.harts[(pageOff - RAM_OFFSET) / 4096] !== 0) {
        this.codePages.written(pageOff);
      }
      this.tlbTag[idx] = vpn + TLB_TAG_BIAS;
      this.tlbBase[idx] = pageOff + TLB_BASE_BIAS;
      if (span > 1) this.tlbSuperpages.add(Math.floor(vpn / span) * span);
      return pageOff + (vlo & 0xfff);
    }
    this.lastPa = pa;
    return -1;
  }

  private walk(vlo: number, vhi: number, acc: number, prv: number): number {
    const levels = this.satpMode === 8 ? 3 : 4;
    const ext = levels === 3 ? vhi >> 6 : vhi >> 15;
    if (ext !== 0 && ext !== -1) this.raise(PAGE_FAULT[acc]!, vlo, vhi);
    const dv = this.dv;
    let table = this.satpRoot;
    for (let level = levels - 1; level >= 0; level--) {
      const pteAddr = table + vpnField(vlo, vhi, level) * 8;
      if (pteAddr < this.ramBase || pteAddr + 8 > this.ramEnd) {
        this.raise(ACCESS_FAULT[acc]!, vlo, vhi);
      }
      const off = pteAddr - this.ramBase + RAM_OFFSET;
      let lo = dv.getInt32(off, true);
      const hi = dv.getInt32(off + 4, true);
      if ((lo & 1) === 0 || (lo & 6) === 4 || (hi >>> 22) !== 0) this.raise(PAGE_FAULT[acc]!, vlo, vhi);
      const ppn = (hi & 0x3fffff) * 4194304 + (lo >>> 10);
      if ((lo & 0xa) === 0) { // pointer to the next level
        table = ppn * 4096;
        continue;
      }
      if (!this.leafAllows(lo, acc, prv)) this.raise(PAGE_FAULT[acc]!, vlo, vhi);
      const span = LEVEL_PAGES[level]!; // 4 KiB pages covered by this leaf
      if (ppn - Math.floor(ppn / span) * span !== 0) this.raise(PAGE_FAULT[acc]!, vlo, vhi); // misaligned superpage
      const want = acc === ACC_WRITE ? 0xc0 : 0x40; // A, and D for writes
      if ((lo & want) !== want) {
        lo |= want;
        dv.setInt32(off, lo, true);
      }
      const vpnAll = (vhi & 0xffff) * 1048576 + (vlo >>> 12);
      const vpnLow = vpnAll - Math.floor(vpnAll / span) * span; // span is a power of two
      this.walkSpan = span;
      return (ppn + vpnLow) * 4096 + (vlo & 0xfff);
    }
    return this.raise(PAGE_FAULT[acc]!, vlo, vhi);
  }

  private leafAllows(pte: number, acc: number, prv: number): boolean {
    const user = (pte & 0x10) !== 0;
    if (prv === PRV_U && !user) return false;
    if (prv === PRV_S && user && (acc === ACC_EXEC || (this.mstatus & MSTATUS_SUM) === 0)) return false;
    if (acc === ACC_EXEC) return (pte & 8) !== 0;
    if (acc === ACC_WRITE) return (pte & 4) !== 0;
    return (pte & 2) !== 0 || ((this.mstatus & MSTATUS_MXR) !== 0 && (pte & 8) !== 0);
  }

  /** Buffer offset of a RAM access that stays in one page, or -1 (MMIO / page crossing). */
  private dataOffset(vlo: number, vhi: number, size: number, acc: number): number {
    const vpn = vhi * 1048576 + (vlo >>> 12);
    const idx = acc * 4 * TLB_SIZE + this.dslot * TLB_SIZE + (vpn & (TLB_SIZE - 1));
    if (this.tlbTag[idx] === vpn + TLB_TAG_BIAS && (vlo & 0xfff) <= 0x1000 - size) {
      return this.tlbBase[idx]! - TLB_BASE_BIAS + (vlo & 0xfff);
    }
    if ((vlo & 0xfff) > 0x1000 - size) return -2;
    return this.translate(vlo, vhi, acc, this.dprv);
  }

  // ---------------------------------------------------------------- loads and stores

  /** Loads `size` (1, 2, 4) bytes, zero-extended; slow path for MMIO and page crossings. */
  private loadSmall(vlo: number, vhi: number, size: number): number {
    const off = this.dataOffset(vlo, vhi, size, ACC_READ);
    if (off >= 0) {
      return size === 4 ? this.dv.getInt32(off, true) >>> 0 : size === 2 ? this.dv.getUint16(off, true)
        : this.dv.getUint8(off);
    }
    if (off === -2) return this.loadBytes(vlo, vhi, size);
    const v = this.bus.read(this.lastPa, size as 1 | 2 | 4);
    if (v === undefined) this.raise(EXC_LOAD_ACCESS, vlo, vhi);
    return v;
  }

  /** A load that crosses a page: byte by byte, each byte translated. */
  private loadBytes(vlo: number, vhi: number, size: number): number {
    // Ascending, so a fault on the second page reports that page's first byte, as the
    // spec asks ("the portion of the access that caused the fault").
    let v = 0;
    for (let i = 0; i < size; i++) {
      const lo = (vlo + i) | 0;
      const hi = (lo >>> 0) < (vlo >>> 0) ? (vhi + 1) | 0 : vhi;
      v += this.loadSmall(lo, hi, 1) * 2 ** (8 * i);
    }
    return v;
  }

  /** Translates both pages of a page-crossing store so that a fault writes nothing. */
  private probeStore(vlo: number, vhi: number): void {
    const prv = this.dprv;
    this.translate(vlo, vhi, ACC_WRITE, prv);
    const nlo = ((vlo | 0xfff) + 1) | 0; // first byte of the next page
    const nhi = (nlo >>> 0) < (vlo >>> 0) ? (vhi + 1) | 0 : vhi;
    this.translate(nlo, nhi, ACC_WRITE, prv);
  }

  /** Loads 8 bytes into the register file `xr` (x or f words) at `slot`, `slot + 1`. */
  private load64(vlo: number, vhi: number, xr: Int32Array, slot: number): void {
    const off = this.dataOffset(vlo, vhi, 8, ACC_READ);
    let lo: number, hi: number;
    if (off >= 0) {
      lo = this.dv.getInt32(off, true);
      hi = this.dv.getInt32(off + 4, true);
    } else {
      const hvlo = (vlo + 4) | 0;
      const hvhi = (hvlo >>> 0) < (vlo >>> 0) ? (vhi + 1) | 0 : vhi;
      lo = this.loadSmall(vlo, vhi, 4) | 0;
      hi = this.loadSmall(hvlo, hvhi, 4) | 0;
    }
    xr[slot] = lo;
    xr[slot + 1] = hi;
  }

  private storeSmall(vlo: number, vhi: number, size: number, value: number): void {
    const off = this.dataOffset(vlo, vhi, size, ACC_WRITE);
    if (off >= 0) {
      if (size === 4) this.dv.setInt32(off, value, true);
      else if (size === 2) this.dv.setUint16(off, value, true);
      else this.dv.setUint8(off, value);
      return;
    }
    if (off === -2) return this.storeBytes(vlo, vhi, size, value);
    const mask = size === 4 ? -1 : (1 << (size * 8)) - 1;
    if (!this.bus.write(this.lastPa, (value & mask) >>> 0, size as 1 | 2 | 4)) {
      this.raise(EXC_STORE_ACCESS, vlo, vhi);
    }
  }

  /** A store that crosses a page: translate both pages first so a fault writes nothing. */
  private storeBytes(vlo: number, vhi: number, size: number, value: number): void {
    this.probeStore(vlo, vhi);
    const prv = this.dprv;
    for (let i = 0; i < size; i++) {
      const lo = (vlo + i) | 0;
      const hi = (lo >>> 0) < (vlo >>> 0) ? (vhi + 1) | 0 : vhi;
      const off = this.translate(lo, hi, ACC_WRITE, prv);
      const b = (value >>> (8 * i)) & 0xff;
      if (off >= 0) this.dv.setUint8(off, b);
      else if (!this.bus.write(this.lastPa, b, 1)) this.raise(EXC_STORE_ACCESS, vlo, vhi);
    }
  }

  private store64(vlo: number, vhi: number, lo: number, hi: number): void {
    const off = this.dataOffset(vlo, vhi, 8, ACC_WRITE);
    if (off >= 0) {
      this.dv.setInt32(off, lo, true);
      this.dv.setInt32(off + 4, hi, true);
      return;
    }
    const hvlo = (vlo + 4) | 0;
    const hvhi = (hvlo >>> 0) < (vlo >>> 0) ? (vhi + 1) | 0 : vhi;
    if (off === -2) this.probeStore(vlo, vhi); // fault before writing either half
    this.storeSmall(vlo, vhi, 4, lo);
    this.storeSmall(hvlo, hvhi, 4, hi);
  }

  // ---------------------------------------------------------------- instruction fetch

  /**
   * Fetches the instruction at pc off the fast path: a new page, ROM, or a page-crossing
   * one. Returns it as a signed int32, like the fast path: an unsigned one above 2^31 is a
   * heap number, and execute()'s optimized code (which had seen small integers) was thrown
   * away on it ~7 times per boot.
   */
  private fetchSlow(pc: number): number {
    const lo = pc | 0;
    const hi = Math.floor(pc / TWO32) | 0;
    const prv = this.priv;
    // Most calls come from jumps to another page that the TLB has (a walk costs more).
    const page = this.codePageOffset(pc);
    const off = page >= 0 ? page + (lo & 0xfff) : this.translate(lo, hi, ACC_EXEC, prv);
    if (off < 0) {
      // Executing from ROM or another device (the boot ROM): fetch through the bus.
      const pa = this.lastPa;
      const half = this.bus.read(pa, 2);
      if (half === undefined) this.raise(EXC_INST_ACCESS, lo, hi);
      if ((half & 3) !== 3) return half;
      const upper = this.bus.read(pa + 2, 2);
      if (upper === undefined) this.raise(EXC_INST_ACCESS, (lo + 2) | 0, hi);
      return half | (upper << 16);
    }
    this.fetchStart = pc - (lo & 0xfff);
    this.fetchBase = off - (lo & 0xfff);
    const half = this.dv.getUint16(off, true);
    if ((half & 3) !== 3) return half;
    if ((lo & 0xfff) !== 0xffe) return half | (this.dv.getUint16(off + 2, true) << 16);
    // The instruction's second half is on the next page: a fault there reports that page.
    const nlo = (lo + 2) | 0;
    const nhi = (nlo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
    const off2 = this.translate(nlo, nhi, ACC_EXEC, prv);
    let upper: number | undefined;
    if (off2 >= 0) upper = this.dv.getUint16(off2, true);
    else upper = this.bus.read(this.lastPa, 2);
    if (upper === undefined) this.raise(EXC_INST_ACCESS, nlo, nhi);
    this.fetchStart = Infinity; // the fast path must not read past the page end
    return half | (upper << 16);
  }

  // ---------------------------------------------------------------- the interpreter

  /** Runs instructions until `budget` retire or something stops the slice. */
  private execute(budget: number): void {
    const x = this.x;
    const u16 = this.u16;
    const dv = this.dv;
    const tlbTag = this.tlbTag;
    const tlbBase = this.tlbBase;
    const traceInsn = this.traceInsn;
    let pc = this.pc;
    let count = 0;
    let blockEnd = false; // block mode: the last instruction ended a block
    try {
      for (; count < budget; count++) {
        if (blockEnd) {
          blockEnd = false;
          if (!this.interpretsNextBlock(pc, this.instret + count)) break;
        }
        if (this.checkIrq) { // set by anything that may make an interrupt takeable, and WFI
          this.checkIrq = false;
          if (this.stopRequested) break;
          this.pc = pc;
          if (this.takeInterrupt()) pc = this.pc;
          else if (this.waiting) break;
        }
        // Fetch: the fast path reads from the current page of RAM.
        let inst: number;
        const pageOff = pc - this.fetchStart;
        if (pageOff >= 0 && pageOff <= 0xffc) {
          const o = (this.fetchBase + pageOff) >>> 1;
          inst = u16[o]!;
          if ((inst & 3) === 3) inst |= u16[o + 1]! << 16;
        } else {
          // A block the translator may pick up from ends where its code leaves the page:
          // the next page may be translated (a long unrolled loop body spans pages).
          if (this.blockMode && count > 0) break;
          this.pc = pc;
          inst = this.fetchSlow(pc);
        }
        if (traceInsn) this.traceInstruction(pc, inst);
        let ilen = 4;
        if ((inst & 3) !== 3) {
          const raw = inst;
          inst = rvcExpand(inst);
          if (inst === 0) this.illegal(raw);
          ilen = 2;
        }
        let next = pc + ilen;
        const rd = (inst >> 7) & 31;
        const rs1 = (inst >> 15) & 31;
        const rs2 = (inst >> 20) & 31;
        const f3 = (inst >> 12) & 7;
        const d = rd * 2;
        switch (inst & 0x7f) {
          case 0x37: // LUI
            x[d] = inst & 0xfffff000;
            x[d + 1] = inst >> 31;
            break;
          case 0x17: { // AUIPC
            const v = pc + (inst & 0xfffff000);
            x[d] = v | 0;
            x[d + 1] = Math.floor(v / TWO32) | 0;
            break;
          }
          case 0x6f: { // JAL
            const imm = ((inst >> 31) << 20) | (((inst >> 12) & 0xff) << 12) | (((inst >> 20) & 1) << 11) |
              (((inst >> 21) & 0x3ff) << 1);
            x[d] = next | 0;
            x[d + 1] = Math.floor(next / TWO32) | 0;
            next = pc + imm;
            blockEnd = this.blockMode;
            break;
          }
          case 0x67: { // JALR
            const imm = inst >> 20;
            const lo = x[rs1 * 2]!, hi = x[rs1 * 2 + 1]!;
            const tlo = (lo + imm) | 0;
            const thi = carryHi(lo, imm, tlo, hi);
            x[d] = next | 0;
            x[d + 1] = Math.floor(next / TWO32) | 0;
            next = thi * TWO32 + ((tlo & ~1) >>> 0);
            blockEnd = this.blockMode;
            break;
          }
          case 0x63: { // branches
            const alo = x[rs1 * 2]!, ahi = x[rs1 * 2 + 1]!, blo = x[rs2 * 2]!, bhi = x[rs2 * 2 + 1]!;
            let taken: boolean;
            switch (f3) {
              case 0: taken = alo === blo && ahi === bhi; break;
              case 1: taken = alo !== blo || ahi !== bhi; break;
              case 4: taken = ahi < bhi || (ahi === bhi && (alo >>> 0) < (blo >>> 0)); break;
              case 5: taken = ahi > bhi || (ahi === bhi && (alo >>> 0) >= (blo >>> 0)); break;
              case 6: taken = (ahi >>> 0) < (bhi >>> 0) || (ahi === bhi && (alo >>> 0) < (blo >>> 0)); break;
              case 7: taken = (ahi >>> 0) > (bhi >>> 0) || (ahi === bhi && (alo >>> 0) >= (blo >>> 0)); break;
              default: this.illegal(inst);
            }
            if (taken) {
              next = pc + (((inst >> 31) << 12) | (((inst >> 7) & 1) << 11) | (((inst >> 25) & 0x3f) << 5) |
                (((inst >> 8) & 0xf) << 1));
            }
            blockEnd = this.blockMode;
            break;
          }
          case 0x03: { // loads
            const imm = inst >> 20;
            const blo = x[rs1 * 2]!;
            const vlo = (blo + imm) | 0;
            const vhi = carryHi(blo, imm, vlo, x[rs1 * 2 + 1]!);
            // Inline TLB hit for RAM within one page; everything else in loadSlow.
            const vpn = vhi * 1048576 + (vlo >>> 12);
            const idx = this.readTlb + (vpn & TLB_MASK);
            const po = vlo & 0xfff;
            if (tlbTag[idx] === vpn + TLB_TAG_BIAS && po <= 0xff8) {
              const off = tlbBase[idx]! - TLB_BASE_BIAS + po;
              switch (f3) {
                case 0: { const v = dv.getInt8(off); x[d] = v; x[d + 1] = v >> 31; break; }
                case 1: { const v = dv.getInt16(off, true); x[d] = v; x[d + 1] = v >> 31; break; }
                case 2: { const v = dv.getInt32(off, true); x[d] = v; x[d + 1] = v >> 31; break; }
                case 3: x[d] = dv.getInt32(off, true); x[d + 1] = dv.getInt32(off + 4, true); break;
                case 4: x[d] = dv.getUint8(off); x[d + 1] = 0; break;
                case 5: x[d] = dv.getUint16(off, true); x[d + 1] = 0; break;
                case 6: x[d] = dv.getInt32(off, true); x[d + 1] = 0; break;
                default: this.illegal(inst);
              }
            } else {
              this.loadSlow(inst, vlo, vhi, f3, d);
            }
            break;
          }
          case 0x23: { // stores
            const imm = ((inst >> 25) << 5) | ((inst >> 7) & 31);
            const blo = x[rs1 * 2]!;
            const vlo = (blo + imm) | 0;
            const vhi = carryHi(blo, imm, vlo, x[rs1 * 2 + 1]!);
            const vpn = vhi * 1048576 + (vlo >>> 12);
            const idx = this.writeTlb + (vpn & TLB_MASK);
            const po = vlo & 0xfff;
            if (tlbTag[idx] === vpn + TLB_TAG_BIAS && po <= 0xff8) {
              const off = tlbBase[idx]! - TLB_BASE_BIAS + po;
              switch (f3) {
                case 0: dv.setInt8(off, x[rs2 * 2]!); break;
                case 1: dv.setInt16(off, x[rs2 * 2]!, true); break;
                case 2: dv.setInt32(off, x[rs2 * 2]!, true); break;
                case 3: dv.setInt32(off, x[rs2 * 2]!, true); dv.setInt32(off + 4, x[rs2 * 2 + 1]!, true); break;
                default: this.illegal(inst);
              }
            } else {
              this.storeSlow(inst, vlo, vhi, f3, rs2);
            }
            break;
          }
          case 0x13: // OP-IMM; ADDI (also c.li, c.addi, c.mv-like moves) inline
            if (f3 === 0) {
              const imm = inst >> 20;
              const alo = x[rs1 * 2]!;
              const lo = (alo + imm) | 0;
              x[d + 1] = carryHi(alo, imm, lo, x[rs1 * 2 + 1]!);
              x[d] = lo;
            } else {
              this.opImm(inst, d, rs1, f3);
            }
            break;
          case 0x1b: this.opImm32(inst, d, rs1, f3); break;
          case 0x33: // OP; ADD (also c.mv, c.add) inline
            if ((inst & 0xfe007000) === 0) {
              const alo = x[rs1 * 2]!, blo = x[rs2 * 2]!;
              const lo = (alo + blo) | 0;
              x[d + 1] = (x[rs1 * 2 + 1]! + x[rs2 * 2 + 1]! + ((lo >>> 0) < (alo >>> 0) ? 1 : 0)) | 0;
              x[d] = lo;
            } else {
              this.op(inst, rd, rs1, rs2, f3);
            }
            break;
          case 0x3b: this.op32(inst, rd, rs1, rs2, f3); break;
          case 0x0f: // FENCE, FENCE.I: one hart, no caches to keep coherent
            if (f3 > 1) this.illegal(inst);
            break;
          case 0x73:
            if (f3 === 0) {
              next = this.system(inst, pc, next);
              blockEnd = this.blockMode;
            } else {
              if (f3 === 4) this.illegal(inst);
              this.pc = pc;
              this.instret += count; // counters read the current value
              budget -= count;
              count = 0;
              this.execCsr(inst, rd, rs1, f3);
            }
            break;
          case 0x2f: this.atomic(inst, d, rs1, rs2, f3); break;
          case 0x07: { // FLW, FLD
            this.requireFp(inst);
            const imm = inst >> 20;
            const blo = x[rs1 * 2]!;
            const vlo = (blo + imm) | 0;
            const vhi = carryHi(blo, imm, vlo, x[rs1 * 2 + 1]!);
            const fw = this.fWords;
            if (f3 === 2) {
              fw[rd * 2] = this.loadSmall(vlo, vhi, 4) | 0;
              fw[rd * 2 + 1] = -1; // NaN-boxed single
            } else if (f3 === 3) {
              this.load64(vlo, vhi, fw, rd * 2);
            } else this.illegal(inst);
            this.markFpDirty();
            break;
          }
          case 0x27: { // FSW, FSD
            this.requireFp(inst);
            const imm = ((inst >> 25) << 5) | ((inst >> 7) & 31);
            const blo = x[rs1 * 2]!;
            const vlo = (blo + imm) | 0;
            const vhi = carryHi(blo, imm, vlo, x[rs1 * 2 + 1]!);
            const fw = this.fWords;
            if (f3 === 2) this.storeSmall(vlo, vhi, 4, fw[rs2 * 2]!);
            else if (f3 === 3) this.store64(vlo, vhi, fw[rs2 * 2]!, fw[rs2 * 2 + 1]!);
            else this.illegal(inst);
            break;
          }
          case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
            this.pc = pc;
            executeFp(this, inst);
            break;
          default:
            this.illegal(inst);
        }
        x[0] = 0;
        x[1] = 0;
        pc = next;
      }
    } catch (e) {
      this.pc = pc;
      this.instret += count;
      throw e;
    }
    this.pc = pc;
    this.instret += count;
  }

  private traceInstruction(pc: number, inst: number): void {
    const width = (inst & 3) === 3 ? 8 : 4;
    const trace = this.opts.trace!;
    if (this.traceCpu) {
      const regs: string[] = [];
      for (let i = 0; i < 32; i++) regs.push(`x${i}=${hexPair(this.x[i * 2]!, this.x[i * 2 + 1]!)}`);
      trace(`priv=${this.priv} ${regs.join(" ")}`);
    }
    trace(`${hex64(pc)}: ${(inst >>> 0).toString(16).padStart(width, "0").padEnd(9)}${disassemble(inst, pc)}`);
  }

  private loadSlow(inst: number, vlo: number, vhi: number, f3: number, d: number): void {
    const x = this.x;
    switch (f3) {
      case 0: { const v = (this.loadSmall(vlo, vhi, 1) << 24) >> 24; x[d] = v; x[d + 1] = v >> 31; break; }
      case 1: { const v = (this.loadSmall(vlo, vhi, 2) << 16) >> 16; x[d] = v; x[d + 1] = v >> 31; break; }
      case 2: { const v = this.loadSmall(vlo, vhi, 4) | 0; x[d] = v; x[d + 1] = v >> 31; break; }
      case 3: this.load64(vlo, vhi, x, d); break;
      case 4: x[d] = this.loadSmall(vlo, vhi, 1); x[d + 1] = 0; break;
      case 5: x[d] = this.loadSmall(vlo, vhi, 2); x[d + 1] = 0; break;
      case 6: x[d] = this.loadSmall(vlo, vhi, 4) | 0; x[d + 1] = 0; break;
      default: this.illegal(inst);
    }
  }

  private storeSlow(inst: number, vlo: number, vhi: number, f3: number, rs2: number): void {
    const x = this.x;
    switch (f3) {
      case 0: this.storeSmall(vlo, vhi, 1, x[rs2 * 2]! & 0xff); break;
      case 1: this.storeSmall(vlo, vhi, 2, x[rs2 * 2]! & 0xffff); break;
      case 2: this.storeSmall(vlo, vhi, 4, x[rs2 * 2]!); break;
      case 3: this.store64(vlo, vhi, x[rs2 * 2]!, x[rs2 * 2 + 1]!); break;
      default: this.illegal(inst);
    }
  }

  private opImm(inst: number, d: number, rs1: number, f3: number): void {
    const x = this.x;
    const imm = inst >> 20;
    const alo = x[rs1 * 2]!, ahi = x[rs1 * 2 + 1]!;
    switch (f3) {
      case 0: { // ADDI
        const lo = (alo + imm) | 0;
        x[d + 1] = carryHi(alo, imm, lo, ahi);
        x[d] = lo;
        return;
      }
      case 1: // SLLI
        if ((inst >>> 26) !== 0) this.illegal(inst);
        shiftLeft(x, d, alo, ahi, imm & 63);
        return;
      case 2: // SLTI
        x[d] = less(alo, ahi, imm, imm >> 31) ? 1 : 0;
        x[d + 1] = 0;
        return;
      case 3: // SLTIU
        x[d] = lessU(alo, ahi, imm, imm >> 31) ? 1 : 0;
        x[d + 1] = 0;
        return;
      case 4: x[d] = alo ^ imm; x[d + 1] = ahi ^ (imm >> 31); return;
      case 5: {
        const top = inst >>> 26;
        if (top === 0) shiftRight(x, d, alo, ahi, imm & 63);
        else if (top === 0x10) shiftRightArith(x, d, alo, ahi, imm & 63);
        else this.illegal(inst);
        return;
      }
      case 6: x[d] = alo | imm; x[d + 1] = ahi | (imm >> 31); return;
      case 7: x[d] = alo & imm; x[d + 1] = ahi & (imm >> 31); return;
    }
  }

  private opImm32(inst: number, d: number, rs1: number, f3: number): void {
    const x = this.x;
    const a = x[rs1 * 2]!;
    const sh = (inst >> 20) & 31;
    let r: number;
    switch (f3) {
      case 0: r = (a + (inst >> 20)) | 0; break; // ADDIW
      case 1: // SLLIW
        if ((inst >>> 25) !== 0) this.illegal(inst);
        r = a << sh;
        break;
      case 5: {
        const top = inst >>> 25;
        if (top === 0) r = a >>> sh | 0; // SRLIW
        else if (top === 0x20) r = a >> sh; // SRAIW
        else this.illegal(inst);
        break;
      }
      default: this.illegal(inst);
    }
    x[d] = r;
    x[d + 1] = r >> 31;
  }

  private op(inst: number, rd: number, rs1: number, rs2: number, f3: number): void {
    const x = this.x;
    const d = rd * 2;
    const alo = x[rs1 * 2]!, ahi = x[rs1 * 2 + 1]!, blo = x[rs2 * 2]!, bhi = x[rs2 * 2 + 1]!;
    const f7 = inst >>> 25;
    if (f7 === 1) { // M extension
      switch (f3) {
        case 0: mul64(x, rd, alo, ahi, blo, bhi); return;
        case 1: mulh(x, rd, alo, ahi, blo, bhi, true, true); return;
        case 2: mulh(x, rd, alo, ahi, blo, bhi, true, false); return;
        case 3: mulh(x, rd, alo, ahi, blo, bhi, false, false); return;
        case 4: divs(x, rd, alo, ahi, blo, bhi, false); return;
        case 5: divu(x, rd, alo, ahi, blo, bhi, false); return;
        case 6: divs(x, rd, alo, ahi, blo, bhi, true); return;
        case 7: divu(x, rd, alo, ahi, blo, bhi, true); return;
      }
    }
    if (f7 === 0) {
      switch (f3) {
        case 0: { // ADD
          const lo = (alo + blo) | 0;
          x[d + 1] = (ahi + bhi + ((lo >>> 0) < (alo >>> 0) ? 1 : 0)) | 0;
          x[d] = lo;
          return;
        }
        case 1: shiftLeft(x, d, alo, ahi, blo & 63); return;
        case 2: x[d] = less(alo, ahi, blo, bhi) ? 1 : 0; x[d + 1] = 0; return;
        case 3: x[d] = lessU(alo, ahi, blo, bhi) ? 1 : 0; x[d + 1] = 0; return;
        case 4: x[d] = alo ^ blo; x[d + 1] = ahi ^ bhi; return;
        case 5: shiftRight(x, d, alo, ahi, blo & 63); return;
        case 6: x[d] = alo | blo; x[d + 1] = ahi | bhi; return;
        case 7: x[d] = alo & blo; x[d + 1] = ahi & bhi; return;
      }
    }
    if (f7 === 0x20) {
      if (f3 === 0) { // SUB
        const lo = (alo - blo) | 0;
        const borrow = (alo >>> 0) < (blo >>> 0) ? 1 : 0;
        x[d + 1] = (ahi - bhi - borrow) | 0;
        x[d] = lo;
        return;
      }
      if (f3 === 5) { shiftRightArith(x, d, alo, ahi, blo & 63); return; }
    }
    this.illegal(inst);
  }

  private op32(inst: number, rd: number, rs1: number, rs2: number, f3: number): void {
    const x = this.x;
    const a = x[rs1 * 2]!, b = x[rs2 * 2]!;
    const f7 = inst >>> 25;
    let r: number;
    if (f7 === 1) {
      switch (f3) {
        case 0: mulw(x, rd, a, b); return;
        case 4: div32(x, rd, a, b, true, false); return;
        case 5: div32(x, rd, a, b, false, false); return;
        case 6: div32(x, rd, a, b, true, true); return;
        case 7: div32(x, rd, a, b, false, true); return;
      }
      this.illegal(inst);
    }
    const key = (f7 << 3) | f3;
    switch (key) {
      case 0x000: r = (a + b) | 0; break; // ADDW
      case 0x100: r = (a - b) | 0; break; // SUBW
      case 0x001: r = a << (b & 31); break; // SLLW
      case 0x005: r = (a >>> (b & 31)) | 0; break; // SRLW
      case 0x105: r = a >> (b & 31); break; // SRAW
      default: this.illegal(inst);
    }
    x[rd * 2] = r;
    x[rd * 2 + 1] = r >> 31;
  }

  /** ECALL, EBREAK, xRET, WFI, SFENCE.VMA. Returns the next pc. */
  private system(inst: number, pc: number, next: number): number {
    this.pc = pc;
    switch (inst >>> 0) {
      case 0x00000073: // ECALL
        this.raise(this.priv === PRV_U ? EXC_ECALL_U : this.priv === PRV_S ? EXC_ECALL_S : EXC_ECALL_M, 0, 0);
        break;
      case 0x00100073: // EBREAK: tval = pc, as QEMU
        this.raise(EXC_BREAKPOINT, pc | 0, Math.floor(pc / TWO32) | 0);
        break;
      case 0x30200073: return this.mret(inst);
      case 0x10200073: return this.sret(inst);
      case 0x10500073: // WFI
        if (this.priv === PRV_U || (this.priv === PRV_S && (this.mstatus & MSTATUS_TW) !== 0)) {
          this.illegal(inst);
        }
        if (!this.interruptPending()) {
          this.waiting = true;
          this.checkIrq = true;
        }
        return next;
    }
    if ((inst >>> 25) === 0x09 && ((inst >> 7) & 0x1f) === 0 && ((inst >> 12) & 7) === 0) { // SFENCE.VMA
      if (this.priv === PRV_U || (this.priv === PRV_S && (this.mstatus & MSTATUS_TVM) !== 0)) {
        this.illegal(inst);
      }
      const rs1 = (inst >> 15) & 31;
      if (rs1 === 0) this.flushTlb();
      else this.flushTlbPage(this.x[rs1 * 2]!, this.x[rs1 * 2 + 1]!);
      return next;
    }
    return this.illegal(inst);
  }

  private mret(inst: number): number {
    if (this.priv < PRV_M) this.illegal(inst);
    let s = this.mstatus;
    const mpp = (s & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT;
    s = (s & MSTATUS_MPIE) !== 0 ? s | MSTATUS_MIE : s & ~MSTATUS_MIE;
    s |= MSTATUS_MPIE;
    s &= ~MSTATUS_MPP;
    if (mpp !== PRV_M) s &= ~MSTATUS_MPRV;
    this.writeMstatus(s);
    this.setPriv(mpp);
    this.resValid = false;
    return toNum(this.csr[CSR.mepc * 2]!, this.csr[CSR.mepc * 2 + 1]!);
  }

  private sret(inst: number): number {
    if (this.priv < PRV_S || (this.priv === PRV_S && (this.mstatus & MSTATUS_TSR) !== 0)) {
      this.illegal(inst);
    }
    let s = this.mstatus;
    const spp = (s & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
    s = (s & MSTATUS_SPIE) !== 0 ? s | MSTATUS_SIE : s & ~MSTATUS_SIE;
    s |= MSTATUS_SPIE;
    s &= ~MSTATUS_SPP;
    s &= ~MSTATUS_MPRV;
    this.writeMstatus(s);
    this.setPriv(spp);
    this.resValid = false;
    return toNum(this.csr[CSR.sepc * 2]!, this.csr[CSR.sepc * 2 + 1]!);
  }

  /** LR, SC and AMOs (W and D). Misaligned addresses trap, as on QEMU. */
  private atomic(inst: number, d: number, rs1: number, rs2: number, f3: number): void {
    const x = this.x;
    if (f3 !== 2 && f3 !== 3) this.illegal(inst);
    const wide = f3 === 3;
    const vlo = x[rs1 * 2]!, vhi = x[rs1 * 2 + 1]!;
    const op = inst >>> 27;
    if ((vlo & (wide ? 7 : 3)) !== 0) {
      this.raise(op === 2 ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED, vlo, vhi);
    }
    if (op === 2) { // LR
      if (rs2 !== 0) this.illegal(inst);
      this.loadForAtomic(vlo, vhi, wide, d);
      this.resValid = true;
      this.resLo = vlo;
      this.resHi = vhi;
      return;
    }
    const blo = x[rs2 * 2]!, bhi = wide ? x[rs2 * 2 + 1]! : blo >> 31;
    if (op === 3) { // SC
      const ok = this.resValid && this.resLo === vlo && this.resHi === vhi;
      this.resValid = false;
      if (ok) {
        if (wide) this.store64(vlo, vhi, blo, bhi);
        else this.storeSmall(vlo, vhi, 4, blo);
      } else {
        // A failed SC still needs write permission (the spec lets it fault).
        this.dataOffset(vlo, vhi, wide ? 8 : 4, ACC_WRITE);
      }
      x[d] = ok ? 0 : 1;
      x[d + 1] = 0;
      return;
    }
    // AMO: check write permission first so a faulting AMO reports a store fault.
    this.dataOffset(vlo, vhi, wide ? 8 : 4, ACC_WRITE);
    this.loadForAtomic(vlo, vhi, wide, d === 0 ? 64 : d); // rd = x0 still loads
    const tmp = d === 0 ? this.scratch : x;
    const t = d === 0 ? 0 : d;
    const alo = tmp[t]!, ahi = tmp[t + 1]!;
    let rlo: number, rhi: number;
    switch (op) {
      case 0x01: rlo = blo; rhi = bhi; break; // AMOSWAP
      case 0x00: { // AMOADD
        rlo = (alo + blo) | 0;
        rhi = wide ? (ahi + bhi + ((rlo >>> 0) < (alo >>> 0) ? 1 : 0)) | 0 : 0;
        break;
      }
      case 0x04: rlo = alo ^ blo; rhi = ahi ^ bhi; break;
      case 0x0c: rlo = alo & blo; rhi = ahi & bhi; break;
      case 0x08: rlo = alo | blo; rhi = ahi | bhi; break;
      case 0x10: case 0x14: case 0x18: case 0x1c: {
        const signed = op === 0x10 || op === 0x14;
        const lt = wide ? (signed ? less(alo, ahi, blo, bhi) : lessU(alo, ahi, blo, bhi))
          : (signed ? alo < blo : (alo >>> 0) < (blo >>> 0));
        const pickA = op === 0x10 || op === 0x18 ? lt : !lt;
        rlo = pickA ? alo : blo;
        rhi = pickA ? ahi : bhi;
        break;
      }
      default: this.illegal(inst);
    }
    if (wide) this.store64(vlo, vhi, rlo, rhi);
    else this.storeSmall(vlo, vhi, 4, rlo);
    if (d === 0) x[0] = x[1] = 0;
  }

  private readonly scratch = new Int32Array(2);

  /** Loads for LR/AMO into x[d] (sign-extending words); slot 64 means a scratch slot. */
  private loadForAtomic(vlo: number, vhi: number, wide: boolean, d: number): void {
    const dst = d === 64 ? this.scratch : this.x;
    const slot = d === 64 ? 0 : d;
    if (wide) {
      this.load64(vlo, vhi, dst, slot);
    } else {
      const v = this.loadSmall(vlo, vhi, 4) | 0;
      dst[slot] = v;
      dst[slot + 1] = v >> 31;
    }
  }
}

// ---------------------------------------------------------------- 64-bit helpers

const LEVEL_PAGES = [1, 512, 262144, 134217728];

/** The 9-bit VPN field of `level` of a virtual address given as (lo, hi). */
function vpnField(vlo: number, vhi: number, level: number): number {
  switch (level) {
    case 0: return (vlo >>> 12) & 511;
    case 1: return (vlo >>> 21) & 511;
    case 2: return ((vlo >>> 30) | (vhi << 2)) & 511;
    default: return (vhi >>> 7) & 511;
  }
}

/** High word of (lo,hi) + sign-extended imm, given the low sum `sum`. */
function carryHi(lo: number, imm: number, sum: number, hi: number): number {
  const carry = (sum >>> 0) < (lo >>> 0) ? 1 : 0;
  return (hi + (imm >> 31) + carry) | 0;
}

function less(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi < bhi || (ahi === bhi && (alo >>> 0) < (blo >>> 0));
}
function lessU(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return (ahi >>> 0) < (bhi >>> 0) || (ahi === bhi && (alo >>> 0) < (blo >>> 0));
}

function shiftLeft(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  if (sh === 0) { x[d] = lo; x[d + 1] = hi; }
  else if (sh < 32) { x[d + 1] = (hi << sh) | (lo >>> (32 - sh)); x[d] = lo << sh; }
  else { x[d + 1] = lo << (sh - 32); x[d] = 0; }
}
function shiftRight(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  if (sh === 0) { x[d] = lo; x[d + 1] = hi; }
  else if (sh < 32) { x[d] = (lo >>> sh) | (hi << (32 - sh)); x[d + 1] = hi >>> sh; }
  else { x[d] = hi >>> (sh - 32); x[d + 1] = 0; }
}
function shiftRightArith(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  if (sh === 0) { x[d] = lo; x[d + 1] = hi; }
  else if (sh < 32) { x[d] = (lo >>> sh) | (hi << (32 - sh)); x[d + 1] = hi >> sh; }
  else { x[d] = hi >> (sh - 32); x[d + 1] = hi >> 31; }
}

function toNum(lo: number, hi: number): number {
  return hi * TWO32 + (lo >>> 0);
}

function hex64(v: number): string {
  return hexPair(v | 0, Math.floor(v / TWO32) | 0);
}
function hexPair(lo: number, hi: number): string {
  return (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}

/** CSRs this hart implements (everything else raises illegal instruction). */
function csrExists(n: number): boolean {
  if (n >= CSR.hpmcounter3 && n <= CSR.hpmcounter31) return true;
  if (n >= CSR.mhpmcounter3 && n <= CSR.mhpmcounter31) return true;
  if (n >= CSR.mhpmevent3 && n <= CSR.mhpmevent31) return true;
  if (n >= CSR.pmpcfg0 && n <= CSR.pmpcfg15) return (n & 1) === 0; // odd pmpcfg are RV32-only
  if (n >= CSR.pmpaddr0 && n <= CSR.pmpaddr63) return true;
  return KNOWN_CSRS.has(n);
}

const KNOWN_CSRS = new Set<number>([
  CSR.fflags, CSR.frm, CSR.fcsr, CSR.cycle, CSR.time, CSR.instret,
  CSR.sstatus, CSR.sie, CSR.stvec, CSR.scounteren, CSR.senvcfg, CSR.sscratch, CSR.sepc, CSR.scause,
  CSR.stval, CSR.sip, CSR.satp,
  CSR.mvendorid, CSR.marchid, CSR.mimpid, CSR.mhartid, CSR.mconfigptr,
  CSR.mstatus, CSR.misa, CSR.medeleg, CSR.mideleg, CSR.mie, CSR.mtvec, CSR.mcounteren, CSR.menvcfg,
  CSR.mcountinhibit, CSR.mscratch, CSR.mepc, CSR.mcause, CSR.mtval, CSR.mip, CSR.mtinst, CSR.mtval2,
  CSR.mcycle, CSR.minstret,
]);

