// Translated loads and stores at both tiers (tier 1 calls memory-helpers.ts's functions,
// tier 2 probes the TLB inline): the cases random programs seldom reach.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_TIER_UP } from "../src/accel/tcg/jit.js";
import { Bus } from "../src/hw/bus.js";
import {
  GuestMemory, RAM_OFFSET, TLB_BASE_BIAS, TLB_TAG_BIAS, TLB_TAG_BITS,
} from "../src/machine/guest-memory.js";
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

function hart(program: number[], tierUp: number, mem = new GuestMemory(RAM_BASE, 0x10000)): RiscvCpu {
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

// Translated code reads the TLB's doubles as integers (guest-memory.ts, TLB_TAG_BIAS).
test("TLB encoding: a tag's bits are TLB_TAG_BITS + vpn, a base's low word is the host offset", () => {
  const d = new Float64Array(1);
  const bits = new BigInt64Array(d.buffer);
  const words = new Uint32Array(d.buffer);
  // Page numbers of 64-bit addresses: -2^51 (0x8000...) to 2^51 - 1 (0x7fff...).
  for (const vpn of [-(2 ** 51), -(2 ** 31) - 1, -1, 0, 1, 2 ** 31, 2 ** 51 - 1]) {
    d[0] = vpn + TLB_TAG_BIAS;
    assert.equal(d[0] - TLB_TAG_BIAS, vpn, `vpn ${vpn} exact`);
    assert.equal(bits[0], BigInt.asIntN(64, TLB_TAG_BITS + BigInt(vpn)), `vpn ${vpn}`);
  }
  // Host offsets of pages anywhere in a 4 GiB Memory.
  for (const off of [0, RAM_OFFSET, 2 ** 31 - 4096, 2 ** 31, 2 ** 32 - 4096]) {
    d[0] = off + TLB_BASE_BIAS;
    assert.equal(words[0], off, `offset ${off}`);
    assert.equal(d[0] - TLB_BASE_BIAS, off);
  }
});

// Past 2 GiB of the Memory a base's low word is negative as an i32: the inline probe
// (tier 2), the tier-1 load/store functions and the dispatcher must treat it as unsigned.
for (const [tier, tierUp] of [["tier 1", DEFAULT_TIER_UP], ["tier 2", 1]] as const) {
  test(`jit memory (${tier}): loads and stores in RAM beyond 2 GiB of the Memory`, () => {
    const high = 0x9000_0000; // RAM offset: host offset RAM_OFFSET + high > 2^31
    const mem = new GuestMemory(RAM_BASE, high + 0x10000);
    mem.view.setBigUint64(RAM_OFFSET + high, 0x0102030405060708n, true);
    const cpu = hart([addi(7, 0, -3), sd(29, 7, 8), ld(8, 29, 8), ld(9, 29, 0), back(4)], tierUp, mem);
    cpu.setX(29, BigInt(RAM_BASE + high));
    cpu.run(500);
    assert.ok(cpu.translatedRetired > 0, "nothing ran translated");
    assert.equal(cpu.getX(8), -3n);
    assert.equal(cpu.getX(9), 0x0102030405060708n);
    assert.equal(mem.view.getBigInt64(RAM_OFFSET + high + 8, true), -3n);
  });
}
