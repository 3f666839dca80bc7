// The AML encoder, term by term, against the encodings in ACPI 6.4 chapters 6.4 and 20
// (and, for whole tables, iasl in x86-acpi.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as aml from "../src/machine/x86/aml.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("PkgLength: one byte below 0x40, then 2, 3, 4 bytes counting themselves", () => {
  assert.equal(hex(aml.pkgLength(0)), "01");
  assert.equal(hex(aml.pkgLength(0x3e)), "3f");
  assert.equal(hex(aml.pkgLength(0x3f)), "4104"); // 0x41 total: low nibble 1, then 0x04
  assert.equal(hex(aml.pkgLength(0xffd)), "4fff");
  assert.equal(hex(aml.pkgLength(0xffe)), "810001"); // 0x1001: nibble 1, then bits 4-11, 12-19
  assert.equal(hex(aml.pkgLength(0x100000)), "c4000001"); // 0x100004
  assert.throws(() => aml.pkgLength(0x10000000));
});

test("integers in the shortest encoding", () => {
  assert.equal(hex(aml.int(0)), "00");
  assert.equal(hex(aml.int(1)), "01");
  assert.equal(hex(aml.int(5)), "0a05");
  assert.equal(hex(aml.int(0x1234)), "0b3412");
  assert.equal(hex(aml.int(0xd0000000)), "0c000000d0");
  assert.equal(hex(aml.int(0x1_0000_0000n)), "0e0000000001000000");
  assert.throws(() => aml.int(-1));
});

test("names: segments padded with _, root and multi-segment paths", () => {
  assert.equal(hex(aml.nameString("_SB")), "5f53425f");
  assert.equal(hex(aml.nameString("\\_SB")), "5c5f53425f");
  assert.equal(hex(aml.nameString("\\_SB.COM1")), "5c2e5f53425f434f4d31");
  assert.equal(hex(aml.nameString("A.B.C")), "2f03415f5f5f425f5f5f435f5f5f");
  assert.throws(() => aml.nameString("lower"));
  assert.throws(() => aml.nameString("1ABC"));
});

test("EISAID and strings", () => {
  assert.equal(hex(aml.eisaId("PNP0501")), "0c41d00501"); // 0x0105D041
  assert.equal(hex(aml.eisaId("PNP0A03")), "0c41d00a03"); // 0x030AD041, the PCI host bridge
  assert.throws(() => aml.eisaId("pnp0501"));
  assert.equal(hex(aml.str("LNRO0005")), "0d4c4e524f3030303500");
  assert.throws(() => aml.str("caf\u00e9"));
});

test("Name, Package, Scope, Device", () => {
  assert.equal(hex(aml.name("_UID", aml.int(0))), "085f55494400");
  assert.equal(hex(aml.pkg([aml.int(5), aml.int(0)])), "1205020a0500");
  assert.equal(hex(aml.scope("_SB", [])), "10055f53425f");
  assert.equal(hex(aml.device("COM1", [])), "5b8205434f4d31");
});

test("resource descriptors", () => {
  assert.equal(hex(aml.memory32Fixed(true, 0xd0000000, 0x1000)), "860900" + "01" + "000000d0" + "00100000");
  assert.equal(hex(aml.interrupt({ consumer: true, edge: false, activeLow: false, shared: false }, [5])), "890600" + "01" + "01" + "05000000");
  assert.equal(hex(aml.interrupt({ consumer: false, edge: true, activeLow: true, shared: true }, [1, 2])).slice(0, 10), "890a000e02");
  assert.equal(hex(aml.io(0x3f8, 0x3f8, 0, 8)), "4701f803f8030008");
  assert.equal(hex(aml.irqNoFlags([4])), "221000");
  // ResourceTemplate: a Buffer with an End Tag.
  assert.equal(hex(aml.resourceTemplate([aml.irqNoFlags([4])])), "1108" + "0a05" + "221000" + "7900");
});

test("a long Device body gets a 2-byte PkgLength", () => {
  const big = aml.device("BIG0", [aml.name("DATA", aml.buffer(new Uint8Array(100)))]);
  assert.equal(big[2] >> 6, 1, "PkgLength lead byte says one more byte");
  const len = (big[2] & 0xf) | (big[3] << 4);
  assert.equal(len, big.length - 2, "PkgLength covers itself and the rest");
});
