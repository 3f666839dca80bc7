// Translated code and the RAM it came from, across harts and guest resets:
// - a guest reset keeps the memory, and the new hart adopts its predecessor's translator:
//   code whose bytes the loader writes again unchanged runs translated without a compile,
//   calling the new hart's helpers; code whose bytes changed is translated again;
// - a store by one hart into code another hart translated drops that translation;
// - so does a loader's zeroing of an ELF's bss.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Bus } from "../src/hw/bus.js";
import { CodePages } from "../src/accel/tcg/code-pages.js";
import { loadElf } from "../src/loader/elf.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { RiscvCpu } from "../src/target/riscv/cpu.js";

const RAM_BASE = 0x80000000;
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13) >>> 0;
const csrrMinstret = (rd: number) => ((0xb02 << 20) | (2 << 12) | (rd << 7) | 0x73) >>> 0;
const sw = (rs2: number, rs1: number, imm: number) =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | ((imm & 0x1f) << 7) | 0x23) >>> 0;
const jalBack = (bytes: number) => {
  const imm = -bytes;
  return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) | 0x6f) >>> 0;
};
/** x5 += step in a loop that also reads minstret into x6 (a CSR: the `ex` helper runs it). */
const loop = (step: number) => [addi(5, 5, step), csrrMinstret(6), jalBack(8)];

function words(ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4);
  const v = new DataView(b.buffer);
  ws.forEach((w, i) => v.setUint32(i * 4, w, true));
  return b;
}

function hart(mem: GuestMemory, hartId: number, pc: number): RiscvCpu {
  const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId, mtime: () => 0, jit: true, jitThreshold: 1 });
  cpu.reset(pc);
  return cpu;
}

/** An image the loader writes at RAM_BASE + 0x400: the loop starts its second page, at `CODE`. */
const image = (step: number) => words([...new Array<number>(0x300).fill(0x13), ...loop(step), ...new Array<number>(0x400).fill(0x13)]);
const IMAGE = RAM_BASE + 0x400;
const CODE = IMAGE + 0xc00;

test("a guest reset keeps translations of code the loader writes again unchanged, and drops changed code", () => {
  const mem = new GuestMemory(RAM_BASE, 0x10000);
  mem.writeBytes(IMAGE, image(1));
  const first = hart(mem, 0, CODE);
  first.run(3000);
  assert.ok(first.translatedRetired > 0 && first.jit!.stats.modules > 0, "the loop was translated");
  const firstRetired = first.instret;

  // A reset, as BoardMachine does it: hart state cleared, the images loaded again.
  mem.clearHartState();
  mem.writeBytes(IMAGE, image(1));
  const second = hart(mem, 0, CODE);
  assert.equal(second.jit, first.jit, "the new hart adopted the translator");
  const ran = second.run(3000);
  assert.equal(second.jit!.stats.modules, 0, "nothing was compiled again");
  assert.ok(second.translatedRetired > ran / 2, `${second.translatedRetired} of ${ran} instructions translated`);
  assert.equal(second.x[10], Math.ceil(ran / 3), "x5 counts the iterations of the new hart");
  // The old and the new hart share the register file (the hart's state in the Memory),
  // not their counters: minstret read through the helper is the new hart's.
  assert.ok(second.x[12]! > 0 && second.x[12]! <= second.instret, `x6 = ${second.x[12]}, minstret ${second.instret}`);
  assert.equal(first.instret, firstRetired, "the old hart ran nothing");

  mem.clearHartState();
  mem.writeBytes(IMAGE, image(2));
  const third = hart(mem, 0, CODE);
  const ran3 = third.run(3000);
  assert.ok(third.jit!.stats.modules > 0, "the changed page was translated again");
  assert.equal(third.x[10], 2 * Math.ceil(ran3 / 3), "the new code ran, not the old translation");
});

test("a store by one hart drops another hart's translation of that code", () => {
  const mem = new GuestMemory(RAM_BASE, 0x10000);
  const code = RAM_BASE + 0x1000;
  mem.writeBytes(code, words(loop(1)));
  // Hart 1 stores x7 at 0(x8), then spins.
  mem.writeBytes(RAM_BASE + 0x2000, words([sw(7, 8, 0), addi(0, 0, 0), jalBack(8)]));
  const h0 = hart(mem, 0, code);
  const h1 = hart(mem, 1, RAM_BASE + 0x2000);
  h1.x[16] = code | 0; // x8 (its upper word stays 0 in M-mode's bare addressing)
  h1.x[14] = addi(5, 5, 1) | 0; // x7: first the word that is there (hart 1's write TLB gets the page)
  h1.run(30);
  h0.run(3000);
  assert.ok(h0.translatedRetired > 0, "hart 0 runs its loop translated");
  const before = h0.x[10]!;

  h1.x[14] = addi(5, 5, 2) | 0; // then a new first instruction
  h1.run(30);

  h0.reset(code);
  h0.x[10] = 0;
  const ran = h0.run(3000);
  assert.ok(before > 0);
  assert.equal(h0.x[10], 2 * Math.ceil(ran / 3), "hart 0 runs the instruction hart 1 stored");
});

test("an ELF loader zeroing its bss over translated code drops the translation", () => {
  const mem = new GuestMemory(RAM_BASE, 0x10000);
  mem.writeBytes(IMAGE, image(1));
  hart(mem, 0, CODE).run(3000);
  const page = RAM_OFFSET + (CODE - RAM_BASE);
  const pages = CodePages.of(mem);
  assert.ok(pages.has(0, page), "the loop was translated");
  // One segment: 16 bytes of data, then bss over the loop's page.
  const seg = { paddr: IMAGE, data: new Uint8Array(16), memSize: 0x2000 };
  loadElf(mem, { entry: IMAGE, segments: [seg], low: IMAGE, high: IMAGE + 0x2000, symbol: () => undefined }, "bss.elf");
  assert.equal(pages.has(0, page), false, "the zeroed page still counts as translated");
});
