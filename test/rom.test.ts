import { test } from "node:test";
import assert from "node:assert/strict";
import { Rom } from "../src/hw/misc/rom.js";

test("little-endian reads of 1, 2 and 4 bytes; writes ignored; padding reads 0", () => {
  const rom = new Rom(new Uint8Array([0x97, 0x02, 0x00, 0x00, 0xff, 0xee]), 0x1000);
  assert.equal(rom.size, 0x1000);
  assert.equal(rom.read(0, 4), 0x00000297);
  assert.equal(rom.read(4, 2), 0xeeff);
  assert.equal(rom.read(5, 1), 0xee);
  assert.equal(rom.read(3, 4), 0xeeff00);
  rom.write();
  assert.equal(rom.read(0, 1), 0x97);
  assert.equal(rom.read(0x800, 4), 0);
  assert.equal(new Rom(new Uint8Array([0xff, 0xff, 0xff, 0xff])).read(0, 4), 0xffffffff);
  assert.throws(() => new Rom(new Uint8Array(8), 4));
});
