// -m sizes as QEMU reads them.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RAM_OFFSET } from "../src/machine/guest-memory.js";
import { MAX_RAM_BYTES, RAM_GRANULE, formatSize, parseRamSize, parseSize } from "../src/cli/size.js";
import { UserError } from "../src/machine/machine.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;

test("suffixes and the MiB default follow QEMU", () => {
  assert.equal(parseRamSize("256M"), 256 * M);
  assert.equal(parseRamSize("256m"), 256 * M);
  assert.equal(parseRamSize("1G"), G);
  assert.equal(parseRamSize("512"), 512 * M);
  assert.equal(parseRamSize("2048k"), 2 * M);
  assert.equal(parseRamSize("2048K"), 2 * M);
  assert.equal(parseRamSize("1.5G"), 1.5 * G);
  assert.equal(parseRamSize("0x100"), 256 * M);
  assert.equal(parseRamSize("134217728B"), 128 * M);
});

test("sizes round up to whole 64 KiB pages", () => {
  assert.equal(parseRamSize("100k"), 128 * K);
  assert.equal(parseRamSize("1B"), RAM_GRANULE);
});

test("bad sizes name the flag and the value", () => {
  assert.throws(() => parseRamSize("12Q"), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.message, "-m 12Q: invalid RAM size (a number with an optional suffix K, M, G or T, e.g. 256M)");
    return true;
  });
  assert.throws(() => parseRamSize("0"), /^UserError: -m 0: RAM size must be greater than zero$/);
  assert.throws(() => parseRamSize("0M"), /greater than zero/);
  assert.throws(() => parseRamSize("-5"), /-m -5: invalid RAM size/);
  assert.throws(() => parseRamSize("-1G"), /invalid RAM size/);
  assert.throws(() => parseRamSize(""), /invalid RAM size/);
  assert.throws(() => parseRamSize("M"), /invalid RAM size/);
  assert.throws(() => parseRamSize("1.5B"), /invalid RAM size/);
  assert.throws(() => parseRamSize("8G"), /^UserError: -m 8G: RAM size too large \(at most 4092M\)$/);
  assert.throws(() => parseRamSize("4G"), /too large/);
  assert.throws(() => parseRamSize("1e3"), /invalid RAM size/);
});

test("the largest size is accepted and the limit fits one wasm32 memory", () => {
  assert.equal(parseRamSize(formatSize(MAX_RAM_BYTES)), MAX_RAM_BYTES);
  assert.ok(MAX_RAM_BYTES + RAM_OFFSET <= 4 * G);
});

test("formatSize picks the largest exact unit", () => {
  assert.equal(formatSize(256 * M), "256M");
  assert.equal(formatSize(4 * G), "4G");
  assert.equal(formatSize(1536 * M), "1536M");
  assert.equal(formatSize(3 * K), "3K");
  assert.equal(formatSize(100), "100B");
});

test("any size written with a suffix parses back to its bytes", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4095 }), fc.constantFrom(["K", K], ["M", M]), (n, [suffix, unit]) => {
      assert.equal(parseSize(`${n}${suffix}`), n * unit);
    }),
  );
});
