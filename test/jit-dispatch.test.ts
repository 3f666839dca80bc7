// The dispatcher chains translated code from page to page without going back to the CPU
// when the jump cache holds both ends: the Jit and the wasm dispatcher must agree on where
// a pc's entry is (jumpCacheIndex), and code at the same offset of nearby pages must not
// keep evicting each other's entry.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Bus } from "../src/hw/bus.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { RiscvCpu } from "../src/target/riscv/cpu.js";

const RAM_BASE = 0x80000000;
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13) >>> 0;
const jal = (imm: number) => ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) |
  (((imm >> 12) & 0xff) << 12) | 0x6f) >>> 0;

for (const distance of [0x1000, 0x2000, 0x8000, 0x10000]) {
  test(`translated code ping-ponging between pages ${distance / 1024} KiB apart stays in the dispatcher`, () => {
    const mem = new GuestMemory(RAM_BASE, 0x20000);
    // Page A: a0 += 1, jump to the same offset of page B; B: a1 += 1, jump back.
    mem.view.setUint32(RAM_OFFSET, addi(10, 10, 1), true);
    mem.view.setUint32(RAM_OFFSET + 4, jal(distance - 4), true);
    mem.view.setUint32(RAM_OFFSET + distance, addi(11, 11, 1), true);
    mem.view.setUint32(RAM_OFFSET + distance + 4, jal(-distance - 4), true);
    const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit: true, jitThreshold: 1 });
    cpu.reset(RAM_BASE);
    cpu.run(1000); // both pages translated, their entries cached
    const before = cpu.dispatches;
    const ran = cpu.run(100_000);
    assert.ok(ran >= 100_000, `${ran} instructions ran`);
    assert.equal(cpu.getX(10) + cpu.getX(11), BigInt(cpu.instret / 2), "each block ran once per two instructions");
    // One entry into translated code per slice, give or take; a jump-cache entry that the
    // other page's code evicts costs a trip to the CPU on every jump (some 50,000).
    const entries = cpu.dispatches - before;
    assert.ok(entries <= 3, `${entries} entries into translated code for 50,000 jumps between the pages`);
  });
}
