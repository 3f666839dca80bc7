// What the command line (or an embedding program) asks a machine to be.
// The CLI parses flags into this; boards read it. No Node imports here.

export type MachineType = "virt" | "spike";

export interface MachineConfig {
  machine: MachineType;
  /** Guest RAM in bytes (-m). */
  memBytes: number;
  /** Number of harts (-smp). */
  smp: number;
  /** -bios: "default" (Debian's OpenSBI fw_dynamic), "none", or a file path. */
  bios: string;
  /** -kernel: ELF or raw Image, path. */
  kernel?: string;
  /** -initrd path. */
  initrd?: string;
  /** -append kernel command line. */
  append?: string;
  /** -dtb: use this device tree blob instead of the generated one. */
  dtb?: string;
  /** -machine dumpdtb=FILE: write the generated DTB and exit. */
  dumpDtb?: string;
  /** -no-reboot: a guest reset ends tsvisor instead of restarting. */
  noReboot: boolean;
  /** -d items (e.g. ["in_asm", "int"]) and -D file for the trace. */
  debug: string[];
  debugFile?: string;
  /** -serial: where UART0 goes. "mon:stdio" adds the Ctrl-A escapes. */
  serial: "mon:stdio" | "stdio" | "none";
  /** -accel tcg (only tcg for RISC-V). */
  accel: "tcg";
}

export const DEFAULT_CONFIG: MachineConfig = {
  machine: "virt",
  memBytes: 128 * 1024 * 1024,
  smp: 1,
  bios: "default",
  noReboot: false,
  debug: [],
  serial: "mon:stdio",
  accel: "tcg",
};
