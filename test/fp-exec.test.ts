// The interpreter's binary64 fast lane (fp-exec.ts: host doubles and int32 words instead
// of BigInt) against the exact core, instruction by instruction: arithmetic, fused
// multiply-adds, compares, moves and integer conversions in every rounding mode, on
// operands biased toward edges (signed zeros, NaN, infinities, ties, 2^31, 2^32, 2^53).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Bus } from "../src/hw/bus.js";
import { GuestMemory } from "../src/machine/guest-memory.js";
import { MSTATUS_FS } from "../src/target/riscv/csr.js";
import { RiscvCpu } from "../src/target/riscv/cpu.js";
import { executeFp } from "../src/target/riscv/fp-exec.js";
import { fpuOptions } from "../src/target/riscv/fpu.js";
import { rng } from "./lib/rng.js";


const EDGES = [0, -0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.5, 1, -1, 2 ** 31 - 0.5, 2 ** 31, -(2 ** 31), -(2 ** 31) - 0.5,
  2 ** 32 - 0.5, 2 ** 32, 2 ** 52 + 1, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 2 ** 63, 1e300, 1e-300, 5e-324, Infinity,
  -Infinity, NaN, 0.1, -0.7, 123456.5];

function operand(rand: () => number): number {
  const p = rand();
  if (p < 0.4) return EDGES[Math.floor(rand() * EDGES.length)]!;
  if (p < 0.7) return Math.round((rand() - 0.5) * 2 ** Math.floor(rand() * 70)) / (rand() < 0.5 ? 1 : 2);
  return (rand() - 0.5) * 2 ** Math.floor(rand() * 200 - 100);
}

function r4(funct7: number, rs2: number, rs1: number, f3: number, rd: number): number {
  return ((funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x53) >>> 0;
}

/** A random binary64 instruction with rd = 3 and sources 1, 2, 4 (f or x as it reads). */
function instruction(rand: () => number): number {
  const rm = [0, 1, 2, 3, 4, 7][Math.floor(rand() * 6)]!;
  switch (Math.floor(rand() * 8)) {
    case 0: return r4([0x01, 0x05, 0x09, 0x0d][Math.floor(rand() * 4)]!, 2, 1, rm, 3); // fadd/fsub/fmul/fdiv.d
    case 1: return ((4 << 27) | (1 << 25) | (2 << 20) | (1 << 15) | (rm << 12) | (3 << 7) | [0x43, 0x47, 0x4b, 0x4f][Math.floor(rand() * 4)]!) >>> 0;
    case 2: return r4(0x51, 2, 1, Math.floor(rand() * 3), 3); // fle, flt, feq
    case 3: case 4: return r4(0x61, Math.floor(rand() * 4), 1, rm, 3); // fcvt.{w,wu,l,lu}.d
    case 5: return r4(0x69, Math.floor(rand() * 4), 1, rm, 3); // fcvt.d.{w,wu,l,lu}
    case 6: return r4(0x71, 0, 1, 0, 3); // fmv.x.d
    default: return r4(0x79, 0, 1, 0, 3); // fmv.d.x
  }
}

test("binary64 fast lane equals the exact core: results, fflags and traps", () => {
  const cpu = new RiscvCpu({ mem: new GuestMemory(0x80000000, 1 << 16), bus: new Bus(), hartId: 0, mtime: () => 0 });
  cpu.reset(0x80000000);
  cpu.mstatus |= MSTATUS_FS;
  // About 70% of these cases take the fast lane (counted once with a probe in fp-exec.ts);
  // the rest are declined (NaN, infinity, directed rounding of arithmetic) and run exact.
  const rand = rng(4242);
  for (let i = 0; i < 30000; i++) {
    const inst = instruction(rand);
    const ops = [operand(rand), operand(rand), operand(rand)];
    const xs = [operand(rand), operand(rand)].map((v) => BigInt.asIntN(64, BigInt(Number.isFinite(v) ? Math.trunc(v) : 7)));
    const out: string[] = [];
    for (const fast of [true, false]) {
      fpuOptions.fastPaths = fast;
      cpu.fD[1] = ops[0]!; cpu.fD[2] = ops[1]!; cpu.fD[4] = ops[2]!; cpu.fD[3] = 42;
      cpu.setX(1, xs[0]!); cpu.setX(3, 99n);
      cpu.fflags = 0;
      cpu.frm = 0;
      let trap = "";
      try {
        executeFp(cpu, inst);
      } catch {
        trap = "trap";
      }
      out.push(`${trap} x3=${cpu.getX(3)} f3=${cpu.f[3]!.toString(16)} fflags=${cpu.fflags}`);
    }
    fpuOptions.fastPaths = true;
    assert.equal(out[0], out[1], `inst 0x${inst.toString(16)} on ${ops.join(", ")} / x1=${xs[0]}`);
  }
});
