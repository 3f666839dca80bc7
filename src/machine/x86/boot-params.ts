// The zero page (struct boot_params, arch/x86/include/uapi/asm/bootparam.h): the setup
// header copied from the bzImage plus what the boot loader fills in: who loaded the kernel,
// where the command line and initrd are, the e820 memory map and the ACPI RSDP address.
import {
  type BzImage, CAN_USE_HEAP, HDR_START, LOADED_HIGH, OFF_CMD_LINE_PTR, OFF_HEAP_END_PTR,
  OFF_LOADFLAGS, OFF_RAMDISK_IMAGE, OFF_RAMDISK_SIZE, OFF_TYPE_OF_LOADER,
} from "./bzimage.js";

export const BOOT_PARAMS_SIZE = 0x1000;
export const BP_ACPI_RSDP_ADDR = 0x070; // u64, protocol 2.14+
export const BP_EXT_RAMDISK_IMAGE = 0x0c0;
export const BP_EXT_RAMDISK_SIZE = 0x0c4;
export const BP_EXT_CMD_LINE_PTR = 0x0c8;
export const BP_E820_ENTRIES = 0x1e8; // u8
export const BP_E820_TABLE = 0x2d0; // struct boot_e820_entry { u64 addr, size; u32 type } packed
export const E820_ENTRY_SIZE = 20;
export const E820_MAX_ENTRIES_ZEROPAGE = 128;

export const E820_RAM = 1;
export const E820_RESERVED = 2;

/** "Undefined" boot loader ID: we have none assigned. */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** End of the setup heap/stack as boot.rst's sample loader sets it (offset from the real-mode
 *  code, minus 0x200). Nothing real-mode runs with the 64-bit entry, but the field is obligatory. */
export const HEAP_END_PTR = 0xe000 - 0x200;

export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

export interface BootParamsOptions {
  kernel: BzImage;
  cmdlineAddr: number;
  initrd?: { addr: number; size: number };
  e820: E820Entry[];
  acpiRsdp?: number;
}

/** The 4 KiB zero page, ready to copy into guest memory. */
export function buildBootParams(opts: BootParamsOptions): Uint8Array {
  const bp = new Uint8Array(BOOT_PARAMS_SIZE);
  const v = new DataView(bp.buffer);
  bp.set(opts.kernel.header, HDR_START);
  bp[OFF_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
  bp[OFF_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
  v.setUint16(OFF_HEAP_END_PTR, HEAP_END_PTR, true);
  setSplit(v, OFF_CMD_LINE_PTR, BP_EXT_CMD_LINE_PTR, opts.cmdlineAddr);
  if (opts.initrd) {
    setSplit(v, OFF_RAMDISK_IMAGE, BP_EXT_RAMDISK_IMAGE, opts.initrd.addr);
    setSplit(v, OFF_RAMDISK_SIZE, BP_EXT_RAMDISK_SIZE, opts.initrd.size);
  }
  if (opts.acpiRsdp !== undefined) v.setBigUint64(BP_ACPI_RSDP_ADDR, BigInt(opts.acpiRsdp), true);
  writeE820(v, opts.e820);
  return bp;
}

/** The guest's memory map (see /tmp/x86-map.md): low RAM up to the EBDA, the EBDA and the
 *  BIOS area (ACPI tables) reserved, RAM again from 1 MiB. */
export function e820Map(ramSize: number): E820Entry[] {
  return [
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: 0x9fc00, size: 0xa0000 - 0x9fc00, type: E820_RESERVED },
    { addr: 0xe0000, size: 0x100000 - 0xe0000, type: E820_RESERVED },
    { addr: 0x100000, size: ramSize - 0x100000, type: E820_RAM },
  ];
}

function writeE820(v: DataView, entries: E820Entry[]): void {
  if (entries.length > E820_MAX_ENTRIES_ZEROPAGE) throw new Error("too many e820 entries");
  v.setUint8(BP_E820_ENTRIES, entries.length);
  entries.forEach((e, i) => {
    const off = BP_E820_TABLE + i * E820_ENTRY_SIZE;
    v.setBigUint64(off, BigInt(e.addr), true);
    v.setBigUint64(off + 8, BigInt(e.size), true);
    v.setUint32(off + 16, e.type, true);
  });
}

/** A 64-bit value as a low 32-bit header field plus its ext_ high half (protocol 2.12+). */
function setSplit(v: DataView, lowOff: number, highOff: number, value: number): void {
  v.setUint32(lowOff, value >>> 0, true);
  v.setUint32(highOff, Math.floor(value / 0x1_0000_0000), true);
}
