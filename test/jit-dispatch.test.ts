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

const jalr = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x67) >>> 0;
const jalTo = (rd: number, imm: number) => (jal(imm) | rd << 7) >>> 0;
const auipc = (rd: number, imm20: number) => ((imm20 << 12) | rd << 7 | 0x17) >>> 0;
const bne = (rs1: number, rs2: number, imm: number) => ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) |
  rs2 << 20 | rs1 << 15 | 1 << 12 | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63) >>> 0;
const WFI = 0x10500073;
const RA = 1, T0 = 5, T1 = 6, A0 = 10, A1 = 11, A2 = 12;

test("a return to a block of the same chunk stays in the function", () => {
  const mem = new GuestMemory(RAM_BASE, 0x20000);
  const put = (off: number, inst: number) => mem.view.setUint32(RAM_OFFSET + off, inst, true);
  put(0x000, addi(A0, A0, 1)); // loop: a0 += 1
  put(0x004, jalTo(RA, 0x100)); // call f, on this page
  put(0x008, jalTo(0, -8));
  put(0x104, addi(A1, A1, 1)); // f: a1 += 1
  put(0x108, jalr(0, RA, 0)); // ret
  // Tier 2 puts the page's blocks into one function (at tier 1, the call's target may
  // be a chunk of its own, which a return to the caller's chunk must leave).
  const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit: true, jitThreshold: 1, jitTierUp: 50 });
  cpu.reset(RAM_BASE);
  for (let i = 0; i < 100; i++) cpu.run(500); // tier 2 is compiled at the end of a slice
  const calls = cpu.chunkCalls;
  const ran = cpu.run(100_000);
  assert.ok(ran >= 100_000, `${ran} instructions ran`);
  assert.equal(cpu.getX(A0), cpu.getX(A1), "one call per iteration");
  // ~20,000 returns; each one through the dispatcher would be a chunk call.
  const made = cpu.chunkCalls - calls;
  assert.ok(made <= 3, `${made} chunk calls for 20,000 returns inside the page`);
});

test("indirect jumps that leave a chunk (to another page, to a pc no block starts at) end as in the interpreter", () => {
  const results = [false, true].map((jit) => {
    const mem = new GuestMemory(RAM_BASE, 0x20000);
    const put = (off: number, inst: number) => mem.view.setUint32(RAM_OFFSET + off, inst, true);
    put(0x000, addi(A0, A0, 1)); // loop: a0 += 1
    put(0x004, jalTo(RA, 0x100)); // call f (this page)
    put(0x008, jalTo(RA, 0x1000 - 0x8)); // call g (the next page)
    put(0x00c, auipc(T0, 0));
    put(0x010, addi(T0, T0, 0x10));
    put(0x014, jalr(0, T0, 0)); // to 0x01c, which only this jump reaches
    put(0x018, addi(A2, A2, 100));
    put(0x01c, addi(A2, A2, 1));
    put(0x020, addi(T1, A0, -1000));
    put(0x024, bne(T1, 0, -0x24));
    put(0x028, WFI); // stops run()
    put(0x104, addi(A1, A1, 1)); // f
    put(0x108, jalr(0, RA, 0));
    put(0x1000, addi(A2, A2, 2)); // g
    put(0x1004, jalr(0, RA, 0));
    const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit, jitThreshold: 1, jitTierUp: 50 });
    cpu.reset(RAM_BASE);
    while (!cpu.waiting) cpu.run(1_000);
    return { regs: [RA, T0, T1, A0, A1, A2].map((r) => cpu.getX(r)), pc: cpu.pc, instret: cpu.instret };
  });
  assert.deepEqual(results[0]!.regs.slice(3), [1000n, 1000n, 3000n]);
  assert.deepEqual(results[1], results[0]);
});

const sfenceVma = (rs1: number) => ((0x09 << 25) | (rs1 << 15) | 0x73) >>> 0;

test("SFENCE.VMA of another page runs inside translated code; of the code's own page, it leaves", () => {
  for (const [fenced, ownPage] of [[RAM_BASE + 0x10000, false], [RAM_BASE, true]] as const) {
    const mem = new GuestMemory(RAM_BASE, 0x20000);
    const put = (off: number, inst: number) => mem.view.setUint32(RAM_OFFSET + off, inst, true);
    put(0x000, sfenceVma(A0)); // loop: fence the page at a0
    put(0x004, addi(A1, A1, 1));
    put(0x008, jalTo(0, -8));
    const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit: true, jitThreshold: 1 });
    cpu.reset(RAM_BASE);
    cpu.setX(A0, BigInt(fenced));
    cpu.run(1000);
    const before = cpu.dispatches;
    const a1 = cpu.getX(A1);
    cpu.run(30_000);
    const fences = Number(cpu.getX(A1) - a1);
    const entries = cpu.dispatches - before;
    assert.ok(fences >= 9_000, `${fences} fences ran`);
    if (ownPage) assert.ok(entries >= fences, `${entries} entries into translated code for ${fences} fences of its own page`);
    else assert.ok(entries <= 3, `${entries} entries into translated code for ${fences} fences of another page`);
  }
});

const cAddi = (rd: number, imm: number) => ((((imm >> 5) & 1) << 12) | rd << 7 | (imm & 0x1f) << 2 | 1) >>> 0;

test("an instruction straddling two pages runs without leaving translated code, and ends as in the interpreter", () => {
  // A loop at the end of page 0 closed by a 4-byte branch whose second half is on page 1;
  // then a 4-byte addi straddling pages 1 and 2, and WFI.
  const program = (mem: GuestMemory) => {
    const put = (off: number, inst: number) => mem.view.setUint32(RAM_OFFSET + off, inst, true);
    const put16 = (off: number, half: number) => mem.view.setUint16(RAM_OFFSET + off, half, true);
    put(0x0000, jalTo(0, 0xff4)); // to the loop
    put(0x0ff4, addi(A0, A0, 1)); // loop: a0 += 1
    put(0x0ff8, addi(T1, A0, -1000));
    put16(0x0ffc, cAddi(A2, 1)); // a2 += 1 (2 bytes)
    put(0x0ffe, bne(T1, 0, -0xa)); // straddles pages 0 and 1: back to the loop
    put(0x1002, jalTo(0, 0xffc)); // to 0x1ffe
    put(0x1ffe, addi(A1, A1, 7)); // straddles pages 1 and 2
    put(0x2002, WFI);
  };
  const results = [false, true].map((jit) => {
    const mem = new GuestMemory(RAM_BASE, 0x20000);
    program(mem);
    const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit, jitThreshold: 1 });
    cpu.reset(RAM_BASE);
    cpu.run(100);
    const before = cpu.dispatches;
    while (!cpu.waiting) cpu.run(100_000);
    return { regs: [T1, A0, A1, A2].map((r) => cpu.getX(r)), pc: cpu.pc, instret: cpu.instret, entries: cpu.dispatches - before };
  });
  const [interp, jit] = results as [typeof results[0], typeof results[0]];
  assert.deepEqual(interp.regs, [0n, 1000n, 7n, 1000n]);
  assert.deepEqual({ ...jit, entries: 0 }, { ...interp, entries: 0 });
  // Each of the ~1000 straddling branches back to the loop was a trip to the CPU before.
  assert.ok(jit.entries <= 5, `${jit.entries} entries into translated code for 1000 straddling branches`);
});

test("a loop that becomes hot is translated within some hundred iterations, not when the batch is due", () => {
  const mem = new GuestMemory(RAM_BASE, 0x20000);
  const put = (off: number, inst: number) => mem.view.setUint32(RAM_OFFSET + off, inst, true);
  put(0x000, addi(A0, A0, 1)); // loop: a0 += 1
  put(0x004, bne(A0, A1, -4)); // until a0 == a1
  put(0x008, WFI);
  const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit: true, jitThreshold: 100 });
  cpu.reset(RAM_BASE);
  cpu.setX(A1, 20_000n);
  cpu.run(1_000_000); // one slice: no batch falls due by slices
  assert.ok(cpu.waiting, "the loop ended");
  // Hot after 100 iterations, translated after 500 more; it waited for 16,000 before.
  const interpreted = cpu.instret - cpu.translatedRetired;
  assert.ok(interpreted < 2_000, `${interpreted} of ${cpu.instret} instructions interpreted`);
});
