// CSR semantics that only show with devices attached, tested on a bare hart.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Bus } from "../src/hw/bus.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { IRQ_S_EXT, IRQ_S_TIMER, RiscvCpu } from "../src/target/riscv/cpu.js";

const RAM_BASE = 0x80000000;

function hartWith(program: number[]): RiscvCpu {
  const mem = new GuestMemory(RAM_BASE, 1 << 16);
  program.forEach((w, i) => mem.view.setUint32(RAM_OFFSET + i * 4, w >>> 0, true));
  const cpu = new RiscvCpu({ mem, bus: new Bus(), hartId: 0, mtime: () => 0 });
  cpu.reset(RAM_BASE);
  return cpu;
}

test("csrs mip keeps the PLIC's SEIP line out of the software SEIP bit", () => {
  const cpu = hartWith([
    0x3442a073, // csrrs zero, mip, t0   (t0 = STIP)
    0x34402573, // csrrs a0, mip, zero
  ]);
  cpu.setX(5, BigInt(1 << IRQ_S_TIMER));
  cpu.setInterrupt(IRQ_S_EXT, true); // the PLIC raises the S-mode external line
  assert.equal(cpu.run(1), 1);
  cpu.setInterrupt(IRQ_S_EXT, false); // ... and drops it once claimed
  assert.equal(cpu.run(1), 1);
  assert.equal(cpu.getX(10), BigInt(1 << IRQ_S_TIMER), "SEIP must follow the line, STIP stays set");
});

test("rd of csrrs mip reads the line and the software bit ORed", () => {
  const cpu = hartWith([0x34402573]); // csrr a0, mip
  cpu.setInterrupt(IRQ_S_EXT, true);
  cpu.run(1);
  assert.equal(cpu.getX(10), BigInt(1 << IRQ_S_EXT));
});
