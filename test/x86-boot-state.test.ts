// setupBoot(): what lands where in guest memory (board map), the page tables (walked here
// as the MMU would), the GDT, the long-mode vCPU state, initrd placement, and the errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestMemory } from "../src/machine/guest-memory.js";
import { UserError } from "../src/machine/machine.js";
import { parseBzImage } from "../src/machine/x86/bzimage.js";
import * as bs from "../src/machine/x86/boot-state.js";
import { fakeBzImage, realKernel, type FakeKernelOptions } from "./x86-boot-helpers.js";

const MiB = 0x100000;

function ram(size: number): GuestMemory {
  return GuestMemory.external(new ArrayBuffer(size), 0, size);
}

function boot(size = 128 * MiB, k: FakeKernelOptions = {}, extra: { initrd?: Uint8Array; cmdline?: string; acpiRsdp?: number } = {}) {
  const mem = ram(size);
  const kernel = parseBzImage(fakeBzImage(k), "bzImage");
  const out = bs.setupBoot({ mem, kernel, cmdline: extra.cmdline ?? "console=ttyS0", initrd: extra.initrd, acpiRsdp: extra.acpiRsdp });
  return { mem, kernel, ...out };
}

/** A 4-level x86-64 page walk from CR3 (no permission checks): the physical address, or
 *  undefined when some level is not present. */
function translate(mem: GuestMemory, cr3: bigint, va: bigint): bigint | undefined {
  let table = cr3 & ~0xfffn;
  const shifts = [39n, 30n, 21n, 12n];
  for (let level = 0; level < 4; level++) {
    const index = (va >> shifts[level]) & 511n;
    const entry = mem.view.getBigUint64(Number(table + index * 8n), true);
    if (!(entry & 1n)) return undefined;
    const frame = entry & 0x000f_ffff_ffff_f000n;
    if ((level === 1 || level === 2) && entry & 0x80n) {
      const pageMask = (1n << shifts[level]) - 1n;
      return (frame & ~pageMask) | (va & pageMask);
    }
    table = frame;
  }
  return table | (va & 0xfffn);
}

test("page tables identity-map the first 4 GiB with 2 MiB pages, nothing above", () => {
  const { mem, sregs } = boot();
  for (const a of [0n, 0x500n, 0x7000n, 0x100200n, 0x1fffffn, 0x200000n, 0x1234567n, 0x7ffffffn,
    0xbfffffffn, 0xd0000000n, 0xfec00000n, 0xfee00000n, 0xffffffffn]) {
    assert.equal(translate(mem, sregs.cr3, a), a, `0x${a.toString(16)}`);
  }
  assert.equal(translate(mem, sregs.cr3, 0x1_0000_0000n), undefined);
  assert.equal(translate(mem, sregs.cr3, 0x80_0000_0000n), undefined);
  // Every PDE is a present, writable 2 MiB page.
  for (let i = 0; i < 2048; i++) {
    assert.equal(mem.view.getBigUint64(bs.PD_ADDR + i * 8, true), (BigInt(i) << 21n) | 0x83n);
  }
  assert.equal(mem.view.getBigUint64(bs.PML4_ADDR, true), 0xa003n);
  assert.equal(mem.view.getBigUint64(bs.PML4_ADDR + 8, true), 0n);
});

test("GDT bytes at 0x500: null, code64, data, TSS", () => {
  const { mem } = boot();
  assert.deepEqual(Array.from(mem.bytes(0x500, 32)), [
    0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff, 0, 0, 0, 0x9b, 0xaf, 0x00,
    0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0x00,
    0xff, 0xff, 0, 0, 0, 0x8b, 0x8f, 0x00,
  ]);
});

test("the boot vCPU is in 64-bit mode at startup_64 with rsi = boot_params", () => {
  const { regs, sregs } = boot();
  assert.equal(regs.rip, 0x100200n);
  assert.equal(regs.rsi, 0x7000n);
  assert.equal(regs.rflags, 2n);
  assert.equal(regs.rsp, 0x8f000n);
  assert.equal(regs.rbp, 0x8f000n);
  for (const r of ["rax", "rbx", "rcx", "rdx", "rdi", "r8", "r15"] as const) assert.equal(regs[r], 0n, r);
  assert.equal(sregs.cr0 & 0x80000011n, 0x80000011n, "PE, ET, PG");
  assert.equal(sregs.cr3, 0x9000n);
  assert.equal(sregs.cr4, 0x20n);
  assert.equal(sregs.efer, 0x500n);
  assert.equal(sregs.apicBase, 0xfee00900n);
  assert.deepEqual(sregs.gdt, { base: 0x500n, limit: 31 });
  assert.deepEqual(sregs.idt, { base: 0x520n, limit: 0 });
});

test("segments as KVM wants them: flat, 4 GiB limits, CS long mode", () => {
  const { sregs } = boot();
  const flat = { base: 0n, limit: 0xffffffff, present: 1, dpl: 0, g: 1, avl: 0, unusable: 0 };
  assert.deepEqual(sregs.cs, { ...flat, selector: 0x08, type: 0xb, s: 1, l: 1, db: 0 });
  for (const s of [sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss]) {
    assert.deepEqual(s, { ...flat, selector: 0x10, type: 0x3, s: 1, l: 0, db: 1 });
  }
  assert.deepEqual(sregs.tr, { ...flat, selector: 0x18, type: 0xb, s: 0, l: 0, db: 0 });
  assert.equal(sregs.ldt.unusable, 0);
  assert.equal(sregs.ldt.type, 2);
  assert.notEqual(sregs.ds, sregs.es, "each segment is its own object");
});

test("segmentFromGdt: base and limit bits, byte granularity", () => {
  const s = bs.segmentFromGdt(0x12_4_9_9a_345678_abcdn, 0x20);
  assert.equal(s.base, 0x12345678n);
  assert.equal(s.limit, 0x9abcd); // G = 0: limit in bytes
  assert.equal(s.db, 1);
  assert.equal(s.l, 0);
  assert.equal(s.g, 0);
  assert.equal(s.type, 0xa);
  assert.equal(s.present, 1);
  assert.equal(s.dpl, 0);
  assert.equal(bs.segmentFromGdt(0n, 0).unusable, 1);
});

test("kernel at 1 MiB, command line at 0x20000, zero page at 0x7000", () => {
  const { mem } = boot(128 * MiB, { payload: 0x5000 }, { cmdline: "console=ttyS0 panic=-1", acpiRsdp: 0xe0000 });
  assert.equal(mem.u8[0x100000 + 0x1234], 0x34);
  assert.equal(mem.u8[0x100000 + 0x4fff], 0xff);
  assert.equal(new TextDecoder().decode(mem.bytes(0x20000, 22)), "console=ttyS0 panic=-1");
  assert.equal(mem.u8[0x20000 + 22], 0);
  const v = mem.view;
  assert.equal(v.getUint32(0x7000 + 0x202, true), 0x53726448, "HdrS copied");
  assert.equal(v.getUint32(0x7000 + 0x228, true), 0x20000, "cmd_line_ptr");
  assert.equal(mem.u8[0x7000 + 0x210], 0xff, "type_of_loader");
  assert.equal(v.getBigUint64(0x7000 + 0x70, true), 0xe0000n, "acpi_rsdp_addr");
  assert.equal(mem.u8[0x7000 + 0x1e8], 4, "e820 entries");
  assert.equal(v.getBigUint64(0x7000 + 0x2d0 + 3 * 20 + 8, true), BigInt(128 * MiB - MiB), "RAM above 1 MiB");
});

test("initrd at the top of RAM, 4 KiB aligned, below initrd_addr_max", () => {
  const initrd = new Uint8Array(0x12345).fill(0x5a);
  let r = boot(128 * MiB, {}, { initrd });
  const addr = Math.floor((128 * MiB - 0x12345) / 0x1000) * 0x1000;
  assert.equal(addr, 0x7fed000);
  assert.equal(r.mem.view.getUint32(0x7000 + 0x218, true), addr);
  assert.equal(r.mem.view.getUint32(0x7000 + 0x21c, true), 0x12345);
  assert.equal(r.mem.u8[addr], 0x5a);
  assert.equal(r.mem.u8[addr + 0x12344], 0x5a);
  // A kernel that can't reach that high gets it just below initrd_addr_max.
  r = boot(128 * MiB, { initrdAddrMax: 64 * MiB - 1 }, { initrd });
  assert.equal(r.mem.view.getUint32(0x7000 + 0x218, true), Math.floor((64 * MiB - 0x12345) / 0x1000) * 0x1000);
  // No initrd: the fields stay zero.
  r = boot();
  assert.equal(r.mem.view.getUint32(0x7000 + 0x218, true), 0);
});

test("kernelFootprintEnd: runtime start (aligned load address or pref_address) + init_size", () => {
  const k = (o: FakeKernelOptions) => parseBzImage(fakeBzImage(o), "k");
  assert.equal(bs.kernelFootprintEnd(k({ initSize: 0x3000000, prefAddress: 0x1000000 })), 0x4000000);
  // Relocatable with pref_address below the aligned load address: runs at align_up(1 MiB).
  assert.equal(bs.kernelFootprintEnd(k({ initSize: 0x1000000, prefAddress: 0, kernelAlignment: 0x200000 })), 0x1200000);
  assert.equal(bs.kernelFootprintEnd(k({ initSize: 0x1000000, prefAddress: 0x2000000, relocatable: false })), 0x3000000);
  // init_size smaller than what we load (nonsense, but the loaded bytes still count).
  assert.equal(bs.kernelFootprintEnd(k({ initSize: 0, prefAddress: 0, kernelAlignment: 0x1000, payload: 0x3000 })), 0x103000);
});

test("RAM too small for init_size, or for init_size plus the initrd", () => {
  const k = { initSize: 0x4000000 }; // runs at 16 MiB: needs 80 MiB
  assert.throws(() => boot(64 * MiB, k), (e: Error) => e instanceof UserError &&
    e.message === "-m 64M is too small for this kernel: it needs at least 80 MiB (init_size)");
  assert.throws(() => boot(96 * MiB, k, { initrd: new Uint8Array(32 * MiB) }), (e: Error) => e instanceof UserError &&
    e.message === "-m 96M is too small for this kernel: it needs at least 80 MiB (init_size) plus the initrd (32 MiB)");
  assert.doesNotThrow(() => boot(80 * MiB, k));
  assert.doesNotThrow(() => boot(96 * MiB, k, { initrd: new Uint8Array(16 * MiB) }));
});

test("a command line longer than cmdline_size", () => {
  assert.throws(() => boot(128 * MiB, { cmdlineSize: 255 }, { cmdline: "x".repeat(256) }), (e: Error) =>
    e instanceof UserError && e.message === "kernel command line is too long: 256 bytes, bzImage takes at most 255");
  const { mem } = boot(128 * MiB, { cmdlineSize: 255 }, { cmdline: "y".repeat(255) });
  assert.equal(mem.u8[0x20000 + 254], 0x79);
  assert.equal(mem.u8[0x20000 + 255], 0);
});

test("nothing is written when the setup fails", () => {
  const mem = ram(64 * MiB);
  const kernel = parseBzImage(fakeBzImage({ initSize: 0x4000000 }), "bz");
  assert.throws(() => bs.setupBoot({ mem, kernel, cmdline: "" }), UserError);
  for (const [start, len] of [[0, 0x10000], [0x20000, 0x1000], [0x100000, 0x10000]]) {
    assert.ok(mem.bytes(start, len).every((b) => b === 0), `0x${start.toString(16)}`);
  }
});

test("RAM above 3 GiB is refused", () => {
  const kernel = parseBzImage(fakeBzImage(), "bz");
  // A fake GuestMemory: setupBoot checks the size before touching the buffer.
  const mem = { ramBase: 0, ramSize: 0xc001_0000 } as unknown as GuestMemory;
  assert.throws(() => bs.setupBoot({ mem, kernel, cmdline: "" }), /at most 3 GiB/);
});

test("a real kernel: Debian's bzImage in 256 MiB with an initrd", async (t) => {
  const real = await realKernel("debian");
  const k = "skip" in real ? await realKernel("ours") : real;
  if ("skip" in k) return t.skip(k.skip);
  const mem = ram(256 * MiB);
  const kernel = parseBzImage(k.data, k.path);
  const { regs } = bs.setupBoot({ mem, kernel, cmdline: "console=ttyS0", initrd: new Uint8Array(8 * MiB) });
  assert.equal(regs.rip, 0x100200n);
  assert.deepEqual(mem.bytes(0x100000, 64), kernel.kernel.subarray(0, 64));
  assert.ok(mem.view.getUint32(0x7000 + 0x218, true) >= bs.kernelFootprintEnd(kernel));
});
