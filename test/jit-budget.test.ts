// A slice runs as many instructions as its budget, translated or not: the budget is what
// keeps timer interrupts and the other harts on time. Instructions that translated code
// hands to the interpreter (the `ex` helper: CSRs, atomics, MULH) count too.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Bus } from "../src/hw/bus.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { RiscvCpu } from "../src/target/riscv/cpu.js";

const RAM_BASE = 0x80000000;
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13) >>> 0;
const csrrMinstret = (rd: number) => ((0xb02 << 20) | (2 << 12) | (rd << 7) | 0x73) >>> 0;
const mulh = (rd: number, rs1: number, rs2: number) => ((1 << 25) | (rs2 << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x33) >>> 0;
/** jal x0 back to the start of a program whose `n`th instruction this is. */
const back = (n: number) => {
  const imm = -4 * n;
  return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) | 0x6f) >>> 0;
};

for (const [name, program] of [
  ["a CSR read", [addi(5, 5, 1), csrrMinstret(6), back(2)]],
  ["MULH", [addi(5, 5, 3), mulh(6, 5, 5), addi(7, 7, 1), back(3)]],
] as const) {
  for (const jit of [false, true]) {
    test(`a slice with ${name} in its loop retires its budget (${jit ? "translated" : "interpreted"})`, () => {
      const mem = new GuestMemory(RAM_BASE, 0x10000);
      program.forEach((w, k) => mem.view.setUint32(RAM_OFFSET + k * 4, w, true));
      const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit, jitThreshold: 1 });
      cpu.reset(RAM_BASE);
      for (let slice = 0; slice < 5; slice++) {
        const ran = cpu.run(3000);
        // Translated code checks the budget between blocks: one block more at the most.
        assert.ok(ran >= 3000 && ran <= 3000 + program.length, `slice ${slice}: ${ran} instructions for a budget of 3000`);
      }
      if (jit) assert.ok(cpu.translatedRetired > 0, "nothing ran translated");
    });
  }
}
