// A guest that executes garbage gets architectural traps, never a host exception:
// random bytes as code and data, random registers and CSRs, in every privilege mode.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Bus } from "../src/hw/bus.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { RiscvCpu } from "../src/target/riscv/cpu.js";

const RAM_BASE = 0x80000000;
const RAM_SIZE = 1 << 20;

function randomCpu(seed: number, jit: boolean): RiscvCpu {
  const mem = new GuestMemory(RAM_BASE, RAM_SIZE);
  let s = seed >>> 0 || 1;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < mem.ram.length; i += 4) mem.view.setUint32(RAM_OFFSET + i, next(), true);
  // jitThreshold 1: the translator runs every block it can translate.
  const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit, jitThreshold: 1 });
  cpu.reset(RAM_BASE + (next() & (RAM_SIZE - 2)));
  for (let r = 1; r < 32; r++) {
    // Mostly pointers into RAM so that loads, stores and page walks touch real memory.
    const v = next() % 4 === 0 ? (BigInt(next()) << 32n) | BigInt(next()) : BigInt(RAM_BASE + (next() % RAM_SIZE));
    cpu.setX(r, v);
  }
  return cpu;
}

for (const jit of [false, true]) test(`random code and data (${jit ? "translator" : "interpreter"}): only architectural traps, the hart keeps running`, () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (seed) => {
      const cpu = randomCpu(seed, jit);
      // mtvec/stvec point into RAM so traps land in more garbage; satp may enable paging.
      let total = 0;
      for (let slice = 0; slice < 20; slice++) {
        total += cpu.run(5_000);
        if (cpu.waiting) cpu.waiting = false; // a WFI: keep going
      }
      assert.ok(Number.isFinite(cpu.pc));
      assert.ok([0, 1, 3].includes(cpu.priv));
      assert.ok(total >= 0);
    }),
    { numRuns: 20 },
  );
});

test("a hart with no memory at its pc takes instruction access faults forever", () => {
  const mem = new GuestMemory(RAM_BASE, RAM_SIZE);
  const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0 });
  cpu.reset(0x1000); // nothing mapped there: mtvec = 0 is not mapped either
  const ran = cpu.run(1000);
  assert.equal(ran, 0);
  assert.equal(cpu.pc, 0);
});
