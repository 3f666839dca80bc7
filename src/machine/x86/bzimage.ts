// The Linux x86 bzImage: a real-mode setup part ((setup_sects+1) sectors of 512 bytes,
// holding the setup header at 0x1f1) followed by the protected-mode kernel, which we load
// at 1 MiB and enter at +0x200 in 64-bit mode (Documentation/x86/boot.rst, "64-bit Boot
// Protocol"). We only read the header here; boot-params.ts copies it into the zero page.
import { UserError } from "../machine.js";

/** Offsets in the image (and in boot_params, which embeds the header at the same place). */
export const HDR_START = 0x1f1;
export const OFF_SETUP_SECTS = 0x1f1;
export const OFF_SYSSIZE = 0x1f4;
export const OFF_BOOT_FLAG = 0x1fe;
export const OFF_JUMP = 0x200;
export const OFF_HEADER = 0x202;
export const OFF_VERSION = 0x206;
export const OFF_TYPE_OF_LOADER = 0x210;
export const OFF_LOADFLAGS = 0x211;
export const OFF_RAMDISK_IMAGE = 0x218;
export const OFF_RAMDISK_SIZE = 0x21c;
export const OFF_HEAP_END_PTR = 0x224;
export const OFF_CMD_LINE_PTR = 0x228;
export const OFF_INITRD_ADDR_MAX = 0x22c;
export const OFF_KERNEL_ALIGNMENT = 0x230;
export const OFF_RELOCATABLE_KERNEL = 0x234;
export const OFF_XLOADFLAGS = 0x236;
export const OFF_CMDLINE_SIZE = 0x238;
export const OFF_PREF_ADDRESS = 0x258;
export const OFF_INIT_SIZE = 0x260;
/** End of the header fields protocol 2.15 defines (kernel_info_offset is the last). */
export const HDR_END_2_15 = 0x26c;

export const BOOT_FLAG = 0xaa55;
export const HDRS_MAGIC = 0x53726448; // "HdrS" read little-endian
/** 2.12 introduced xloadflags, which says whether the 64-bit entry exists. */
export const MIN_PROTOCOL = 0x020c;
export const XLF_KERNEL_64 = 1 << 0;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
/** loadflags */
export const LOADED_HIGH = 1 << 0;
export const CAN_USE_HEAP = 1 << 7;

const SECTOR = 512;

export interface BzImage {
  /** The file name, for error messages. */
  name: string;
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  protocol: number;
  setupSects: number;
  /** Size of the protected-mode code in 16-byte paragraphs. */
  syssize: number;
  loadflags: number;
  xloadflags: number;
  kernelAlignment: number;
  relocatable: boolean;
  initSize: number;
  /** Longest command line the kernel takes, without the NUL. */
  cmdlineSize: number;
  /** Highest address the initrd may occupy (inclusive). */
  initrdAddrMax: number;
  prefAddress: number;
  /** The setup header bytes [0x1f1, end) as the kernel wrote them, copied into the zero page. */
  header: Uint8Array;
  /** The protected-mode kernel: loaded at 1 MiB. */
  kernel: Uint8Array;
}

/** Parses a bzImage; throws UserError naming `name` when it is not one we can boot. */
export function parseBzImage(data: Uint8Array, name: string): BzImage {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < HDR_END_2_15 || v.getUint16(OFF_BOOT_FLAG, true) !== BOOT_FLAG ||
      v.getUint32(OFF_HEADER, true) !== HDRS_MAGIC) {
    throw new UserError(`${name} is not a Linux bzImage (no HdrS header)`);
  }
  const protocol = v.getUint16(OFF_VERSION, true);
  if (protocol < MIN_PROTOCOL) {
    throw new UserError(`${name}: Linux boot protocol ${versionString(protocol)} is too old (need 2.12 or later, Linux 3.8+)`);
  }
  const xloadflags = v.getUint16(OFF_XLOADFLAGS, true);
  if (!(xloadflags & XLF_KERNEL_64)) {
    throw new UserError(`${name} has no 64-bit entry point (a 32-bit kernel?): tsvisor boots x86-64 kernels only`);
  }
  const setupSects = data[OFF_SETUP_SECTS] || 4; // 0 means 4, for ancient compatibility
  const kernelStart = (setupSects + 1) * SECTOR;
  if (kernelStart >= data.length) {
    throw new UserError(`${name} is truncated: its setup part (${kernelStart} bytes) is the whole file`);
  }
  // The header's real end is 0x202 + the jump's displacement byte; never past the sector.
  const hdrEnd = Math.min(OFF_HEADER + data[OFF_JUMP + 1], 0x290, data.length);
  return {
    name,
    protocol,
    setupSects,
    syssize: v.getUint32(OFF_SYSSIZE, true),
    loadflags: data[OFF_LOADFLAGS],
    xloadflags,
    kernelAlignment: v.getUint32(OFF_KERNEL_ALIGNMENT, true),
    relocatable: data[OFF_RELOCATABLE_KERNEL] !== 0,
    initSize: v.getUint32(OFF_INIT_SIZE, true),
    cmdlineSize: v.getUint32(OFF_CMDLINE_SIZE, true),
    initrdAddrMax: v.getUint32(OFF_INITRD_ADDR_MAX, true),
    prefAddress: Number(v.getBigUint64(OFF_PREF_ADDRESS, true)),
    header: data.slice(HDR_START, Math.max(hdrEnd, HDR_START)),
    kernel: data.subarray(kernelStart),
  };
}

/** True when the bytes look like a bzImage (boot flag and HdrS magic). */
export function isBzImage(data: Uint8Array): boolean {
  if (data.length < OFF_HEADER + 4) return false;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return v.getUint16(OFF_BOOT_FLAG, true) === BOOT_FLAG && v.getUint32(OFF_HEADER, true) === HDRS_MAGIC;
}

function versionString(p: number): string {
  return `${p >> 8}.${(p & 0xff).toString().padStart(2, "0")}`;
}
