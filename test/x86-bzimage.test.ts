// The bzImage setup header (Documentation/x86/boot.rst): the fields the loader needs,
// where the protected-mode kernel starts, and a clear error for anything else.
import { test } from "node:test";
import fc from "fast-check";
import assert from "node:assert/strict";
import { isBzImage, parseBzImage } from "../src/machine/x86/bzimage.js";
import { UserError } from "../src/machine/machine.js";
import { fakeBzImage, realKernel } from "./x86-boot-helpers.js";

test("reads the setup header fields", () => {
  const k = parseBzImage(fakeBzImage({ initSize: 0x3456000, cmdlineSize: 4095, prefAddress: 0x1000000 }), "bz");
  assert.equal(k.name, "bz");
  assert.equal(k.protocol, 0x020f);
  assert.equal(k.setupSects, 4);
  assert.equal(k.syssize, 0x300);
  assert.equal(k.loadflags, 1);
  assert.equal(k.xloadflags, 0x7f);
  assert.equal(k.kernelAlignment, 0x200000);
  assert.equal(k.relocatable, true);
  assert.equal(k.initSize, 0x3456000);
  assert.equal(k.cmdlineSize, 4095);
  assert.equal(k.initrdAddrMax, 0x7fffffff);
  assert.equal(k.prefAddress, 0x1000000);
});

test("the protected-mode kernel starts at (setup_sects+1)*512", () => {
  const k = parseBzImage(fakeBzImage({ setupSects: 7, payload: 0x1000 }), "bz");
  assert.equal(k.kernel.length, 0x1000);
  assert.equal(k.kernel[0], 0);
  assert.equal(k.kernel[0x123], 0x23);
  assert.equal(fakeBzImage({ setupSects: 7, payload: 0x1000 }).length - k.kernel.length, 8 * 512);
});

test("setup_sects 0 means 4", () => {
  const k = parseBzImage(fakeBzImage({ setupSects: 0, payload: 0x800 }), "bz");
  assert.equal(k.setupSects, 4);
  assert.equal(k.kernel.length, 0x800);
});

test("the header copy ends at 0x202 + the jump's byte", () => {
  const img = fakeBzImage();
  const k = parseBzImage(img, "bz");
  assert.equal(k.header.length, 0x26c - 0x1f1);
  assert.deepEqual(k.header, img.subarray(0x1f1, 0x26c));
  img[0x201] = 0x62; // an older, shorter header (protocol 2.12-2.14 kernels)
  assert.equal(parseBzImage(img, "bz").header.length, 0x264 - 0x1f1);
});

test("a subarray of a larger buffer parses the same", () => {
  const img = fakeBzImage();
  const big = new Uint8Array(img.length + 100);
  big.set(img, 100);
  const k = parseBzImage(big.subarray(100), "bz");
  assert.equal(k.initSize, 0x2000000);
  assert.equal(k.kernel[5], 5);
});

test("not a bzImage: no boot flag, no HdrS, too short", () => {
  const msg = { name: "UserError", message: "vmlinux is not a Linux bzImage (no HdrS header)" };
  assert.throws(() => parseBzImage(fakeBzImage({ magic: 0x464c457f }), "vmlinux"), (e: Error) => e instanceof UserError && e.message === msg.message);
  assert.throws(() => parseBzImage(fakeBzImage({ bootFlag: 0 }), "vmlinux"), msg);
  assert.throws(() => parseBzImage(new Uint8Array(0x100), "vmlinux"), msg);
  const elf = new Uint8Array(0x1000);
  elf.set([0x7f, 0x45, 0x4c, 0x46]);
  assert.throws(() => parseBzImage(elf, "vmlinux"), msg);
  assert.equal(isBzImage(fakeBzImage()), true);
  assert.equal(isBzImage(elf), false);
});

test("protocol before 2.12 is too old", () => {
  assert.throws(() => parseBzImage(fakeBzImage({ protocol: 0x020a }), "old"),
    (e: Error) => e instanceof UserError && e.message === "old: Linux boot protocol 2.10 is too old (need 2.12 or later, Linux 3.8+)");
  assert.equal(parseBzImage(fakeBzImage({ protocol: 0x020c }), "ok").protocol, 0x020c);
});

test("no XLF_KERNEL_64: no 64-bit entry", () => {
  assert.throws(() => parseBzImage(fakeBzImage({ xloadflags: 0x04 }), "k32"),
    (e: Error) => e instanceof UserError && /^k32 has no 64-bit entry point/.test(e.message));
});

test("setup sectors covering the whole file", () => {
  const img = fakeBzImage({ setupSects: 4, payload: 0 });
  assert.throws(() => parseBzImage(img, "cut"), (e: Error) => e instanceof UserError && /cut is truncated/.test(e.message));
});

test("any bytes with a HdrS header either parse or give a UserError", () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0x208, maxLength: 0x1400 }), fc.boolean(), (bytes, withMagic) => {
    if (withMagic) {
      const img = fakeBzImage({ payload: 0 }).subarray(0, 0x270);
      bytes.set(img.subarray(0x1fe, 0x206), 0x1fe); // boot flag, jump, HdrS
    }
    try {
      const k = parseBzImage(bytes, "f");
      assert.ok(k.kernel.length > 0 && k.header.length <= 0x290 - 0x1f1);
    } catch (e) {
      assert.ok(e instanceof UserError, String(e));
    }
  }), { numRuns: 300 });
});

for (const which of ["ours", "debian"] as const) {
  test(`a real bzImage (${which === "ours" ? "the x86 guest kernel" : "Debian's linux-image-amd64"})`, async (t) => {
    const k = await realKernel(which);
    if ("skip" in k) return t.skip(k.skip);
    const img = parseBzImage(k.data, k.path);
    assert.ok(img.protocol >= 0x020c, `protocol ${img.protocol.toString(16)}`);
    assert.ok(img.xloadflags & 1);
    // Debian's kernel is relocatable (KASLR); ours is not and loads at pref_address.
    assert.equal(img.relocatable, which === "debian");
    assert.ok(img.initSize > img.kernel.length, "init_size covers the decompressed kernel");
    assert.ok(img.cmdlineSize >= 255);
    // syssize counts 16-byte paragraphs of the protected-mode part.
    assert.ok(Math.abs(img.syssize * 16 - img.kernel.length) < 0x10000, `syssize ${img.syssize} vs ${img.kernel.length}`);
    assert.equal(img.header.length, 0x202 + k.data[0x201] - 0x1f1);
  });
}
