import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FdtWriter } from "../src/fdt/fdt-writer.js";

function sampleTree(freeSpace = 0): Uint8Array {
  const fdt = new FdtWriter({ reservations: [{ address: 0x8000_0000, size: 0x8_0000 }] });
  const plic = fdt.allocPhandle();
  const cpuIntc = fdt.allocPhandle();
  fdt.beginNode("");
  fdt.propU32("#address-cells", 2).propU32("#size-cells", 2);
  fdt.propString("compatible", "riscv-virtio").propString("model", "riscv-virtio,qemu");
  fdt.beginNode("chosen").propString("bootargs", "console=ttyS0").propString("stdout-path", "/soc/serial@10000000").endNode();
  fdt.beginNode("memory@80000000").propString("device_type", "memory");
  fdt.propU64("reg", 0x8000_0000, 0x1_0000_0000n).endNode();
  fdt.beginNode("cpus").propU32("#address-cells", 1).propU32("#size-cells", 0).propU32("timebase-frequency", 10_000_000);
  fdt.beginNode("cpu@0").propString("device_type", "cpu").propU32("reg", 0).propString("riscv,isa", "rv64imafdc");
  fdt.beginNode("interrupt-controller").propU32("#address-cells", 0).propU32("#interrupt-cells", 1).propEmpty("interrupt-controller");
  fdt.propString("compatible", "riscv,cpu-intc").propU32("phandle", cpuIntc).endNode();
  fdt.endNode().endNode();
  fdt.beginNode("soc").propU32("#address-cells", 2).propU32("#size-cells", 2).propStrings("compatible", ["simple-bus"]).propEmpty("ranges");
  fdt.beginNode("plic@c000000").propStrings("compatible", ["sifive,plic-1.0.0", "riscv,plic0"]);
  fdt.propU32("#address-cells", 0).propU32("#interrupt-cells", 1).propEmpty("interrupt-controller").propU64("reg", 0xc00_0000, 0x60_0000);
  fdt.propU32("interrupts-extended", cpuIntc, 11, cpuIntc, 9).propU32("riscv,ndev", 0x35).propU32("phandle", plic).endNode();
  fdt.beginNode("serial@10000000").propString("compatible", "ns16550a").propU64("reg", 0x1000_0000, 0x100);
  fdt.propU32("clock-frequency", 0x384000).propU32("interrupts", 10).propU32("interrupt-parent", plic);
  fdt.propBytes("local-mac-address", new Uint8Array([0x52, 0x54, 0, 0x12, 0x34, 0x56])).endNode();
  fdt.endNode();
  fdt.endNode();
  return fdt.finish(freeSpace);
}

test("header, blocks and a deduplicated strings table", () => {
  const blob = sampleTree();
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  assert.equal(v.getUint32(0), 0xd00dfeed);
  assert.equal(v.getUint32(4), blob.length);
  assert.equal(v.getUint32(20), 17);
  assert.equal(v.getUint32(24), 16);
  const rsv = v.getUint32(16);
  assert.equal(rsv % 8, 0);
  assert.equal(v.getUint32(rsv + 4), 0x8000_0000);
  assert.equal(v.getUint32(rsv + 12), 0x8_0000);
  assert.equal(v.getBigUint64(rsv + 16), 0n); // terminator
  const structOff = v.getUint32(8);
  assert.equal(structOff % 4, 0);
  assert.equal(v.getUint32(structOff), 1); // FDT_BEGIN_NODE of the root
  const stringsOff = v.getUint32(12);
  assert.equal(v.getUint32(stringsOff - 4), 9); // FDT_END closes the structure block
  assert.equal(v.getUint32(36), stringsOff - structOff);
  const strings = new TextDecoder().decode(blob.subarray(stringsOff, stringsOff + v.getUint32(32)));
  const names = strings.split("\0").slice(0, -1);
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.includes("compatible") && names.includes("interrupt-controller"));
});

test("free space is added to totalsize", () => {
  const a = sampleTree();
  const b = sampleTree(4096);
  assert.equal(b.length, a.length + 4096);
  assert.equal(new DataView(b.buffer).getUint32(4), b.length);
});

test("misuse throws", () => {
  assert.throws(() => new FdtWriter().beginNode("x"));
  assert.throws(() => new FdtWriter().beginNode("").finish());
  assert.throws(() => new FdtWriter().beginNode("").beginNode("a").endNode().propU32("late", 1));
  assert.throws(() => new FdtWriter().beginNode("").propU32("a", 1).propU32("a", 2));
  assert.throws(() => new FdtWriter().beginNode("").beginNode("a").endNode().beginNode("a"));
  assert.throws(() => new FdtWriter().endNode());
  const w = new FdtWriter();
  assert.equal(w.allocPhandle(), 1);
  assert.equal(w.allocPhandle(), 2);
});

test("dtc decompiles the blob cleanly", (t) => {
  if (spawnSync("dtc", ["--version"]).error) {
    t.skip("dtc (device-tree-compiler) is not installed");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-fdt-"));
  try {
    const file = join(dir, "t.dtb");
    writeFileSync(file, sampleTree(1024));
    const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", file], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", `dtc warnings:\n${r.stderr}`);
    const dts = r.stdout;
    assert.match(dts, /\/memreserve\/\s+0x0*80000000 0x0*80000;/);
    assert.match(dts, /compatible = "riscv-virtio";/);
    assert.match(dts, /bootargs = "console=ttyS0";/);
    assert.match(dts, /memory@80000000 \{[^}]*reg = <0x00 0x80000000 0x01 0x00>;/s);
    assert.match(dts, /compatible = "sifive,plic-1.0.0\\0riscv,plic0";/);
    assert.match(dts, /interrupts-extended = <0x02 0x0b 0x02 0x09>;/);
    assert.match(dts, /riscv,ndev = <0x35>;/);
    assert.match(dts, /interrupt-controller;/);
    assert.match(dts, /local-mac-address = \[52 54 00 12 34 56\];/);
    assert.match(dts, /serial@10000000 \{[^}]*interrupt-parent = <0x01>;/s);
    // And it round-trips through dtc's own checks back to a blob.
    execFileSync("dtc", ["-I", "dtb", "-O", "dtb", "-o", join(dir, "u.dtb"), file], { stdio: "pipe" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
