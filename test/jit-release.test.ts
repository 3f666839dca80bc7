// Translations the Jit drops (guest code changed, cache flushed) must become garbage by the
// next flush. An instance that imports a WebAssembly.Table stays alive as long as that
// table (V8 keeps a strong list of importers, to update their copies on table.set), and
// chunk modules import the helper table: so flush() makes a new one, and the Jit flushes
// after MAX_MODULES modules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Bus } from "../src/hw/bus.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { MAX_MODULES } from "../src/accel/tcg/jit.js";
import { RiscvCpu } from "../src/target/riscv/cpu.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const RAM_BASE = 0x80000000;
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13) >>> 0;
/** jal x0 back to the start of a program whose `n`th instruction this is. */
const back = (n: number) => {
  const imm = -4 * n;
  return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) | 0x6f) >>> 0;
};

/** The functions in the Jit's table now: its translated chunks. */
function tableFunctions(cpu: RiscvCpu): Function[] {
  const table = (cpu.jit as unknown as { table: WebAssembly.Table }).table;
  const out: Function[] = [];
  for (let i = 0; i < table.length; i++) {
    const f = table.get(i) as Function | null;
    if (f !== null) out.push(f);
  }
  return out;
}

/** Registers the Jit's current translations; returns how many were collected after `drop`. */
async function collectedAfter(cpu: RiscvCpu, drop: () => void): Promise<{ registered: number; collected: number }> {
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  let registered = 0;
  // In a function of its own, so that no local keeps a function alive.
  (() => {
    for (const f of tableFunctions(cpu)) {
      registry.register(f, null);
      registered++;
    }
  })();
  drop();
  for (let i = 0; i < 10 && collected < registered; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { registered, collected };
}

function hart(tierUp: number): { cpu: RiscvCpu; mem: GuestMemory } {
  const mem = new GuestMemory(RAM_BASE, 0x10000);
  const program = [addi(5, 5, 1), addi(6, 6, 2), back(2)];
  program.forEach((w, k) => mem.view.setUint32(RAM_OFFSET + k * 4, w, true));
  const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0, jit: true, jitThreshold: 1, jitTierUp: tierUp });
  cpu.reset(RAM_BASE);
  return { cpu, mem };
}

/**
 * A host write that changes the code (as a loader or DMA may): drops the page's
 * translations. The second instruction becomes addi x6, x6, 3, or back 2 (a write of the
 * bytes already there keeps them).
 */
const touchCode = (mem: GuestMemory) => {
  const imm = mem.u8[RAM_OFFSET + 6]! >> 4 === 2 ? 3 : 2;
  mem.writeBytes(RAM_BASE + 4, Uint8Array.of(0x13, 0x03, 0x03 | (imm << 4), 0x00));
};

for (const [tier, tierUp] of [["tier 1", 1_000_000], ["tier 2", 1]] as const) {
  test(`jit (${tier}): translations dropped because their code changed are garbage after a flush`, async () => {
    const { cpu, mem } = hart(tierUp);
    cpu.run(1000);
    assert.ok(cpu.translatedRetired > 0, "nothing ran translated");
    const { registered, collected } = await collectedAfter(cpu, () => {
      touchCode(mem);
      assert.equal(tableFunctions(cpu).length, 0, "the write left translations in the table");
      cpu.run(1000); // translated again
      cpu.jit!.flush();
    });
    assert.ok(registered > 0, "no translation in the table");
    assert.equal(collected, registered, "dropped translations are still alive after a flush");
    const x6 = cpu.getX(6);
    cpu.run(1000);
    assert.ok(cpu.getX(6) > x6, "the hart does not go on after the flush");
  });
}

test("jit: code that keeps changing does not keep its old translations (a flush every MAX_MODULES modules)", async () => {
  const { cpu, mem } = hart(1_000_000);
  cpu.run(100);
  const { registered, collected } = await collectedAfter(cpu, () => {
    for (let i = 0; i < MAX_MODULES + 8; i++) {
      touchCode(mem);
      cpu.run(100);
    }
  });
  assert.ok(cpu.jit!.stats.modules > MAX_MODULES, `only ${cpu.jit!.stats.modules} modules compiled`);
  assert.ok(cpu.jit!.stats.flushes >= 1, "no flush");
  assert.ok(registered > 0, "no translation in the table");
  assert.equal(collected, registered, "the first translations are still alive");
});
