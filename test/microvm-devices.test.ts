// The microvm's port-I/O devices (src/hw/x86): the port bus, the i8042 reset line, the
// ACPI power registers and the boot timer. No KVM needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AccessSize, MmioDevice } from "../src/hw/device.js";
import { IoBus } from "../src/hw/x86/io-bus.js";
import { I8042, I8042_DATA_PORT, I8042_PORT_COUNT } from "../src/hw/x86/i8042.js";
import { AcpiPm, ACPI_PM_PORT, ACPI_PM_PORT_COUNT } from "../src/hw/x86/acpi-pm.js";
import { BootTimer, BOOT_TIMER_PORT } from "../src/hw/x86/boot-timer.js";

/** A device that records its accesses and reads back offset + 0x10 per byte. */
function recorder(size: number) {
  const log: string[] = [];
  const dev: MmioDevice = {
    size,
    read(offset: number, width: AccessSize) {
      log.push(`r${width}@${offset}`);
      return width === 1 ? 0x10 + offset : 0x1234_5678 & (width === 2 ? 0xffff : 0xffff_ffff);
    },
    write(offset: number, value: number, width: AccessSize) {
      log.push(`w${width}@${offset}=${value.toString(16)}`);
    },
  };
  return { dev, log };
}

test("io-bus: dispatches by port with the access width and offset", () => {
  const bus = new IoBus();
  const { dev, log } = recorder(8);
  bus.map(0x3f8, 8, dev, "uart");
  assert.equal(bus.read(0x3fd, 1), 0x15);
  assert.equal(bus.read(0x3f8, 2), 0x5678);
  assert.equal(bus.read(0x3f8, 4), 0x1234_5678);
  bus.write(0x3f9, 0x1ff, 1); // masked to the width
  bus.write(0x3fa, 0xabcd, 2);
  assert.deepEqual(log, ["r1@5", "r2@0", "r4@0", "w1@1=ff", "w2@2=abcd"]);
});

test("io-bus: a 32-bit read with the top bit set stays an unsigned number", () => {
  const bus = new IoBus();
  bus.map(0xcf8, 4, { size: 4, read: () => 0xffff_fff0, write: () => {} }, "hi-bit");
  assert.equal(bus.read(0xcf8, 4), 0xffff_fff0);
});

test("io-bus: unknown ports read all ones at every width, writes vanish", () => {
  const bus = new IoBus();
  assert.equal(bus.read(0x80, 1), 0xff);
  assert.equal(bus.read(0x1234, 2), 0xffff);
  assert.equal(bus.read(0xcf8, 4), 0xffff_ffff);
  assert.doesNotThrow(() => bus.write(0x80, 0x12, 1));
  assert.doesNotThrow(() => bus.write(0xffff, 0x1234_5678, 4)); // wraps at the top of the space
  assert.equal(bus.read(0xffff, 4), 0xffff_ffff);
});

test("io-bus: an access that straddles a device's end is split into bytes", () => {
  const bus = new IoBus();
  const { dev, log } = recorder(2);
  bus.map(0x100, 2, dev, "two");
  // 0xff (unmapped) | 0x10 (offset 0) | 0x11 (offset 1) | 0xff (unmapped)
  assert.equal(bus.read(0xff, 4), 0xff11_10ff);
  bus.write(0x101, 0xaabb, 2);
  assert.deepEqual(log, ["r1@0", "r1@1", "w1@1=bb"]);
});

test("io-bus: overlapping ranges and ranges outside the port space are refused", () => {
  const bus = new IoBus();
  bus.map(0x60, 5, recorder(5).dev, "i8042");
  assert.throws(() => bus.map(0x64, 1, recorder(1).dev, "x"), /overlaps i8042/);
  assert.throws(() => bus.map(0xfffe, 4, recorder(4).dev, "y"), /outside the port space/);
});

function i8042Bus() {
  const events: string[] = [];
  const bus = new IoBus();
  bus.map(I8042_DATA_PORT, I8042_PORT_COUNT, new I8042(() => events.push("reset")), "i8042");
  return { bus, events };
}

test("i8042: status reads idle, command 0xfe on port 0x64 resets", () => {
  const { bus, events } = i8042Bus();
  const status = bus.read(0x64, 1);
  assert.equal(status & 0x02, 0, "input buffer never busy, so kb_wait() does not spin");
  assert.equal(status & 0x01, 0, "nothing to read");
  bus.write(0x64, 0xfe, 1);
  assert.deepEqual(events, ["reset"]);
  // Ports 0x61-0x63 are not the controller's registers.
  assert.equal(bus.read(0x61, 1), 0xff);
});

test("i8042: the probe commands Linux sends are answered at once", () => {
  const { bus, events } = i8042Bus();
  bus.write(0x64, 0xaa, 1); // self test
  assert.equal(bus.read(0x64, 1) & 0x01, 1, "output buffer full");
  assert.equal(bus.read(0x60, 1), 0x55);
  assert.equal(bus.read(0x64, 1) & 0x01, 0, "read empties it");
  bus.write(0x64, 0x60, 1); // write the control register
  bus.write(0x60, 0x47, 1);
  bus.write(0x64, 0x20, 1); // read it back
  assert.equal(bus.read(0x60, 1), 0x47);
  bus.write(0x64, 0xd3, 1); // aux loopback
  bus.write(0x60, 0x5a, 1);
  assert.equal(bus.read(0x60, 1), 0x5a);
  bus.write(0x60, 0xff, 1); // to the (absent) keyboard: dropped
  assert.equal(bus.read(0x64, 1) & 0x01, 0);
  bus.write(0x64, 0x12, 1); // unknown command: ignored
  assert.deepEqual(events, []);
});

function pmBus() {
  const events: string[] = [];
  const bus = new IoBus();
  bus.map(ACPI_PM_PORT, ACPI_PM_PORT_COUNT, new AcpiPm({
    powerOff: () => events.push("poweroff"),
    reset: () => events.push("reset"),
  }), "acpi-pm");
  return { bus, events };
}

const SLP_EN = 0x20;
const slpTyp = (t: number) => t << 2;

test("ACPI sleep control: SLP_TYP 5 with SLP_EN powers off", () => {
  const { bus, events } = pmBus();
  bus.write(0x600, SLP_EN | slpTyp(5), 1);
  assert.deepEqual(events, ["poweroff"]);
});

test("ACPI sleep control: other sleep types, and S5 without SLP_EN, are ignored", () => {
  const { bus, events } = pmBus();
  for (let t = 0; t < 8; t++) if (t !== 5) bus.write(0x600, SLP_EN | slpTyp(t), 1);
  bus.write(0x600, slpTyp(5), 1);
  assert.deepEqual(events, []);
  assert.equal(bus.read(0x600, 1), 0);
  assert.equal(bus.read(0x601, 1), 0, "sleep status reads 0");
  bus.write(0x601, 0xff, 1);
  assert.deepEqual(events, []);
});

test("ACPI reset register: 1 resets, other values do not", () => {
  const { bus, events } = pmBus();
  bus.write(0x602, 0x02, 1);
  bus.write(0x602, 0x00, 1);
  assert.deepEqual(events, []);
  bus.write(0x602, 0x01, 1);
  assert.deepEqual(events, ["reset"]);
});

test("boot timer: a write to port 0x440 records the time since start", () => {
  let now = 41.7;
  const seen: Array<[number, number]> = [];
  const timer = new BootTimer(() => now, (ms, value) => seen.push([ms, value]));
  const bus = new IoBus();
  bus.map(BOOT_TIMER_PORT, 1, timer, "boot-timer");
  assert.equal(timer.firstMs, undefined);
  bus.write(0x440, 0x7b, 1);
  now = 99;
  bus.write(0x440, 0x7b, 1);
  assert.equal(timer.firstMs, 41.7, "the first write is the boot figure");
  assert.equal(timer.writes, 2);
  assert.deepEqual(seen, [[41.7, 0x7b], [99, 0x7b]]);
  assert.equal(bus.read(0x440, 1), 0xff);
});
