// The Intel MP 1.4 tables for acpi=off: parsed here the way Linux's mpparse.c reads them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildMpTable, MP_TABLE_MAX_CPUS, MP_TABLE_SIZE_MAX } from "../src/machine/x86/mptable.js";

const BASE = 0x9fc00;
const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);
const ascii = (b: Uint8Array) => String.fromCharCode(...b);

function parse(t: Uint8Array) {
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const fp = t.subarray(0, 16);
  const configOff = v.getUint32(4, true) - BASE;
  const len = v.getUint16(configOff + 4, true);
  const config = t.subarray(configOff, configOff + len);
  const entries: number[][] = [];
  for (let off = 44; off < config.length;) {
    const size = config[off] === 0 ? 20 : 8;
    entries.push([...config.subarray(off, off + size)]);
    off += size;
  }
  return { fp, config, entries, count: v.getUint16(configOff + 34, true), lapic: v.getUint32(configOff + 36, true) };
}

test("floating pointer: _MP_, points at PCMP right after it, 16 bytes, checksum", () => {
  const t = buildMpTable({ cpus: 2, base: BASE });
  const { fp, config } = parse(t);
  assert.equal(ascii(fp.subarray(0, 4)), "_MP_");
  assert.equal(new DataView(t.buffer).getUint32(4, true), BASE + 16);
  assert.equal(fp[8], 1);
  assert.equal(fp[9], 4);
  assert.equal(sum(fp), 0);
  assert.deepEqual([...fp.subarray(11, 16)], [0, 0, 0, 0, 0], "default config 0: use the table");
  assert.equal(ascii(config.subarray(0, 4)), "PCMP");
  assert.equal(config[6], 4);
  assert.equal(sum(config), 0);
  assert.equal(16 + config.length, t.length);
});

test("config table entries: CPUs, ISA bus, IOAPIC, ISA IRQs 0-15, LINT0/LINT1", () => {
  const { entries, count, lapic } = parse(buildMpTable({ cpus: 3, base: BASE }));
  assert.equal(count, entries.length);
  assert.equal(lapic, 0xfee00000);
  const cpus = entries.filter((e) => e[0] === 0);
  assert.deepEqual(cpus.map((e) => [e[1], e[3]]), [[0, 3], [1, 1], [2, 1]], "APIC IDs; enabled, BSP first");
  assert.deepEqual(entries.find((e) => e[0] === 1), [1, 0, ...Buffer.from("ISA   ")]);
  assert.deepEqual(entries.find((e) => e[0] === 2), [2, 3, 0x11, 1, 0x00, 0x00, 0xc0, 0xfe]);
  const irqs = entries.filter((e) => e[0] === 3);
  assert.equal(irqs.length, 16);
  irqs.forEach((e, irq) => assert.deepEqual(e, [3, 0, 0, 0, 0, irq, 3, irq]));
  assert.ok(irqs.some((e) => e[5] === 5) && irqs.some((e) => e[5] === 12), "virtio IRQs 5..12 routed");
  const lints = entries.filter((e) => e[0] === 4);
  assert.deepEqual(lints, [[4, 3, 0, 0, 0, 0, 0, 0], [4, 1, 0, 0, 0, 0, 0xff, 1]]);
});

test("fits the EBDA's last KiB up to MP_TABLE_MAX_CPUS, refused beyond", () => {
  for (const cpus of [1, 2, 16, MP_TABLE_MAX_CPUS]) {
    const t = buildMpTable({ cpus, base: BASE });
    assert.ok(t.length <= MP_TABLE_SIZE_MAX, `${cpus} vCPUs: ${t.length} bytes`);
    assert.equal(sum(parse(t).config), 0);
    assert.equal(parse(t).entries.filter((e) => e[0] === 0).length, cpus);
  }
  assert.throws(() => buildMpTable({ cpus: MP_TABLE_MAX_CPUS + 1, base: BASE }),
    { name: "UserError", message: "-smp 41 with acpi=off: the MP table holds at most 40 CPUs" });
  assert.throws(() => buildMpTable({ cpus: 0, base: BASE }));
});
