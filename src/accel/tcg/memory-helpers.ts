// Guest loads and stores as WebAssembly: the inline software-TLB probe that translated
// code uses, and the out-of-line load and store functions of tier 1.
//
// Tier-1 code is compiled for code that has only just become hot, and most of it never
// becomes hot enough for tier 2, so its compile time counts more than its speed. An inline
// access (probe, fast path, spill and helper call on a miss) is ~110 bytes of wasm and an
// if/else, where Liftoff's work grows with both; a tier-1 access is a call instead
// (~35 bytes) to one of these functions, which live in the Jit's helper module and take
// the pc and retired count to store before they call the CPU's slow path, so a fault is
// as precise as with the inline form. Tier 2 keeps the inline form (registers in locals).
import { STATE_ICOUNT, STATE_PC, STATE_X, TLB_BASES, TLB_SIZE, TLB_TAG_BITS } from "../../machine/guest-memory.js";
import { CodeWriter, Op, ValType } from "./wasm-emitter.js";

export const LOAD_OPS = [
  Op.i64_load8_s, Op.i64_load16_s, Op.i64_load32_s, Op.i64_load,
  Op.i64_load8_u, Op.i64_load16_u, Op.i64_load32_u,
];
export const STORE_OPS = [Op.i64_store8, Op.i64_store16, Op.i64_store32, Op.i64_store];

/**
 * Pops the i64 address, leaving it in local `a` and an i32 on the stack that is true for
 * a TLB hit on a RAM page with the access (of `size` bytes) inside the page; local `t`
 * then holds the tag's address. `v` is an i64 scratch local.
 */
export function emitTlbProbe(w: CodeWriter, tlbStateAddr: number, size: number, a: number, v: number, t: number): void {
  w.tee(a).i64(12n).op(Op.i64_shr_s).tee(v);
  w.op(Op.i32_wrap_i64).i32(TLB_SIZE - 1).op(Op.i32_and).i32(3).op(Op.i32_shl);
  w.i32(tlbStateAddr).mem(Op.i32_load, 0, 2).op(Op.i32_add).tee(t);
  w.mem(Op.i64_load, 0, 3).get(v).i64(TLB_TAG_BITS).op(Op.i64_add).op(Op.i64_eq);
  w.get(a).op(Op.i32_wrap_i64).i32(0xfff).op(Op.i32_and).i32(0x1000 - size).op(Op.i32_le_u);
  w.op(Op.i32_and);
}

/** Pushes the host offset of the access at the address in local `a` (after a hit; `t` as the probe left it). */
export function emitHostOffset(w: CodeWriter, a: number, t: number): void {
  w.get(t).mem(Op.i32_load, TLB_BASES, 2); // the biased double's low word
  w.get(a).op(Op.i32_wrap_i64).i32(0xfff).op(Op.i32_and).op(Op.i32_add);
}

/** Pushes the low and the high word of the i64 in local `a` (the helpers' address arguments). */
export function emitAddrHalves(w: CodeWriter, a: number): void {
  w.get(a).op(Op.i32_wrap_i64);
  w.get(a).i64(32n).op(Op.i64_shr_u).op(Op.i32_wrap_i64);
}

/** (address, rd, pc, retired) -> stop?: a load into x[rd] (x0: none). */
export const LOAD_TYPE = { params: [ValType.i64, ValType.i32, ValType.i64, ValType.i32], results: [ValType.i32] };
/** (address, value, rs2, pc, retired) -> stop?: a store of x[rs2], whose value is passed too. */
export const STORE_TYPE = {
  params: [ValType.i64, ValType.i64, ValType.i32, ValType.i64, ValType.i32], results: [ValType.i32],
};

/**
 * The body of the tier-1 load with funct3 `f3`: on a hit, x[rd] = the value; on a miss
 * (or MMIO, or an access across pages), stores the pc and the retired count and returns
 * what the CPU's `ld` helper (function `ldFunc`) returns.
 */
export function loadFunction(f3: number, sb: number, rtlbState: number, ldFunc: number): CodeWriter {
  const RD = 1;
  const access = { f3, size: 1 << (f3 & 3), tlbStateAddr: sb + rtlbState, sb, reg: RD, pc: 2, ic: 3, helper: ldFunc };
  return accessFunction(access, (w, a, t) => {
    w.get(RD).blockOf(Op.if); // a load into x0 only has to be allowed
    w.get(RD).i32(3).op(Op.i32_shl);
    emitHostOffset(w, a, t);
    w.mem(LOAD_OPS[f3]!, 0, 0).mem(Op.i64_store, sb + STATE_X, 3);
    w.op(Op.end);
  });
}

/** The body of the tier-1 store with funct3 `f3`; a miss calls the CPU's `st` helper (function `stFunc`). */
export function storeFunction(f3: number, sb: number, wtlbState: number, stFunc: number): CodeWriter {
  const access = { f3, size: 1 << f3, tlbStateAddr: sb + wtlbState, sb, reg: 2, pc: 3, ic: 4, helper: stFunc };
  return accessFunction(access, (w, a, t) => {
    emitHostOffset(w, a, t);
    w.get(1).mem(STORE_OPS[f3]!, 0, 0); // parameter 1: the value
  });
}

/** Where an access function finds its inputs: parameter 0 is the address, and its locals follow the parameters. */
interface Access {
  f3: number;
  size: number;
  tlbStateAddr: number;
  sb: number;
  /** Parameters: the register number for the helper, the pc and the retired count. */
  reg: number;
  pc: number;
  ic: number;
  /** The CPU's slow path: (f3, register, address low, address high) -> stop?. */
  helper: number;
}

/**
 * Probe; on a hit `hit` does the access (given the address and tag locals) and the function
 * returns 0, on a miss the helper's answer.
 */
function accessFunction(x: Access, hit: (w: CodeWriter, a: number, t: number) => void): CodeWriter {
  const A = 0, T = x.ic + 1, V = x.ic + 2; // MEMORY_FUNCTION_LOCALS: an i32, then an i64
  const w = new CodeWriter();
  w.get(A);
  emitTlbProbe(w, x.tlbStateAddr, x.size, A, V, T);
  w.blockOf(Op.if, ValType.i32);
  hit(w, A, T);
  w.i32(0);
  w.op(Op.else);
  w.i32(x.sb + STATE_PC).get(x.pc).mem(Op.i64_store, 0, 3);
  w.i32(x.sb + STATE_ICOUNT).get(x.ic).mem(Op.i32_store, 0, 2);
  w.i32(x.f3).get(x.reg);
  emitAddrHalves(w, A);
  w.op(Op.call).u32(x.helper);
  w.op(Op.end);
  return w;
}

/** The locals of loadFunction's and storeFunction's bodies (after their parameters). */
export const MEMORY_FUNCTION_LOCALS = [{ count: 1, type: ValType.i32 }, { count: 1, type: ValType.i64 }];
