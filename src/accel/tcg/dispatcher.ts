// The dispatcher: a small WebAssembly loop that chains translated pages without going back
// to JavaScript. After a page function exits at a pc, the dispatcher looks the pc up in
// the hart's instruction TLB (is it mapped, and to which physical page?) and in the jump
// cache (is there a translation of that pc from that physical page?), and calls it through
// the function table. A miss, an exhausted budget or a page function's request to stop
// returns to the CPU, which interprets, translates or takes an interrupt.
//
// Calling one exported function from JavaScript (instead of each page function) keeps
// V8's JS-to-WebAssembly call site monomorphic, and a call_indirect costs far less than a
// round trip through JavaScript.
import {
  JC_ENTRIES, STATE_BUDGET, STATE_CALLS, STATE_JC, STATE_PC, STATE_XTLB, TLB_BASES, TLB_SIZE, TLB_TAG_BITS,
} from "../../machine/guest-memory.js";
import { assemble, CodeWriter, Op, ValType } from "./wasm-emitter.js";

/** Bits of a jump-cache entry's last word that hold the block index (the rest: table slot). */
export const JC_IDX_BITS = 12;
/** The pc's bits 1-14 index the jump cache (16384 entries); those from bit 15 up are folded in. */
const JC_HASH_SHIFT = 15;

/**
 * The jump-cache entry of a pc (the same hash as the dispatcher's): its halfword index
 * within 32 KiB, folded with the bits above, so that code at the same offset of pages
 * 32 KiB apart (a kernel's functions and their callers) does not evict each other. With
 * the index alone and 4096 entries, a boot's translated code returned to the CPU ~261,000
 * times, ~85,000 more than now, most of them for a jump-cache miss.
 */
export function jumpCacheIndex(pcLo: number): number {
  return ((pcLo >>> 1) ^ (pcLo >>> JC_HASH_SHIFT)) & (JC_ENTRIES - 1);
}

/**
 * Pushes the address of the jump-cache entry of the pc in i64 local `pc` (the Memory offset
 * of the hart's jump cache is in its state at `stateBase`); `scratch` is an i32 local.
 * An entry is the pc (i64), the host offset of its code's page (i32), then its table slot
 * and block index (i32, the index in the low JC_IDX_BITS).
 */
export function emitJumpCacheEntry(w: CodeWriter, stateBase: number, pc: number, scratch: number): void {
  w.get(pc).op(Op.i32_wrap_i64).tee(scratch).i32(1).op(Op.i32_shr_u);
  w.get(scratch).i32(JC_HASH_SHIFT).op(Op.i32_shr_u).op(Op.i32_xor); // jumpCacheIndex
  w.i32(JC_ENTRIES - 1).op(Op.i32_and).i32(4).op(Op.i32_shl);
  w.i32(stateBase + STATE_JC).mem(Op.i32_load, 0, 2).op(Op.i32_add);
}

const L_PC = 0; // i64
const L_V = 1; // i64: virtual page number
const L_T = 2; // i32: the TLB tag's address
const L_E = 3; // i32: the jump-cache entry's address
const L_S = 4; // i32: the entry's slot and block

/** Returns 0 when it stopped for a miss or the budget, 1 when a page function asked to stop. */
export type Dispatch = () => number;

export function createDispatcher(memory: WebAssembly.Memory, table: WebAssembly.Table, stateBase: number): Dispatch {
  const w = new CodeWriter();
  const sb = stateBase;
  const leave = (value: number) => w.blockOf(Op.if).i32(value).op(Op.return).op(Op.end);
  w.blockOf(Op.loop);
  w.i32(sb + STATE_BUDGET).mem(Op.i32_load, 0, 2).i32(0).op(Op.i32_le_s);
  leave(0);
  // The instruction TLB entry of the pc's page, for the current privilege level.
  w.i32(sb + STATE_PC).mem(Op.i64_load, 0, 3).tee(L_PC).i64(12n).op(Op.i64_shr_s).tee(L_V);
  w.op(Op.i32_wrap_i64).i32(TLB_SIZE - 1).op(Op.i32_and).i32(3).op(Op.i32_shl);
  w.i32(sb + STATE_XTLB).mem(Op.i32_load, 0, 2).op(Op.i32_add).tee(L_T);
  w.mem(Op.i64_load, 0, 3).get(L_V).i64(TLB_TAG_BITS).op(Op.i64_add).op(Op.i64_ne); // see TLB_TAG_BIAS
  leave(0);
  // The jump-cache entry: same pc, code from the same physical page.
  emitJumpCacheEntry(w, sb, L_PC, L_E);
  w.tee(L_E);
  w.mem(Op.i64_load, 0, 3).get(L_PC).op(Op.i64_ne);
  leave(0);
  w.get(L_E).mem(Op.i32_load, 8, 2);
  w.get(L_T).mem(Op.i32_load, TLB_BASES, 2);
  w.op(Op.i32_ne);
  leave(0);
  w.i32(sb + STATE_CALLS).i32(sb + STATE_CALLS).mem(Op.i32_load, 0, 2).i32(1).op(Op.i32_add).mem(Op.i32_store, 0, 2);
  w.get(L_E).mem(Op.i32_load, 12, 2).tee(L_S).i32((1 << JC_IDX_BITS) - 1).op(Op.i32_and);
  w.get(L_S).i32(JC_IDX_BITS).op(Op.i32_shr_u);
  w.op(Op.call_indirect).u32(0).u32(0); // type 0: (block index) -> stop?
  leave(1);
  w.op(Op.br).u32(0);
  w.op(Op.end);
  w.op(Op.unreachable);

  const bytes = assemble({
    types: [{ params: [ValType.i32], results: [ValType.i32] }, { params: [], results: [ValType.i32] }],
    imports: [],
    memoryPages: memory.buffer.byteLength / 65536,
    table: true,
    funcs: [{ type: 1, locals: [{ count: 2, type: ValType.i64 }, { count: 3, type: ValType.i32 }], body: w }],
    exports: [{ name: "dispatch", func: 0 }],
  });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { mem: memory, tab: table } });
  return instance.exports.dispatch as Dispatch;
}
