import { test } from "node:test";
import assert from "node:assert/strict";
import { SifiveTest } from "../src/hw/misc/sifive-test.js";

function make() {
  const calls: string[] = [];
  const dev = new SifiveTest({ powerOff: (c) => calls.push(`off ${c}`), reset: () => calls.push("reset") });
  return { dev, calls };
}

test("0x5555 powers off with status 0", () => {
  const { dev, calls } = make();
  dev.write(0, 0x5555);
  assert.deepEqual(calls, ["off 0"]);
});

test("0x3333 fails with the code in the upper 16 bits, or 1", () => {
  const { dev, calls } = make();
  dev.write(0, (42 << 16) | 0x3333);
  dev.write(0, 0x3333);
  assert.deepEqual(calls, ["off 42", "off 1"]);
});

test("0x7777 resets; anything else, or another offset, does nothing", () => {
  const { dev, calls } = make();
  dev.write(0, 0x7777);
  dev.write(0, 0x1234);
  dev.write(4, 0x5555);
  assert.deepEqual(calls, ["reset"]);
  assert.equal(dev.read(), 0);
});
