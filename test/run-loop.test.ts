// The run loop: an idle guest (WFI) sleeps the host until the CLINT deadline or console
// input, stop() ends a sleep at once, and a guest reset rebuilds the board (or ends
// the run under -no-reboot).
import { test } from "node:test";
import assert from "node:assert/strict";
import { BoardMachine } from "../src/machine/board-machine.js";
import { createMachine } from "../src/machine/create.js";
import { type GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { buildVirt } from "../src/machine/riscv-virt.js";
import { config, fakeHost, INSN, words } from "./board-helpers.js";
import { buildFixture, noGcc } from "./riscv-toolchain.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error("timed out");
    await sleep(2);
  }
}

test("WFI sleeps the host until the timer, then until input; the byte is echoed", { skip: noGcc }, async () => {
  const host = fakeHost({ "wfi-echo.elf": buildFixture("wfi-echo") });
  const m = await createMachine(config({ bios: "none", kernel: "wfi-echo.elf" }), host);
  const t0 = performance.now();
  const done = m.run();
  await until(() => host.output() === "T", 5000);
  const timerMs = performance.now() - t0;
  assert.ok(timerMs >= 9, `the 10 ms timer fired after ${timerMs} ms`);

  // Idle in WFI: almost no host CPU and no guest instructions.
  const insns = m.instructionsRetired();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await sleep(300);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  assert.ok((cpu.user + cpu.system) / 1000 < wall * 0.3, `idle guest used ${(cpu.user + cpu.system) / 1000} ms CPU in ${wall} ms`);
  assert.ok(m.instructionsRetired() - insns < 100);

  const typed = performance.now();
  host.type("x");
  assert.equal(await done, 0);
  assert.ok(performance.now() - typed < 100, "input woke the sleeping hart promptly");
  assert.equal(host.output(), "Tx");
});

test("stop() ends a sleeping machine at once with its code", async () => {
  const host = fakeHost({ "idle.bin": words(INSN.wfi, INSN.loop) });
  const m = await createMachine(config({ bios: "none", kernel: "idle.bin" }), host);
  const done = m.run();
  await sleep(60);
  const t = performance.now();
  m.stop(7);
  assert.equal(await done, 7);
  assert.ok(performance.now() - t < 30);
});

const resetProgram = words(INSN.luiT0Test, INSN.luiT1_7, INSN.addiT1_777, INSN.swT1T0, INSN.loop);

test("a guest reset under -no-reboot ends the run with status 0", async () => {
  const host = fakeHost({ "reset.bin": resetProgram });
  const m = await createMachine(config({ bios: "none", kernel: "reset.bin", noReboot: true }), host);
  assert.equal(await m.run(), 0);
});

test("a guest reset rebuilds the board from the same files", async () => {
  const host = fakeHost({ "reset.bin": resetProgram });
  let builds = 0;
  const m = new BoardMachine(config({ bios: "none", kernel: "reset.bin" }), host, (ctx) => {
    builds++;
    return buildVirt(ctx);
  });
  const done = m.run();
  await until(() => builds >= 3, 5000);
  m.stop(0);
  assert.equal(await done, 0);
  // Instructions of discarded incarnations still count.
  assert.ok(m.instructionsRetired() >= 2 * 5);
});

test("a guest reset keeps RAM, as QEMU's does (only what the loaders write changes)", async () => {
  const host = fakeHost({ "reset.bin": resetProgram });
  const cfg = config({ bios: "none", kernel: "reset.bin" });
  const seen: number[] = [];
  let builds = 0;
  const m = new BoardMachine(cfg, host, (ctx) => {
    let mem: GuestMemory | undefined;
    const board = buildVirt({ ...ctx, memory: (base) => (mem = ctx.memory(base)) });
    const last = mem!.ram.length - 8;
    seen.push(mem!.view.getUint32(RAM_OFFSET + last, true));
    mem!.view.setUint32(RAM_OFFSET + last, 0xc0ffee00 + ++builds, true);
    return board;
  });
  const done = m.run();
  await until(() => builds >= 3, 5000);
  m.stop(0);
  assert.equal(await done, 0);
  assert.deepEqual(seen.slice(0, 3), [0, 0xc0ffee01, 0xc0ffee02]);
});

test("sifive_test pass (0x5555) ends the run with status 0", async () => {
  const pass = words(INSN.luiT0Test, INSN.luiT1_5, INSN.addiT1_555, INSN.swT1T0, INSN.loop);
  const host = fakeHost({ "pass.bin": pass });
  assert.equal(await (await createMachine(config({ bios: "none", kernel: "pass.bin" }), host)).run(), 0);
});
