// The microvm board without KVM: its exit handlers (every device behind them) driven the
// way the vCPU threads drive them, and the checks it makes before /dev/kvm is opened.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import type { AccessSize } from "../src/hw/device.js";
import { GuestMemory } from "../src/machine/guest-memory.js";
import { createMachine } from "../src/machine/create.js";
import { MicrovmDevices } from "../src/machine/x86-microvm-devices.js";
import { microvmCmdline, MicrovmMachine, type MicrovmBackend } from "../src/machine/x86-microvm.js";
import { startVcpus, type StartVcpusOptions, type VcpuGroup } from "../src/accel/kvm/vcpu-group.js";
import type { Step } from "./kvm-scripted-source.js";
import type { MachineConfig } from "../src/machine/config.js";
import { boardContext, config, fakeHost, type FakeHost } from "./board-helpers.js";

const MiB = 1024 * 1024;
const HAS_KVM = existsSync("/dev/kvm");

function microvm(overrides: Partial<MachineConfig> = {}): MachineConfig {
  return config({ machine: "microvm", accel: "kvm", memBytes: 64 * MiB, ...overrides });
}

function board(cfg = microvm(), host: FakeHost = fakeHost()) {
  const { ctx } = boardContext(cfg, host, {});
  const irqs: string[] = [];
  const events: string[] = [];
  let now = 0;
  const mem = new GuestMemory(0, 1 * MiB);
  const devices = new MicrovmDevices({
    ctx,
    mem,
    setIrq: (gsi, level) => irqs.push(`${gsi}:${level ? 1 : 0}`),
    events: {
      powerOff: () => events.push("poweroff"),
      reset: () => events.push("reset"),
      fail: (message) => events.push(`fail ${message}`),
    },
    nowMs: () => now,
  });
  return { devices, host, irqs, events, setNow: (ms: number) => (now = ms) };
}

const rng = { devices: [{ driver: "virtio-rng-device", props: {} }] };

test("bytes written to port 0x3f8 reach the console", () => {
  const { devices, host } = board();
  for (const c of "hi\n") devices.pioOut(0x3f8, 1, c.charCodeAt(0), 0);
  assert.equal(host.output(), "hi\n");
});

test("UART interrupts toggle GSI 4, each change once", () => {
  const { devices, irqs } = board();
  devices.pioOut(0x3f9, 1, 0x02, 0); // IER: transmitter empty -> pending at once
  assert.deepEqual(irqs, ["4:1"]);
  assert.equal(devices.pioIn(0x3fa, 1, 0) & 0x0f, 0x02, "IIR says THRE");
  assert.deepEqual(irqs, ["4:1", "4:0"], "reading IIR acknowledges it");
  devices.pioOut(0x3f9, 1, 0x01, 0); // IER: received data
  devices.receive(new TextEncoder().encode("x"));
  assert.deepEqual(irqs, ["4:1", "4:0", "4:1"]);
  assert.equal(devices.pioIn(0x3f8, 1, 0), "x".charCodeAt(0), "console input reaches the UART");
  assert.deepEqual(irqs, ["4:1", "4:0", "4:1", "4:0"]);
});

test("a virtio-mmio slot answers magic, version and device id at 0xd0000000", () => {
  const { devices } = board(microvm(rng));
  assert.equal(devices.mmioRead(0xd000_0000, 4, 0), 0x7472_6976n, "'virt'");
  assert.equal(devices.mmioRead(0xd000_0004, 4, 0), 2n, "virtio-mmio version 2");
  assert.equal(devices.mmioRead(0xd000_0008, 4, 0), 4n, "entropy source");
  assert.deepEqual(devices.virtioSlots, [{ addr: 0xd000_0000, gsi: 5 }]);
  // Only slots in use exist: the next one reads as nothing.
  assert.equal(devices.mmioRead(0xd000_1000, 4, 0), 0xffff_ffffn);
});

test("8-byte MMIO accesses are split into two 4-byte ones, low half first", () => {
  const { devices } = board(microvm(rng));
  assert.equal(devices.mmioRead(0xd000_0000, 8, 0), (2n << 32n) | 0x7472_6976n);
  const log: string[] = [];
  devices.mmio.map(0xfe00_0000, {
    size: 0x10,
    read: (offset: number, size: AccessSize) => (log.push(`r${size}@${offset}`), offset === 0 ? 0x89ab_cdef : 0x0123_4567),
    write: (offset: number, value: number, size: AccessSize) => void log.push(`w${size}@${offset}=${value.toString(16)}`),
  }, "probe");
  devices.mmioWrite(0xfe00_0000, 8, 0x1122_3344_5566_7788n, 0);
  assert.equal(devices.mmioRead(0xfe00_0000, 8, 0), 0x0123_4567_89ab_cdefn);
  devices.mmioWrite(0xfe00_0008, 2, 0xabcdn, 0);
  assert.deepEqual(log, ["w4@0=55667788", "w4@4=11223344", "r4@0", "r4@4", "w2@8=abcd"]);
});

test("unmapped MMIO and ports read all ones and never throw", () => {
  const { devices } = board();
  assert.equal(devices.mmioRead(0xfeb0_0000, 1, 0), 0xffn);
  assert.equal(devices.mmioRead(0xfeb0_0000, 2, 0), 0xffffn);
  assert.equal(devices.mmioRead(0x1_0000_0000, 4, 0), 0xffff_ffffn);
  assert.equal(devices.mmioRead(0xd000_7ffc, 8, 0), 0xffff_ffff_ffff_ffffn);
  assert.doesNotThrow(() => devices.mmioWrite(0xd000_0000, 8, -1n, 0));
  assert.equal(devices.pioIn(0x80, 1, 0), 0xff);
  assert.equal(devices.pioIn(0xcfc, 4, 0), 0xffff_ffff);
  assert.doesNotThrow(() => devices.pioOut(0x80, 1, 0, 0));
  assert.doesNotThrow(() => devices.pioOut(0x70, 2, 0x1234, 0));
});

test("power off, reset and the vCPU stops reach the board once", () => {
  const a = board();
  a.devices.pioOut(0x600, 1, 0x20 | (5 << 2), 0);
  a.devices.pioOut(0x602, 1, 0x01, 0);
  a.devices.pioOut(0x64, 1, 0xfe, 0);
  assert.deepEqual(a.events, ["poweroff", "reset", "reset"]);

  const stops = [
    [{ kind: "shutdown" }, "reset"],
    [{ kind: "system-event", type: 1 }, "poweroff"],
    [{ kind: "system-event", type: 2 }, "reset"],
    [{ kind: "error", message: "KVM_EXIT_FAIL_ENTRY" }, "fail vCPU 1: KVM_EXIT_FAIL_ENTRY"],
  ] as const;
  for (const [why, expected] of stops) {
    const b = board();
    b.devices.stopped(1, why);
    b.devices.stopped(0, { kind: "shutdown" }); // a second vCPU stopping changes nothing
    assert.deepEqual(b.events, [expected]);
  }
});

test("the boot timer: figure kept, trace line under -d boot-timer", () => {
  const host = fakeHost();
  const lines: string[] = [];
  host.trace = (line) => lines.push(line);
  const b = board(microvm({ debug: ["boot-timer"] }), host);
  b.setNow(123.4);
  b.devices.pioOut(0x440, 1, 0x7b, 0);
  assert.equal(b.devices.bootTimer.firstMs, 123.4);
  assert.deepEqual(lines, ["boot-timer: 123 ms"]);
  // Without the -d item the figure is still there, and nothing is traced.
  const quiet = fakeHost();
  const seen: string[] = [];
  quiet.trace = (line) => seen.push(line);
  const c = board(microvm({ debug: [] }), quiet);
  c.setNow(7);
  c.devices.pioOut(0x440, 1, 0x7b, 0);
  assert.equal(c.devices.bootTimer.firstMs, 7);
  assert.deepEqual(seen, []);
});

test("kernel command line: ACPI by default, virtio_mmio.device= entries with acpi=off", () => {
  const two = { devices: [{ driver: "virtio-rng-device", props: {} }, { driver: "virtio-rng-device", props: {} }] };
  const on = microvm({ ...two, append: "quiet" });
  assert.equal(microvmCmdline(on, board(on).devices), "console=ttyS0 reboot=k panic=-1 quiet");
  const off = microvm({ ...two, acpi: false });
  assert.equal(microvmCmdline(off, board(off).devices),
    "console=ttyS0 reboot=k panic=-1 acpi=off virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6");
});

test("-serial none: console input goes to virtio-console's hvc0, the UART is silent", () => {
  const cfg = microvm({ serial: "none", devices: [{ driver: "virtio-console-device", props: {} }] });
  const { devices, host } = board(cfg);
  devices.pioOut(0x3f8, 1, 0x41, 0);
  assert.equal(host.output(), "");
  assert.doesNotThrow(() => devices.receive(new Uint8Array([1, 2, 3])));
  assert.equal(devices.mmioRead(0xd000_0008, 4, 0), 3n, "console device");
});

/** A minimal bzImage: setup header only, protocol 2.15, 64-bit entry, init_size 64 MiB. */
function fakeBzImage(initSize = 64 * MiB): Uint8Array {
  const b = new Uint8Array(3 * 512);
  const v = new DataView(b.buffer);
  b[0x1f1] = 1; // setup_sects
  v.setUint16(0x1fe, 0xaa55, true);
  b[0x200] = 0xeb;
  b[0x201] = 0x66; // jump over the header
  v.setUint32(0x202, 0x5372_6448, true); // "HdrS"
  v.setUint16(0x206, 0x020f, true);
  v.setUint32(0x22c, 0x7fff_ffff, true); // initrd_addr_max
  v.setUint32(0x230, 0x20_0000, true); // kernel_alignment
  b[0x234] = 1; // relocatable
  v.setUint16(0x236, 0x3, true); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  v.setUint32(0x238, 2047, true); // cmdline_size
  v.setBigUint64(0x258, 0x100_0000n, true); // pref_address
  v.setUint32(0x260, initSize, true);
  return b;
}

async function createFails(cfg: MachineConfig, files: Record<string, Uint8Array>, message: RegExp): Promise<void> {
  await assert.rejects(createMachine(cfg, fakeHost(files)), (err: Error) => {
    assert.equal(err.name, "UserError", String(err));
    assert.ok(!err.message.includes("\n"));
    assert.match(err.message, message);
    return true;
  });
}

test("bad input is refused before /dev/kvm is opened", async () => {
  const ls = new Uint8Array(4096).fill(0x7f);
  await createFails(microvm({ kernel: "/bin/ls" }), { "/bin/ls": ls }, /^\/bin\/ls is not a Linux bzImage/);
  await createFails(microvm({ kernel: "k", memBytes: 64 * MiB }), { k: fakeBzImage() }, /^-m 64M is too small for this kernel: it needs at least 80 MiB/);
  await createFails(microvm({ kernel: "k", initrd: "rd", memBytes: 96 * MiB }), { k: fakeBzImage(), rd: new Uint8Array(20 * MiB) },
    /too small for this kernel.*initrd/);
  await createFails(microvm({ kernel: "k", bios: "fw.bin" }), { k: fakeBzImage(), "fw.bin": new Uint8Array(4) }, /^-bios fw.bin: not supported on microvm/);
  await createFails(microvm({ kernel: "k", dtb: "b.dtb" }), { k: fakeBzImage() }, /^-dtb: not supported on microvm/);
  await createFails(microvm({ memBytes: 4096 * MiB }), {}, /^-m 4096M: microvm takes at most 3 GiB/);
  await createFails(microvm({ kernel: "missing" }), {}, /^missing: No such file/);
  await createFails(microvm({ initrd: "rd" }), { rd: new Uint8Array(1) }, /^-initrd only allowed with -kernel/);
  await createFails(config({ machine: "virt", accel: "kvm" }), {}, /KVM needs an x86-64 guest/);
  await createFails(microvm({ accel: "tcg" }), {}, /runs only under KVM/);
});

test("good input goes on to /dev/kvm", { skip: HAS_KVM && "this host has /dev/kvm: the board would start" }, async () => {
  await createFails(microvm({ kernel: "k", memBytes: 128 * MiB }), { k: fakeBzImage() }, /\/dev\/kvm/);
  await createFails(microvm(), {}, /\/dev\/kvm|x86-64 Linux host/);
});

/** KVM as the board sees it, recording each call; vCPUs are the test's to drive. */
function fakeKvm() {
  const log: string[] = [];
  const groups: Array<{ opts: StartVcpusOptions }> = [];
  const rams: ArrayBuffer[] = [];
  let vms = 0;
  const backend: MicrovmBackend = {
    openKvm: () => ({
      fd: 3,
      supportedCpuid: () => [],
      createVm: () => {
        const n = ++vms;
        return {
          fd: 10 + n,
          setTssAddr: (a) => void log.push(`vm${n} tss ${a.toString(16)}`),
          setIdentityMapAddr: (a) => void log.push(`vm${n} idmap ${a.toString(16)}`),
          createIrqchip: () => void log.push(`vm${n} irqchip`),
          createPit2: () => void log.push(`vm${n} pit`),
          setUserMemoryRegion: (slot, gpa, size) => void log.push(`vm${n} slot ${slot} ${gpa} ${size / MiB}M`),
          irqLine: (gsi, level) => void log.push(`vm${n} irq ${gsi}=${level ? 1 : 0}`),
          close: () => void log.push(`vm${n} close`),
        };
      },
      close: () => void log.push("kvm close"),
    }),
    allocateGuestRam: (size) => {
      const buffer = new ArrayBuffer(size);
      rams.push(buffer);
      return { buffer, hostAddress: 0x7f00_0000_0000n, free: () => void log.push("ram free") };
    },
    startVcpus: (opts): VcpuGroup => {
      groups.push({ opts });
      log.push(`start ${opts.setups.length} vcpus on vm fd ${opts.vmFd}`);
      return {
        count: opts.setups.length,
        stop: async () => void log.push("vcpus stop"),
        stats: () => ({ exits: 0, pioExits: 0, mmioExits: 0 }),
      };
    },
  };
  return { backend, log, groups, rams, handlers: (i = groups.length - 1) => groups[i].opts.handlers };
}

function machine(overrides: Partial<MachineConfig> = {}) {
  const kvm = fakeKvm();
  const host = fakeHost({ bz: fakeBzImage(4 * MiB), rd: new Uint8Array(8192).fill(0xaa) });
  const cfg = microvm({ kernel: "bz", initrd: "rd", memBytes: 32 * MiB, append: "quiet", ...overrides });
  const m = new MicrovmMachine(cfg, host, kvm.backend);
  return { m, kvm, host };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const text = (buf: ArrayBuffer, at: number, len: number) => new TextDecoder().decode(new Uint8Array(buf, at, len));

test("life cycle: VM set up in order, booted per the map, power off ends with 0", async () => {
  const { m, kvm } = machine({ smp: 2 });
  assert.deepEqual(kvm.log, [
    "vm1 tss fffbd000", "vm1 idmap fffbc000", "vm1 irqchip", "vm1 pit", "vm1 slot 0 0 32M",
  ]);
  const run = m.run();
  assert.equal(kvm.groups.length, 1);
  const { setups, vmFd, kvmFd } = kvm.groups[0].opts;
  assert.equal(vmFd, 11);
  assert.equal(kvmFd, 3);
  assert.equal(setups.length, 2);
  assert.equal(setups[0].regs?.rip, 0x100200n, "64-bit entry");
  assert.equal(setups[0].regs?.rsi, 0x7000n, "boot_params");
  assert.equal(setups[1].regs, undefined, "the second vCPU waits for INIT/SIPI");
  const ram = kvm.rams[0];
  assert.equal(text(ram, 0xe0000, 8), "RSD PTR ", "ACPI RSDP at 0xe0000");
  assert.equal(new DataView(ram).getBigUint64(0x7000 + 0x70, true), 0xe0000n, "boot_params.acpi_rsdp_addr");
  assert.equal(text(ram, 0x20000, 38), "console=ttyS0 reboot=k panic=-1 quiet\0");
  kvm.handlers().pioOut(0x600, 1, 0x20 | (5 << 2), 0); // ACPI S5
  assert.equal(await run, 0);
  assert.deepEqual(kvm.log.slice(5), ["start 2 vcpus on vm fd 11", "vcpus stop", "vm1 close", "ram free", "kvm close"]);
});

test("life cycle: a reset builds a fresh VM; -no-reboot ends instead", async () => {
  const { m, kvm } = machine();
  const run = m.run();
  new Uint8Array(kvm.rams[0])[0x5000] = 0x42; // guest state that must not survive
  kvm.handlers().pioOut(0x64, 1, 0xfe, 0); // i8042 reset
  kvm.handlers().pioOut(0x602, 1, 0x01, 0); // a second reset while the first runs: ignored
  for (let i = 0; i < 5 && kvm.groups.length < 2; i++) await tick();
  assert.equal(kvm.groups.length, 2, "vCPUs started again");
  assert.equal(m.resetCount(), 1);
  assert.equal(new Uint8Array(kvm.rams[1])[0x5000], 0, "fresh RAM");
  assert.equal(text(kvm.rams[1], 0xe0000, 8), "RSD PTR ", "tables written again");
  assert.ok(kvm.log.includes("vm1 close") && kvm.log.includes("vm2 pit"));
  kvm.handlers().stopped(0, { kind: "system-event", type: 1 }); // KVM_SYSTEM_EVENT_SHUTDOWN
  assert.equal(await run, 0);
  assert.deepEqual(kvm.log.slice(-4), ["vcpus stop", "vm2 close", "ram free", "kvm close"]);

  const n = machine({ noReboot: true });
  const run2 = n.m.run();
  n.kvm.handlers().stopped(0, { kind: "shutdown" }); // triple fault
  assert.equal(await run2, 0);
  assert.equal(n.kvm.groups.length, 1);
});

test("life cycle: a vCPU error ends run() with one line; stop(code) ends with code", async () => {
  const { m, kvm } = machine();
  const run = m.run();
  kvm.handlers().stopped(0, { kind: "error", message: "KVM_EXIT_FAIL_ENTRY (hardware entry failure reason 0x80000021)" });
  await assert.rejects(run, (err: Error) => {
    assert.equal(err.name, "UserError");
    assert.equal(err.message, "vCPU 0: KVM_EXIT_FAIL_ENTRY (hardware entry failure reason 0x80000021)");
    return true;
  });
  assert.equal(kvm.log.at(-1), "kvm close");

  const s = machine();
  const run2 = s.m.run();
  s.m.stop(3);
  assert.equal(await run2, 3);
});

test("life cycle: console input reaches the UART, its interrupt the VM's GSI 4", async () => {
  const { m, kvm, host } = machine();
  const run = m.run();
  const h = kvm.handlers();
  h.pioOut(0x3f9, 1, 0x01, 0); // IER: received data
  host.type("y");
  assert.ok(kvm.log.includes("vm1 irq 4=1"));
  assert.equal(h.pioIn(0x3f8, 1, 0), "y".charCodeAt(0));
  assert.ok(kvm.log.includes("vm1 irq 4=0"));
  m.stop(0);
  await run;
});

test("acpi=off: MP table in the EBDA and the virtio slots on the command line", async () => {
  const { m, kvm } = machine({ acpi: false, append: undefined, ...rng });
  const ram = kvm.rams[0];
  assert.equal(text(ram, 0x9fc00, 4), "_MP_");
  assert.equal(new Uint8Array(ram)[0xe0000], 0, "no ACPI tables");
  const cmdline = "console=ttyS0 reboot=k panic=-1 acpi=off virtio_mmio.device=4K@0xd0000000:5";
  assert.equal(text(ram, 0x20000, cmdline.length), cmdline);
  const run = m.run();
  m.stop(0);
  assert.equal(await run, 0);
});

// The board with the real vCPU threads (src/accel/kvm/vcpu-group.ts), a scripted exit
// source standing in for KVM_RUN (test/kvm-scripted-source.ts): the whole exit path
// from a worker thread to the devices and back.
const SCRIPTED = new URL("./kvm-scripted-source.js", import.meta.url).href;
/** The threads signal each other through koffi (an optional dependency). */
const NO_KOFFI = (() => {
  try {
    createRequire(import.meta.url).resolve("koffi");
    return false;
  } catch {
    return "koffi is not installed (npm install koffi)";
  }
})();

function threaded(scripts: Step[][], overrides: Partial<MachineConfig> = {}) {
  const kvm = fakeKvm();
  const backend: MicrovmBackend = {
    ...kvm.backend,
    startVcpus: (opts) => {
      kvm.backend.startVcpus(opts); // records the call
      return startVcpus({ ...opts, sourceModule: SCRIPTED, sourceOptions: { scripts } });
    },
  };
  const host = fakeHost({ bz: fakeBzImage(4 * MiB) });
  const lines: string[] = [];
  host.trace = (line) => lines.push(line);
  const m = new MicrovmMachine(microvm({ kernel: "bz", memBytes: 32 * MiB, ...overrides }), host, backend);
  return { m, kvm, host, lines };
}

const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

test("vCPU threads: console output, boot timer, virtio probe, then ACPI power off", { timeout: 30_000, skip: NO_KOFFI }, async () => {
  const { m, host, lines } = threaded([
    [
      { op: "out", port: 0x3f8, size: 1, values: bytes("hello from vCPU 0\n") }, // rep outsb
      { op: "out", port: 0x440, size: 1, values: [0x7b] },
      { op: "mmio-read", addr: 0xd000_0000, size: 4 },
      { op: "echo-mmio", addr: 0xd000_0100 }, // into the rng's config space: ignored
      { op: "in", port: 0x80, size: 2, count: 1 },
      { op: "out", port: 0x600, size: 1, values: [0x20 | (5 << 2)] },
    ],
    [], // vCPU 1 waits in "KVM_RUN" until the board stops it
  ], { smp: 2, debug: ["boot-timer"], ...rng });
  assert.equal(await m.run(), 0);
  assert.equal(host.output(), "hello from vCPU 0\n");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^boot-timer: \d+ ms$/);
  assert.ok(m.bootTimeMs()! > 0);
  const stats = m.exitStats();
  assert.equal(stats.pioExits, 4);
  assert.equal(stats.mmioExits, 2);
});

test("vCPU threads: a reset under -no-reboot ends with 0, a vCPU error with one line", { timeout: 30_000, skip: NO_KOFFI }, async () => {
  const a = threaded([[{ op: "out", port: 0x64, size: 1, values: [0xfe] }]], { noReboot: true });
  assert.equal(await a.m.run(), 0);
  const b = threaded([[{ op: "stop", why: { kind: "error", message: "KVM_EXIT_INTERNAL_ERROR (suberror 1)" } }]]);
  await assert.rejects(b.m.run(), { name: "UserError", message: "vCPU 0: KVM_EXIT_INTERNAL_ERROR (suberror 1)" });
});

test("vCPU threads: a reset restarts the vCPUs on a fresh VM", { timeout: 30_000, skip: NO_KOFFI }, async () => {
  // Each incarnation runs the same script: the first resets through the ACPI reset
  // register, so the test stops the machine once the second incarnation is up.
  const { m, kvm } = threaded([[{ op: "out", port: 0x602, size: 1, values: [0x01] }, { op: "block" }]]);
  const run = m.run();
  for (let i = 0; i < 200 && m.resetCount() < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(m.resetCount() >= 2, `reset twice (got ${m.resetCount()})`);
  m.stop(0);
  assert.equal(await run, 0);
  assert.ok(kvm.log.includes("vm2 close"));
});
