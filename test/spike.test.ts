// The spike board and its HTIF: a riscv-tests-style ELF prints through putchar and a
// proxied write() and exits with its status; without tohost/fromhost symbols HTIF is
// QEMU's MMIO window at 0x1000000; the device tree matches QEMU's spike tree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Htif, HtifMmio, type HtifMailboxes } from "../src/hw/misc/htif.js";
import { createMachine } from "../src/machine/create.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";
import { buildSpikeDtb } from "../src/machine/spike.js";
import { config, fakeHost, words } from "./board-helpers.js";
import { cells, readDtb } from "./dtb-reader.js";
import { buildHtifHello, noGcc } from "./riscv-toolchain.js";

const MiB = 1 << 20;

async function runWithTimeout(m: { run(): Promise<number>; stop(c: number): void }, ms = 10_000): Promise<number> {
  const timer = setTimeout(() => m.stop(-1), ms);
  try {
    return await m.run();
  } finally {
    clearTimeout(timer);
  }
}

test("a riscv-tests-style ELF as -kernel under -bios none: output and exit status", { skip: noGcc }, async () => {
  const host = fakeHost({ "hello.elf": buildHtifHello() });
  const m = await createMachine(config({ machine: "spike", bios: "none", kernel: "hello.elf" }), host);
  assert.equal(await runWithTimeout(m), 3);
  assert.equal(host.output(), "hello\nbye\n");
  assert.ok(m.instructionsRetired() > 50);
});

test("the same ELF as -bios", { skip: noGcc }, async () => {
  const host = fakeHost({ "hello.elf": buildHtifHello() });
  const m = await createMachine(config({ machine: "spike", bios: "hello.elf" }), host);
  assert.equal(await runWithTimeout(m), 3);
  assert.equal(host.output(), "hello\nbye\n");
});

test("a raw binary reaches HTIF through the MMIO window (tohost at 0x1000008)", async () => {
  const program = words(
    0x010002b7, // lui  t0, 0x1000
    0x00700313, // li   t1, 7           exit status 3
    0x0062a423, // sw   t1, 8(t0)       tohost low
    0x0002a623, // sw   zero, 12(t0)    tohost high: the request is whole
    0x0000006f, // j    .
  );
  const host = fakeHost({ "exit3.bin": program });
  const m = await createMachine(config({ machine: "spike", bios: "exit3.bin" }), host);
  assert.equal(await runWithTimeout(m), 3);
});

/** Mailboxes in plain variables, to drive Htif alone. */
function boxes(): HtifMailboxes & { to: bigint; from: bigint } {
  const b = {
    to: 0n,
    from: 0n,
    readTohost: () => b.to,
    writeTohost: (v: bigint) => void (b.to = v),
    readFromhost: () => b.from,
    writeFromhost: (v: bigint) => void (b.from = v),
  };
  return b;
}

function htifRig() {
  const mem = new GuestMemory(0x80000000, 1 << 16);
  const box = boxes();
  const out: number[] = [];
  const events: string[] = [];
  const htif = new Htif({
    mailboxes: box,
    mem,
    consoleWrite: (d) => out.push(...d),
    machine: { powerOff: (c) => events.push(`off ${c}`), reset: () => events.push("reset") },
  });
  return { mem, box, out, events, htif };
}

test("HTIF putchar answers 0x100|byte and waits for fromhost to be emptied", () => {
  const { box, out, htif } = htifRig();
  box.to = (1n << 56n) | (1n << 48n) | 0x41n;
  htif.poll();
  assert.equal(box.to, 0n);
  assert.equal(box.from, (1n << 56n) | (1n << 48n) | 0x141n);
  box.to = (1n << 56n) | (1n << 48n) | 0x42n;
  htif.poll(); // fromhost still full: the answer waits
  assert.equal(box.from, (1n << 56n) | (1n << 48n) | 0x141n);
  box.from = 0n;
  htif.poll();
  assert.equal(box.from, (1n << 56n) | (1n << 48n) | 0x142n);
  assert.deepEqual(out, [0x41, 0x42]);
});

test("HTIF exit, syscall write and getchar", () => {
  const { mem, box, out, events, htif } = htifRig();
  const at = (pa: number) => RAM_OFFSET + pa - mem.ramBase;
  mem.writeBytes(0x80000100, new TextEncoder().encode("hi!"));
  for (const [i, v] of [64n, 2n, 0x80000100n, 3n].entries()) mem.view.setBigUint64(at(0x80000040 + i * 8), v, true);
  box.to = 0x80000040n;
  htif.poll();
  assert.deepEqual(out, [0x68, 0x69, 0x21]);
  assert.equal(mem.view.getBigUint64(at(0x80000040), true), 3n); // write returned 3
  assert.equal(box.from, 1n);

  box.from = 0n;
  box.to = 1n << 56n; // getchar: no input yet, no answer
  htif.poll();
  assert.equal(box.from, 0n);
  htif.receive(Uint8Array.of(0x71));
  htif.poll();
  assert.equal(box.from, (1n << 56n) | 0x171n);

  box.to = (21n << 1n) | 1n;
  htif.poll();
  assert.deepEqual(events, ["off 21"]);
});

test("HtifMmio: fromhost at +0, tohost at +8, a request is whole at the high half", () => {
  const mmio = new HtifMmio();
  let requests = 0;
  mmio.onRequest = () => requests++;
  mmio.write(8, 0x41, 4);
  assert.equal(requests, 0);
  assert.equal(mmio.readTohost(), 0n);
  mmio.write(12, 0x01010000, 4);
  assert.equal(requests, 1);
  assert.equal(mmio.readTohost(), 0x0101000000000041n);
  assert.equal(mmio.read(12, 4), 0x01010000);
  mmio.writeFromhost(0x0101000000000141n);
  assert.deepEqual([mmio.read(0, 4), mmio.read(4, 4)], [0x141, 0x01010000]);
  mmio.write(0, 0, 4);
  mmio.write(4, 0, 4);
  assert.equal(mmio.readFromhost(), 0n);
});

test("the spike device tree passes dtc and matches QEMU's", { skip: spawnSync("qemu-system-riscv64", ["--version"]).status !== 0 && "qemu-system-riscv64 not installed" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-spike-"));
  try {
    const ours = buildSpikeDtb({ memBytes: 128 * MiB, harts: 1, htifMmio: true });
    writeFileSync(join(dir, "s.dtb"), ours);
    const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", "-o", join(dir, "s.dts"), join(dir, "s.dtb")], { encoding: "utf8" });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, "");
    execFileSync("qemu-system-riscv64", ["-M", `spike,dumpdtb=${join(dir, "q.dtb")}`, "-m", "128M", "-nographic"], { stdio: "pipe" });
    const qemu = readDtb(new Uint8Array(readFileSync(join(dir, "q.dtb"))));
    const mine = readDtb(ours);
    // QEMU names the node plain "htif" (dtc warns about that); we give it its unit address.
    assert.deepEqual(cells(mine.get("/htif@1000000")!.get("reg")!), cells(qemu.get("/htif")!.get("reg")!));
    for (const path of ["/", "/memory@80000000", "/cpus", "/soc", "/soc/clint@2000000"]) {
      for (const [name, value] of mine.get(path)!) {
        assert.deepEqual(value, qemu.get(path)!.get(name), `${path} ${name}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
