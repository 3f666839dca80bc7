// What QEMU's hw/riscv/boot.c does for its RISC-V boards, shared by `virt` and `spike`:
// read the -bios/-kernel/-initrd/-dtb files, place firmware at the base of RAM, the
// kernel at the next 2 MiB boundary after it, the initrd halfway into RAM (at most
// 128 MiB past the kernel) and the FDT in the last 2 MiB-aligned slot below the end of
// RAM, then describe it all to the boot ROM. Every user mistake is a UserError.
import { isElf, loadElf, parseElf, type ElfImage } from "../loader/elf.js";
import { parseKernelImage } from "../loader/kernel-image.js";
import type { MachineConfig } from "./config.js";
import type { GuestMemory } from "./guest-memory.js";
import { UserError, type MachineHost } from "./machine.js";

/** Debian's `opensbi` package: what `-bios default` loads. */
export const DEFAULT_FIRMWARE = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
const MiB = 1024 * 1024;
/** RV64 kernels must start on a 2 MiB boundary (QEMU's riscv_calc_kernel_start_addr). */
const KERNEL_ALIGN = 2 * MiB;
const FDT_ALIGN = 2 * MiB;
const INITRD_ALIGN = 4096;
const FDT_MAGIC = 0xd00dfeed;

export interface BootFile {
  path: string;
  bytes: Uint8Array;
}

/** The files a board boots from, read once (a guest reset reloads them from here). */
export interface BootFiles {
  firmware?: BootFile;
  kernel?: BootFile;
  initrd?: BootFile;
  dtb?: BootFile;
}

/** Reads -bios/-kernel/-initrd/-dtb; rejects combinations QEMU rejects. */
export function readBootFiles(config: MachineConfig, host: MachineHost): BootFiles {
  if (config.initrd !== undefined && config.kernel === undefined) {
    throw new UserError("-initrd only allowed with -kernel option");
  }
  if (config.append !== undefined && config.kernel === undefined) {
    throw new UserError("-append only allowed with -kernel option");
  }
  const read = (path: string): BootFile => ({ path, bytes: host.readFile(path) });
  const files: BootFiles = {};
  if (config.bios === "default") files.firmware = readDefaultFirmware(host);
  else if (config.bios !== "none") files.firmware = read(config.bios);
  if (config.kernel !== undefined) files.kernel = read(config.kernel);
  if (config.initrd !== undefined) files.initrd = read(config.initrd);
  if (config.dtb !== undefined) files.dtb = read(config.dtb);
  if (files.dtb !== undefined) {
    checkDtb(files.dtb);
    // QEMU edits /chosen of the given blob; without an FDT editor here, -append and
    // -initrd would be silently lost, so refuse them.
    if (config.append !== undefined || config.initrd !== undefined) {
      throw new UserError(
        `-dtb ${files.dtb.path}: cannot be combined with -append or -initrd yet; ` +
          "put bootargs (and linux,initrd-start/-end) in the blob's /chosen",
      );
    }
  }
  return files;
}

function readDefaultFirmware(host: MachineHost): BootFile {
  try {
    return { path: DEFAULT_FIRMWARE, bytes: host.readFile(DEFAULT_FIRMWARE) };
  } catch {
    throw new UserError(
      `default firmware ${DEFAULT_FIRMWARE} not found: install it with ` +
        "`apt-get install opensbi`, or pass -bios FILE or -bios none",
    );
  }
}

function checkDtb(dtb: BootFile): void {
  const b = dtb.bytes;
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  if (b.length < 40 || view.getUint32(0) !== FDT_MAGIC) {
    throw new UserError(`${dtb.path}: not a device tree blob (bad magic)`);
  }
  if (view.getUint32(4) > b.length) throw new UserError(`${dtb.path}: truncated device tree blob`);
}

/** Where things landed in RAM, for the device tree and the boot ROM. */
export interface BootLayout {
  /** Where the boot ROM jumps: the firmware, or the kernel under -bios none. */
  startAddr: number;
  /** fw_dynamic_info.next_addr: the kernel's entry, 0 without a kernel. */
  kernelEntry: number;
  /** End of everything loaded so far (firmware, kernel with its bss, initrd). */
  loadedEnd: number;
  initrd?: { start: number; end: number };
  /** Looks a symbol up in the firmware's, then the kernel's ELF symbol table. */
  symbol(name: string): number | undefined;
}

/**
 * Loads firmware, kernel and initrd into RAM. `fdtAddr` is where the FDT will go: the
 * initrd must end below it (it is computed first from the blob's size, see fdtAddress).
 */
export function loadBootFiles(mem: GuestMemory, files: BootFiles, fdtAddr: number): BootLayout {
  const elves: ElfImage[] = [];
  let startAddr = mem.ramBase;
  let loadedEnd = mem.ramBase;
  let firmwareLow = mem.ramBase;
  if (files.firmware !== undefined) {
    const fw = loadImage(mem, files.firmware, mem.ramBase);
    if (fw.elf) elves.push(fw.elf);
    startAddr = fw.entry;
    firmwareLow = fw.low;
    loadedEnd = fw.end;
  }
  let kernelEntry = 0;
  let kernelLow = loadedEnd;
  if (files.kernel !== undefined) {
    const base = files.firmware === undefined ? mem.ramBase : alignUp(loadedEnd, KERNEL_ALIGN);
    const firmware = files.firmware === undefined ? undefined : { low: firmwareLow, end: loadedEnd };
    const k = loadImage(mem, files.kernel, base, firmware);
    if (k.elf) elves.push(k.elf);
    kernelEntry = k.entry;
    kernelLow = k.low;
    if (files.firmware === undefined) startAddr = k.entry;
    loadedEnd = Math.max(loadedEnd, k.end);
  }
  const layout: BootLayout = {
    startAddr,
    kernelEntry,
    loadedEnd,
    symbol: (name) => {
      for (const e of elves) {
        const v = e.symbol(name);
        if (v !== undefined) return v;
      }
      return undefined;
    },
  };
  if (files.initrd !== undefined) {
    const start = initrdAddress(mem, kernelLow, loadedEnd, files.initrd, fdtAddr);
    mem.writeBytes(start, files.initrd.bytes);
    layout.initrd = { start, end: start + files.initrd.bytes.length };
    layout.loadedEnd = Math.max(loadedEnd, layout.initrd.end);
  }
  if (layout.loadedEnd > fdtAddr) {
    throw new UserError(
      `not enough RAM: the images end at 0x${layout.loadedEnd.toString(16)}, above the ` +
        `device tree at 0x${fdtAddr.toString(16)}; raise -m`,
    );
  }
  return layout;
}

interface LoadedImage {
  entry: number;
  low: number;
  end: number;
  elf?: ElfImage;
}

/**
 * Loads an ELF at its physical addresses, anything else (a Linux Image, a flat binary)
 * at `base`. An ELF must not overlap `firmware` (already loaded there).
 */
function loadImage(
  mem: GuestMemory,
  file: BootFile,
  base: number,
  firmware?: { low: number; end: number },
): LoadedImage {
  if (isElf(file.bytes)) {
    const elf = parseElf(file.bytes, file.path);
    if (firmware !== undefined && elf.low < firmware.end && elf.high > firmware.low) {
      throw new UserError(
        `${file.path}: loads at 0x${elf.low.toString(16)}, over the firmware ` +
          `(0x${firmware.low.toString(16)}-0x${(firmware.end - 1).toString(16)})`,
      );
    }
    loadElf(mem, elf, file.path);
    return { entry: elf.entry, low: elf.low, end: elf.high, elf };
  }
  const header = parseKernelImage(file.bytes);
  const size = Math.max(file.bytes.length, header?.imageSize ?? 0);
  if (!mem.inRam(base, size)) {
    throw new UserError(
      `${file.path}: ${size} bytes at 0x${base.toString(16)} do not fit in RAM ` +
        `(ends at 0x${mem.ramEnd.toString(16)}); raise -m`,
    );
  }
  mem.writeBytes(base, file.bytes);
  return { entry: base, low: base, end: base + size };
}

/**
 * QEMU 7.2's rule: the initrd goes halfway into RAM, but no further than 128 MiB past the
 * kernel, so the kernel can decompress and map it early. When it does not fit there (big
 * initrd, small RAM), it goes just below the FDT instead, if that clears the kernel.
 */
export function initrdAddress(
  mem: GuestMemory,
  kernelLow: number,
  kernelEnd: number,
  initrd: BootFile,
  fdtAddr: number,
): number {
  const size = initrd.bytes.length;
  const preferred = kernelLow + Math.min(Math.floor(mem.ramSize / 2), 128 * MiB);
  if (preferred >= kernelEnd && preferred + size <= fdtAddr) return preferred;
  const below = alignDown(fdtAddr - size, INITRD_ALIGN);
  if (below >= kernelEnd) return below;
  throw new UserError(
    `${initrd.path}: ${size} bytes do not fit in RAM between the kernel ` +
      `(ends at 0x${kernelEnd.toString(16)}) and the device tree (0x${fdtAddr.toString(16)}); raise -m`,
  );
}

/** QEMU's riscv_load_fdt: the last 2 MiB-aligned address that leaves room for the blob. */
export function fdtAddress(mem: GuestMemory, fdtSize: number): number {
  const addr = alignDown(mem.ramEnd - fdtSize, FDT_ALIGN);
  if (addr < mem.ramBase) throw new UserError(`RAM too small for a ${fdtSize}-byte device tree`);
  return addr;
}

export function alignUp(v: number, align: number): number {
  return Math.ceil(v / align) * align;
}

export function alignDown(v: number, align: number): number {
  return Math.floor(v / align) * align;
}
