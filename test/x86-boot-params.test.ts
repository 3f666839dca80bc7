// The zero page: every offset we write is checked against the kernel's own header
// (<asm/bootparam.h>, compiled with gcc when it is installed) and the values against
// Documentation/x86/boot.rst.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as bz from "../src/machine/x86/bzimage.js";
import * as bp from "../src/machine/x86/boot-params.js";
import { fakeBzImage } from "./x86-boot-helpers.js";

const kernel = () => bz.parseBzImage(fakeBzImage(), "bz");

function params(extra: Partial<bp.BootParamsOptions> = {}) {
  const b = bp.buildBootParams({ kernel: kernel(), cmdlineAddr: 0x20000, e820: bp.e820Map(0x8000000), ...extra });
  return { b, v: new DataView(b.buffer) };
}

/** Offsets from struct boot_params as gcc lays it out, or undefined without gcc/headers. */
function headerOffsets(): Map<string, number> | string {
  const fields = ["acpi_rsdp_addr", "ext_ramdisk_image", "ext_ramdisk_size", "ext_cmd_line_ptr", "e820_entries",
    "e820_table", "hdr", "hdr.setup_sects", "hdr.boot_flag", "hdr.header", "hdr.version", "hdr.type_of_loader",
    "hdr.loadflags", "hdr.ramdisk_image", "hdr.ramdisk_size", "hdr.heap_end_ptr", "hdr.cmd_line_ptr",
    "hdr.initrd_addr_max", "hdr.kernel_alignment", "hdr.relocatable_kernel", "hdr.xloadflags", "hdr.cmdline_size",
    "hdr.pref_address", "hdr.init_size", "hdr.syssize"];
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-bootparam-"));
  try {
    const src = join(dir, "o.c");
    writeFileSync(src, `#include <stdio.h>\n#include <stddef.h>\n#include <asm/bootparam.h>\nint main(void){\n` +
      fields.map((f) => `printf("${f} %zu\\n", offsetof(struct boot_params, ${f}));`).join("\n") +
      `\nprintf("sizeof %zu\\n", sizeof(struct boot_params));\nprintf("e820size %zu\\n", sizeof(struct boot_e820_entry));\nreturn 0;}\n`);
    execFileSync("gcc", ["-o", join(dir, "o"), src], { stdio: "pipe" });
    const out = execFileSync(join(dir, "o"), { encoding: "utf8" });
    return new Map(out.trim().split("\n").map((l) => [l.split(" ")[0], Number(l.split(" ")[1])]));
  } catch (e) {
    return `gcc or <asm/bootparam.h> is not available: ${(e as Error).message.split("\n")[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("our offsets are the kernel's struct boot_params layout", (t) => {
  if (!existsSync("/usr/include/x86_64-linux-gnu/asm/bootparam.h") && !existsSync("/usr/include/asm/bootparam.h")) {
    return t.skip("<asm/bootparam.h> is not installed (linux-libc-dev)");
  }
  const off = headerOffsets();
  if (typeof off === "string") return t.skip(off);
  const expect: [string, number][] = [
    ["acpi_rsdp_addr", bp.BP_ACPI_RSDP_ADDR], ["ext_ramdisk_image", bp.BP_EXT_RAMDISK_IMAGE],
    ["ext_ramdisk_size", bp.BP_EXT_RAMDISK_SIZE], ["ext_cmd_line_ptr", bp.BP_EXT_CMD_LINE_PTR],
    ["e820_entries", bp.BP_E820_ENTRIES], ["e820_table", bp.BP_E820_TABLE], ["hdr", bz.HDR_START],
    ["hdr.setup_sects", bz.OFF_SETUP_SECTS], ["hdr.syssize", bz.OFF_SYSSIZE], ["hdr.boot_flag", bz.OFF_BOOT_FLAG],
    ["hdr.header", bz.OFF_HEADER], ["hdr.version", bz.OFF_VERSION], ["hdr.type_of_loader", bz.OFF_TYPE_OF_LOADER],
    ["hdr.loadflags", bz.OFF_LOADFLAGS], ["hdr.ramdisk_image", bz.OFF_RAMDISK_IMAGE],
    ["hdr.ramdisk_size", bz.OFF_RAMDISK_SIZE], ["hdr.heap_end_ptr", bz.OFF_HEAP_END_PTR],
    ["hdr.cmd_line_ptr", bz.OFF_CMD_LINE_PTR], ["hdr.initrd_addr_max", bz.OFF_INITRD_ADDR_MAX],
    ["hdr.kernel_alignment", bz.OFF_KERNEL_ALIGNMENT], ["hdr.relocatable_kernel", bz.OFF_RELOCATABLE_KERNEL],
    ["hdr.xloadflags", bz.OFF_XLOADFLAGS], ["hdr.cmdline_size", bz.OFF_CMDLINE_SIZE],
    ["hdr.pref_address", bz.OFF_PREF_ADDRESS], ["hdr.init_size", bz.OFF_INIT_SIZE],
    ["sizeof", bp.BOOT_PARAMS_SIZE], ["e820size", bp.E820_ENTRY_SIZE],
  ];
  for (const [field, ours] of expect) assert.equal(ours, off.get(field), field);
});

test("the setup header is copied from the image, and nothing past its end", () => {
  const img = fakeBzImage();
  const { b } = params();
  assert.equal(b.length, 4096);
  assert.deepEqual(b.subarray(0x1f1, 0x210), img.subarray(0x1f1, 0x210)); // up to type_of_loader
  assert.deepEqual(b.subarray(0x22c, 0x26c), img.subarray(0x22c, 0x26c));
  assert.equal(b[0x26c], 0); // the 0xcc past the header stays behind
  assert.equal(b[0x1ef], 0, "sentinel stays 0 (we copied just the header)");
  const below = b.slice(0, 0x1f1);
  below[0x1e8] = 0; // e820_entries: the only field we set below the header, besides pointers not given here
  assert.ok(below.every((x) => x === 0));
});

test("loader fields: type_of_loader, loadflags, heap_end_ptr, cmd_line_ptr", () => {
  const { b, v } = params({ cmdlineAddr: 0x20000 });
  assert.equal(b[0x210], 0xff);
  assert.equal(b[0x211], bz.LOADED_HIGH | bz.CAN_USE_HEAP);
  assert.equal(v.getUint16(0x224, true), 0xde00);
  assert.equal(v.getUint32(0x228, true), 0x20000);
  assert.equal(v.getUint32(0x0c8, true), 0);
});

test("initrd address and size, with their ext_ halves", () => {
  let { v } = params({ initrd: { addr: 0x7f00000, size: 0x123456 } });
  assert.equal(v.getUint32(0x218, true), 0x7f00000);
  assert.equal(v.getUint32(0x21c, true), 0x123456);
  assert.equal(v.getUint32(0x0c0, true), 0);
  assert.equal(v.getUint32(0x0c4, true), 0);
  ({ v } = params({ initrd: { addr: 0x1_2345_6000, size: 0x1_0000_1000 } }));
  assert.equal(v.getUint32(0x218, true), 0x2345_6000);
  assert.equal(v.getUint32(0x0c0, true), 1);
  assert.equal(v.getUint32(0x21c, true), 0x1000);
  assert.equal(v.getUint32(0x0c4, true), 1);
  ({ v } = params());
  assert.equal(v.getUint32(0x218, true), 0, "no initrd: ramdisk fields stay 0");
  assert.equal(v.getUint32(0x21c, true), 0);
});

test("acpi_rsdp_addr only when given", () => {
  assert.equal(params({ acpiRsdp: 0xe0000 }).v.getBigUint64(0x70, true), 0xe0000n);
  assert.equal(params().v.getBigUint64(0x70, true), 0n);
});

test("the e820 table: the board map's four ranges", () => {
  const ram = 0x2000_0000;
  const { b, v } = params({ e820: bp.e820Map(ram) });
  assert.equal(b[0x1e8], 4);
  const entry = (i: number) => {
    const o = 0x2d0 + 20 * i;
    return [Number(v.getBigUint64(o, true)), Number(v.getBigUint64(o + 8, true)), v.getUint32(o + 16, true)];
  };
  assert.deepEqual(entry(0), [0, 0x9fc00, 1]);
  assert.deepEqual(entry(1), [0x9fc00, 0x400, 2]);
  assert.deepEqual(entry(2), [0xe0000, 0x20000, 2]);
  assert.deepEqual(entry(3), [0x100000, ram - 0x100000, 1]);
  assert.deepEqual(entry(4), [0, 0, 0]);
});

test("more e820 entries than the zero page holds is a bug", () => {
  const many = Array.from({ length: 129 }, (_, i) => ({ addr: i * 0x1000, size: 0x1000, type: 1 }));
  assert.throws(() => params({ e820: many }), /too many e820 entries/);
});
