// The reset vector QEMU's RISC-V boards put in the mask ROM (hw/riscv/boot.c,
// riscv_setup_rom_reset_vec), so that unmodified firmware finds what it expects:
//   a0 = mhartid, a1 = FDT address, a2 = &fw_dynamic_info, then jump to the start address.
// Layout (RV64):
//   0x00  auipc t0, 0            t0 = ROM base
//   0x04  addi  a2, t0, 0x28     a2 = &fw_dynamic_info
//   0x08  csrr  a0, mhartid
//   0x0c  ld    a1, 0x20(t0)     a1 = fdt_laddr
//   0x10  ld    t0, 0x18(t0)     t0 = start_addr
//   0x14  jr    t0
//   0x18  .dword start_addr
//   0x20  .dword fdt_laddr
//   0x28  fw_dynamic_info { magic, version, next_addr, next_mode, options, boot_hart }

const RESET_CODE = [
  0x00000297, // auipc t0, 0
  0x02828613, // addi  a2, t0, 40
  0xf1402573, // csrr  a0, mhartid
  0x0202b583, // ld    a1, 32(t0)
  0x0182b283, // ld    t0, 24(t0)
  0x00028067, // jr    t0
];
const START_ADDR_OFFSET = 0x18;
const FDT_ADDR_OFFSET = 0x20;
/** Where fw_dynamic_info sits inside the ROM. */
export const FW_DYNAMIC_INFO_OFFSET = 0x28;

/** OpenSBI's include/sbi/fw_dynamic.h. */
export const FW_DYNAMIC_INFO_MAGIC = 0x4942534f; // "OSBI"
export const FW_DYNAMIC_INFO_VERSION = 2;
export const FW_DYNAMIC_INFO_NEXT_MODE_S = 1;
const FW_DYNAMIC_INFO_SIZE = 6 * 8;

export interface ResetVectorParams {
  /** Where the ROM jumps: the firmware (or, with -bios none, the kernel). */
  startAddr: number;
  /** Physical address of the device tree blob, passed in a1. */
  fdtAddr: number;
  /** fw_dynamic_info.next_addr: where OpenSBI enters the next stage (0 if none). */
  kernelEntry: number;
  /** fw_dynamic_info.boot_hart: the hart OpenSBI boots on (QEMU writes 0). */
  bootHart?: number;
}

/** The ROM contents: code, the two data words and fw_dynamic_info. */
export function buildResetVector(p: ResetVectorParams): Uint8Array {
  const rom = new Uint8Array(FW_DYNAMIC_INFO_OFFSET + FW_DYNAMIC_INFO_SIZE);
  const view = new DataView(rom.buffer);
  RESET_CODE.forEach((insn, i) => view.setUint32(i * 4, insn, true));
  const u64 = (at: number, v: number) => view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
  u64(START_ADDR_OFFSET, p.startAddr);
  u64(FDT_ADDR_OFFSET, p.fdtAddr);
  const info = [
    FW_DYNAMIC_INFO_MAGIC,
    FW_DYNAMIC_INFO_VERSION,
    p.kernelEntry,
    FW_DYNAMIC_INFO_NEXT_MODE_S,
    0, // options
    p.bootHart ?? 0,
  ];
  info.forEach((v, i) => u64(FW_DYNAMIC_INFO_OFFSET + i * 8, v));
  return rom;
}
