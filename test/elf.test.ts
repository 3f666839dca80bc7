// The ELF loader: real files from the cross toolchain, and hand-made headers for the
// ways a user's file can be wrong (another architecture, 32-bit, truncated, outside RAM).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isElf, loadElf, parseElf } from "../src/loader/elf.js";
import { GuestMemory } from "../src/machine/guest-memory.js";
import { UserError } from "../src/machine/machine.js";
import { buildHtifHello, noGcc } from "./riscv-toolchain.js";

/** A minimal ELF64 header plus program headers, each {paddr, data, memSize}. */
function handMadeElf(opts: {
  cls?: number;
  data?: number;
  machine?: number;
  type?: number;
  entry?: bigint;
  segments?: { paddr: bigint; data: Uint8Array; memSize?: number }[];
}): Uint8Array {
  const segs = opts.segments ?? [];
  const phoff = 64;
  let dataOff = phoff + segs.length * 56;
  const size = dataOff + segs.reduce((n, s) => n + s.data.length, 0);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, opts.cls ?? 2, opts.data ?? 1, 1]);
  v.setUint16(16, opts.type ?? 2, true);
  v.setUint16(18, opts.machine ?? 243, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, opts.entry ?? 0x80000000n, true);
  v.setBigUint64(32, BigInt(phoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, segs.length, true);
  segs.forEach((s, i) => {
    const ph = phoff + i * 56;
    v.setUint32(ph, 1, true); // PT_LOAD
    v.setBigUint64(ph + 8, BigInt(dataOff), true);
    v.setBigUint64(ph + 16, s.paddr, true);
    v.setBigUint64(ph + 24, s.paddr, true);
    v.setBigUint64(ph + 32, BigInt(s.data.length), true);
    v.setBigUint64(ph + 40, BigInt(s.memSize ?? s.data.length), true);
    b.set(s.data, dataOff);
    dataOff += s.data.length;
  });
  return b;
}

function userError(pattern: RegExp) {
  return (err: unknown) => err instanceof UserError && pattern.test(err.message) && !err.message.includes("\n");
}

test("a toolchain-built ELF: entry, segments, tohost/fromhost symbols, loaded bytes", { skip: noGcc }, () => {
  const bytes = buildHtifHello();
  assert.ok(isElf(bytes));
  const elf = parseElf(bytes, "hello.elf");
  assert.equal(elf.entry, 0x80000000);
  assert.equal(elf.low, 0x80000000);
  assert.equal(elf.symbol("tohost"), 0x80001000);
  assert.equal(elf.symbol("fromhost"), 0x80001040);
  assert.equal(elf.symbol("no_such_symbol"), undefined);
  const mem = new GuestMemory(0x80000000, 1 << 20);
  mem.ram.fill(0xaa);
  loadElf(mem, elf, "hello.elf");
  for (const seg of elf.segments) {
    assert.deepEqual(mem.bytes(seg.paddr, seg.data.length), seg.data);
    assert.ok(mem.bytes(seg.paddr + seg.data.length, seg.memSize - seg.data.length).every((x) => x === 0));
  }
  // The first instruction is `auipc t0, ...` of `la t0, msg`.
  assert.equal(mem.view.getUint32(mem.ram.byteOffset + 0, true) & 0x7f, 0x17);
});

test("bss beyond the file is zero-filled", () => {
  const mem = new GuestMemory(0x80000000, 1 << 16);
  mem.ram.fill(0xff);
  const elf = parseElf(handMadeElf({ segments: [{ paddr: 0x80000100n, data: Uint8Array.of(1, 2, 3), memSize: 0x20 }] }), "f");
  loadElf(mem, elf, "f");
  assert.deepEqual([...mem.bytes(0x800000ff, 6)], [0xff, 1, 2, 3, 0, 0]);
  assert.equal(mem.bytes(0x80000120, 1)[0], 0xff);
  assert.equal(elf.high, 0x80000120);
});

test("the entry point is sign-extended like a RISC-V pc", () => {
  const elf = parseElf(handMadeElf({ entry: 0xffffffff80000000n, segments: [{ paddr: 0x80000000n, data: new Uint8Array(4) }] }), "f");
  assert.equal(elf.entry, -0x80000000);
});

test("another architecture is refused, naming the file and the architecture", () => {
  const x86 = handMadeElf({ machine: 62, segments: [{ paddr: 0x400000n, data: new Uint8Array(4) }] });
  assert.throws(() => parseElf(x86, "/tmp/vmlinux"), userError(/^\/tmp\/vmlinux: ELF for x86-64, expected RISC-V$/));
  const arm = handMadeElf({ machine: 183 });
  assert.throws(() => parseElf(arm, "a.elf"), userError(/a\.elf: ELF for AArch64/));
  assert.throws(() => parseElf(handMadeElf({ machine: 9999 }), "a.elf"), userError(/machine 9999/));
});

test("32-bit, big-endian and non-executable ELFs are refused", () => {
  assert.throws(() => parseElf(handMadeElf({ cls: 1 }), "rv32.elf"), userError(/rv32\.elf: 32-bit ELF/));
  assert.throws(() => parseElf(handMadeElf({ data: 2 }), "be.elf"), userError(/big-endian/));
  assert.throws(() => parseElf(handMadeElf({ type: 1 }), "x.o"), userError(/x\.o: ELF type 1 is not an executable/));
  assert.throws(() => parseElf(handMadeElf({}), "empty.elf"), userError(/no loadable segments/));
});

test("truncated files are refused, naming the file", () => {
  const good = handMadeElf({ segments: [{ paddr: 0x80000000n, data: new Uint8Array(64) }] });
  parseElf(good, "good.elf");
  assert.throws(() => parseElf(good.subarray(0, 40), "t.elf"), userError(/^t\.elf: truncated ELF header$/));
  assert.throws(() => parseElf(good.subarray(0, 100), "t.elf"), userError(/^t\.elf: truncated program headers$/));
  assert.throws(() => parseElf(good.subarray(0, good.length - 1), "t.elf"), userError(/^t\.elf: truncated: segment 0/));
  assert.throws(() => parseElf(new TextEncoder().encode("#!/bin/sh\n"), "s"), userError(/^s: not an ELF file$/));
});

test("a segment outside RAM is refused with the RAM range", () => {
  const mem = new GuestMemory(0x80000000, 1 << 16);
  const low = parseElf(handMadeElf({ segments: [{ paddr: 0x1000n, data: new Uint8Array(4) }] }), "low.elf");
  assert.throws(() => loadElf(mem, low, "low.elf"), userError(/^low\.elf: segment at 0x1000\+0x4 is outside RAM \(0x80000000-0x8000ffff\)$/));
  const over = parseElf(handMadeElf({ segments: [{ paddr: 0x8000fff0n, data: new Uint8Array(32) }] }), "over.elf");
  assert.throws(() => loadElf(mem, over, "over.elf"), userError(/outside RAM/));
});

test("random corruption of a valid ELF only ever gives a UserError", () => {
  const good = handMadeElf({ segments: [{ paddr: 0x80000000n, data: new Uint8Array(16) }] });
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(good.length), (edits, cut) => {
      const b = good.slice(0, Math.max(cut, 4));
      for (const [at, val] of edits) if (at >= 4 && at < b.length) b[at] = val;
      try {
        const elf = parseElf(b, "fuzz.elf");
        elf.symbol("tohost");
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
      }
    }),
  );
});
