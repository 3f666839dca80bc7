// RISC-V -> WebAssembly: one function per chunk, some blocks of one guest page.
//
// The function is a loop around a br_table over the chunk's blocks, so a jump to another
// block of the chunk is a `br` (loops run without leaving WebAssembly). The blocks are the
// hot entry points and the blocks they reach inside the page that the translation cache
// lets us follow (see PageSource.follow); blocks do not overlap. A jump elsewhere stores
// the pc in the hart's state and leaves through the function's one exit, returning 0 to
// the dispatcher (src/accel/tcg/dispatcher.ts), which looks the pc up in its jump cache
// and calls the next chunk function; returning 1 (after the `ex` helper asked to stop: an
// interrupt is pending, code changed, the hart stops) sends it back to the CPU's loop.
//
// Guest registers are the i64s of the hart's state area in the shared Memory. Code comes in
// two tiers. Tier 1, for code that just became hot, reads and writes them in memory: its
// functions have 8 locals instead of 39, and V8's baseline compiler (Liftoff) does work at
// every if, br and merge in proportion to the locals (with one shared exit, a boot's
// modules took 584 instead of 1559 ms of Liftoff time). A tier-1 function counts the
// blocks it runs in a global and calls the `up` helper when the count runs out; the page
// is then translated again at tier 2, which caches the registers of a block in locals
// (loaded at first use, written back before every exit and helper call, where the CPU's
// JavaScript may read them) for V8's optimizing compiler to keep in host registers.
// At tier 2, loads and stores look up the software TLB inline (the same biased float64s
// the interpreter uses); at tier 1 they call a function of the helper module that does the
// same (src/accel/tcg/memory-helpers.ts: a quarter of the code, for V8 to compile). A
// miss, MMIO or a page-crossing access calls a helper in the CPU, which may trap (a JS
// exception unwinds through here) or ask us to stop at the block's end. Before each
// helper call the pc and the retired count are stored, so traps are precise.
// Instructions without an inline translation (CSR, atomics, MULH*, SFENCE.VMA) run in the
// interpreter through the `ex` helper;
// system instructions, FENCE.I and anything illegal end the block and are left to the
// interpreter. FP loads and stores are inline, and the other FP instructions call the
// `fp` helper (no spill: they cannot trap, and touch only registers and fflags; an x
// register one reads is written back first, one it writes is reloaded after), while the
// hart's STATE_FPOK says that FS is Dirty and frm is a valid rounding mode; otherwise
// they too go through `ex`.
import { rvcExpand } from "../../target/riscv/rvc.js";
import {
  STATE_BUDGET, STATE_F, STATE_FPOK, STATE_ICOUNT, STATE_PC, STATE_RTLB, STATE_WTLB, STATE_X,
} from "../../machine/guest-memory.js";
import {
  emitAddrHalves, emitHostOffset, emitTlbProbe, LOAD_OPS, LOAD_TYPE, STORE_OPS, STORE_TYPE,
} from "./memory-helpers.js";
import { emitJumpCacheEntry, JC_IDX_BITS } from "./dispatcher.js";
import { CodeWriter, Op, ValType } from "./wasm-emitter.js";

/** Most instructions in one block: bounds the time between budget checks. */
const MAX_BLOCK = 64;
/** Most instructions translated for one page (bounds the compile time of one function). */
const MAX_PAGE_INSNS = 3000;

// Locals of a page function.
const L_IDX = 0; // param: which block to start at
const L_BUDGET = 1;
const L_IC = 2;
const L_O = 3; // i32 scratch: host offset
const L_T = 4; // i32 scratch: TLB tag address
const L_A = 5; // i64: effective address; the pc to go on at when leaving through $exit
const L_V = 6; // i64: virtual page number
const L_B = 7; // i64 scratch
const L_C = 8; // i64 scratch
const L_X = 8; // L_X + r (r = 1..31), tier 2: i64 copy of guest register x[r]

/** The locals of a page function of `tier` (after its one parameter, the block index). */
export function pageFuncLocals(tier: Tier): { count: number; type: ValType }[] {
  return [
    { count: 4, type: ValType.i32 },
    { count: tier === 1 ? 4 : 4 + 31, type: ValType.i64 },
  ];
}

/** 1: registers in memory, quick to compile, counts its blocks; 2: registers in locals. */
export type Tier = 1 | 2;

// The helpers, by their slot in the helper table a chunk module imports (as table 0): wasm
// thunks calling the CPU's JavaScript (see Jit), reached by call_indirect. A module that
// imported the four JavaScript functions instead took ~0.3 ms longer to create (V8
// compiles their wrappers per module), and a boot creates ~170 modules.
export const H_LD = 0; // (f3, rd, lo, hi) -> stop?
export const H_ST = 1; // (f3, rs2, lo, hi) -> stop?
export const H_EX = 2; // (inst or 0) -> stop?   runs the instruction at STATE_PC in the interpreter
export const H_UP = 3; // (chunk id) -> ()   tier 1: this chunk ran its count of blocks
export const H_FP = 4; // (inst) -> ()   an FP instruction that cannot trap
/** The CPU's JavaScript helpers above; the rest of the table is wasm (memory-helpers.ts). */
export const JS_HELPERS = ["ld", "st", "ex", "up", "fp"];
export const H_LOAD = 5; // + funct3 (0..6): tier-1 loads, LOAD_TYPE
export const H_STORE = 12; // + funct3 (0..3): tier-1 stores, STORE_TYPE

/** The function types of a chunk module: HELPER_TYPES for the helpers, T_CHUNK for the chunks. */
export const CHUNK_MODULE_TYPES = [
  { params: [ValType.i32, ValType.i32, ValType.i32, ValType.i32], results: [ValType.i32] },
  { params: [ValType.i32], results: [ValType.i32] },
  { params: [ValType.i32], results: [] },
  LOAD_TYPE,
  STORE_TYPE,
];
export const T_CHUNK = 1;
/** The type of each helper, by slot. */
export const HELPER_TYPES = [0, 0, 1, 2, 2, ...LOAD_OPS.map(() => 3), ...STORE_OPS.map(() => 4)];

/** What the translator reads: one guest page of code and where to find its state. */
export interface PageSource {
  /** Virtual address of the page (a multiple of 4096, as a Number). */
  pageVa: number;
  /** Reads the 16-bit parcel at `offset` (0..4094) of the page. */
  parcel(offset: number): number;
  /** Byte offset of the hart's state area in the Memory. */
  stateBase: number;
  /**
   * Whether to translate the block at pc, reached from a translated block of this page
   * (the translation cache says no to code that another chunk holds, and to a branch
   * target that never ran; the branch then leaves through the dispatcher). `straight`: pc
   * continues a block cut at MAX_BLOCK instructions, which ran if the block did. All of
   * them when absent.
   */
  follow?(pc: number, straight: boolean): boolean;
  /**
   * The chunk's table slot and the host offset of its page, when known before translation:
   * an indirect jump to one of the chunk's own blocks then stays in the function (found
   * through the jump cache as the dispatcher finds it). Without it, indirect jumps leave.
   */
  chunk?: { slot: number; pageOff: number };
}

export interface TranslatedPage {
  body: CodeWriter;
  /** Entry pc -> block index for the entries that translated (others were empty). */
  entries: Map<number, number>;
  /** Guest instructions translated (for statistics). */
  instructions: number;
}

interface Insn {
  pc: number;
  /** The instruction (RVC expanded); of one that straddles the page, only its first half. */
  inst: number;
  len: number;
  /** A 4-byte instruction whose second half is on the next page: the interpreter runs it. */
  straddles?: true;
}

/**
 * Decodes the block at `pc`: instructions up to and including its terminator, or up to
 * the next of the other `starts`.
 */
function decodeBlock(src: PageSource, pc: number, starts: ReadonlySet<number>): Insn[] {
  const out: Insn[] = [];
  let cur = pc;
  while (out.length < MAX_BLOCK) {
    if (cur !== pc && starts.has(cur)) break;
    const off = cur - src.pageVa;
    if (off > 0xffe) break;
    let inst = src.parcel(off);
    let len = 2;
    if ((inst & 3) === 3) {
      if (off === 0xffe) { // its second half is on the next page, which may be mapped anywhere
        out.push({ pc: cur, inst, len: 4, straddles: true });
        break;
      }
      inst = (inst | (src.parcel(off + 2) << 16)) >>> 0;
      len = 4;
    } else {
      inst = rvcExpand(inst) >>> 0;
      if (inst === 0) break;
    }
    const kind = classify(inst);
    if (kind === Kind.Leave) break;
    out.push({ pc: cur, inst, len });
    if (kind === Kind.Jump) break;
    cur += len;
  }
  return out;
}

/** Fp: an FP load or store (inline) or an FP operation that cannot trap (`fp`); else `ex`. */
const enum Kind { Inline, Helper, Fp, Jump, Leave }

/** How an instruction is translated. Leave: not at all (ends the block before it). */
function classify(inst: number): Kind {
  const f3 = (inst >>> 12) & 7;
  const f7 = inst >>> 25;
  switch (inst & 0x7f) {
    case 0x37: case 0x17: return Kind.Inline;
    case 0x6f: case 0x67: return Kind.Jump;
    case 0x63: return f3 === 2 || f3 === 3 ? Kind.Leave : Kind.Jump;
    case 0x03: return f3 === 7 ? Kind.Leave : Kind.Inline;
    case 0x23: return f3 > 3 ? Kind.Leave : Kind.Inline;
    case 0x13:
      if (f3 === 1) return (inst >>> 26) === 0 ? Kind.Inline : Kind.Leave;
      if (f3 === 5) return (inst >>> 26) === 0 || (inst >>> 26) === 0x10 ? Kind.Inline : Kind.Leave;
      return Kind.Inline;
    case 0x1b:
      if (f3 === 0) return Kind.Inline;
      if (f3 === 1) return f7 === 0 ? Kind.Inline : Kind.Leave;
      if (f3 === 5) return f7 === 0 || f7 === 0x20 ? Kind.Inline : Kind.Leave;
      return Kind.Leave;
    case 0x33:
      if (f7 === 0) return Kind.Inline;
      if (f7 === 0x20) return f3 === 0 || f3 === 5 ? Kind.Inline : Kind.Leave;
      if (f7 === 1) return f3 >= 1 && f3 <= 3 ? Kind.Helper : Kind.Inline;
      return Kind.Leave;
    case 0x3b:
      if (f7 === 0) return f3 === 0 || f3 === 1 || f3 === 5 ? Kind.Inline : Kind.Leave;
      if (f7 === 0x20) return f3 === 0 || f3 === 5 ? Kind.Inline : Kind.Leave;
      if (f7 === 1) return f3 === 0 || f3 >= 4 ? Kind.Inline : Kind.Leave;
      return Kind.Leave;
    case 0x0f: return f3 === 0 ? Kind.Inline : Kind.Leave; // FENCE is a no-op; FENCE.I leaves
    case 0x73: // CSRs and SFENCE.VMA (Linux fences a page at each fault it fixes) help; the rest leaves
      if (f3 === 0 && f7 === 0x09 && ((inst >>> 7) & 31) === 0) return Kind.Helper;
      return f3 === 0 || f3 === 4 ? Kind.Leave : Kind.Helper;
    case 0x07: case 0x27: return f3 === 2 || f3 === 3 ? Kind.Fp : Kind.Helper;
    case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53: return fpCannotTrap(inst) ? Kind.Fp : Kind.Helper;
    case 0x2f: return Kind.Helper;
    default: return Kind.Leave;
  }
}

/**
 * Whether an OP-FP or fused instruction is a valid one (with a valid static rounding mode,
 * or the dynamic one): it cannot trap while FS is on, so translated code may call the
 * `fp` helper without saving its state first.
 */
function fpCannotTrap(inst: number): boolean {
  const fmt = (inst >>> 25) & 3, f3 = (inst >>> 12) & 7, rs2 = (inst >>> 20) & 31;
  const rmOk = f3 <= 4 || f3 === 7;
  if (fmt > 1) return false; // H and Q: illegal
  if ((inst & 0x7f) !== 0x53) return rmOk; // the fused multiply-adds
  switch (inst >>> 27) {
    case 0x00: case 0x01: case 0x02: case 0x03: return rmOk; // add, sub, mul, div
    case 0x0b: return rmOk && rs2 === 0; // sqrt
    case 0x04: return f3 <= 2; // sign injection
    case 0x05: return f3 <= 1; // min, max
    case 0x08: return rmOk && rs2 <= 1 && rs2 !== fmt; // fcvt.s.d, fcvt.d.s
    case 0x14: return f3 <= 2; // fle, flt, feq
    case 0x18: case 0x1a: return rmOk && rs2 <= 3; // fcvt to and from integers
    case 0x1c: return rs2 === 0 && f3 <= 1; // fmv.x.*, fclass
    case 0x1e: return rs2 === 0 && f3 === 0; // fmv.*.x
    default: return false;
  }
}

/**
 * Translates the blocks at `entryPcs` (all inside the page) and the blocks they reach
 * inside the page into one function body. Blocks do not overlap: one that runs into
 * another's start ends there and branches to it, so each instruction is translated once
 * however many entries lead into a run of straight-line code.
 */
export function translatePage(
  src: PageSource, entryPcs: readonly number[], tier: Tier, counterGlobal = 0, chunkId = 0,
): TranslatedPage {
  const starts = blockStarts(src, entryPcs);
  const blocks: Insn[][] = [];
  const entries = new Map<number, number>();
  let instructions = 0;
  for (const pc of starts) {
    const b = decodeBlock(src, pc, starts);
    if (b.length === 0) continue;
    entries.set(pc, blocks.length);
    blocks.push(b);
    instructions += b.length;
    if (instructions >= MAX_PAGE_INSNS) break;
  }
  const t = new PageTranslator(src, entries, blocks.length, tier === 2);
  t.emitFunction(blocks, tier === 1 ? counterGlobal : -1, chunkId);
  return { body: t.w, entries, instructions };
}

/** The entries and every block start they reach inside the page, entries first. */
function blockStarts(src: PageSource, entryPcs: readonly number[]): Set<number> {
  const seen = new Set<number>(entryPcs);
  const work = [...entryPcs];
  for (let i = 0; i < work.length && seen.size < MAX_PAGE_INSNS; i++) {
    const b = decodeBlock(src, work[i]!, seen);
    if (b.length === 0) continue;
    const straight = b.length === MAX_BLOCK && classify(b[b.length - 1]!.inst) !== Kind.Jump;
    for (const next of successors(b)) {
      const inPage = next - src.pageVa >= 0 && next - src.pageVa < 4096;
      if (inPage && !seen.has(next) && (src.follow?.(next, straight) ?? true)) {
        seen.add(next);
        work.push(next);
      }
    }
  }
  return seen;
}

/** Where control goes after a block, where that is a constant; a call's return address too. */
function successors(b: Insn[]): number[] {
  const last = b[b.length - 1]!;
  if (last.straddles) return []; // whatever it is, it goes on elsewhere than on this page
  const next = last.pc + last.len;
  const inst = last.inst;
  const links = ((inst >>> 7) & 31) !== 0;
  switch (inst & 0x7f) {
    case 0x6f: {
      const target = last.pc + ((inst >> 31) << 20 | ((inst >>> 12) & 0xff) << 12 | ((inst >>> 20) & 1) << 11 |
        ((inst >>> 21) & 0x3ff) << 1);
      return links ? [target, next] : [target];
    }
    case 0x67:
      return links ? [next] : [];
    case 0x63:
      return [next, last.pc + ((inst >> 31) << 12 | ((inst >>> 7) & 1) << 11 | ((inst >>> 25) & 0x3f) << 5 |
        ((inst >>> 8) & 0xf) << 1)];
    default:
      return [next];
  }
}

class PageTranslator {
  readonly w = new CodeWriter();
  /**
   * The register cache of the block being translated: registers whose local holds the
   * current value, and those whose memory copy is stale. Both are the same on every path
   * through the code emitted so far (code inside an if/else only ever adds to `dirty`).
   */
  private readonly loaded = new Set<number>();
  private readonly dirty = new Set<number>();
  /** Labels between the current code and the loop: `br depth` restarts dispatch, `br depth + 1` leaves. */
  private depth = 0;
  private readonly sb: number;

  constructor(
    private readonly src: PageSource,
    private readonly entries: Map<number, number>,
    private readonly n: number,
    /** Tier 2: keep registers in locals within a block. */
    private readonly cacheRegs: boolean,
  ) {
    this.sb = src.stateBase;
  }

  /**
   * `counter`: the global that counts this function's blocks down (tier 1), or -1; the
   * `up` helper is then called with `chunkId`.
   */
  emitFunction(blocks: Insn[][], counter: number, chunkId: number): void {
    const w = this.w;
    w.i32(this.sb + STATE_BUDGET).mem(Op.i32_load, 0, 2).set(L_BUDGET);
    w.i32(this.sb + STATE_ICOUNT).mem(Op.i32_load, 0, 2).set(L_IC);
    w.blockOf(Op.block); // $exit
    w.blockOf(Op.loop);
    if (counter >= 0) {
      w.op(Op.global_get).u32(counter).i32(1).op(Op.i32_sub).tee(L_O).op(Op.global_set).u32(counter);
      w.get(L_O).op(Op.i32_eqz).blockOf(Op.if).i32(chunkId);
      this.callHelper(H_UP);
      w.op(Op.end);
    }
    // block $Bn (default), then $Bn-1 ... $B0, innermost holds the br_table.
    for (let i = 0; i <= this.n; i++) w.blockOf(Op.block);
    w.get(L_IDX).op(Op.br_table).u32(this.n);
    for (let i = 0; i < this.n; i++) w.u32(i);
    w.u32(this.n);
    for (let k = 0; k < this.n; k++) {
      w.op(Op.end);
      // Code of block k: enclosed by $B(k+1)..$Bn and the loop.
      this.depth = this.n - k;
      this.emitBlock(blocks[k]!);
    }
    w.op(Op.end); // $Bn: an index out of range (never produced)
    w.op(Op.unreachable);
    w.op(Op.end); // loop
    w.op(Op.unreachable);
    w.op(Op.end); // $exit: one shared exit (a br costs V8 far less compile time than a return)
    w.i32(this.sb + STATE_PC).get(L_A).mem(Op.i64_store, 0, 3);
    w.i32(this.sb + STATE_ICOUNT).get(L_IC).mem(Op.i32_store, 0, 2);
    w.i32(this.sb + STATE_BUDGET).get(L_BUDGET).mem(Op.i32_store, 0, 2);
    w.i32(0);
  }

  private emitBlock(insns: Insn[]): void {
    this.loaded.clear();
    this.dirty.clear();
    let k = 0; // instructions of this block translated inline so far (retire count)
    for (const ins of insns) {
      if (ins.straddles) {
        this.emitStraddling(ins, k);
        return;
      }
      const kind = classify(ins.inst);
      if (kind === Kind.Jump) {
        this.emitJump(ins, k + 1);
        return;
      }
      if (kind === Kind.Helper) {
        this.emitHelper(ins, k);
        continue; // the interpreter counted it
      }
      if (kind === Kind.Fp) {
        this.emitFp(ins, k);
        k++;
        continue;
      }
      this.emitInline(ins, k);
      k++;
    }
    const last = insns[insns.length - 1]!;
    this.emitGoto(last.pc + last.len, k);
  }

  // ------------------------------------------------------------ control flow

  /** Ends the block: count `k` retired instructions, then continue at the constant `target`. */
  private emitGoto(target: number, k: number): void {
    const w = this.w;
    this.retire(k);
    this.writeBack();
    const idx = this.entries.get(target);
    if (idx !== undefined) w.i32(idx).set(L_IDX).get(L_BUDGET).i32(0).op(Op.i32_gt_s).op(Op.br_if).u32(this.depth);
    w.i64(target).set(L_A).op(Op.br).u32(this.depth + 1);
  }

  /**
   * An indirect jump (a return from a call inside the page, a switch) to a block of this
   * chunk: continue there instead of leaving through the dispatcher, which would find it in
   * the same jump-cache entry (a boot's chunk calls fell from ~3.1 M to ~2.2 M: most of the
   * others were calls back into the function that had just returned). The target is on
   * the page the chunk was entered on, so under the mapping the dispatcher checked then: a
   * change of it (satp, a fence of this page or of all) leaves the chunk first. The
   * target is in L_A, registers are written back.
   */
  private emitInChunkJump(chunk: { slot: number; pageOff: number }): void {
    const w = this.w;
    w.get(L_A).i64(12n).op(Op.i64_shr_s).i64(BigInt(Math.floor(this.src.pageVa / 4096))).op(Op.i64_eq);
    w.blockOf(Op.if);
    emitJumpCacheEntry(w, this.sb, L_A, L_O);
    w.tee(L_T).mem(Op.i64_load, 0, 3).get(L_A).op(Op.i64_eq);
    w.get(L_T).mem(Op.i32_load, 8, 2).i32(chunk.pageOff | 0).op(Op.i32_eq).op(Op.i32_and);
    w.get(L_T).mem(Op.i32_load, 12, 2).tee(L_O).i32(JC_IDX_BITS).op(Op.i32_shr_u).i32(chunk.slot).op(Op.i32_eq);
    w.op(Op.i32_and).get(L_BUDGET).i32(0).op(Op.i32_gt_s).op(Op.i32_and);
    w.blockOf(Op.if);
    w.get(L_O).i32((1 << JC_IDX_BITS) - 1).op(Op.i32_and).set(L_IDX).op(Op.br).u32(this.depth + 2);
    w.op(Op.end);
    w.op(Op.end);
  }

  private retire(k: number): void {
    if (k === 0) return;
    const w = this.w;
    w.get(L_IC).i32(k).op(Op.i32_add).set(L_IC);
    w.get(L_BUDGET).i32(k).op(Op.i32_sub).set(L_BUDGET);
  }

  private emitJump(ins: Insn, k: number): void {
    const w = this.w;
    const inst = ins.inst;
    const rd = (inst >>> 7) & 31, rs1 = (inst >>> 15) & 31, rs2 = (inst >>> 20) & 31;
    const next = ins.pc + ins.len;
    switch (inst & 0x7f) {
      case 0x6f: { // JAL
        const imm = ((inst >> 31) << 20) | (((inst >>> 12) & 0xff) << 12) | (((inst >>> 20) & 1) << 11) |
          (((inst >>> 21) & 0x3ff) << 1);
        this.setConst(rd, next);
        this.emitGoto(ins.pc + imm, k);
        return;
      }
      case 0x67: { // JALR: the target is computed before rd is written (rd may be rs1)
        this.reg(rs1);
        w.i64(inst >> 20).op(Op.i64_add).i64(-2n).op(Op.i64_and).set(L_A);
        this.setConst(rd, next);
        this.retire(k);
        this.writeBack();
        if (this.src.chunk !== undefined) this.emitInChunkJump(this.src.chunk);
        w.op(Op.br).u32(this.depth + 1);
        return;
      }
      default: { // branches
        const f3 = (inst >>> 12) & 7;
        const imm = ((inst >> 31) << 12) | (((inst >>> 7) & 1) << 11) | (((inst >>> 25) & 0x3f) << 5) |
          (((inst >>> 8) & 0xf) << 1);
        this.reg(rs1);
        this.reg(rs2);
        w.op([Op.i64_eq, Op.i64_ne, 0, 0, Op.i64_lt_s, Op.i64_ge_s, Op.i64_lt_u, Op.i64_ge_u][f3]!);
        w.blockOf(Op.if);
        this.depth++;
        this.emitGoto(ins.pc + imm, k);
        this.depth--;
        w.op(Op.end);
        this.emitGoto(next, k);
      }
    }
  }

  // ------------------------------------------------------------ helpers

  /** Stores pc, the retired count and the registers so that a helper sees (and a trap keeps) the state. */
  private spill(pc: number, k: number): void {
    const w = this.w;
    this.writeBack();
    w.i32(this.sb + STATE_PC).i64(pc).mem(Op.i64_store, 0, 3);
    w.i32(this.sb + STATE_ICOUNT).get(L_IC).i32(k).op(Op.i32_add).mem(Op.i32_store, 0, 2);
  }

  private callHelper(slot: number): void {
    this.w.i32(slot).op(Op.call_indirect).u32(HELPER_TYPES[slot]!).u32(0);
  }

  private emitHelper(ins: Insn, k: number): void {
    this.callEx(ins.pc, k, ins.inst);
    // It may have written x[rd] (CSR reads, atomics, FP compares and moves, MULH).
    this.loaded.delete((ins.inst >>> 7) & 31);
    this.dirty.delete((ins.inst >>> 7) & 31);
  }

  /**
   * The last instruction of the page, whose second half is on the next one: the `ex` helper
   * runs it (the interpreter fetches both halves through the current mapping, and faults
   * as a fetch would), and the block leaves for wherever it went. Translating it would tie
   * the translation to the next page's mapping and contents.
   */
  private emitStraddling(ins: Insn, k: number): void {
    this.callEx(ins.pc, k, 0);
    this.retire(k);
    // No write-back: the registers were stored before the helper, which may have written one.
    this.w.i32(this.sb + STATE_PC).mem(Op.i64_load, 0, 3).set(L_A).op(Op.br).u32(this.depth + 1);
  }

  /**
   * The CPU runs the instruction at `pc`, the `k`-th of its block (`ex`, given the
   * instruction, or 0 to have the interpreter fetch it); returns if it asks to stop.
   */
  private callEx(pc: number, k: number, inst: number): void {
    const w = this.w;
    this.spill(pc, k);
    w.i32(inst | 0);
    this.callHelper(H_EX);
    // The helper stored the pc to go on at; the interpreter counted the instruction as
    // retired, and the slice's budget pays for it here (the block's count leaves it out).
    w.blockOf(Op.if).i32(1).op(Op.return).op(Op.end);
    w.get(L_BUDGET).i32(1).op(Op.i32_sub).set(L_BUDGET);
  }

  /**
   * After a slow load/store helper: if it asks to stop (an interrupt is pending, code
   * changed), the budget becomes 0, so the block ends and the dispatcher returns. Running
   * to the end of the block is allowed: interrupts are asynchronous, and a hart need not
   * see its own stores to code before a FENCE.I. An if/return here would cost V8 more
   * compile time than the rest of the access.
   */
  private stopAtBlockEnd(): void {
    this.w.i32(1).op(Op.i32_sub).get(L_BUDGET).op(Op.i32_and).set(L_BUDGET);
  }

  // ------------------------------------------------------------ registers

  /** Pushes x[r] as an i64. */
  private reg(r: number): void {
    const w = this.w;
    if (r === 0) w.i64(0n);
    else if (!this.cacheRegs) w.i32(this.regAddr(r)).mem(Op.i64_load, 0, 3);
    else if (this.loaded.has(r)) w.get(L_X + r);
    else {
      w.i32(this.regAddr(r)).mem(Op.i64_load, 0, 3).tee(L_X + r);
      this.loaded.add(r);
    }
  }
  /** Pushes the low word of x[r]. */
  private reg32(r: number): void {
    if (r === 0) {
      this.w.i32(0);
      return;
    }
    this.reg(r);
    this.w.op(Op.i32_wrap_i64);
  }
  private regAddr(r: number): number {
    return this.sb + STATE_X + r * 8;
  }
  /** Loads x[r] into its local now (before code that runs on one path only). */
  private preload(r: number): void {
    if (r === 0 || !this.cacheRegs || this.loaded.has(r)) return;
    this.reg(r);
    this.w.op(Op.drop);
  }
  /** Pops an i64 into x[rd] (tier 2). */
  private setReg(rd: number): void {
    this.w.set(L_X + rd);
    this.loaded.add(rd);
    this.dirty.add(rd);
  }
  /** Stores the dirty registers to memory (the cache stays valid). */
  private writeBack(): void {
    for (const r of this.dirty) this.w.i32(this.regAddr(r)).get(L_X + r).mem(Op.i64_store, 0, 3);
  }
  /** Reloads x[r] from memory after a helper wrote it. */
  private reload(r: number): void {
    if (r === 0 || !this.cacheRegs) return;
    this.w.i32(this.regAddr(r)).mem(Op.i64_load, 0, 3).set(L_X + r);
  }
  private setConst(rd: number, v: number): void {
    if (rd === 0) return;
    if (!this.cacheRegs) {
      this.w.i32(this.regAddr(rd)).i64(v).mem(Op.i64_store, 0, 3);
      return;
    }
    this.w.i64(v);
    this.setReg(rd);
  }

  // ------------------------------------------------------------ straight-line code

  private emitInline(ins: Insn, k: number): void {
    const inst = ins.inst;
    const rd = (inst >>> 7) & 31;
    switch (inst & 0x7f) {
      case 0x37: this.setConst(rd, inst >> 12 << 12); return; // LUI
      case 0x17: this.setConst(rd, ins.pc + (inst >> 12 << 12)); return; // AUIPC
      case 0x03: this.emitLoad(ins, k); return;
      case 0x23: this.emitStore(ins, k); return;
      case 0x0f: return; // FENCE
    }
    if (rd === 0) return; // an ALU result into x0 has no effect
    if (!this.cacheRegs) {
      this.w.i32(this.regAddr(rd));
      this.emitAlu(inst);
      this.w.mem(Op.i64_store, 0, 3);
      return;
    }
    this.emitAlu(inst);
    this.setReg(rd);
  }

  /** Pushes the i64 result of an OP-IMM, OP-IMM-32, OP or OP-32 instruction. */
  private emitAlu(inst: number): void {
    const w = this.w;
    const rs1 = (inst >>> 15) & 31, rs2 = (inst >>> 20) & 31;
    const f3 = (inst >>> 12) & 7;
    const f7 = inst >>> 25;
    const imm = inst >> 20;
    switch (inst & 0x7f) {
      case 0x13: {
        this.reg(rs1);
        const sh = imm & 63;
        switch (f3) {
          case 0: w.i64(imm).op(Op.i64_add); return;
          case 1: w.i64(sh).op(Op.i64_shl); return;
          case 2: w.i64(imm).op(Op.i64_lt_s).op(Op.i64_extend_i32_u); return;
          case 3: w.i64(imm).op(Op.i64_lt_u).op(Op.i64_extend_i32_u); return;
          case 4: w.i64(imm).op(Op.i64_xor); return;
          case 5: w.i64(sh).op((inst >>> 26) === 0 ? Op.i64_shr_u : Op.i64_shr_s); return;
          case 6: w.i64(imm).op(Op.i64_or); return;
          default: w.i64(imm).op(Op.i64_and); return;
        }
      }
      case 0x1b: {
        this.reg32(rs1);
        if (f3 === 0) w.i32(imm).op(Op.i32_add);
        else w.i32(imm & 31).op(f3 === 1 ? Op.i32_shl : f7 === 0 ? Op.i32_shr_u : Op.i32_shr_s);
        w.op(Op.i64_extend_i32_s);
        return;
      }
      case 0x33: {
        if (f7 === 1) return this.emitMulDiv(f3, rs1, rs2);
        this.reg(rs1);
        this.reg(rs2);
        if (f7 === 0x20) {
          w.op(f3 === 0 ? Op.i64_sub : Op.i64_shr_s);
          return;
        }
        switch (f3) {
          case 0: w.op(Op.i64_add); return;
          case 1: w.op(Op.i64_shl); return;
          case 2: w.op(Op.i64_lt_s).op(Op.i64_extend_i32_u); return;
          case 3: w.op(Op.i64_lt_u).op(Op.i64_extend_i32_u); return;
          case 4: w.op(Op.i64_xor); return;
          case 5: w.op(Op.i64_shr_u); return;
          case 6: w.op(Op.i64_or); return;
          default: w.op(Op.i64_and); return;
        }
      }
      default: { // 0x3b
        if (f7 === 1) return this.emitDivW(f3, rs1, rs2);
        this.reg32(rs1);
        this.reg32(rs2);
        if (f3 === 0) w.op(f7 === 0 ? Op.i32_add : Op.i32_sub);
        else w.op(f3 === 1 ? Op.i32_shl : f7 === 0 ? Op.i32_shr_u : Op.i32_shr_s);
        w.op(Op.i64_extend_i32_s);
      }
    }
  }

  /** MUL, DIV, DIVU, REM, REMU with RISC-V's results for zero divisors and overflow. */
  private emitMulDiv(f3: number, rs1: number, rs2: number): void {
    const w = this.w;
    this.reg(rs1);
    if (f3 === 0) {
      this.reg(rs2);
      w.op(Op.i64_mul);
      return;
    }
    w.set(L_B);
    this.reg(rs2);
    w.tee(L_C).op(Op.i64_eqz);
    w.blockOf(Op.if, ValType.i64);
    if (f3 === 4 || f3 === 5) w.i64(-1n); // x / 0 = all ones
    else w.get(L_B); // x % 0 = x
    w.op(Op.else);
    if (f3 === 4) { // DIV: MIN / -1 = MIN (wasm traps on it)
      w.get(L_B).i64(-(1n << 63n)).op(Op.i64_eq).get(L_C).i64(-1n).op(Op.i64_eq).op(Op.i32_and);
      w.blockOf(Op.if, ValType.i64).get(L_B).op(Op.else).get(L_B).get(L_C).op(Op.i64_div_s).op(Op.end);
    } else {
      w.get(L_B).get(L_C).op(f3 === 5 ? Op.i64_div_u : f3 === 6 ? Op.i64_rem_s : Op.i64_rem_u);
    }
    w.op(Op.end);
  }

  /** MULW, DIVW, DIVUW, REMW, REMUW on the low words, sign-extended. */
  private emitDivW(f3: number, rs1: number, rs2: number): void {
    const w = this.w;
    this.reg32(rs1);
    if (f3 === 0) {
      this.reg32(rs2);
      w.op(Op.i32_mul).op(Op.i64_extend_i32_s);
      return;
    }
    w.set(L_O);
    this.reg32(rs2);
    w.tee(L_T).op(Op.i32_eqz);
    w.blockOf(Op.if, ValType.i32);
    if (f3 === 4 || f3 === 5) w.i32(-1);
    else w.get(L_O);
    w.op(Op.else);
    if (f3 === 4) {
      w.get(L_O).i32(-0x80000000).op(Op.i32_eq).get(L_T).i32(-1).op(Op.i32_eq).op(Op.i32_and);
      w.blockOf(Op.if, ValType.i32).get(L_O).op(Op.else).get(L_O).get(L_T).op(Op.i32_div_s).op(Op.end);
    } else {
      w.get(L_O).get(L_T).op(f3 === 5 ? Op.i32_div_u : f3 === 6 ? Op.i32_rem_s : Op.i32_rem_u);
    }
    w.op(Op.end);
    w.op(Op.i64_extend_i32_s);
  }

  // ------------------------------------------------------------ memory

  /**
   * Computes the address into L_A and leaves on the stack an i32 that is true for a TLB
   * hit on a RAM page with the access inside the page; L_T then holds the tag's address.
   */
  private emitTlbProbe(rs1: number, imm: number, size: number, tlbState: number): void {
    this.emitAddress(rs1, imm);
    emitTlbProbe(this.w, this.sb + tlbState, size, L_A, L_V, L_T);
  }

  /** Pushes x[rs1] + imm. */
  private emitAddress(rs1: number, imm: number): void {
    this.reg(rs1);
    if (imm !== 0) this.w.i64(imm).op(Op.i64_add);
  }

  /** Pushes the host offset of the access (after a hit). */
  private emitHostOffset(): void {
    emitHostOffset(this.w, L_A, L_T);
  }

  /**
   * Tier 1: the access is a call to the helper module's function for it (see
   * memory-helpers.ts), which gets the pc and retired count to store on a miss.
   */
  private emitCallAccess(ins: Insn, k: number, slot: number): void {
    const w = this.w;
    w.i64(ins.pc).get(L_IC);
    if (k !== 0) w.i32(k).op(Op.i32_add);
    this.callHelper(slot);
    this.stopAtBlockEnd();
  }

  private emitLoad(ins: Insn, k: number): void {
    const w = this.w;
    const inst = ins.inst;
    const rd = (inst >>> 7) & 31, rs1 = (inst >>> 15) & 31;
    const f3 = (inst >>> 12) & 7;
    const size = 1 << (f3 & 3);
    if (!this.cacheRegs) {
      this.emitAddress(rs1, inst >> 20);
      w.i32(rd);
      this.emitCallAccess(ins, k, H_LOAD + f3);
      return;
    }
    this.emitTlbProbe(rs1, inst >> 20, size, STATE_RTLB);
    w.blockOf(Op.if);
    if (rd !== 0) {
      this.emitHostOffset();
      w.mem(LOAD_OPS[f3]!, 0, 0).set(L_X + rd);
    }
    w.op(Op.else);
    this.spill(ins.pc, k);
    w.i32(f3).i32(rd);
    emitAddrHalves(w, L_A);
    this.callHelper(H_LD);
    this.stopAtBlockEnd();
    this.reload(rd);
    w.op(Op.end);
    if (rd !== 0) {
      this.loaded.add(rd);
      this.dirty.add(rd);
    }
  }

  // ------------------------------------------------------------ floating point

  /** An FP load, store or operation: inline or through `fp` when STATE_FPOK, else `ex`. */
  private emitFp(ins: Insn, k: number): void {
    const w = this.w;
    const inst = ins.inst;
    const op = inst & 0x7f;
    const f3 = (inst >>> 12) & 7;
    w.i32(this.sb + STATE_FPOK).mem(Op.i32_load, 0, 2);
    if (op === 0x07) { // FLW, FLD
      this.emitTlbProbe((inst >>> 15) & 31, inst >> 20, 1 << f3, STATE_RTLB);
      w.op(Op.i32_and).blockOf(Op.if);
      w.i32(this.fregAddr((inst >>> 7) & 31));
      this.emitHostOffset();
      if (f3 === 3) w.mem(Op.i64_load, 0, 0);
      else w.mem(Op.i64_load32_u, 0, 0).i64(-(1n << 32n)).op(Op.i64_or); // NaN-boxed single
      w.mem(Op.i64_store, 0, 3);
    } else if (op === 0x27) { // FSW, FSD
      this.emitTlbProbe((inst >>> 15) & 31, ((inst >> 25) << 5) | ((inst >>> 7) & 31), 1 << f3, STATE_WTLB);
      w.op(Op.i32_and).blockOf(Op.if);
      this.emitHostOffset();
      w.i32(this.fregAddr((inst >>> 20) & 31)).mem(Op.i64_load, 0, 3);
      w.mem(f3 === 3 ? Op.i64_store : Op.i64_store32, 0, 0);
    } else {
      // The helper reads x[rs1] from memory (conversions from integers, fmv.*.x).
      if ((inst >>> 27) === 0x1a || (inst >>> 27) === 0x1e) this.storeIfDirty((inst >>> 15) & 31);
      w.blockOf(Op.if).i32(inst);
      this.callHelper(H_FP);
    }
    w.op(Op.else);
    // The interpreter runs it (and traps, or sets FS Dirty). It counts the instruction,
    // which this block counts at its end as well: take one back.
    this.spill(ins.pc, k);
    w.i32(inst | 0);
    this.callHelper(H_EX);
    w.blockOf(Op.if).i32(1).op(Op.return).op(Op.end);
    w.get(L_IC).i32(1).op(Op.i32_sub).set(L_IC);
    w.get(L_BUDGET).i32(1).op(Op.i32_add).set(L_BUDGET);
    w.op(Op.end);
    // Compares, conversions to integers, fmv.x.* and fclass wrote x[rd] in memory.
    const f5 = inst >>> 27;
    if (op === 0x53 && (f5 === 0x14 || f5 === 0x18 || f5 === 0x1c)) {
      this.loaded.delete((inst >>> 7) & 31);
      this.dirty.delete((inst >>> 7) & 31);
    }
  }

  /** Stores x[r] if its local holds a newer value than memory (it stays cached). */
  private storeIfDirty(r: number): void {
    if (this.dirty.has(r)) this.w.i32(this.regAddr(r)).get(L_X + r).mem(Op.i64_store, 0, 3);
  }

  private fregAddr(r: number): number {
    return this.sb + STATE_F + r * 8;
  }

  private emitStore(ins: Insn, k: number): void {
    const w = this.w;
    const inst = ins.inst;
    const rs1 = (inst >>> 15) & 31, rs2 = (inst >>> 20) & 31;
    const f3 = (inst >>> 12) & 7;
    const imm = ((inst >> 25) << 5) | ((inst >>> 7) & 31);
    if (!this.cacheRegs) {
      this.emitAddress(rs1, imm);
      this.reg(rs2);
      w.i32(rs2);
      this.emitCallAccess(ins, k, H_STORE + f3);
      return;
    }
    this.preload(rs2);
    this.emitTlbProbe(rs1, imm, 1 << f3, STATE_WTLB);
    w.blockOf(Op.if);
    this.emitHostOffset();
    this.reg(rs2);
    w.mem(STORE_OPS[f3]!, 0, 0);
    w.op(Op.else);
    this.spill(ins.pc, k);
    w.i32(f3).i32(rs2);
    emitAddrHalves(w, L_A);
    this.callHelper(H_ST);
    this.stopAtBlockEnd();
    w.op(Op.end);
  }
}
