// The translator against the interpreter on random programs of valid instructions:
// integer, M, loads and stores (some misaligned, some faulting), branches and jumps,
// atomics and LR/SC, CSR accesses (satp included: paging with random tables), FP, ecall,
// ebreak, mret, fence.i, sfence.vma. Traps land back in the program (mtvec points into it).
// Two harts get the same memory and registers; the translated one runs a slice, the
// interpreter runs the same number of retired instructions, and then every register, the
// CSRs, the pc, the privilege level and all of RAM must be equal.
//   TSVISOR_DIFF_RUNS=N   programs to try (default 12; the long run in the notes used 1000)
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_TIER_UP } from "../src/accel/tcg/jit.js";
import { Bus } from "../src/hw/bus.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { MSTATUS_FS } from "../src/target/riscv/csr.js";
import { RiscvCpu } from "../src/target/riscv/cpu.js";

const RAM_BASE = 0x80000000;
const RAM_SIZE = 1 << 16;
const CODE_WORDS = 2048; // the first 8 KiB: the program; the rest: data
const DATA = RAM_BASE + CODE_WORDS * 4;
const SLICES = 40;
const SLICE = 1500;
const RUNS = Number(process.env.TSVISOR_DIFF_RUNS ?? 12) || 12;
/** x28..x31 hold data pointers and are never a destination: most accesses hit RAM. */
const PTR = [28, 29, 30, 31];
/** x26 holds the trap handler's address, x27 is its scratch: never a destination either. */
const HANDLER = CODE_WORDS - 20;
/** CSRs the programs read and write (satp rarely: see gen). */
const CSRS = [0x340, 0x341, 0x342, 0x343, 0x300, 0x140, 0x141, 0x142, 0x304, 0x001, 0x002, 0x003, 0xb02];

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s % n;
  };
}

const r = (op: number, rd: number, f3: number, rs1: number, rs2: number, f7: number) =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const i = (op: number, rd: number, f3: number, rs1: number, imm: number) =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const s = (op: number, f3: number, rs1: number, rs2: number, imm: number) =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op) >>> 0;
const b = (f3: number, rs1: number, rs2: number, imm: number) =>
  ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63) >>> 0;
const j = (rd: number, imm: number) =>
  ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) |
    (rd << 7) | 0x6f) >>> 0;

/** One random instruction (4 bytes). */
function gen(n: (k: number) => number): number {
  const rd = 1 + n(25);
  const rs = () => n(32);
  const ptr = () => PTR[n(4)]!;
  // Mostly forward (the program falls through to a jump back to its start): backward
  // ones with random registers tend to spin in a few instructions forever.
  const near = () => (1 + n(48)) * 4;
  switch (n(20)) {
    case 0: case 1: case 2: return i(0x13, rd, n(8), rs(), n(2) ? n(4096) : n(64) | (n(2) << 10)); // OP-IMM
    case 3: return i(0x1b, rd, [0, 1, 5][n(3)]!, rs(), n(2) ? n(32) : n(32) | 0x400); // OP-IMM-32
    case 4: case 5: return r(0x33, rd, n(8), rs(), rs(), [0, 0x20, 1][n(3)]!); // OP, M
    case 6: return r(0x3b, rd, n(8), rs(), rs(), [0, 0x20, 1][n(3)]!); // OP-32
    case 7: return ((n(1 << 20) << 12) | (rd << 7) | (n(2) ? 0x37 : 0x17)) >>> 0; // LUI, AUIPC
    case 8: case 9: return i(0x03, n(8) ? rd : 0, n(7), ptr(), n(4096) - 2048); // loads (a few into x0)
    case 10: case 11: return s(0x23, n(4), ptr(), rs(), n(4096) - 2048); // stores
    case 12: case 13: return b([0, 1, 4, 5, 6, 7][n(6)]!, rs(), rs(), near());
    case 14: return n(4) ? j(n(2) ? 0 : 1, near()) : i(0x67, n(2), 0, n(2) ? 1 : ptr(), n(64) * 4); // JAL, JALR
    case 15: { // AMO, LR/SC on data pointers (some misaligned)
      const f5 = [0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c][n(11)]!;
      return r(0x2f, rd, 2 + n(2), ptr(), f5 === 0x02 ? 0 : rs(), (f5 << 2) | n(4));
    }
    case 16: { // CSRs: satp seldom, so that most of the run is not in random page tables
      const csr = n(40) === 0 ? 0x180 : CSRS[n(CSRS.length)]!;
      return i(0x73, n(3) ? rd : 0, [1, 2, 3, 5, 6, 7][n(6)]!, rs(), csr);
    }
    case 17: { // FP: moves, arithmetic (double and single), conversions, loads and stores
      const fr = () => n(32);
      switch (n(6)) {
        case 0: return r(0x53, fr(), n(8), fr(), fr(), [0x01, 0x05, 0x09, 0x0d, 0x00, 0x04, 0x08, 0x0c][n(8)]!);
        case 1: return r(0x53, fr(), 0, rs(), 0, [0x79, 0x78][n(2)]!); // fmv.d.x, fmv.w.x
        case 2: return r(0x53, rd, 0, fr(), 0, [0x71, 0x70][n(2)]!); // fmv.x.d, fmv.x.w
        case 3: return r(0x53, n(2) ? rd : fr(), n(8), n(32), n(4), [0x61, 0x69, 0x60, 0x68, 0x21, 0x20][n(6)]!); // fcvt
        case 4: return i(0x07, fr(), 2 + n(2), ptr(), n(512) * 8); // flw, fld
        default: return s(0x27, 2 + n(2), ptr(), fr(), n(512) * 8); // fsw, fsd
      }
    }
    default: // system and fences
      return [0x00000073, 0x00100073, 0x30200073, 0x0000100f, 0x0ff0000f, 0x12000073, 0x10500073][n(7)]!;
  }
}

interface Hart { cpu: RiscvCpu; mem: GuestMemory }
interface Pair { t: Hart; p: Hart }

/**
 * `jitTierUp` 1: every page is translated again at tier 2 after its first block.
 * `jitThreshold` 1 translates every block before it runs; above it, code runs interpreted
 * until hot, then waits for its batch (or for LOOP_RUNS more runs), as in a real boot.
 */
function setup(seed: number, jitTierUp: number, jitThreshold: number): Pair {
  const n = rng(seed);
  const code: number[] = [];
  for (let k = 0; k < CODE_WORDS; k++) code.push(gen(n));
  code[0] = i(0x73, 0, 1, 26, 0x305); // csrw mtvec, x26
  // The trap handler skips the trapping instruction, but after a fetch fault (cause 0, 1
  // or 12) restarts the program in M-mode. The program's end jumps back to its start.
  const h = HANDLER;
  const restart = h + 10;
  code.splice(h, 17,
    i(0x73, 27, 2, 0, 0x342), i(0x13, 27, 3, 27, 2), b(1, 27, 0, (restart - h - 2) * 4), // cause < 2?
    i(0x73, 27, 2, 0, 0x342), i(0x13, 27, 0, 27, -12), b(0, 27, 0, (restart - h - 5) * 4), // cause 12?
    i(0x73, 27, 2, 0, 0x341), i(0x13, 27, 0, 27, 4), i(0x73, 0, 1, 27, 0x341), 0x30200073, // mepc += 4
    (2 << 12) | (27 << 7) | 0x37, i(0x13, 27, 0, 27, -2048), i(0x73, 0, 2, 27, 0x300), // MPP = M
    (27 << 7) | 0x17, i(0x13, 27, 0, 27, (1 - (restart + 3)) * 4), i(0x73, 0, 1, 27, 0x341), 0x30200073);
  code[h - 1] = j(0, (1 - (h - 1)) * 4);
  const data: number[] = [];
  for (let k = 0; k < (RAM_SIZE - CODE_WORDS * 4) / 4; k++) data.push(n(0x10000) * 0x10000 + n(0x10000));
  const regs: bigint[] = [];
  for (let k = 0; k < 32; k++) regs.push(BigInt(n(0x10000)) << 48n | BigInt(n(0x10000)) << 32n | BigInt(n(0x10000)) << 16n | BigInt(n(0x10000)));
  for (const k of PTR) regs[k] = BigInt(DATA + 8 + n(RAM_SIZE - CODE_WORDS * 4 - 16));
  regs[26] = BigInt(RAM_BASE + HANDLER * 4);
  const make = (jit: boolean) => {
    const mem = new GuestMemory(RAM_BASE, RAM_SIZE);
    code.forEach((w, k) => mem.view.setUint32(RAM_OFFSET + k * 4, w, true));
    data.forEach((w, k) => mem.view.setUint32(RAM_OFFSET + CODE_WORDS * 4 + k * 4, w, true));
    const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit, jitThreshold, jitTierUp });
    cpu.reset(RAM_BASE);
    regs.forEach((v, k) => cpu.setX(k, v));
    // Half the programs start with the FPU on, so that translated FP code runs inline
    // from the start (FS Dirty after the first FP instruction the interpreter runs).
    if (seed & 1) cpu.mstatus |= MSTATUS_FS;
    return { cpu, mem };
  };
  return { t: make(true), p: make(false) };
}

/** The first difference between the two harts, or undefined. */
function difference(ha: Hart, hb: Hart): string | undefined {
  const a = ha.cpu;
  const b = hb.cpu;
  if (a.pc !== b.pc) return `pc ${a.pc.toString(16)} vs ${b.pc.toString(16)}`;
  if (a.priv !== b.priv) return `priv ${a.priv} vs ${b.priv}`;
  for (let k = 0; k < 32; k++) if (a.getX(k) !== b.getX(k)) return `x${k} ${a.getX(k).toString(16)} vs ${b.getX(k).toString(16)}`;
  for (let k = 0; k < 32; k++) if (a.getF(k) !== b.getF(k)) return `f${k} ${a.getF(k).toString(16)} vs ${b.getF(k).toString(16)}`;
  if (a.fflags !== b.fflags) return `fflags ${a.fflags} vs ${b.fflags}`;
  if (a.mstatus !== b.mstatus) return `mstatus ${a.mstatus.toString(16)} vs ${b.mstatus.toString(16)}`;
  const csrA = (a as unknown as { csr: Int32Array }).csr;
  const csrB = (b as unknown as { csr: Int32Array }).csr;
  for (let k = 0; k < csrA.length; k++) if (csrA[k] !== csrB[k]) return `CSR 0x${(k >> 1).toString(16)} word ${k & 1}: ${csrA[k]} vs ${csrB[k]}`;
  const ra = ha.mem.ram;
  const rb = hb.mem.ram;
  for (let k = 0; k < ra.length; k++) if (ra[k] !== rb[k]) return `RAM byte 0x${(RAM_BASE + k).toString(16)}: ${ra[k]} vs ${rb[k]}`;
  return undefined;
}

/** Brings the interpreter to the translator's retired count (and through a trap it took there). */
function catchUp(hp: Hart, target: number, t: Hart): void {
  const p = hp.cpu;
  while (p.instret < target) {
    p.waiting = false;
    p.run(target - p.instret);
  }
  // The translator may have entered a trap right at the slice's end (it retires nothing).
  for (let k = 0; k < 3 && difference(t, hp) !== undefined; k++) {
    const before = p.instret;
    p.waiting = false;
    p.run(1);
    if (p.instret !== before) throw new Error("the interpreter ran past the translator");
  }
}

test(`translator and interpreter agree on ${RUNS} random programs, state compared every ${SLICE} instructions`, () => {
  let translated = 0;
  for (let run = 1; run <= RUNS; run++) {
    const seed = run * 2654435761;
    const tier2 = run % 2 === 0;
    const threshold = run % 3 === 0 ? 10 : 1; // the program loops: its code runs ~30 times
    const { t, p } = setup(seed, tier2 ? 1 : DEFAULT_TIER_UP, threshold);
    for (let slice = 0; slice < SLICES; slice++) {
      t.cpu.waiting = false;
      t.cpu.run(SLICE);
      catchUp(p, t.cpu.instret, t);
      const diff = difference(t, p);
      const how = `${tier2 ? ", tier 2" : ""}${threshold > 1 ? `, threshold ${threshold}` : ""}`;
      assert.equal(diff, undefined, `seed ${seed >>> 0}${how}, slice ${slice}, after ${t.cpu.instret} instructions: ${diff}`);
    }
    translated += t.cpu.translatedRetired;
  }
  assert.ok(translated > 0, "the translator ran none of it");
});
