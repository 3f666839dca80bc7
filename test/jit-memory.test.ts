// Translated loads and stores at both tiers (tier 1 calls memory-helpers.ts's functions,
// tier 2 probes the TLB inline): the cases random programs seldom reach.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_TIER_UP } from "../src/accel/tcg/jit.js";
import { Bus } from "../src/hw/bus.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { RiscvCpu } from "../src/target/riscv/cpu.js";

const RAM_BASE = 0x80000000;
const DATA = RAM_BASE + 0x1000;

const ld = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20 | rs1 << 15 | 3 << 12 | rd << 7 | 0x03) >>> 0;
const sd = (rs1: number, rs2: number, imm: number) =>
  (((imm >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | 3 << 12 | (imm & 0x1f) << 7 | 0x23) >>> 0;
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13) >>> 0;
/** jal x0, offset: back to the program's start from its `n`th instruction. */
const back = (n: number) => {
  const imm = -4 * n;
  return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) | 0x6f) >>> 0;
};

function hart(program: number[], tierUp: number): RiscvCpu {
  const mem = new GuestMemory(RAM_BASE, 0x10000);
  program.forEach((w, k) => mem.view.setUint32(RAM_OFFSET + k * 4, w, true));
  mem.view.setBigUint64(RAM_OFFSET + 0x1000, 0x1122334455667788n, true);
  const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit: true, jitThreshold: 1, jitTierUp: tierUp });
  cpu.reset(RAM_BASE);
  cpu.setX(28, BigInt(DATA));
  return cpu;
}

for (const [tier, tierUp] of [["tier 1", DEFAULT_TIER_UP], ["tier 2", 1]] as const) {
  test(`jit memory (${tier}): a load into x0 leaves x0 zero, for the interpreter too`, () => {
    // The first pass is interpreted (the page is not in the TLB yet), the rest is
    // translated; the run ends in translated code, and getX(0) reads x0 where the
    // interpreter does, in the hart's state.
    const cpu = hart([ld(0, 28, 0), addi(5, 0, 7), ld(6, 28, 0), back(3)], tierUp);
    cpu.run(500);
    assert.ok(cpu.translatedRetired > 0, "nothing ran translated");
    assert.equal(cpu.getX(0), 0n);
    assert.equal(cpu.getX(5), 7n);
    assert.equal(cpu.getX(6), 0x1122334455667788n);
  });

  test(`jit memory (${tier}): a store and a load back through the same register`, () => {
    const cpu = hart([addi(7, 0, -3), sd(28, 7, 16), ld(8, 28, 16), addi(7, 0, 5), back(4)], tierUp);
    cpu.run(500);
    assert.ok(cpu.translatedRetired > 0, "nothing ran translated");
    assert.equal(cpu.getX(8), -3n);
  });
}
