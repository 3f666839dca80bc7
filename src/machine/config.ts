// What the command line (or an embedding program) asks a machine to be.
// The CLI parses flags into this; boards read it. No Node imports here.

import { DEFAULT_THRESHOLD, DEFAULT_TIER_UP } from "../accel/tcg/jit.js";

export type MachineType = "virt" | "spike" | "microvm";

/** tcg: the RISC-V CPU in software; kvm: x86-64 vCPUs in the host kernel (microvm only). */
export type Accelerator = "tcg" | "kvm";

/** -drive file=F[,format=raw|qcow2][,if=virtio|none][,id=ID][,readonly=on][,cache=...] */
export interface DriveConfig {
  id: string;
  file: string;
  /** Undefined: probe the image (qcow2 magic, else raw, with a warning as QEMU gives). */
  format?: "raw" | "qcow2";
  /** virtio: a virtio-blk device is created for it; none: only -device ...,drive=ID uses it. */
  interface: "virtio" | "none";
  readOnly: boolean;
  /** QEMU's cache= mode (writeback, none, writethrough, directsync, unsafe). */
  cache: string;
  /** -snapshot or snapshot=on: writes go to a throw-away overlay. */
  snapshot: boolean;
}

/** hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport */
export interface HostForward {
  protocol: "tcp" | "udp";
  hostAddress: string;
  hostPort: number;
  /** Empty: the guest's DHCP address (10.0.2.15). */
  guestAddress: string;
  guestPort: number;
}

/** -netdev TYPE,id=ID,... */
export interface NetdevConfig {
  id: string;
  type: "user" | "tap" | "socket" | "stream";
  /** user: forwards from the host into the guest. */
  hostForwards: HostForward[];
  /** Every option as given (tap: ifname, script; socket: listen, connect; user: net, ...). */
  options: Record<string, string>;
}

/** -device DRIVER[,prop=value...] (virtio-blk-device, virtio-net-device, virtio-rng-device, ...). */
export interface DeviceConfig {
  driver: string;
  props: Record<string, string>;
}

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
  /** -accel: tcg for the RISC-V boards, kvm for microvm. */
  accel: Accelerator;
  /** -accel tcg,jit=on|off: whether tcg may translate hot code to WebAssembly. */
  jit: boolean;
  /** -accel tcg,jit-threshold=N: times a block starts in the interpreter before it is translated. */
  jitThreshold: number;
  /** -accel tcg,jit-tier-up=N: blocks a page's quick translation runs before it is optimized. */
  jitTierUp: number;
  /** -M microvm,acpi=on|off: describe the board in ACPI tables (else MP table + command line). */
  acpi: boolean;
  /** -drive, -netdev, -device, in command-line order. */
  drives: DriveConfig[];
  netdevs: NetdevConfig[];
  devices: DeviceConfig[];
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
  jit: true,
  jitThreshold: DEFAULT_THRESHOLD,
  jitTierUp: DEFAULT_TIER_UP,
  acpi: true,
  drives: [],
  netdevs: [],
  devices: [],
};

/** -device names that create virtio-console's hvc0. */
const CONSOLE_DRIVERS = new Set(["virtio-console-device", "virtio-serial-device", "virtconsole"]);

/** Whether the config has an hvc0: with -serial none it then takes the keyboard. */
export function hasVirtioConsole(config: MachineConfig): boolean {
  return config.devices.some((d) => CONSOLE_DRIVERS.has(d.driver));
}
