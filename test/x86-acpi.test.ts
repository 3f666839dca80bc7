// The ACPI tables: layout from `base`, lengths, checksums, pointers between tables, and a
// real check with ACPICA's iasl (apt-get install acpica-tools): each table disassembles
// without errors, the DSDT shows our devices and \_S5, and recompiling the disassembly
// gives our AML byte for byte; acpiexec evaluates \_S5 and a _CRS when present.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ACPI_MAX_SIZE, buildAcpiTables } from "../src/machine/x86/acpi-tables.js";

const BASE = 0xe0000;
const slots = (n: number) => Array.from({ length: n }, (_, i) => ({ addr: 0xd0000000 + i * 0x1000, gsi: 5 + i }));

interface Tables { all: Uint8Array; bySig: Map<string, Uint8Array> }

/** Follows RSDP -> XSDT -> tables, FADT -> DSDT, as the kernel does. */
function walk(all: Uint8Array): Tables {
  const v = new DataView(all.buffer, all.byteOffset, all.byteLength);
  const at = (addr: number | bigint) => {
    const off = Number(addr) - BASE;
    assert.ok(off >= 0 && off + 36 <= all.length, `table at 0x${addr.toString(16)} inside the blob`);
    const len = v.getUint32(off + 4, true);
    assert.ok(off + len <= all.length);
    return all.subarray(off, off + len);
  };
  const bySig = new Map<string, Uint8Array>();
  const sig = (t: Uint8Array) => String.fromCharCode(...t.subarray(0, 4));
  const xsdt = at(v.getBigUint64(24, true));
  bySig.set(sig(xsdt), xsdt);
  for (let off = 36; off < xsdt.length; off += 8) {
    const t = at(new DataView(xsdt.buffer, xsdt.byteOffset).getBigUint64(off, true));
    bySig.set(sig(t), t);
  }
  const fadt = bySig.get("FACP")!;
  const dsdt = at(new DataView(fadt.buffer, fadt.byteOffset).getBigUint64(140, true));
  bySig.set(sig(dsdt), dsdt);
  return { all, bySig };
}

const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);

test("RSDP at offset 0: signature, revision 2, both checksums, XSDT pointer", () => {
  const all = buildAcpiTables({ cpus: 2, virtio: slots(2), base: BASE });
  const v = new DataView(all.buffer);
  assert.equal(String.fromCharCode(...all.subarray(0, 8)), "RSD PTR ");
  assert.equal(all[15], 2);
  assert.equal(v.getUint32(16, true), 0, "no RSDT");
  assert.equal(v.getUint32(20, true), 36);
  assert.equal(sum(all.subarray(0, 20)), 0, "ACPI 1.0 checksum");
  assert.equal(sum(all.subarray(0, 36)), 0, "extended checksum");
  assert.equal(Number(v.getBigUint64(24, true)) % 16, 0);
});

test("every table: length, checksum, 16-byte aligned, inside 64 KiB", () => {
  for (const [cpus, n] of [[1, 0], [2, 2], [8, 8], [254, 8]]) {
    const { all, bySig } = walk(buildAcpiTables({ cpus, virtio: slots(n), base: BASE }));
    assert.deepEqual([...bySig.keys()].sort(), ["APIC", "DSDT", "FACP", "XSDT"]);
    for (const [sig, t] of bySig) {
      assert.equal(new DataView(t.buffer, t.byteOffset).getUint32(4, true), t.length, sig);
      assert.equal(sum(t), 0, `${sig} checksum`);
      assert.equal((t.byteOffset - all.byteOffset) % 16, 0, `${sig} aligned`);
    }
    assert.ok(all.length <= ACPI_MAX_SIZE);
  }
});

test("FADT: revision 6 layout, hardware-reduced, sleep and reset registers", () => {
  const fadt = walk(buildAcpiTables({ cpus: 1, virtio: [], base: BASE })).bySig.get("FACP")!;
  const v = new DataView(fadt.buffer, fadt.byteOffset, fadt.length);
  assert.equal(fadt.length, 276);
  assert.equal(fadt[8], 6);
  assert.equal(v.getUint32(112, true), (1 << 20) | (1 << 10));
  assert.deepEqual([...fadt.subarray(116, 128)], [1, 8, 0, 1, 0x02, 0x06, 0, 0, 0, 0, 0, 0]);
  assert.equal(fadt[128], 1);
  assert.deepEqual([...fadt.subarray(244, 256)], [1, 8, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...fadt.subarray(256, 268)], [1, 8, 0, 1, 0x01, 0x06, 0, 0, 0, 0, 0, 0]);
  assert.equal(v.getUint32(40, true), Number(v.getBigUint64(140, true)), "DSDT and X_DSDT agree");
  assert.equal(v.getUint16(109, true) & (1 << 5), 1 << 5, "no CMOS RTC");
});

test("MADT: one enabled LAPIC per vCPU, the IOAPIC with ID = cpus, IRQ0 -> GSI 2", () => {
  const madt = walk(buildAcpiTables({ cpus: 3, virtio: [], base: BASE })).bySig.get("APIC")!;
  const v = new DataView(madt.buffer, madt.byteOffset, madt.length);
  assert.equal(v.getUint32(36, true), 0xfee00000);
  const entries: number[][] = [];
  for (let off = 44; off < madt.length; off += madt[off + 1]) entries.push([...madt.subarray(off, off + madt[off + 1])]);
  assert.deepEqual(entries, [
    [0, 8, 0, 0, 1, 0, 0, 0], [0, 8, 1, 1, 1, 0, 0, 0], [0, 8, 2, 2, 1, 0, 0, 0],
    [1, 12, 3, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0],
    [2, 10, 0, 0, 2, 0, 0, 0, 0, 0],
    [4, 6, 0xff, 0, 0, 1],
  ]);
});

test("tables sit where the pointers say, from any base", () => {
  const a = buildAcpiTables({ cpus: 2, virtio: slots(1), base: BASE });
  const b = buildAcpiTables({ cpus: 2, virtio: slots(1), base: 0xf0000 });
  assert.equal(a.length, b.length);
  const xsdt = (t: Uint8Array) => Number(new DataView(t.buffer).getBigUint64(24, true));
  assert.equal(xsdt(b) - xsdt(a), 0x10000);
});

test("bad vCPU counts are refused", () => {
  assert.throws(() => buildAcpiTables({ cpus: 0, virtio: [], base: BASE }));
  assert.throws(() => buildAcpiTables({ cpus: 255, virtio: [], base: BASE }));
});

function haveTool(tool: string): boolean {
  return spawnSync(tool, ["-v"], { stdio: "ignore" }).error === undefined;
}

test("iasl disassembles every table without errors; the DSDT recompiles to the same AML", (t) => {
  if (!haveTool("iasl")) return t.skip("iasl is absent (apt-get install acpica-tools)");
  const { bySig } = walk(buildAcpiTables({ cpus: 2, virtio: slots(3), base: BASE }));
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-acpi-"));
  try {
    const dsl = new Map<string, string>();
    for (const [sig, table] of bySig) {
      const file = join(dir, `${sig.toLowerCase()}.dat`);
      writeFileSync(file, table);
      const r = spawnSync("iasl", ["-d", file], { cwd: dir, encoding: "utf8" });
      assert.equal(r.status, 0, `iasl -d ${sig}: ${r.stdout}${r.stderr}`);
      assert.doesNotMatch(r.stdout + r.stderr, /\b(Error|Warning)\b/i, sig);
      const text = readFileSync(join(dir, `${sig.toLowerCase()}.dsl`), "utf8");
      assert.doesNotMatch(text, /\*\*\*\*|Invalid|Unknown/i, `${sig} disassembly`);
      dsl.set(sig, text);
    }
    const d = dsl.get("DSDT")!;
    assert.equal(d.match(/Name \(_HID, "LNRO0005"\)/g)?.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.match(d, new RegExp(`Memory32Fixed \\(ReadWrite,\\s+0xD000${i}000,\\s+// Address Base\\s+0x00001000,`));
      assert.match(d, new RegExp(`Interrupt \\(ResourceConsumer, Level, ActiveHigh, Exclusive, ,, \\)\\s+\\{\\s+0x0000000${5 + i},`));
    }
    assert.match(d, /Device \(COM1\)[\s\S]*EisaId \("PNP0501"\)[\s\S]*IO \(Decode16,\s+0x03F8,\s+\/\/ Range Minimum\s+0x03F8,[\s\S]*IRQNoFlags \(\)\s+\{4\}/);
    assert.match(d, /Name \(_S5, Package \(0x04\)[^{]*\{\s+0x05,\s+0x05,\s+Zero,\s+Zero\s+\}\)/);
    assert.match(dsl.get("FACP")!, /Hardware Reduced \(V5\) : 1/);
    assert.match(dsl.get("FACP")!, /Reset Register Supported \(V2\) : 1/);
    assert.match(dsl.get("APIC")!, /I\/O Apic ID : 02/);
    // Round trip: iasl's own encoding of the disassembly is our AML, byte for byte.
    execFileSync("iasl", ["-p", join(dir, "re"), join(dir, "dsdt.dsl")], { cwd: dir, stdio: "pipe" });
    const re = readFileSync(join(dir, "re.aml"));
    assert.equal(Buffer.from(re.subarray(36)).toString("hex"), Buffer.from(bySig.get("DSDT")!.subarray(36)).toString("hex"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("acpiexec evaluates \\_S5 and a virtio _CRS from our DSDT", (t) => {
  if (!haveTool("acpiexec")) return t.skip("acpiexec is absent (apt-get install acpica-tools)");
  const dsdt = walk(buildAcpiTables({ cpus: 1, virtio: slots(2), base: BASE })).bySig.get("DSDT")!;
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-acpiexec-"));
  try {
    writeFileSync(join(dir, "dsdt.dat"), dsdt);
    const out = execFileSync("acpiexec", ["-b", "evaluate \\_S5; evaluate \\_SB.VR01._CRS", join(dir, "dsdt.dat")],
      { cwd: dir, encoding: "utf8", timeout: 30000 });
    assert.match(out, /\[Package\] Contains 4 Elements:\s+\[Integer\] = 0+5\s+\[Integer\] = 0+5\s+\[Integer\] = 0+\s+\[Integer\] = 0+\n/);
    assert.match(out, /86 09 00 01 00 10 00 D0 00 10 00 00 89 06 00 01/);
    assert.match(out, /01 06 00 00 00 79 00/);
    assert.doesNotMatch(out, /AE_[A-Z_]+ /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
